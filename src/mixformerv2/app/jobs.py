"""Tracking jobs of the app: a queue worked by a fixed number of threads, each job tracked through the
library's one tracking loop (``tracking.run.track_source``) into its own folder.

A job's results: the annotated video (``tracked.webm``, VP8, which browsers play), one boxes file per
target (x,y,w,h per frame, the first line the initial box), ``scores.png`` (each target's score per frame,
and the IoU with the ground truth when there is one) and the tracker-step frame rate.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .clips import Clip, UploadError, new_id

log = logging.getLogger(__name__)

VIDEO_NAME = "tracked.webm"
BOXES_NAME = "boxes.txt"
PLOT_NAME = "scores.png"


@dataclass(frozen=True)
class ModelChoice:
    """What a job tracks with: ``model`` (a bundled model or preset name, None for the checkpoint's stored
    config or the default model) and ``weights`` (a checkpoint path or None)."""

    model: Optional[str]
    weights: Optional[Path]

    def label(self) -> str:
        if self.weights is None:
            return self.model or "default"
        return f"{self.model or 'stored config'} + {self.weights.name}"


@dataclass
class Job:
    """One tracking request and its state: ``state`` is queued, running, done or failed; ``done`` / ``total``
    frames; ``message`` what it is doing (or why it failed); ``result`` the page's view of the results."""

    id: str
    clip: Clip
    boxes: List[List[float]]
    choice: ModelChoice
    backend: str
    folder: Path
    groundtruth: Optional[np.ndarray] = None
    max_frames: Optional[int] = None
    state: str = "queued"
    message: str = "waiting for the tracker"
    done: int = 0
    total: int = 0
    result: Optional[Dict[str, object]] = None
    files: Dict[str, Path] = field(default_factory=dict)
    cancelled: bool = False

    def describe(self, position: int = 0) -> Dict[str, object]:
        message = self.message
        if self.state == "queued" and position > 0:
            message = f"waiting: {position} job{'s' if position != 1 else ''} before this one"
        return {"job": self.id, "state": self.state, "message": message, "done": self.done, "total": self.total,
                "result": self.result}


class JobRunner:
    """Runs jobs from a queue in ``workers`` threads (1 by default: tracking already uses every core it is
    given, and one job at a time keeps each job's frame rate honest). Jobs are kept by id, so that each
    user sees only the jobs they started."""

    def __init__(self, root: Path, workers: int = 1, threads: Optional[int] = None):
        self.root = root
        self.threads = threads
        self._jobs: Dict[str, Job] = {}
        self._pending: List[str] = []
        self._lock = threading.Lock()
        self._queue: "queue.Queue[Optional[Job]]" = queue.Queue()
        self._models: Dict[ModelChoice, object] = {}
        self._model_lock = threading.Lock()
        self._workers = [threading.Thread(target=self._work, name=f"track-{i}", daemon=True) for i in range(workers)]
        for worker in self._workers:
            worker.start()

    def submit(self, clip: Clip, boxes: List[List[float]], choice: ModelChoice, backend: str,
               groundtruth: Optional[np.ndarray] = None, max_frames: Optional[int] = None) -> Job:
        job_id = new_id()
        folder = self.root / job_id
        folder.mkdir(parents=True)
        job = Job(job_id, clip, boxes, choice, backend, folder, groundtruth, max_frames,
                  total=min(clip.num_frames, max_frames or clip.num_frames))
        with self._lock:
            self._jobs[job_id] = job
            self._pending.append(job_id)
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UploadError("unknown job (the app was restarted?): press Track again")
        return job

    def describe(self, job_id: str) -> Dict[str, object]:
        job = self.get(job_id)
        with self._lock:
            position = self._pending.index(job_id) if job_id in self._pending else 0
        return job.describe(position)

    def cancel(self, job_id: str) -> Dict[str, object]:
        """Stop a job: a queued one never starts; a running one stops after the current frame and keeps the
        frames tracked so far."""
        job = self.get(job_id)
        job.cancelled = True
        return self.describe(job_id)

    def close(self) -> None:
        for _ in self._workers:
            self._queue.put(None)

    # --------------------------------------------------------------------------------------- the work
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if job.id in self._pending:
                    self._pending.remove(job.id)
            if job.cancelled:
                job.state, job.message = "failed", "stopped before it started"
                continue
            job.state, job.message = "running", "loading the model"
            try:
                self._run(job)
            except (ValueError, OSError) as exc:       # bad checkpoints, unreadable frames, full disks
                job.state, job.message = "failed", str(exc)
            except Exception as exc:                    # noqa: BLE001 - the page gets a message, the log the trace
                log.exception("job %s failed", job.id)
                job.state, job.message = "failed", f"internal error ({type(exc).__name__}: {exc}); see the app's log"

    def load_model(self, choice: ModelChoice):
        """The model of ``choice``, loaded once per app (a job's tracker is its own; the weights are shared)."""
        from ..model.hub import load_model

        with self._model_lock:
            if choice not in self._models:
                self._models[choice] = load_model(choice.model, choice.weights)
            return self._models[choice]

    def _run(self, job: Job) -> None:
        from ..tracking import Tracker, params_for_model
        from ..tracking.backends import auto_threads
        from ..tracking.run import track_source
        from ..tracking.sources import open_source

        model = self.load_model(job.choice)
        threads = self.threads if self.threads is not None else auto_threads()[0]
        backend = job.backend
        if backend == "auto":
            from ..export.auto import choose_backend

            job.message = "choosing the fastest backend for this machine (measured once, then cached)"
            backend = choose_backend(model, threads).backend
        tracker = Tracker(model, params_for_model(model), backend=backend, threads=threads)
        job.message = (f"tracking with {job.choice.label()} (backend {backend}, {threads} "
                       f"thread{'s' if threads != 1 else ''})")

        def on_progress(done: int, total: Optional[int]) -> bool:
            job.done = done
            if total:
                job.total = total
            return not job.cancelled

        with open_source(job.clip.source) as source:
            run = track_source(source, tracker, job.boxes, boxes_out=job.folder / BOXES_NAME,
                               video_out=job.folder / VIDEO_NAME, max_frames=job.max_frames, progress=False,
                               on_progress=on_progress)
        job.message = "drawing the plot"
        ious = None
        if job.groundtruth is not None:
            from ..geometry import iou

            count = min(len(job.groundtruth), run.frames)
            first_boxes, truth = run.loop.box_array(0)[:count], job.groundtruth[:count]
            ious = iou(first_boxes, truth)
        plot_scores(job.folder / PLOT_NAME, run.loop.scores, ious)
        job.files = {Path(p).name: Path(p) for p in run.written}
        job.files[PLOT_NAME] = job.folder / PLOT_NAME
        boxes = [{"target": i + 1, "name": Path(p).name, "url": f"/api/jobs/{job.id}/files/{Path(p).name}"}
                 for i, p in enumerate(p for p in run.written if p.endswith(".txt"))]
        notice = ""
        if run.stopped:
            notice = f"stopped after {run.frames} of {job.total} frames"
        elif job.max_frames is not None and job.clip.num_frames > job.max_frames:
            notice = (f"tracked the first {run.frames} of {job.clip.num_frames} frames (this app tracks at most "
                      f"{job.max_frames}; start it with --max-frames to change that)")
        result: Dict[str, object] = {
            "frames": run.frames, "targets": len(job.boxes), "fps": run.step_fps, "backend": backend,
            "threads": threads, "model": job.choice.label(), "video": f"/api/jobs/{job.id}/files/{VIDEO_NAME}",
            "plot": f"/api/jobs/{job.id}/files/{PLOT_NAME}", "boxes": boxes, "notice": notice}
        if ious is not None:
            from ..evaluation.metrics import score_sequence

            summary = score_sequence("lasot", first_boxes, truth, name=job.clip.name).summary("lasot")
            result["auc"] = float(summary["auc"])
            result["mean_iou"] = float(np.nanmean(ious)) if np.isfinite(ious).any() else None
        job.done = run.frames
        job.result = result
        job.state, job.message = "done", f"tracked {run.frames} frames"


def plot_scores(path: Path, scores: List[List[Optional[float]]], ious: Optional[np.ndarray] = None) -> None:
    """A PNG of each target's confidence score per frame (frame 0, the initial box, has none) and, when given,
    the IoU of target 1's box with the ground truth per frame."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from ..files import atomic_write
    from ..tracking.annotate import COLORS

    figure = Figure(figsize=(8, 3.2), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    for i, values in enumerate(scores):
        series = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        b, g, r = COLORS[i % len(COLORS)]
        axes.plot(np.arange(len(series)), series, color=(r / 255, g / 255, b / 255), linewidth=1.4,
                  label=f"target {i + 1} score")
    if ious is not None:
        axes.plot(np.arange(len(ious)), ious, color="black", linewidth=1.0, linestyle="--",
                  label="target 1 IoU with the ground truth")
    axes.set_xlabel("frame")
    axes.set_ylabel("score" if ious is None else "score / IoU")
    axes.set_ylim(-0.02, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8, framealpha=0.8)
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))
