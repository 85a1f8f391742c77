#!/usr/bin/env python
"""Choose a model's tracker settings on validation datasets (never on the final-check sequences).

    python scripts/choose_tracker_settings.py runs/default/real_score/model.pth \
        --dataset sequences --root ../shared/data/real/val [--dataset lasot --root SYNTHETIC_VAL] \
        --search-factor 3.5 4.0 4.5 5.0 --update-interval 10 25 200 [--size-update-rate 1 0.5] \
        [--size-filter-noise 0 0.02] [--json sweep.json]

Tracks every dataset one-pass for every combination (``mixformerv2.evaluation.validation.track_and_score``, the
library's tracking loop), prints the success AUC of each, and the combination with the best mean AUC over the
datasets last, as options for ``scripts/ship_default_model.py``. A size update rate below 1 and a size filter
noise above 0 are alternatives (TrackerParams), so those combinations are not tracked. ``--dataset``/``--root``
(and ``--split``) are given once per dataset, in the same order.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import torch

from mixformerv2.datasets import open_dataset
from mixformerv2.evaluation.validation import track_and_score
from mixformerv2.files import atomic_write_text
from mixformerv2.model.hub import load_model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="checkpoint to evaluate")
    parser.add_argument("--dataset", action="append", help="benchmark name, once per --root (default sequences)")
    parser.add_argument("--root", type=Path, action="append", required=True, help="a validation dataset (repeatable)")
    parser.add_argument("--split", action="append", help="its split, once per --root when given")
    parser.add_argument("--search-factor", type=float, nargs="+", default=[4.0])
    parser.add_argument("--update-interval", type=int, nargs="+", default=[200])
    parser.add_argument("--size-update-rate", type=float, nargs="+", default=[1.0])
    parser.add_argument("--size-filter-noise", type=float, nargs="+", default=[0.0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="torch", help="tracker backend (onnx is faster for conv-stem models)")
    parser.add_argument("--json", type=Path, help="also write every combination's scores")
    args = parser.parse_args(argv)
    names = args.dataset or ["sequences"] * len(args.root)
    splits = args.split or [None] * len(args.root)
    if len(names) != len(args.root) or len(splits) != len(args.root):
        parser.error("give --dataset (and --split, when used) once per --root, in the same order")

    torch.set_num_threads(args.threads)
    model = load_model(weights=args.weights)
    datasets = [open_dataset(name, root, split) for name, root, split in zip(names, args.root, splits)]
    rows = []
    for factor, interval, rate, noise in itertools.product(args.search_factor, args.update_interval,
                                                           args.size_update_rate, args.size_filter_noise):
        if rate < 1.0 and noise > 0:
            continue
        settings = {"search_factor": factor, "update_interval": interval, "size_update_rate": rate,
                    "size_filter_noise": noise}
        per_dataset = {}
        for dataset, root in zip(datasets, args.root):
            scores = track_and_score(model, dataset, settings, threads=args.threads, backend=args.backend)
            per_dataset[str(root)] = scores.as_dict()
            print(f"search factor {factor:4.2f}, update interval {interval:4d}, size update rate {rate:4.2f}, "
                  f"size filter noise {noise:g}: "
                  f"AUC {scores.auc:.4f} on {root} ({scores.sequences} sequences, {scores.fps or 0:.1f} FPS)",
                  flush=True)
        mean = sum(s["auc"] for s in per_dataset.values()) / len(per_dataset)
        if len(per_dataset) > 1:
            print(f"    mean AUC {mean:.4f}", flush=True)
        rows.append({**settings, "auc": mean, "datasets": per_dataset})
    best = max(rows, key=lambda r: r["auc"])
    where = ", ".join(str(r) for r in args.root)
    print(f"best {'mean ' if len(datasets) > 1 else ''}on {where}: --search-factor {best['search_factor']} "
          f"--update-interval {best['update_interval']} --size-update-rate {best['size_update_rate']} "
          f"--size-filter-noise {best['size_filter_noise']} "
          f"(AUC {best['auc']:.4f})")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps({"datasets": [str(r) for r in args.root], "rows": rows, "best": best},
                                                indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
