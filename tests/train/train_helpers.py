"""Helpers for the training tests: fast overrides for the committed tiny configs."""
from __future__ import annotations

from pathlib import Path
from typing import List

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = CONFIGS / "tiny"

SMALL_SYNTHETIC = ("{type: synthetic, photos: [skimage], num_sequences: 4, frame_width: 160, frame_height: 120, min_target_size: 12, "
                   "max_target_size: 40, min_length: 20, max_length: 40}")


def fast_overrides(batch: int = 2, steps_per_epoch: int = 1, epochs: int = 1, val: bool = False) -> List[str]:
    """Overrides making a tiny config run in a second or two: small synthetic frames, no workers."""
    out = [f"data.datasets=[{SMALL_SYNTHETIC}]", "data.num_workers=0", f"optim.batch_size={batch}",
           f"data.samples_per_epoch={batch * steps_per_epoch}", f"optim.epochs={epochs}", "log_every=1"]
    if val:
        out += [f"val.datasets=[{SMALL_SYNTHETIC.replace('synthetic,', 'synthetic, split: val,')}]",
                f"val.samples={2 * batch}", "val.every=1"]
    else:
        out.append("val.every=0")
    return out
