#!/usr/bin/env python
"""Install a trained checkpoint as the package's default model (``--model default``).

    python scripts/ship_default_model.py runs/default/score/model.pth \
        [--search-factor 4.5] [--update-interval 25] [--assets src/mixformerv2/assets]

Loads the checkpoint strictly (any layout ``mixformerv2.load_checkpoint`` reads; its stored config is the
architecture), checks that the tracker can run it, writes
``default.safetensors`` with the config in its metadata, and updates the model card ``default.json`` beside
it: ``weights_sha256``, ``model`` (the config, for readers), ``parameters`` and the tracker settings given.
Provenance fields (training data, commands, time, results) stay for you to fill in the card.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mixformerv2 import load_checkpoint, save_checkpoint
from mixformerv2.files import atomic_write
from mixformerv2.tracking import Tracker, pretrained


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="trained checkpoint (.pth from `mixformerv2 train`, or .safetensors)")
    parser.add_argument("--assets", type=Path, default=pretrained.ASSETS,
                        help=f"folder of the package's bundled models (default {pretrained.ASSETS})")
    parser.add_argument("--search-factor", type=float, help="tracker search factor for this model")
    parser.add_argument("--update-interval", type=int, help="online-template update interval (frames)")
    parser.add_argument("--template-factor", type=float, help="tracker template factor")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16 (half the size; loaded back as float32)")
    args = parser.parse_args(argv)

    model = load_checkpoint(args.checkpoint)
    Tracker(model)                                  # refuses models the tracker cannot run
    weights = args.assets / pretrained.BUNDLED_WEIGHTS[pretrained.DEFAULT_MODEL]
    save_checkpoint(model, weights, half=args.half)
    card_file = pretrained.card_path(weights)
    card = json.loads(card_file.read_text()) if card_file.is_file() else {"name": pretrained.DEFAULT_MODEL}
    card["weights"] = weights.name
    card["weights_sha256"] = pretrained.file_sha256(weights)
    card["model"] = model.config.to_dict()
    card["parameters"] = sum(p.numel() for p in model.parameters())
    tracker = dict(card.get("tracker") or {})
    for key in ("search_factor", "update_interval", "template_factor"):
        if getattr(args, key) is not None:
            tracker[key] = getattr(args, key)
    card["tracker"] = tracker
    text = json.dumps(card, indent=2) + "\n"
    atomic_write(card_file, lambda tmp: Path(tmp).write_text(text))
    pretrained.read_model_card(pretrained.DEFAULT_MODEL, weights)   # the card as written must be valid
    size = weights.stat().st_size / 1e6
    print(f"wrote {weights} ({size:.1f} MB, {card['parameters']:,} parameters) and {card_file}; tracker settings "
          f"{tracker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
