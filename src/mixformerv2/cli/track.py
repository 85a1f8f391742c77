"""`mixformerv2 track`: track one or more boxes through a video file, an image folder or a camera."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import List, Optional

from ..files import is_special_file, output_target
from ..model.hub import load_model, read_model_argument
from ..tracking import StepTimings, Tracker, TrackerParams, available_backends, params_for_model
from ..tracking.annotate import FrameWindow, VIDEO_CODECS
from ..tracking.params import BENCHMARKS
from ..tracking.run import WARMUP_FRAMES, TrackingRun, track_source
from ..tracking.sources import open_source
from .common import (AUTO_BACKEND, AUTO_THREADS, BACKEND_HELP, DEFAULT_BACKEND, THREADS_HELP, add_model_arguments,
                     add_tracker_setting_arguments, check_tracking_options, resolve_backend, resolve_threads,
                     threads_argument, tracker_setting_overrides)


def register(sub) -> None:
    p = sub.add_parser("track", help="track boxes through a video, an image folder or a camera",
                       description="Track one or more targets. SOURCE is a video file, a folder of images "
                                   "(natural order; a sequence folder with img/ or color/ works too) or a "
                                   "camera index. Boxes are x,y,w,h in pixels of the first frame.")
    add_track_arguments(p)
    p.set_defaults(func=run)


def add_track_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `track` (so that other commands can parse a track run with them)."""
    p.add_argument("source", metavar="SOURCE", help="video file, image folder, camera index (0, 1, ...) or stream URL")
    p.add_argument("--box", action="append", required=True, metavar="X,Y,W,H",
                   help="initial box in pixels (write --box=-5,10,40,30 when x is negative); repeat for "
                        "several targets")
    add_model_arguments(p)
    p.add_argument("--out", type=Path, help="write one x,y,w,h line per frame (first line = the initial box); "
                                            "with several targets NAME_1.txt, NAME_2.txt, ...")
    p.add_argument("--video", type=Path, help=f"write the frames with boxes and scores drawn "
                                              f"({', '.join(VIDEO_CODECS)})")
    p.add_argument("--show", action="store_true", help="show the frames while tracking (q or Esc stops)")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=[AUTO_BACKEND] + available_backends(),
                   help=BACKEND_HELP)
    p.add_argument("--threads", type=threads_argument, default=AUTO_THREADS, help=THREADS_HELP)
    p.add_argument("--benchmark-params", metavar="NAME", default="default",
                   help=f"official update interval and search factor of a benchmark ({', '.join(BENCHMARKS)}; "
                        f"default: default)")
    add_tracker_setting_arguments(p)
    p.add_argument("--no-padding-quirk", action="store_true",
                   help="pad crops only outside the frame (the official tracker also blanks the last "
                        "column/row when a crop passes the right/bottom border)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames (cameras run until stopped)")
    p.add_argument("--profile", action="store_true",
                   help="print the per-frame time of each part of the tracker step")


def parse_box(text: str) -> List[float]:
    """'x,y,w,h' (commas, spaces or tabs) -> four floats; ValueError naming the problem."""
    parts = [t for t in text.replace(",", " ").replace("\t", " ").split() if t]
    if len(parts) != 4:
        raise ValueError(f"--box {text!r} must be four numbers x,y,w,h (pixels)")
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise ValueError(f"--box {text!r} must be four numbers x,y,w,h (pixels)") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"--box {text!r} has a non-finite value (NaN or inf)")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"--box {text!r} has a non-positive size: width and height must be > 0 pixels")
    return values


def tracker_params(args, model) -> TrackerParams:
    """The settings of --benchmark-params for the loaded model (its card's when it has one), with the
    tracker-setting options on top."""
    params = params_for_model(model, args.benchmark_params)
    changes = dict(tracker_setting_overrides(args))
    if args.no_padding_quirk:
        changes["far_side_padding_quirk"] = False
    return params.replace(**changes) if changes else params


def profile_lines(timings: StepTimings, batch: int) -> List[str]:
    """The per-frame breakdown of the tracker step, in milliseconds."""
    ms = timings.per_frame_ms()
    encodes = timings.template_encodings
    return [f"profile over {timings.frames} frames (batch {batch}), ms per frame:",
            f"  tracker step      {ms['step']:8.3f}",
            f"  model call        {ms['model']:8.3f}   (search step of the backend)",
            f"  crop + normalise  {ms['crop']:8.3f}",
            f"  map-back + update {ms['post']:8.3f}   (includes candidate template crops)",
            f"  template encoding {ms['template']:8.3f}   ({encodes} encodings, "
            f"{1e3 * timings.template / max(encodes, 1):.2f} ms each)",
            f"  overhead          {ms['overhead']:8.3f}   (step - model - template encoding)"]


def run(args) -> int:
    return 130 if track(args).interrupted else 0


def track(args) -> TrackingRun:
    """Run `track` with parsed arguments: check them, track, write --out / --video, print the summary."""
    boxes = [parse_box(b) for b in args.box]
    check_tracking_options(args)
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    for option, path in (("--out", args.out), ("--video", args.video)):
        if path is not None and path.is_dir():     # follows symbolic links
            raise ValueError(f"{option} {path} is a directory; give a file name")
    if args.video is not None and is_special_file(output_target(args.video)):
        raise ValueError(f"--video {args.video} is a device, FIFO or socket; a video needs a regular file")
    if args.video is not None and args.video.suffix.lower() not in VIDEO_CODECS:
        raise ValueError(f"--video {args.video}: use one of the suffixes {', '.join(VIDEO_CODECS)}")
    source = open_source(args.source)
    try:
        model = load_model(read_model_argument(args.model) if args.model is not None else None, args.weights)
        resolve_threads(args)
        resolve_backend(args, model, args.threads)
        tracker = Tracker(model, tracker_params(args, model), backend=args.backend, threads=args.threads)
        window = FrameWindow() if args.show else None
        result = track_source(source, tracker, boxes, boxes_out=args.out, video_out=args.video, window=window,
                              max_frames=args.max_frames)
    finally:
        source.close()
    print_summary(result, source.name, args.backend, args.threads, args.profile)
    return result


def print_summary(result: TrackingRun, source_name: str, backend: str, threads: Optional[int], profile: bool) -> None:
    """What a track run prints: frames and targets, the tracker-step speed after the warm-up, the speed with
    decoding and drawing, the files written, and (``profile``) the per-part breakdown."""
    loop = result.loop
    targets = len(loop.boxes)
    print(f"tracked {result.frames} frames, {targets} target{'s' if targets != 1 else ''}, from {source_name}"
          + (f" ({result.stopped})" if result.stopped else ""))
    fps = loop.step_fps
    if fps:
        threads = threads if threads is not None else __import__("torch").get_num_threads()
        print(f"tracker step: {1e3 / fps:.2f} ms/frame = {fps:.1f} FPS "
              f"(backend {backend}, {threads} thread{'s' if threads != 1 else ''}, batch {targets}"
              + (f", after {WARMUP_FRAMES} warm-up frames" if loop.after_warmup else "") + ")")
    if result.frames and result.wall > 0:
        print(f"including decoding and drawing: {result.frames / result.wall:.1f} FPS ({result.wall:.2f} s)")
    if result.written:
        print("wrote " + ", ".join(result.written))
    timings = loop.timings
    if profile and timings is not None and timings.frames:
        print("\n".join(profile_lines(timings, targets)))
