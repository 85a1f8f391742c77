"""Speed of the tracker step per backend, measured in one run, against a matrix-multiply peak measured on
the same machine.

Every backend gets its own Tracker on the same frames. The backends take turns in chunks of frames
(round robin), so load from other processes during the run falls on all of them alike; the speed-up of
each against ``torch-full`` therefore compares like with like. Every backend runs the library's tracking loop
(``tracking.run.TrackingLoop``); the per-frame time is that of ``Tracker.update`` (crop, normalisation, the network, map-back and the template-update rule).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..geometry import iou
from ..model.cost import mac_counts
from ..model.mixformer import MixFormerV2
from ..tracking import Tracker, TrackerParams
from ..tracking.run import TrackingLoop
from ..tracking.backends import check_threads

REFERENCE_BACKEND = "torch-full"
# Which backend each backend's boxes are compared with: float32 backends with the cached PyTorch tracker,
# int8 with the float32 ONNX tracker.
# The number format each backend computes its matrix products in (its achieved GFLOP/s is set against the
# matrix-product peak of that format).
PRECISION = {"torch-bf16": "bfloat16", "openvino-bf16": "bfloat16", "onnx-int8": "int8"}
ACCURACY_REFERENCE = {"torch-full": "torch", "torch-bf16": "torch", "openvino-bf16": "torch", "onnx": "torch",
                      "onnx-int8": "onnx"}


def measure_matmul_peak(threads: int, size: int = 1024, repeats: int = 12) -> float:
    """Float32 matrix-multiply throughput of this machine in GFLOP/s: the best of ``repeats`` products of
    two (size x size) matrices with torch (MKL/oneDNN sgemm) on ``threads`` threads (2 * size**3 flops each)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
        out = torch.empty(size, size)
        for _ in range(3):
            torch.mm(a, b, out=out)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b, out=out)
            best = min(best, time.perf_counter() - start)
        return 2.0 * size**3 / best / 1e9
    finally:
        torch.set_num_threads(previous)


@dataclass
class BackendRun:
    name: str
    gmacs: float
    seconds: List[float] = field(default_factory=list)
    boxes: List[Sequence[float]] = field(default_factory=list)

    def summary(self, reference_ms: Optional[float], peak_gflops: float, precision: str = "float32") -> Dict[str, float]:
        ms = 1e3 * np.asarray(self.seconds)
        median = float(np.median(ms))
        gflops = 2.0 * self.gmacs / (median / 1e3)  # GFLOP per frame / seconds per frame
        return {"median_ms": round(median, 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
                "fps": round(1e3 / median, 2),
                "speedup_vs_torch_full": round(reference_ms / median, 3) if reference_ms else None,
                "gmacs_per_frame": round(self.gmacs, 3), "gflops": round(gflops, 1),
                "precision": precision, "fraction_of_peak": round(gflops / peak_gflops, 3)
                if peak_gflops and math.isfinite(peak_gflops) else None}


def frame_order(num_frames: int, needed: int) -> List[int]:
    """Indices 0, 1, ..., n-1, n-2, ..., 0, 1, ... (forth and back) until ``needed`` are listed, so that
    a short sequence still gives continuous motion. Index 0 is the init frame and is not repeated first."""
    if num_frames < 2:
        raise ValueError("the benchmark needs at least 2 frames")
    cycle = list(range(num_frames)) + list(range(num_frames - 2, 0, -1))
    order: List[int] = []
    while len(order) < needed + 1:
        order.extend(cycle)
    return order[1:needed + 1]


def measure_speed(model: MixFormerV2, backends: Sequence[str], frames: Sequence[np.ndarray], box: Sequence[float],
                  threads: int, num_frames: int = 100, warmup: int = 10, chunk: int = 10,
                  params: Optional[TrackerParams] = None, peak_gflops: Optional[float] = None,
                  progress=None) -> dict:
    """Track ``box`` (x, y, w, h pixels in frames[0]) through ``frames`` with every backend and time the
    per-frame step. Returns the report: {"model", "threads", "frames", "warmup", "peak_gflops",
    "backends": {name: {"median_ms", "p90_ms", "fps", "speedup_vs_torch_full", "gmacs_per_frame", "gflops",
    "fraction_of_peak", and for compared backends "iou_vs", "mean_iou", "min_iou"}}, "load_average":
    {"before", "after"} (1, 5, 15-minute load averages: how busy the machine was)}."""
    if num_frames < 1 or warmup < 0 or chunk < 1:
        raise ValueError("num_frames and chunk must be >= 1 and warmup >= 0")
    threads = check_threads(threads)
    names = list(dict.fromkeys(backends))
    if REFERENCE_BACKEND not in names:
        names.insert(0, REFERENCE_BACKEND)
    from .cpu import cpu_features, isa_summary, matmul_peak

    peak = peak_gflops if peak_gflops is not None else measure_matmul_peak(threads)
    peaks = {"float32": peak}
    for fmt in sorted({PRECISION[n] for n in names if n in PRECISION}):
        peaks[fmt] = matmul_peak(fmt, threads)
    k = (params.online_templates if params is not None else 1)
    macs = mac_counts(model, k)
    load_before = os.getloadavg()
    loops: Dict[str, TrackingLoop] = {}
    runs: Dict[str, BackendRun] = {}
    for name in names:
        loops[name] = TrackingLoop(Tracker(model, params, backend=name, threads=threads), [box], warmup=warmup)
        gmacs = macs["full_forward" if name == REFERENCE_BACKEND else "search_step"] / 1e9
        runs[name] = BackendRun(name, gmacs)
    order = frame_order(len(frames), warmup + num_frames)
    for name, loop in loops.items():
        torch.set_num_threads(_torch_threads(loop.tracker, threads))
        for i in [0] + order[:warmup]:
            loop.step(frames[i])
    timed = order[warmup:]
    for start in range(0, len(timed), chunk):
        for name, loop in loops.items():
            torch.set_num_threads(_torch_threads(loop.tracker, threads))
            run = runs[name]
            for i in timed[start:start + chunk]:
                result = loop.step(frames[i])
                run.seconds.append(result.seconds)
                run.boxes.append(result.boxes[0])
        if progress is not None:
            progress(min(start + chunk, len(timed)), len(timed))
    reference_ms = float(np.median(runs[REFERENCE_BACKEND].seconds)) * 1e3
    report_backends = {}
    for name, run in runs.items():
        fmt = PRECISION.get(name, "float32")
        entry = run.summary(reference_ms, peaks[fmt], fmt)
        ref = ACCURACY_REFERENCE.get(name)
        if ref in runs:
            ious = iou(np.asarray(run.boxes), np.asarray(runs[ref].boxes))
            entry.update({"iou_vs": ref, "mean_iou": round(float(np.mean(ious)), 4),
                          "min_iou": round(float(np.min(ious)), 4)})
        report_backends[name] = entry
    return {"model": _model_name(model), "threads": threads, "frames": len(timed), "warmup": warmup,
            "peak_gflops": round(peak, 1), "peaks_gflops": {k: round(v, 1) for k, v in peaks.items()},
            "cpu": cpu_features().get("model_name", ""), "isa": isa_summary(), "backends": report_backends,
            "load_average": {"before": [round(v, 2) for v in load_before],
                             "after": [round(v, 2) for v in os.getloadavg()]}}


def _torch_threads(tracker: Tracker, threads: int) -> int:
    """torch's thread count while this tracker runs: the backend's threads for the PyTorch backends; one for
    the others (torch then only normalises crops, and idle torch threads would spin against the backend)."""
    from .backends import OnnxBackend

    return 1 if isinstance(tracker.backend, OnnxBackend) else threads


def _model_name(model: MixFormerV2) -> str:
    from ..model.hub import model_name

    return model_name(model) or "custom"
