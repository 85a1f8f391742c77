"""`mixformerv2 track`: track one or more boxes through a video file, an image folder or a camera."""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from ..files import atomic_write
from ..tracking import StepTimings, Tracker, TrackerParams, available_backends, load_model
from ..tracking.annotate import AnnotatedVideoWriter, FrameWindow, VIDEO_CODECS, draw_boxes
from ..tracking.params import BENCHMARKS
from ..tracking.sources import FrameReadError, open_source
from .common import (add_model_arguments, add_tracker_setting_arguments, model_config_arg,
                     tracker_setting_overrides)

WARMUP_FRAMES = 5  # tracker steps left out of the reported FPS (allocation, first-call costs)


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
    p.add_argument("--backend", default="torch", choices=available_backends(),
                   help="network backend (default torch: cached templates; torch-full: the official "
                        "full forward every frame)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
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


def format_box(box: Sequence[float]) -> str:
    return ",".join(f"{float(v):.4f}".rstrip("0").rstrip(".") for v in box)


def output_paths(out: Path, num_targets: int) -> List[Path]:
    if num_targets == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i + 1}{out.suffix}") for i in range(num_targets)]


def tracker_params(args, config) -> TrackerParams:
    params = TrackerParams.for_benchmark(args.benchmark_params, config)
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


@dataclass
class TrackingRun:
    """What a track run did. ``boxes[i]``: target i's (x, y, w, h) px per frame, the initial box first;
    ``timings``: the tracker step summed over the frames after the warm-up (all frames when there were too
    few); ``wall``: seconds including decoding, drawing and writing; ``written``: the files written;
    ``tracker``: the Tracker that ran (its params, backend and model config)."""

    tracker: Tracker
    frames: int
    boxes: List[List[Sequence[float]]]
    timings: StepTimings
    after_warmup: bool
    wall: float
    written: List[str]
    stopped: str = ""
    interrupted: bool = False

    @property
    def step_fps(self) -> Optional[float]:
        """Frames per second of the tracker step (crops, network, map-back), or None without timed frames."""
        return self.timings.frames / self.timings.step if self.timings.frames and self.timings.step > 0 else None


def run(args) -> int:
    return 130 if track(args).interrupted else 0


def track(args) -> TrackingRun:
    """Run `track` with parsed arguments: check them, track, write --out / --video, print the summary."""
    boxes = [parse_box(b) for b in args.box]
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    for option, path in (("--out", args.out), ("--video", args.video)):
        if path is not None and path.is_dir():
            raise ValueError(f"{option} {path} is a directory; give a file name")
    if args.video is not None and args.video.suffix.lower() not in VIDEO_CODECS:
        raise ValueError(f"--video {args.video}: use one of the suffixes {', '.join(VIDEO_CODECS)}")
    source = open_source(args.source)
    try:
        model = load_model(model_config_arg(args.model) if args.model is not None else None, args.weights)
        tracker = Tracker(model, tracker_params(args, model.config), backend=args.backend, threads=args.threads)
        window = FrameWindow() if args.show else None
        return _track(args, source, tracker, boxes, window)
    finally:
        source.close()


def _track(args, source, tracker: Tracker, boxes: List[List[float]], window: Optional[FrameWindow]) -> TrackingRun:
    from tqdm import tqdm

    tracked: List[List[Sequence[float]]] = [[] for _ in boxes]
    writer: Optional[AnnotatedVideoWriter] = None
    warm: Optional[StepTimings] = None
    frames = 0
    error: Optional[BaseException] = None
    stopped = ""
    total = source.num_frames if args.max_frames is None else min(source.num_frames or args.max_frames, args.max_frames)
    bar = tqdm(total=total, unit="frame", desc="tracking", file=sys.stderr, dynamic_ncols=True, leave=False,
               disable=not sys.stderr.isatty())
    start = time.perf_counter()
    try:
        for frame in source:
            if frames == 0:
                tracker.init(frame, boxes)
                current, scores = [list(b) for b in boxes], [None] * len(boxes)
            else:
                results = tracker.update(frame)
                current, scores = [r.box for r in results], [r.score for r in results]
                if tracker.timings.frames == WARMUP_FRAMES:
                    warm = _copy(tracker.timings)
            for i, box in enumerate(current):
                tracked[i].append(box)
            frames += 1
            if args.video is not None or window is not None:
                annotated = draw_boxes(frame, current, scores)
                if args.video is not None:
                    if writer is None:
                        writer = AnnotatedVideoWriter(args.video, source.fps or 30.0,
                                                      (frame.shape[1], frame.shape[0]))
                    writer.write(annotated)
                if window is not None and not window.show(annotated):
                    stopped = "stopped from the window"
                    break
            bar.update(1)
            if frames % 10 == 0 and tracker.timings.step > 0:
                bar.set_postfix(track_fps=f"{tracker.timings.frames / tracker.timings.step:.1f}")
            if args.max_frames is not None and frames >= args.max_frames:
                break
    except KeyboardInterrupt as exc:
        stopped = "interrupted"
        error = None if source.is_camera else exc
    except FrameReadError as exc:
        error = exc
    finally:
        bar.close()
        if window is not None:
            window.close()
        wall = time.perf_counter() - start
        written = _write_outputs(args, tracked, writer, keep=frames > 0)
    if isinstance(error, FrameReadError):
        kept = f"; the {frames} frames tracked so far are in {', '.join(written)}" if written else ""
        raise FrameReadError(f"{error}{kept}", error.index)
    _summary(args, source, tracker, frames, wall, warm, written, stopped)
    timings = _since(tracker.timings, warm)
    return TrackingRun(tracker, frames, tracked, timings, timings is not tracker.timings, wall, written, stopped,
                       isinstance(error, KeyboardInterrupt))


def _copy(timings: StepTimings) -> StepTimings:
    return StepTimings(**{k: getattr(timings, k) for k in timings.__dataclass_fields__})


def _since(total: StepTimings, warm: Optional[StepTimings]) -> StepTimings:
    if warm is None or total.frames <= warm.frames:
        return total
    fields = ("frames", "crop", "model", "post", "template", "template_encodings")
    result = _copy(total)
    for k in fields:
        setattr(result, k, getattr(total, k) - getattr(warm, k))
    return result


def _write_outputs(args, tracked, writer: Optional[AnnotatedVideoWriter], keep: bool) -> List[str]:
    written = []
    if args.out is not None and keep:
        for path, boxes in zip(output_paths(args.out, len(tracked)), tracked):
            text = "".join(format_box(b) + "\n" for b in boxes)
            atomic_write(path, lambda tmp, text=text: Path(tmp).write_text(text))
            written.append(str(path))
    if writer is not None:
        writer.close(keep=keep)
        if keep:
            written.append(str(writer.path))
    return written


def _summary(args, source, tracker: Tracker, frames: int, wall: float, warm, written, stopped: str) -> None:
    timings = _since(tracker.timings, warm)
    targets = tracker.num_targets
    print(f"tracked {frames} frames, {targets} target{'s' if targets != 1 else ''}, from {source.name}"
          + (f" ({stopped})" if stopped else ""))
    if timings.frames:
        step_ms = 1e3 * timings.step / timings.frames
        threads = args.threads if args.threads is not None else __import__("torch").get_num_threads()
        print(f"tracker step: {step_ms:.2f} ms/frame = {1e3 / step_ms:.1f} FPS "
              f"(backend {args.backend}, {threads} thread{'s' if threads != 1 else ''}, batch {targets}"
              + (f", after {WARMUP_FRAMES} warm-up frames" if timings is not tracker.timings else "") + ")")
    if frames and wall > 0:
        print(f"including decoding and drawing: {frames / wall:.1f} FPS ({wall:.2f} s)")
    if written:
        print("wrote " + ", ".join(written))
    if args.profile and timings.frames:
        print("\n".join(profile_lines(timings, targets)))
