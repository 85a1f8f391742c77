#!/usr/bin/env python
"""Install a trained checkpoint as the package's default model (``--model default``).

    python scripts/ship_default_model.py runs/default/score/model.pth \
        [--search-factor 4.5] [--update-interval 25] [--assets src/mixformerv2/assets] [--half]

A thin command over ``mixformerv2.model.hub.ship_model``: loads the checkpoint strictly (its stored config is
the architecture), checks that the tracker can run it, writes ``default.safetensors`` with the config in its
metadata, and updates the model card ``default.json`` beside it (``weights_sha256``, ``model``,
``parameters`` and the tracker settings given). Provenance fields stay for you to fill in the card.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mixformerv2.model import hub
from mixformerv2.tracking import Tracker


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="trained checkpoint (.pth from `mixformerv2 train`, or .safetensors)")
    parser.add_argument("--assets", type=Path, default=hub.ASSETS,
                        help=f"folder of the package's bundled models (default {hub.ASSETS})")
    parser.add_argument("--search-factor", type=float, help="tracker search factor for this model")
    parser.add_argument("--update-interval", type=int, help="online-template update interval (frames)")
    parser.add_argument("--template-factor", type=float, help="tracker template factor")
    parser.add_argument("--size-update-rate", type=float, help="tracker size smoothing (1 = none)")
    parser.add_argument("--size-filter-noise", type=float, help="tracker size filter (0 = none; TrackerParams)")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16 (half the size; loaded back as float32)")
    args = parser.parse_args(argv)

    tracker = {key: getattr(args, key) for key in ("search_factor", "update_interval", "template_factor",
                                                   "size_update_rate", "size_filter_noise")
               if getattr(args, key) is not None}
    weights, card = hub.ship_model(args.checkpoint, args.assets, tracker=tracker, half=args.half, check=Tracker)
    loaded = hub.read_model_card(hub.DEFAULT_MODEL, weights)
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB, {loaded.data['parameters']:,} parameters) and "
          f"{card}; tracker settings {loaded.tracker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
