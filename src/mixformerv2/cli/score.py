"""`mixformerv2 score`: score raw results folders against a benchmark's ground truth."""
from __future__ import annotations

from pathlib import Path

from ..datasets import DATASET_NAMES
from ..evaluation.metrics import CONVENTIONS


def add_dataset_arguments(p, split_help: str, default_dataset: str = None) -> None:
    p.add_argument("--dataset", required=default_dataset is None, default=default_dataset, metavar="NAME",
                   help=f"benchmark: {', '.join(DATASET_NAMES)} (aliases: otb100, nfs30, ...; sequences: a folder of "
                        f"sequence folders in OTB or VOT layout)"
                        + (f" (default {default_dataset})" if default_dataset else ""))
    p.add_argument("--root", required=True, type=Path, help="the dataset folder in its native layout "
                   "(LaSOT also: the evaluation toolkit's annos/ layout; OTB/UAV/NfS also: a pysot-style JSON file)")
    p.add_argument("--split", default=None, help=split_help)
    p.add_argument("--sequences", default=None, metavar="NAMES|FILE",
                   help="only these sequences: comma-separated names or a file with one name per line")


def register(sub) -> None:
    p = sub.add_parser("score", help="success AUC, OP50/OP75, precision, normalized precision (GOT-10k: AO/SR) "
                                     "of raw results folders, overall and per attribute")
    add_dataset_arguments(p, "dataset split (LaSOT: test/all/list file; GOT-10k: val/train; TrackingNet: "
                             "TRAIN_<i>/train)")
    p.add_argument("--results", required=True, type=Path, action="extend", nargs="+", metavar="DIR",
                   help="trackers' results folders: --results A B C or --results A --results B (the folder name "
                        "is the tracker's name)")
    p.add_argument("--name", action="extend", nargs="+", default=None, metavar="NAME",
                   help="display names for the --results folders, in the same order (--name A B or repeated)")
    p.add_argument("--convention", choices=sorted(CONVENTIONS), default=None,
                   help="scoring convention (default: the benchmark's own; UAV123: uav-pytracking)")
    p.add_argument("--partial", action="store_true",
                   help="score the sequences every folder has instead of failing on missing ones")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the scores as JSON")
    p.add_argument("--details", action="store_true",
                   help="JSON also holds the convention, curves, per-attribute and per-sequence scores")
    p.add_argument("--plot", type=Path, action="append", default=None, metavar="FILE",
                   help="write success/precision plots (.png or .pdf; repeatable)")
    p.add_argument("--no-attributes", action="store_true", help="leave out the per-attribute table")
    p.set_defaults(func=run)


def open_selected(args, default_split=None):
    from ..datasets import open_dataset

    dataset = open_dataset(args.dataset, args.root, args.split or default_split)
    if args.sequences:
        path = Path(args.sequences)
        if path.is_file():
            names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        else:
            names = [n.strip() for n in args.sequences.split(",") if n.strip()]
        dataset = dataset.select(names)
    return dataset


def run(args) -> int:
    from ..cli import UsageError
    from ..evaluation.scoring import score_results

    if args.name and len(args.name) != len(args.results):
        raise UsageError(f"{len(args.name)} --name for {len(args.results)} --results")
    from ..datasets import benchmark

    dataset = open_selected(args, benchmark(args.dataset, need_reader=True).scoring_split)
    report = score_results(dataset, args.results, args.name, partial=args.partial, convention=args.convention)
    print(report.format_text(attributes=not args.no_attributes))
    if args.json:
        report.write_json(args.json, details=args.details)
        print(f"wrote {args.json}")
    for path in args.plot or []:
        from ..evaluation.plots import plot_report

        plot_report(report, path)
        print(f"wrote {path}")
    return 0
