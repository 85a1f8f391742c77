"""One-pass benchmark runs: every sequence tracked from its first-frame box, results written per sequence.

Each finished sequence leaves ``<seq>.txt`` (x, y, w, h px per frame) and ``<seq>_time.txt`` (seconds of
the tracker step per frame, image decoding excluded; frame 1 holds the initialisation time) in the
results folder (GOT-10k: ``<seq>/<seq>_001.txt`` and ``<seq>/<seq>_time.txt``), each written atomically
and the boxes last, so a sequence counts as finished exactly when its boxes file exists. An interrupted
run loses only the sequences in progress; running again skips the finished ones.

Parallelism: ``workers`` processes on one machine, and under ``torchrun`` (RANK / WORLD_SIZE in the
environment) the sequences are dealt round-robin to the ranks, each rank working through its own share
with no coordinator: every process needs only the dataset and the shared results folder.

The tracker is MixFormerV2 (``TrackerSpec.tracker="mixformerv2"``) or one of OpenCV's trackers
(``"csrt"``, ``"kcf"``, ...; see ``tracking.baselines``); all are timed the same way (``TrackResult.time``).
A results folder remembers which tracker filled it (``tracker.json``: the tracker, its weights' digest and
backend, or the OpenCV version), so resuming never mixes results of different trackers or weights.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue as queue_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..files import atomic_write
from ..processes import exit_with
from ..datasets.annotations import format_boxes
from ..datasets import Dataset, Sequence, open_dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerSpec:
    """What a worker process needs to build the tracker. ``tracker``: "mixformerv2" or an OpenCV tracker
    name (``tracking.baselines.tracker_names()``). For MixFormerV2: a preset name, "default" or a model-config
    dict, optional weights and the backend name (model and weights None: the default model). ``threads``: torch and OpenCV threads per process.
    ``params``: TrackerParams values set on top of the benchmark's (e.g. (("search_factor", 4.0),)), MixFormerV2 only.
    ``model_dir``: the folder of NanoTrack V2's ONNX files for ``tracker="nanotrack"`` (None: $MIXFORMERV2_NANOTRACK)."""
    model: object = None
    weights: Optional[str] = None
    backend: str = "torch"
    threads: Optional[int] = None
    tracker: str = "mixformerv2"
    params: Tuple[Tuple[str, Any], ...] = ()
    model_dir: Optional[str] = None

    @property
    def is_mixformer(self) -> bool:
        from ..tracking.baselines import MIXFORMER_TRACKER, canonical_tracker_name

        return canonical_tracker_name(self.tracker) == MIXFORMER_TRACKER


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


MANIFEST_NAME = "tracker.json"


class ResultsMismatchError(ValueError):
    """A results folder holds results of another tracker, other weights or another backend."""


# -------------------------------------------------------------------------------------- tracking
def load_tracker_model(spec: TrackerSpec):
    """The spec's MixFormerV2 model with its weights (WeightsRequiredError without weights when none are
    bundled; neither model nor weights: the default model); None for OpenCV trackers, which have no model to load."""
    from ..model.hub import load_model

    if not spec.is_mixformer:
        return None
    return load_model(spec.model, spec.weights)


def build_tracker(spec: TrackerSpec, benchmark: str, model=None):
    """The tracker of ``spec``: MixFormerV2 with the benchmark's official settings for the model (loaded
    from ``spec`` unless given), or an ``OpenCVTracker``. ``spec.threads`` also sets OpenCV's threads."""
    from ..tracking import Tracker
    from ..tracking.baselines import OpenCVTracker, set_opencv_threads

    set_opencv_threads(spec.threads)
    if not spec.is_mixformer:
        return OpenCVTracker(spec.tracker, threads=spec.threads, model_dir=spec.model_dir)
    model = model if model is not None else load_tracker_model(spec)
    return Tracker(model, tracker_params(spec, benchmark, model), backend=spec.backend, threads=spec.threads)


def tracker_params(spec: TrackerSpec, benchmark: str, model):
    """The TrackerParams MixFormerV2 runs ``benchmark`` with: the benchmark's official settings for the
    model (its card's, when the loaded model carries one), then ``spec.params`` on top."""
    from ..tracking import params_for_model

    params = params_for_model(model, benchmark)
    return params.replace(**dict(spec.params)) if spec.params else params


def tracker_identity(spec: TrackerSpec, model=None, benchmark: Optional[str] = None) -> Dict[str, object]:
    """What decides a tracker's boxes: for MixFormerV2 the model config, a digest of its weights, the
    backend and (benchmark given) the tracker settings; for OpenCV trackers the tracker name and OpenCV's
    version. (Threads only change the timing.)"""
    from ..model.checkpoint import weights_digest
    from ..tracking.baselines import canonical_tracker_name

    name = canonical_tracker_name(spec.tracker)
    if not spec.is_mixformer:
        from ..tracking.baselines import OpenCVTracker

        return OpenCVTracker(name, model_dir=spec.model_dir).identity()
    model = model if model is not None else load_tracker_model(spec)
    identity = {"tracker": name, "model": model.config.to_dict(), "weights_sha256": weights_digest(model),
                "backend": spec.backend}
    if benchmark is not None:
        identity["params"] = dataclasses.asdict(tracker_params(spec, benchmark, model))
    return identity


def check_results_folder(results_dir: Path, identity: Dict[str, object], has_results: bool) -> None:
    """Make sure ``results_dir`` holds results of the tracker ``identity`` describes (its ``tracker.json``),
    writing the file when it is absent. ResultsMismatchError names the differences otherwise."""
    path = Path(results_dir) / MANIFEST_NAME
    identity = json.loads(json.dumps(identity))     # as it reads back from the file (tuples are lists)
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultsMismatchError(f"{path} is unreadable ({exc}); delete it if the results in "
                                       f"{results_dir} are from this tracker") from None
        if stored != identity:
            diff = "; ".join(f"{k}: {_short_value(there)} there, {_short_value(now)} now"
                             for k, there, now in _differences(stored, identity))
            raise ResultsMismatchError(f"results folder {results_dir} holds results of another tracker "
                                       f"configuration ({diff}); use another results folder or track every "
                                       f"sequence again (--overwrite)")
        return
    if has_results:
        log.warning("%s has results but no %s: assuming they come from this %s tracker", results_dir,
                    MANIFEST_NAME, identity["tracker"])
    text = json.dumps(identity, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _differences(a: object, b: object, prefix: str = "") -> List[Tuple[str, object, object]]:
    """(dotted key, value in a, value in b) for every leaf where two JSON objects differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: List[Tuple[str, object, object]] = []
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [(prefix.rstrip("."), a, b)]


def prepare_results_folder(results_dir: Path, layout: str, sequences: List[Sequence], identity: Dict[str, object],
                           overwrite: bool = False) -> List[Sequence]:
    """Get ``results_dir`` ready for the tracker ``identity`` describes and return the ``sequences`` still to
    track. ``overwrite`` first deletes the results of ``sequences`` (and the folder's tracker.json);
    otherwise results of another tracker configuration raise ResultsMismatchError."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for seq in sequences:
            for path in result_paths(results_dir, layout, seq.name):
                path.unlink(missing_ok=True)
        (results_dir / MANIFEST_NAME).unlink(missing_ok=True)
    pending = [s for s in sequences if not is_finished(results_dir, layout, s)]
    check_results_folder(results_dir, identity, has_results=len(pending) < len(sequences))
    return pending


def _short_value(value) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:21] + "..."


def track_sequence(tracker, sequence: Sequence, on_frame: Optional[Callable[[int], None]] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Track one sequence from its first ground-truth box with the library's tracking loop. Returns boxes
    (N, 4) x, y, w, h px (frame 1 is the initial box) and seconds of the tracker step per frame (frame 1:
    initialisation). ``on_frame(1)`` is called after every frame (progress)."""
    from ..tracking.run import TrackingLoop

    loop = TrackingLoop(tracker, [tuple(float(v) for v in sequence.init_box)])
    frames = (sequence.read_frame(i) for i in range(sequence.num_frames))
    loop.run(frames, None if on_frame is None else (lambda frame, result: on_frame(1)))
    return loop.box_array(0), np.asarray(loop.seconds, dtype=np.float64)


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


def track_dataset(dataset: Dataset, dataset_spec: DatasetSpec, tracker_spec: TrackerSpec, results_dir: Path,
                  workers: int = 1, rank: Optional[int] = None, world_size: Optional[int] = None,
                  progress: bool = True, model=None, overwrite: bool = False) -> RunSummary:
    """Track this rank's share of ``dataset`` into ``results_dir``, skipping finished sequences.

    ``workers`` > 1 runs sequences in that many processes (spawned; each builds the tracker once with
    ``tracker_spec.threads`` torch/OpenCV threads, default cores / workers). A KeyboardInterrupt stops the
    workers; the sequences in progress are not written. Failures of single sequences are collected in the
    summary. ``model``: an already loaded model for the in-process path (workers load their own from the spec).
    The folder's ``tracker.json`` must match the tracker (ResultsMismatchError otherwise) unless
    ``overwrite``, which deletes this rank's earlier results and tracks every sequence again.
    """
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    env_rank, env_world = distributed_rank()
    rank = env_rank if rank is None else rank
    world_size = env_world if world_size is None else world_size
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    mine = shard(list(dataset.sequences), rank, world_size)
    if model is None and tracker_spec.is_mixformer:
        model = load_tracker_model(tracker_spec)
    pending = prepare_results_folder(results_dir, dataset.results_layout, mine, tracker_identity(tracker_spec, model, dataset.name),
                                     overwrite)
    summary = RunSummary(rank, world_size, len(mine), len(mine) - len(pending))
    if not pending:
        return summary
    if tracker_spec.threads is None:
        cores = os.cpu_count() or 1
        tracker_spec = dataclasses.replace(tracker_spec, threads=max(1, cores // workers))
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


def _worker_init(dataset_spec: DatasetSpec, tracker_spec: TrackerSpec, progress_queue, main_pid: int) -> None:
    import signal

    exit_with(main_pid)   # a SIGKILLed eval leaves no idle workers behind
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
                                   initializer=_worker_init, initargs=(dataset_spec, tracker_spec, manager_queue, os.getpid()))
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
