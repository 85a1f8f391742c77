"""TrackingNet: ``<root>/TRAIN_<i>/`` and ``<root>/TEST/``, each with ``anno/<seq>.txt`` (x, y, w, h px; the
test split has the first frame only) and ``frames/<seq>/0.jpg, 1.jpg, ...``. ``root`` may also be one chunk."""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import List, Optional

from .annotations import read_boxes
from .base import Dataset, DatasetLayoutError, Sequence, image_files, numbered_frame

_CHUNK = re.compile(r"^(TRAIN_\d+|TEST)$", re.IGNORECASE)


def open_trackingnet(root: Path, split: Optional[str] = None) -> Dataset:
    """``split``: ``test`` (default), ``train`` (every TRAIN_<i> chunk), or a chunk name such as ``TRAIN_3``
    (several comma-separated); ignored when ``root`` is a chunk folder itself."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    if (root / "anno").is_dir():
        chunks = [root]
    else:
        available = {p.name.upper(): p for p in root.iterdir() if p.is_dir() and _CHUNK.match(p.name)}
        if not available:
            raise DatasetLayoutError(f"{root} is not a TrackingNet root: expected TEST/anno/<seq>.txt with "
                                     f"TEST/frames/<seq>/0.jpg (and/or TRAIN_<i>/...), or a chunk folder itself")
        wanted: List[str] = []
        for part in (split or "test").split(","):
            part = part.strip().upper()
            if part == "TRAIN":
                wanted += sorted((k for k in available if k.startswith("TRAIN_")), key=lambda k: int(k[6:]))
            elif part.isdigit():
                wanted.append(f"TRAIN_{part}")
            else:
                wanted.append(part)
        absent = [w for w in wanted if w not in available]
        if absent:
            raise DatasetLayoutError(f"{root}: no chunk folder {', '.join(absent)} (found {', '.join(sorted(available))})")
        chunks = [available[w] for w in wanted]
    sequences = []
    for chunk in chunks:
        if not (chunk / "anno").is_dir():
            raise DatasetLayoutError(f"{chunk}: expected anno/<seq>.txt and frames/<seq>/")
        for anno in sorted((chunk / "anno").glob("*.txt")):
            sequences.append(_sequence(chunk, anno))
    return Dataset("trackingnet", root, sequences, convention="trackingnet", split=split)


def _sequence(chunk: Path, anno: Path) -> Sequence:
    frames = chunk / "frames" / anno.stem
    return Sequence(anno.stem, "trackingnet", partial(read_boxes, anno), list_frames=partial(image_files, frames),
                    frame_file=partial(numbered_frame, frames, "{}.jpg", 0))
