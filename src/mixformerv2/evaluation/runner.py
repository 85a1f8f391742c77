"""One-pass benchmark runs: every sequence tracked from its first-frame box, results written per sequence.

Each finished sequence leaves ``<seq>.txt`` (x, y, w, h px per frame) and ``<seq>_time.txt`` (seconds of
the tracker step per frame, image decoding excluded; frame 1 holds the initialisation time) in the
results folder (GOT-10k: ``<seq>/<seq>_001.txt`` and ``<seq>/<seq>_time.txt``), each written atomically
and the boxes last, so a sequence counts as finished exactly when its boxes file exists. An interrupted
run loses only the sequences in progress; running again skips the finished ones.

Parallelism: ``workers`` processes on one machine, and under ``torchrun`` (RANK / WORLD_SIZE in the
environment) the sequences are dealt round-robin to the ranks, each rank working through its own share
with no coordinator: every process needs only the dataset and the shared results folder.
"""
from __future__ import annotations

import logging
import os
import queue as queue_module
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..model.checkpoint import atomic_write
from .annotations import format_boxes
from .datasets import Dataset, Sequence, open_dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerSpec:
    """What a worker process needs to build the tracker: a preset name or model-config dict, optional
    weights, the backend name and torch threads per process."""
    model: object = "s"
    weights: Optional[str] = None
    backend: str = "torch"
    threads: Optional[int] = None


@dataclass(frozen=True)
class DatasetSpec:
    """How a worker process reopens the dataset (readers hold closures, which do not pickle)."""
    name: str
    root: str
    split: Optional[str] = None


@dataclass
class RunSummary:
    rank: int
    world_size: int
    assigned: int
    skipped: int
    tracked: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)
    frames: int = 0
    tracker_seconds: float = 0.0

    @property
    def fps(self) -> Optional[float]:
        return self.frames / self.tracker_seconds if self.tracker_seconds > 0 else None


# ------------------------------------------------------------------------------------------ files
def result_paths(results_dir: Path, layout: str, sequence: str) -> Tuple[Path, Path]:
    """(boxes file, time file) of a sequence in the community layout of the benchmark."""
    results_dir = Path(results_dir)
    if layout == "got10k":
        return results_dir / sequence / f"{sequence}_001.txt", results_dir / sequence / f"{sequence}_time.txt"
    return results_dir / f"{sequence}.txt", results_dir / f"{sequence}_time.txt"


def is_finished(results_dir: Path, layout: str, sequence: Sequence) -> bool:
    """True when the sequence's boxes file exists with one line per frame."""
    boxes_path, _ = result_paths(results_dir, layout, sequence.name)
    if not boxes_path.is_file():
        return False
    with open(boxes_path, "rb") as f:
        lines = sum(1 for line in f if line.strip())
    if lines != sequence.num_frames:
        log.warning("%s has %d boxes for %d frames: tracking %s again", boxes_path, lines, sequence.num_frames,
                    sequence.name)
        return False
    return True


def write_results(results_dir: Path, layout: str, sequence: str, boxes: np.ndarray, times: np.ndarray) -> None:
    """Write a sequence's time file, then its boxes file, each atomically."""
    boxes_path, time_path = result_paths(results_dir, layout, sequence)
    times_text = "".join(f"{t:.8f}\n" for t in np.asarray(times, dtype=np.float64))
    atomic_write(time_path, lambda tmp: Path(tmp).write_text(times_text))
    boxes_text = format_boxes(boxes, 4)
    atomic_write(boxes_path, lambda tmp: Path(tmp).write_text(boxes_text))


# -------------------------------------------------------------------------------------- tracking
def load_tracker_model(spec: TrackerSpec):
    """The spec's model with its weights (WeightsRequiredError without weights when none are bundled)."""
    from ..tracking.pretrained import load_model

    return load_model(spec.model, spec.weights)


def build_tracker(spec: TrackerSpec, benchmark: str, model=None):
    """A Tracker with the benchmark's official settings for the model (loaded from ``spec`` unless given)."""
    from ..tracking import Tracker, TrackerParams

    model = model if model is not None else load_tracker_model(spec)
    try:
        params = TrackerParams.for_benchmark(_TRACKER_BENCHMARK.get(benchmark, benchmark), model.config)
    except ValueError:
        params = TrackerParams.for_benchmark("default", model.config)
    return Tracker(model, params, backend=spec.backend, threads=spec.threads)


_TRACKER_BENCHMARK = {"uav20l": "uav123"}


def track_sequence(tracker, sequence: Sequence, on_frame: Optional[Callable[[int], None]] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Track one sequence from its first ground-truth box. Returns boxes (N, 4) x, y, w, h px (frame 1 is
    the initial box) and seconds of the tracker step per frame (frame 1: initialisation)."""
    n = sequence.num_frames
    boxes = np.zeros((n, 4), dtype=np.float64)
    times = np.zeros(n, dtype=np.float64)
    init_box = sequence.init_box
    frame = sequence.read_frame(0)
    start = time.perf_counter()
    tracker.init(frame, tuple(float(v) for v in init_box))
    times[0] = time.perf_counter() - start
    boxes[0] = init_box
    if on_frame:
        on_frame(1)
    for i in range(1, n):
        frame = sequence.read_frame(i)
        result = tracker.update(frame)
        boxes[i] = result.box
        times[i] = result.time
        if on_frame:
            on_frame(1)
    return boxes, times


def shard(items: List, rank: int, world_size: int) -> List:
    """Round-robin share of ``items`` for ``rank`` of ``world_size``."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    return items[rank::world_size]


def distributed_rank() -> Tuple[int, int]:
    """(rank, world size) from torchrun's environment, (0, 1) outside it."""
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} / WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} "
                         f"are not integers") from None


def run_benchmark(dataset: Dataset, dataset_spec: DatasetSpec, tracker_spec: TrackerSpec, results_dir: Path,
                  workers: int = 1, rank: Optional[int] = None, world_size: Optional[int] = None,
                  progress: bool = True, model=None) -> RunSummary:
    """Track this rank's share of ``dataset`` into ``results_dir``, skipping finished sequences.

    ``workers`` > 1 runs sequences in that many processes (spawned; each builds the tracker once with
    ``tracker_spec.threads`` torch threads, default cores / workers). A KeyboardInterrupt stops the workers;
    the sequences in progress are not written. Failures of single sequences are collected in the summary.
    ``model``: an already loaded model for the in-process path (workers load their own from the spec).
    """
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    env_rank, env_world = distributed_rank()
    rank = env_rank if rank is None else rank
    world_size = env_world if world_size is None else world_size
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    mine = shard(list(dataset.sequences), rank, world_size)
    pending = [s for s in mine if not is_finished(results_dir, dataset.results_layout, s)]
    summary = RunSummary(rank, world_size, len(mine), len(mine) - len(pending))
    if not pending:
        return summary
    if tracker_spec.threads is None:
        cores = os.cpu_count() or 1
        tracker_spec = TrackerSpec(tracker_spec.model, tracker_spec.weights, tracker_spec.backend,
                                   max(1, cores // workers))
    total_frames = sum(s.num_frames for s in pending)
    bars = _Bars(len(pending), total_frames, rank, world_size, progress)
    try:
        if workers == 1 or len(pending) == 1:
            tracker = build_tracker(tracker_spec, dataset.name, model)
            for seq in pending:
                bars.start(seq.name)
                try:
                    boxes, times = track_sequence(tracker, seq, bars.frames)
                except (ValueError, OSError) as exc:
                    summary.failed[seq.name] = str(exc)
                    log.error("%s: %s", seq.name, exc)
                else:
                    write_results(results_dir, dataset.results_layout, seq.name, boxes, times)
                    _account(summary, seq.name, times)
                bars.done()
        else:
            _run_pool(pending, dataset_spec, tracker_spec, results_dir, dataset.results_layout, workers, summary, bars)
    finally:
        bars.close()
    return summary


def _account(summary: RunSummary, name: str, times: np.ndarray) -> None:
    summary.tracked.append(name)
    summary.frames += max(len(times) - 1, 0)
    summary.tracker_seconds += float(np.sum(times[1:]))


class _Bars:
    """tqdm bars over sequences and frames (silent when progress is off)."""

    def __init__(self, sequences: int, frames: int, rank: int, world: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from tqdm import tqdm

        prefix = f"rank {rank}/{world} " if world > 1 else ""
        self.seq_bar = tqdm(total=sequences, desc=f"{prefix}sequences", unit="seq", position=0, dynamic_ncols=True)
        self.frame_bar = tqdm(total=frames, desc=f"{prefix}frames", unit="frame", position=1, dynamic_ncols=True,
                              smoothing=0.05)

    def start(self, name: str) -> None:
        if self.enabled:
            self.seq_bar.set_postfix_str(name)

    def frames(self, n: int) -> None:
        if self.enabled:
            self.frame_bar.update(n)

    def done(self) -> None:
        if self.enabled:
            self.seq_bar.update(1)

    def close(self) -> None:
        if self.enabled:
            self.frame_bar.close()
            self.seq_bar.close()


# ----------------------------------------------------------------------------------- process pool
_worker_state: Dict[str, object] = {}


def _worker_init(dataset_spec: DatasetSpec, tracker_spec: TrackerSpec, progress_queue) -> None:
    import signal

    # Ctrl-C goes to the whole process group: the parent decides, workers just stop quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_state["dataset"] = open_dataset(dataset_spec.name, dataset_spec.root, dataset_spec.split)
    _worker_state["tracker"] = build_tracker(tracker_spec, _worker_state["dataset"].name)
    _worker_state["queue"] = progress_queue


def _worker_run(name: str, results_dir: str, layout: str) -> Tuple[str, Optional[str], Optional[np.ndarray]]:
    dataset: Dataset = _worker_state["dataset"]
    q = _worker_state["queue"]
    pending = [0]

    def on_frame(n: int) -> None:
        pending[0] += n
        if pending[0] >= 10:
            q.put(pending[0])
            pending[0] = 0

    try:
        boxes, times = track_sequence(_worker_state["tracker"], dataset[name], on_frame)
    except (ValueError, OSError, KeyError) as exc:
        return name, str(exc), None
    finally:
        if pending[0]:
            q.put(pending[0])
    write_results(Path(results_dir), layout, name, boxes, times)
    return name, None, times


def _run_pool(pending: List[Sequence], dataset_spec: DatasetSpec, tracker_spec: TrackerSpec, results_dir: Path,
              layout: str, workers: int, summary: RunSummary, bars: _Bars) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = mp.get_context("spawn")
    manager_queue = context.Queue()
    executor = ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context,
                                   initializer=_worker_init, initargs=(dataset_spec, tracker_spec, manager_queue))
    try:
        futures = {executor.submit(_worker_run, s.name, str(results_dir), layout): s.name for s in pending}
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(manager_queue, bars)
            for future in done:
                name, error, times = future.result()
                if error is not None:
                    summary.failed[name] = error
                    log.error("%s: %s", name, error)
                else:
                    _account(summary, name, times)
                bars.done()
        _drain(manager_queue, bars)
        executor.shutdown(wait=True)
    except BaseException:
        # Interrupted (Ctrl-C) or a worker died: stop everything now; unfinished sequences were not written.
        for process in list(getattr(executor, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        raise


def _drain(q, bars: _Bars) -> None:
    while True:
        try:
            bars.frames(q.get_nowait())
        except queue_module.Empty:
            return
        except (EOFError, OSError):
            return
