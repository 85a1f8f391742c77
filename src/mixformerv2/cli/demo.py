"""`mixformerv2 demo`: make the sample clip, track it with the default model, write the results and score them."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import cv2

from ..files import atomic_write
from .common import (AUTO_THREADS, BACKEND_HELP, DEFAULT_BACKEND, THREADS_HELP, add_model_arguments,
                     check_tracking_options, resolve_backend, resolve_threads, threads_argument)

OUTPUTS = {"clip": "clip.mp4", "groundtruth": "groundtruth.txt", "clip_info": "clip.json", "boxes": "boxes.txt",
           "video": "tracked.mp4", "summary": "summary.json"}


def register(sub) -> None:
    from ..data.sample_clip import CLIP_FPS, CLIP_FRAMES, CLIP_SEED

    p = sub.add_parser("demo", help="track a generated sample clip with the default model and score it",
                       description=f"Make the sample clip ({CLIP_FRAMES} frames of 480x360 at {CLIP_FPS:g} fps, "
                                   "generated deterministically from the photos scikit-image ships: the synthetic "
                                   "dataset's held-out test split), write it as OUT/clip.mp4 with its ground truth, "
                                   "track it with `mixformerv2 track` from its first ground-truth box, and write "
                                   "OUT/boxes.txt (x,y,w,h per frame), OUT/tracked.mp4 (boxes and scores drawn) "
                                   "and OUT/summary.json (frames, FPS of the tracker step, success AUC, precision).")
    p.add_argument("--out", type=Path, default=Path("demo_output"), metavar="DIR",
                   help="output folder (default demo_output)")
    p.add_argument("--frames", type=int, default=None,
                   help=f"use only the first N frames of the clip (2..{CLIP_FRAMES}; default all {CLIP_FRAMES})")
    p.add_argument("--seed", type=int, default=CLIP_SEED,
                   help=f"clip seed (default {CLIP_SEED}; another seed makes another clip)")
    add_model_arguments(p)
    p.add_argument("--backend", default=DEFAULT_BACKEND, help=BACKEND_HELP)
    p.add_argument("--threads", type=threads_argument, default=AUTO_THREADS, help=THREADS_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.sample_clip import sample_clip
    from ..evaluation.metrics import score_sequence
    from ..tracking.annotate import AnnotatedVideoWriter
    from ..model.hub import describe_weights, load_model, resolve_weights
    from ..tracking import Tracker, params_for_model
    from ..tracking.run import WARMUP_FRAMES, track_source
    from ..tracking.sources import open_source
    from .common import model_argument
    from .track import print_summary

    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a folder")
    check_tracking_options(args)
    model = model_argument(args)
    resolve_weights(model, args.weights)          # a missing default model stops here, before any work
    weights = describe_weights(model, args.weights)
    clip = sample_clip(args.frames, seed=args.seed)
    out = args.out
    paths = {key: out / name for key, name in OUTPUTS.items()}

    # The clip: an mp4 a user could have filmed, and its ground truth.
    start = time.perf_counter()
    width, height = clip.size
    writer = AnnotatedVideoWriter(paths["clip"], clip.fps, (width, height))
    digest = hashlib.sha256()
    try:
        for frame in clip.frames():
            digest.update(frame.tobytes())
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    except BaseException:
        writer.close(keep=False)
        raise
    writer.close()
    text = clip.groundtruth_text()
    atomic_write(paths["groundtruth"], lambda tmp: Path(tmp).write_text(text))
    info = dict(clip.info(), frames_sha256=digest.hexdigest())
    info_text = json.dumps(info, indent=2) + "\n"
    atomic_write(paths["clip_info"], lambda tmp: Path(tmp).write_text(info_text))
    made = time.perf_counter() - start
    print(f"sample clip: {clip.num_frames} frames, {width}x{height} at {clip.fps:g} fps "
          f"({clip.num_frames / clip.fps:.1f} s), sequence {clip.name} of the synthetic test split (seed {clip.seed}, scikit-image photos "
          f"{', '.join(clip.photo_names)}), made in {made:.1f} s")
    print(f"ground truth sha256 {info['groundtruth_sha256']}")

    # Tracking: what `mixformerv2 track clip.mp4 --box ... --out boxes.txt --video tracked.mp4` does, from the
    # first ground-truth box.
    network = load_model(model, args.weights)
    resolve_threads(args)
    resolve_backend(args, network, args.threads)
    tracker = Tracker(network, params_for_model(network), backend=args.backend, threads=args.threads)
    with open_source(paths["clip"]) as source:
        tracked = track_source(source, tracker, [clip.boxes[0]], boxes_out=paths["boxes"], video_out=paths["video"])
        source_name = source.name
    print_summary(tracked, source_name, args.backend, args.threads, profile=False)
    if tracked.interrupted:
        return 130
    if tracked.frames != clip.num_frames:
        raise OSError(f"{paths['clip']} gave {tracked.frames} frames, not the clip's {clip.num_frames}")

    # Scores against the ground truth, as `mixformerv2 score` computes them for LaSOT-style sequences (frames
    # with the target fully occluded count as failures).
    scores = score_sequence("lasot", tracked.boxes[0], clip.boxes, visible=clip.visible, name=clip.name)
    summary = scores.summary("lasot")
    result = {"clip": info, "model": _model_summary(tracked), "weights": weights, "backend": args.backend,
              "threads": args.threads, "frames": tracked.frames, "tracker_step_fps": _round(tracked.step_fps),
              "warmup_frames_excluded": WARMUP_FRAMES if tracked.after_warmup else 0,
              "auc": _round(summary["auc"]),              "precision": _round(summary["precision"]), "norm_precision": _round(summary["norm_precision"]),
              "op50": _round(summary["op50"]), "op75": _round(summary["op75"]),
              "outputs": {key: str(path) for key, path in paths.items()}}
    result_text = json.dumps(result, indent=2) + "\n"
    atomic_write(paths["summary"], lambda tmp: Path(tmp).write_text(result_text))
    fps = f"{tracked.step_fps:.1f} FPS" if tracked.step_fps else "n/a"
    print(f"against the clip's ground truth: success AUC {summary['auc']:.3f}, precision (20 px) "
          f"{summary['precision']:.3f}, OP50 {summary['op50']:.3f}; tracker step {fps}")
    print(f"outputs in {out}: {', '.join(OUTPUTS.values())}")
    return 0


def _model_summary(tracked) -> dict:
    import dataclasses

    from ..model.hub import model_name

    config = tracked.tracker.backend.config
    return {"name": model_name(tracked.tracker.model) or "custom", "config": config.to_dict(),
            "tracker_params": dataclasses.asdict(tracked.tracker.params)}


def _round(value):
    return None if value is None else round(float(value), 4)
