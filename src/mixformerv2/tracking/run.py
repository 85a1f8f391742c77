"""The one tracking loop: frames in; boxes, scores and per-frame step times out, warm-up handled once.

``TrackingLoop`` is the loop itself (``init`` on the first frame, ``update`` on every next one, results kept
per frame); ``track_source`` runs it over a frame source and writes what a user asked for (boxes files, an
annotated video, a window). ``track``, ``demo``, the dataset runner (``evaluation.runner``), the speed
benchmark (``export.speed``) and ``scripts/profile_tracker.py`` all go through it. Boxes are (x, y, w, h) in
frame pixels; times are seconds.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np

from ..files import OutputWriteError, atomic_write_text
from .tracker import StepTimings

WARMUP_FRAMES = 5  # tracker steps left out of the reported speed (allocation, first-call costs)


@dataclass(frozen=True)
class FrameResult:
    """One frame of a loop: ``index`` (0-based), each target's box (frame 0: the initial boxes), score (None on
    frame 0, NaN for models without a score head) and ``seconds`` of the tracker step (frame 0: init)."""

    index: int
    boxes: List[Sequence[float]]
    scores: List[Optional[float]]
    seconds: float


def copy_timings(timings: StepTimings) -> StepTimings:
    return StepTimings(**{f.name: getattr(timings, f.name) for f in fields(StepTimings)})


def timings_since(total: StepTimings, warm: Optional[StepTimings]) -> StepTimings:
    """``total`` minus the snapshot ``warm`` (the timings after the warm-up); ``total`` itself when there was
    no snapshot or no frame after it."""
    if warm is None or total.frames <= warm.frames:
        return total
    result = copy_timings(total)
    for name in ("frames", "crop", "model", "post", "template", "template_encodings"):
        setattr(result, name, getattr(total, name) - getattr(warm, name))
    return result


class TrackingLoop:
    """Track ``boxes`` (a list of (x, y, w, h) px in the first frame) with ``tracker`` (a MixFormerV2
    ``Tracker`` or an ``OpenCVTracker``): ``step(frame)`` initialises on the first frame and updates on each
    next one. ``boxes[i]`` / ``scores[i]`` hold target i's per-frame results so far, ``seconds`` the tracker
    step per frame; they stay valid when a run stops early (Ctrl-C, a bad frame)."""

    def __init__(self, tracker, boxes: Sequence[Sequence[float]], warmup: int = WARMUP_FRAMES):
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self.tracker = tracker
        self.initial = [list(map(float, b)) for b in boxes]
        if not self.initial:
            raise ValueError("give at least one box to track")
        self.warmup = warmup
        self.boxes: List[List[Sequence[float]]] = [[] for _ in self.initial]
        self.scores: List[List[Optional[float]]] = [[] for _ in self.initial]
        self.seconds: List[float] = []
        self._warm: Optional[StepTimings] = None

    @property
    def frames(self) -> int:
        """Frames handled so far (the init frame included)."""
        return len(self.seconds)

    def step(self, frame: np.ndarray) -> FrameResult:
        index = self.frames
        if index == 0:
            start = time.perf_counter()
            self.tracker.init(frame, self.initial)
            seconds = time.perf_counter() - start
            boxes, scores = [list(b) for b in self.initial], [None] * len(self.initial)
        else:
            results = self.tracker.update(frame)
            boxes, scores = [r.box for r in results], [r.score for r in results]
            seconds = results[0].time
            timings = getattr(self.tracker, "timings", None)
            if timings is not None and timings.frames == self.warmup:
                self._warm = copy_timings(timings)
        for i, (box, score) in enumerate(zip(boxes, scores)):
            self.boxes[i].append(box)
            self.scores[i].append(score)
        self.seconds.append(seconds)
        return FrameResult(index, boxes, scores, seconds)

    def run(self, frames: Iterable[np.ndarray], on_frame: Optional[Callable[[np.ndarray, FrameResult], bool]] = None,
            max_frames: Optional[int] = None) -> "TrackingLoop":
        """Step through ``frames`` (until ``max_frames``, or until ``on_frame(frame, result)`` returns False)."""
        for frame in frames:
            result = self.step(frame)
            if on_frame is not None and on_frame(frame, result) is False:
                break
            if max_frames is not None and self.frames >= max_frames:
                break
        return self

    # Results ----------------------------------------------------------------------------------------------
    @property
    def after_warmup(self) -> bool:
        """True when the speed figures leave out the warm-up frames (there were frames after them)."""
        return self.frames - 1 > self.warmup

    @property
    def step_seconds(self) -> np.ndarray:
        """Seconds of the tracker step of the timed frames: every update after the warm-up (all updates when
        there were too few)."""
        updates = np.asarray(self.seconds[1:], dtype=np.float64)
        return updates[self.warmup:] if self.after_warmup else updates

    @property
    def step_fps(self) -> Optional[float]:
        """Frames per second of the tracker step over the timed frames, or None without timed frames."""
        timed = self.step_seconds
        total = float(timed.sum())
        return len(timed) / total if len(timed) and total > 0 else None

    @property
    def timings(self) -> Optional[StepTimings]:
        """The tracker's per-part timings over the timed frames (MixFormerV2 trackers; None for others)."""
        total = getattr(self.tracker, "timings", None)
        return None if total is None else timings_since(total, self._warm)

    def box_array(self, target: int = 0) -> np.ndarray:
        """Target ``target``'s boxes as (frames, 4) float64."""
        return np.asarray(self.boxes[target], dtype=np.float64).reshape(-1, 4)


# ------------------------------------------------------------------------------------------- outputs
def format_box(box: Sequence[float]) -> str:
    """'x,y,w,h' with up to 4 decimals and no trailing zeros."""
    return ",".join(f"{float(v):.4f}".rstrip("0").rstrip(".") for v in box)


def output_paths(out: Path, num_targets: int) -> List[Path]:
    """Where each target's boxes go: ``out`` for one target, NAME_1.txt, NAME_2.txt, ... for several."""
    if num_targets == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i + 1}{out.suffix}") for i in range(num_targets)]


@dataclass
class TrackingRun:
    """What ``track_source`` did: the ``loop`` (boxes, scores, step times), ``wall`` seconds including
    decoding, drawing and writing, the files ``written``, why it ``stopped`` early ("" when it ran to the end
    or to max_frames) and whether it was ``interrupted`` (Ctrl-C)."""

    loop: TrackingLoop
    wall: float
    written: List[str] = field(default_factory=list)
    stopped: str = ""
    interrupted: bool = False

    @property
    def tracker(self):
        return self.loop.tracker

    @property
    def frames(self) -> int:
        return self.loop.frames

    @property
    def boxes(self) -> List[List[Sequence[float]]]:
        return self.loop.boxes

    @property
    def step_fps(self) -> Optional[float]:
        return self.loop.step_fps

    @property
    def after_warmup(self) -> bool:
        return self.loop.after_warmup


class BoxesWriteError(OutputWriteError):
    """The boxes file could not be written (a full disk, a read-only folder); the message names the file."""


def track_source(source, tracker, boxes: Sequence[Sequence[float]], boxes_out: Optional[Path] = None,
                 video_out: Optional[Path] = None, window=None, max_frames: Optional[int] = None,
                 progress: bool = True,
                 on_progress: Optional[Callable[[int, Optional[int]], object]] = None) -> TrackingRun:
    """Track ``boxes`` through an open frame source (``tracking.sources``) and write the results: one
    x,y,w,h line per frame into ``boxes_out`` (NAME_1.txt, ... for several targets), the frames with boxes and
    scores drawn into ``video_out``, shown in ``window`` (a ``FrameWindow``; closing it stops the run).
    ``on_progress(frames_done, total)`` is called after every frame (``total`` None when the source does not
    know its length); returning False from it stops the run (``stopped``: "stopped by the caller").

    Ctrl-C stops a file source with the frames tracked so far written (``interrupted``); a camera stops the
    same way without it counting as an interruption. A frame that cannot be read raises FrameReadError naming
    the files that hold the frames tracked before it. Files are written atomically, and only when at least
    one frame was tracked."""
    from tqdm import tqdm

    from .annotate import AnnotatedVideoWriter, VideoWriteError, draw_boxes
    from .sources import FrameReadError

    loop = TrackingLoop(tracker, boxes)
    writer: Optional[AnnotatedVideoWriter] = None
    stopped = ""
    error: Optional[BaseException] = None
    total = source.num_frames if max_frames is None else min(source.num_frames or max_frames, max_frames)
    bar = tqdm(total=total, unit="frame", desc="tracking", file=sys.stderr, dynamic_ncols=True, leave=False,
               disable=not (progress and sys.stderr.isatty()))

    def on_frame(frame: np.ndarray, result: FrameResult) -> bool:
        nonlocal writer, stopped
        if video_out is not None or window is not None:
            annotated = draw_boxes(frame, result.boxes, result.scores)
            if video_out is not None:
                if writer is None:
                    writer = AnnotatedVideoWriter(video_out, source.fps or 30.0, (frame.shape[1], frame.shape[0]))
                writer.write(annotated)
            if window is not None and not window.show(annotated):
                stopped = "stopped from the window"
                return False
        bar.update(1)
        if on_progress is not None and on_progress(loop.frames, total) is False:
            stopped = "stopped by the caller"
            return False
        if loop.frames % 10 == 0 and loop.frames > 1:
            fps = loop.step_fps
            if fps:
                bar.set_postfix(track_fps=f"{fps:.1f}")
        return True

    start = time.perf_counter()
    try:
        loop.run(source, on_frame, max_frames)
    except KeyboardInterrupt as exc:
        stopped = "interrupted"
        error = None if source.is_camera else exc
    except (FrameReadError, VideoWriteError) as exc:
        error = exc
    finally:
        bar.close()
        if window is not None:
            window.close()
        wall = time.perf_counter() - start
        written = _write_outputs(loop, boxes_out, writer, keep=loop.frames > 0)
    kept = f"; the {loop.frames} frames tracked so far are in {', '.join(written)}" if written else ""
    if isinstance(error, FrameReadError):
        raise FrameReadError(f"{error}{kept}", error.index)
    if isinstance(error, VideoWriteError):
        raise VideoWriteError(f"{error}{kept}", error.requested)
    return TrackingRun(loop, wall, written, stopped, isinstance(error, KeyboardInterrupt))


def _write_outputs(loop: TrackingLoop, boxes_out: Optional[Path], writer, keep: bool) -> List[str]:
    written = []
    if writer is not None and writer.close(keep=keep):
        written.append(str(writer.path))
    if boxes_out is not None and keep:
        for path, boxes in zip(output_paths(Path(boxes_out), len(loop.boxes)), loop.boxes):
            try:
                atomic_write_text(path, "".join(format_box(b) + "\n" for b in boxes))
            except OSError as exc:
                raise BoxesWriteError(str(exc) if isinstance(exc, OutputWriteError)
                                      else f"cannot write {path}: {exc.strerror or exc}", boxes_out) from None
            written.append(str(path))
    return written


__all__ = ["BoxesWriteError", "FrameResult", "TrackingLoop", "TrackingRun", "WARMUP_FRAMES", "copy_timings", "format_box",
           "output_paths", "timings_since", "track_source"]
