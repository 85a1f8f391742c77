"""`mixformerv2 synthetic OUTPUT`: write a synthetic split to disk as a LaSOT-style benchmark."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..data.synthetic import SyntheticConfig, SyntheticTracking, write_lasot_benchmark


def register(sub) -> None:
    p = sub.add_parser("synthetic", help="write synthetic tracking sequences to disk in LaSOT's layout",
                       description="Render sequences of the synthetic dataset (objects cut from real photos "
                                   "over other photos) to OUTPUT/<class>/<class>-<k>/img/00000001.jpg with "
                                   "groundtruth.txt, full_occlusion.txt, out_of_view.txt, testing_set.txt.")
    p.add_argument("output", type=Path, help="benchmark root folder")
    p.add_argument("--split", default="test", choices=("train", "val", "test"),
                   help="which split (test uses only the held-out photos; default test)")
    p.add_argument("--sequences", type=int, default=20, help="number of sequences (default 20)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--photos", nargs="+", default=None,
                   help="photo sources: folders, files, 'skimage', 'system' (default: system skimage)")
    p.add_argument("--config", type=Path, default=None,
                   help="YAML file of SyntheticConfig keys (frame size, lengths, nuisance rates)")
    p.add_argument("--quality", type=int, default=92, help="JPEG quality (default 92)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.sequences < 1:
        raise ValueError("--sequences must be >= 1")
    values = {}
    if args.config is not None:
        if not args.config.is_file():
            raise FileNotFoundError(f"synthetic config {args.config} does not exist")
        values = yaml.safe_load(args.config.read_text()) or {}
    values.update(split=args.split, num_sequences=args.sequences, seed=args.seed)
    if args.photos:
        values["photos"] = args.photos
    dataset = SyntheticTracking(SyntheticConfig.from_dict(values))
    names = write_lasot_benchmark(dataset, args.output, jpeg_quality=args.quality)
    frames = sum(dataset.sequence(i).length for i in range(len(dataset)))
    print(f"wrote {len(names)} sequences ({frames} frames) of split {args.split} to {args.output} "
          f"from {len(dataset.photos)} photos (fingerprint {dataset.photos.fingerprint()})")
    return 0
