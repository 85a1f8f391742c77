"""`mixformerv2 eval`: run a tracker (MixFormerV2 or an OpenCV baseline) over a benchmark (resumable,
parallel), then score or package it."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .common import (AUTO_BACKEND, AUTO_THREADS, BACKEND_HELP, DEFAULT_BACKEND, THREADS_HELP, add_model_arguments,
                     add_tracker_setting_arguments, check_tracking_options, resolve_backend, resolve_threads,
                     threads_argument)
from .score import add_dataset_arguments, open_selected


def register(sub) -> None:
    p = sub.add_parser("eval", help="track every sequence of a benchmark into per-sequence result files "
                                    "(resumes, --workers processes, splits across torchrun ranks)")
    add_dataset_arguments(p, "dataset split (GOT-10k: test (default)/val/train; TrackingNet: test (default)/"
                             "TRAIN_<i>; LaSOT: test/all/list file; NfS: 30 (default)/240)")
    add_tracker_argument(p)
    add_model_arguments(p)
    p.add_argument("--results", required=True, type=Path, metavar="DIR",
                   help="folder for this tracker's result files (<seq>.txt, <seq>_time.txt)")
    p.add_argument("--workers", type=int, default=1, help="sequences tracked in parallel processes (default 1)")
    p.add_argument("--threads", type=threads_argument, default=AUTO_THREADS, help=THREADS_HELP)
    p.add_argument("--backend", default=DEFAULT_BACKEND, help=BACKEND_HELP)
    add_tracker_setting_arguments(p)
    p.add_argument("--package", type=Path, default=None, metavar="ZIP",
                   help="GOT-10k / TrackingNet test: write the evaluation server's zip when all sequences are done")
    p.add_argument("--overwrite", action="store_true",
                   help="delete earlier results in --results and track every sequence again")
    p.add_argument("--no-score", action="store_true", help="do not score the results after the run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def add_tracker_argument(p, repeat: bool = False) -> None:
    from ..tracking.baselines import NANOTRACK_ENV, tracker_names

    if repeat:
        p.add_argument("--tracker", action="append", required=True, metavar="NAME",
                       help=f"a tracker to run, repeatable: {', '.join(tracker_names())}")
    else:
        p.add_argument("--tracker", default="mixformerv2", metavar="NAME",
                       help=f"the tracker: {', '.join(tracker_names())} (default mixformerv2; the OpenCV "
                            f"trackers take no --model/--weights/--backend)")
    p.add_argument("--nanotrack", type=Path, default=None, metavar="DIR",
                   help=f"for --tracker nanotrack: the folder holding NanoTrack V2's backbone.onnx and head.onnx "
                        f"(default: ${NANOTRACK_ENV})")


def check_mixformer_options(args, tracker: str) -> None:
    """UsageError when model options are given for an OpenCV tracker only."""
    from ..cli import UsageError

    options = (("--model", args.model, None), ("--weights", args.weights, None), ("--backend", args.backend, DEFAULT_BACKEND),
               ("--search-factor", args.search_factor, None), ("--update-interval", args.update_interval, None),
               ("--online-templates", args.online_templates, None))
    given = [flag for flag, value, default in options if value != default]
    if given:
        raise UsageError(f"{', '.join(given)} apply to the mixformerv2 tracker only, not to {tracker}")


def check_nanotrack_option(args, trackers) -> None:
    """UsageError for --nanotrack without --tracker nanotrack; a NanoTrack whose files are missing, of another
    version or corrupt stops here, naming the file, before anything is tracked or written."""
    from ..cli import UsageError
    from ..tracking.baselines import NANOTRACK, nanotrack_files

    if NANOTRACK not in trackers:
        if args.nanotrack is not None:
            raise UsageError("--nanotrack applies to --tracker nanotrack only")
        return
    nanotrack_files(args.nanotrack)


def nanotrack_dir(args):
    return str(args.nanotrack) if args.nanotrack is not None else None


def run(args) -> int:
    from ..datasets import benchmark
    from ..evaluation.runner import DatasetSpec, TrackerSpec, is_finished, load_tracker_model, track_dataset
    from ..tracking.baselines import MIXFORMER_TRACKER, canonical_tracker_name
    from .common import model_argument, tracker_setting_overrides

    tracker = canonical_tracker_name(args.tracker)
    if tracker != MIXFORMER_TRACKER:
        check_mixformer_options(args, tracker)
    entry = benchmark(args.dataset, need_reader=True)
    name, default_split = entry.name, entry.tracking_split
    dataset = open_selected(args, default_split)
    split = args.split or default_split
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    check_tracking_options(args)
    model = model_argument(args)
    check_nanotrack_option(args, [tracker])
    tracker_spec = TrackerSpec(model, str(args.weights) if args.weights else None, args.backend, args.threads,
                               tracker, tracker_setting_overrides(args), nanotrack_dir(args))
    network = load_tracker_model(tracker_spec)   # fails now, not in every worker, on missing or wrong weights
    resolve_threads(args, workers=args.workers)
    tracker_spec = dataclasses.replace(tracker_spec, threads=args.threads)
    if network is not None and args.backend == AUTO_BACKEND:
        tracker_spec = dataclasses.replace(tracker_spec, backend=resolve_backend(args, network, args.threads))
    dataset_spec = DatasetSpec(name, str(args.root), split)
    summary = track_dataset(dataset, dataset_spec, tracker_spec, args.results, workers=args.workers,
                            progress=not args.no_progress, model=network, overwrite=args.overwrite)
    where = f"rank {summary.rank}/{summary.world_size}: " if summary.world_size > 1 else ""
    fps = f", {summary.fps:.1f} fps (tracker step)" if summary.fps else ""
    print(f"{where}{summary.assigned} sequences assigned, {summary.skipped} already finished, "
          f"{len(summary.tracked)} tracked, {len(summary.failed)} failed{fps}; results in {args.results}")
    for seq, error in summary.failed.items():
        print(f"  failed: {seq}: {error}")
    unfinished = [s.name for s in dataset if not is_finished(args.results, dataset.results_layout, s)]
    if unfinished:
        print(f"{len(unfinished)} of {len(dataset)} sequences not finished yet"
              + (" (other ranks may still be running)" if summary.world_size > 1 else "")
              + "; run the same command again to resume")
        return 1 if summary.failed else 0
    if args.package is not None:
        from ..evaluation.submission import package_submission

        package_submission(dataset, args.results, args.package)
        print(f"wrote {args.package} ({len(dataset)} sequences) for the {name} evaluation server")
    if not args.no_score and summary.rank == 0 and all(s.has_full_ground_truth for s in dataset):
        from ..evaluation.scoring import score_results

        report = score_results(dataset, [args.results])
        print(report.format_text(attributes=False))
    return 1 if summary.failed else 0
