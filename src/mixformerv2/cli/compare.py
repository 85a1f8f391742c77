"""`mixformerv2 compare`: several trackers (MixFormerV2, OpenCV's CSRT, KCF, ...) side by side on one dataset."""
from __future__ import annotations

from pathlib import Path

from .common import (AUTO_BACKEND, AUTO_THREADS, BACKEND_HELP, DEFAULT_BACKEND, THREADS_HELP, add_model_arguments,
                     add_tracker_setting_arguments, check_tracking_options, resolve_backend, resolve_threads,
                     threads_argument)
from .evaluate import add_tracker_argument
from .score import add_dataset_arguments


def register(sub) -> None:
    p = sub.add_parser("compare", help="run several trackers over a dataset in one run (resumable) and print "
                                       "their success AUC, precision, normalized precision and FPS side by side",
                       description="Every tracker runs over every sequence in this one process, taking turns per "
                                   "sequence, with the same thread count; results go to RESULTS/<tracker> in the "
                                   "community format and finished sequences are not tracked again.")
    add_dataset_arguments(p, "dataset split (as for eval)", default_dataset="sequences")
    add_tracker_argument(p, repeat=True)
    add_model_arguments(p, prefix="for --tracker mixformerv2: ")
    p.add_argument("--backend", default=DEFAULT_BACKEND, help="for --tracker mixformerv2: the " + BACKEND_HELP)
    add_tracker_setting_arguments(p)
    p.add_argument("--threads", type=threads_argument, default=AUTO_THREADS, help=THREADS_HELP)
    p.add_argument("--results", type=Path, default=Path("runs/compare"), metavar="DIR",
                   help="results root: each tracker's files go to DIR/<tracker> (default runs/compare)")
    p.add_argument("--overwrite", action="store_true", help="track every sequence again, replacing earlier results")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the scores as JSON")
    p.add_argument("--plot", type=Path, action="append", default=None, metavar="FILE",
                   help="write success/precision plots of all trackers (.png, .pdf or .svg; repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..cli import UsageError
    from ..evaluation.compare import run_comparison
    from ..evaluation.runner import TrackerSpec
    from ..tracking.baselines import MIXFORMER_TRACKER, canonical_tracker_name
    from .common import model_argument, tracker_setting_overrides
    from .evaluate import check_nanotrack_option, nanotrack_dir
    from .score import open_selected

    trackers = [canonical_tracker_name(t) for t in args.tracker]
    twice = next((t for i, t in enumerate(trackers) if t in trackers[:i]), None)
    if twice is not None:
        raise UsageError(f"tracker {twice!r} is named twice")
    if MIXFORMER_TRACKER not in trackers:
        from .evaluate import check_mixformer_options

        check_mixformer_options(args, " and ".join(trackers))
    check_tracking_options(args)
    for path in args.plot or []:
        if path.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise UsageError(f"plot file {path} must end in .png, .pdf or .svg")
    dataset = open_selected(args)
    model = model_argument(args)
    weights = str(args.weights) if args.weights else None
    overrides = tracker_setting_overrides(args)
    check_nanotrack_option(args, trackers)
    network = None
    if MIXFORMER_TRACKER in trackers:   # missing or wrong weights stop the run here
        from ..evaluation.runner import load_tracker_model

        network = load_tracker_model(TrackerSpec(model, weights, "torch", None, MIXFORMER_TRACKER, overrides))
    resolve_threads(args)
    if network is not None and args.backend == AUTO_BACKEND:
        resolve_backend(args, network, args.threads)
    specs = [TrackerSpec(model, weights, args.backend, args.threads, t, overrides if t == MIXFORMER_TRACKER else (),
                         nanotrack_dir(args)) for t in trackers]
    comparison = run_comparison(dataset, specs, args.results, threads=args.threads, overwrite=args.overwrite,
                                progress=not args.no_progress, model=network)
    print(comparison.format_table())
    if args.json:
        comparison.write_json(args.json)
        print(f"wrote {args.json}")
    for path in args.plot or []:
        from ..evaluation.plots import plot_report

        plot_report(comparison.report, path)
        print(f"wrote {path}")
    return 1 if comparison.failed else 0
