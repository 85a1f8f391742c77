"""``--backend auto``: the fastest backend, for this machine and this model, whose boxes agree with float32.

The choice comes from a short measurement, cached per machine (CPU model and instruction sets, library
versions, thread count) and model (weights digest): every candidate backend runs the same search crops of a real
photo (scikit-image's ``chelsea``, shifted frame by frame) against the same cached templates; its per-crop boxes
are compared with PyTorch float32's (IoU per crop, no tracking feedback, so that one early difference cannot
snowball), and its median search step is timed, the candidates taking turns so that other load falls on all
alike. The fastest backend with mean IoU >= ``MIN_MEAN_IOU`` and min IoU >= ``MIN_IOU`` wins; ``torch`` (the
float32 reference) always qualifies, so ``auto`` is never slower than it by more than the measurement's noise.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..files import atomic_write_text, cache_root
from ..geometry import iou, model_input
from ..model.checkpoint import weights_digest
from ..tracking.backends import create_backend
from .cpu import cpu_features

log = logging.getLogger(__name__)

REFERENCE = "torch"
# Measured with the default model (2026-12-07): the int8 search step with per-channel weight scales agrees with
# float32 at mean per-crop IoU 0.986 here, and tracking with it moved the success AUC by -0.001 (DAVIS-2016 val)
# and -0.003 (the synthetic validation set): agreement of 0.98 costs no tracking accuracy worth the name.
MIN_MEAN_IOU = 0.98
MIN_IOU = 0.9
MEASURE_CROPS = 24
ROUNDS = 3


@dataclass
class BackendChoice:
    """The backend ``auto`` picked and why: per candidate its median search step (ms) and its boxes' IoU with
    float32 (mean, min); ``cached``: read from the cache rather than measured now."""

    backend: str
    threads: int
    candidates: Dict[str, Dict[str, float]] = field(default_factory=dict)
    rejected: Dict[str, str] = field(default_factory=dict)
    cached: bool = False
    cache_file: Optional[str] = None

    def explain(self) -> str:
        chosen = self.candidates.get(self.backend, {})
        others = ", ".join(f"{name} {c['median_ms']:.1f} ms" for name, c in self.candidates.items()
                           if name != self.backend)
        rejected = "; ".join(f"{name} not used: {why}" for name, why in self.rejected.items())
        return (f"backend auto: {self.backend} ({chosen.get('median_ms', float('nan')):.1f} ms per search step"
                + (f" vs {others}" if others else "")
                + f"; boxes agree with float32: mean IoU {chosen.get('mean_iou', 1.0):.4f})"
                + (f"; {rejected}" if rejected else "")
                + (f" [measured earlier on this machine, cached in {self.cache_file}]" if self.cached else
                   f" [measured now; cached in {self.cache_file}]" if self.cache_file else ""))


def candidate_backends() -> List[str]:
    """The backends worth measuring on this CPU: float32 torch and ONNX Runtime, int8 ONNX Runtime, and
    torch-bf16 (and openvino-bf16, when openvino is installed) where the CPU computes bfloat16 natively
    (AVX-512 BF16 or AMX)."""
    names = ["torch", "onnx", "onnx-int8"]
    features = cpu_features()
    if features.get("avx512_bf16") or features.get("amx_bf16"):
        names.insert(1, "torch-bf16")
        if importlib.util.find_spec("openvino") is not None:
            names.append("openvino-bf16")
    return names


def measurement_inputs(config, count: int = MEASURE_CROPS):
    """(template (1,3,T,T), online (1,1,3,T,T), searches (count,3,S,S)) float32 network inputs cut from a real
    photo: the template around the cat's head of scikit-image's ``chelsea``, the search crops around it with the
    photo shifted a few pixels per frame."""
    from skimage import data as skimage_data

    photo = np.ascontiguousarray(skimage_data.chelsea())          # 300 x 451 RGB
    box = (140.0, 40.0, 120.0, 110.0)                                # x, y, w, h pixels: the head
    template = model_input(photo, box, 2.0, config.template_size)[None]
    searches = []
    rng = np.random.default_rng(0)
    for i in range(count):
        dx, dy = rng.normal(0, 0.15, 2) * np.sqrt(box[2] * box[3])
        scale = float(np.exp(rng.normal(0, 0.1)))
        moved = (box[0] + dx, box[1] + dy, box[2] * scale, box[3] * scale)
        searches.append(model_input(photo, moved, 4.0, config.search_size))
    return template.astype(np.float32), template[:, None].astype(np.float32), np.stack(searches).astype(np.float32)


def _machine_key(threads: int) -> Dict[str, object]:
    import onnxruntime

    features = cpu_features()
    versions = {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
    if importlib.util.find_spec("openvino") is not None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            versions["openvino"] = version("openvino")
        except PackageNotFoundError:
            versions["openvino"] = "?"
    # The candidates are part of the key: installing an optional backend measures again.
    return {"cpu": features.get("model_name", platform.processor()),
            "isa": sorted(k for k, v in features.items() if v is True), **versions, "threads": int(threads),
            "candidates": candidate_backends()}


def cache_file_for(model, threads: int) -> Path:
    # The agreement bar is part of the key: a changed rule measures again.
    key = json.dumps({"machine": _machine_key(threads), "model": weights_digest(model),
                      "rule": [MIN_MEAN_IOU, MIN_IOU]}, sort_keys=True)
    return cache_root() / "backend-choice" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def measure_backends(model, threads: int, names: Optional[Sequence[str]] = None) -> BackendChoice:
    """Measure ``names`` (default ``candidate_backends()``) on ``threads`` threads and pick one (see the module)."""
    names = list(names or candidate_backends())
    if REFERENCE not in names:
        names.insert(0, REFERENCE)
    template, online, searches = measurement_inputs(model.config)
    backends, caches, rejected = {}, {}, {}
    for name in names:
        try:
            backends[name] = create_backend(name, model, threads=threads)
            caches[name] = backends[name].encode(template, online)
        except Exception as exc:  # noqa: BLE001 - a backend that cannot run here is simply not chosen
            rejected[name] = f"unavailable ({type(exc).__name__}: {exc})"
    boxes: Dict[str, List[np.ndarray]] = {name: [] for name in backends}
    seconds: Dict[str, List[float]] = {name: [] for name in backends}
    for _ in range(ROUNDS):
        for name, backend in backends.items():
            # Torch backends use the threads; beside ONNX Runtime torch keeps one (its idle threads would spin).
            torch.set_num_threads(int(threads) if name.startswith("torch") else 1)
            backend.search(caches[name], searches[:1])          # warm up after the others ran
            for crop in searches:
                start = time.perf_counter()
                out, _ = backend.search(caches[name], crop[None])
                seconds[name].append(time.perf_counter() - start)
                boxes[name].append(np.asarray(out[0], np.float64))
    reference = _xywh(np.stack(boxes[REFERENCE]))
    candidates: Dict[str, Dict[str, float]] = {}
    for name in backends:
        mine = _xywh(np.stack(boxes[name]))
        # Equal boxes agree even when degenerate (an untrained model may predict zero sizes, IoU undefined).
        ious = np.where(np.abs(mine - reference).max(axis=1) < 1e-6, 1.0, iou(mine, reference))
        entry = {"median_ms": round(float(np.median(seconds[name])) * 1e3, 3),
                 "mean_iou": round(float(np.mean(ious)), 5), "min_iou": round(float(np.min(ious)), 5)}
        candidates[name] = entry
        if name != REFERENCE and (entry["mean_iou"] < MIN_MEAN_IOU or entry["min_iou"] < MIN_IOU):
            rejected[name] = (f"boxes differ from float32 (IoU mean {entry['mean_iou']:.4f}, min "
                              f"{entry['min_iou']:.4f}; needs {MIN_MEAN_IOU} / {MIN_IOU})")
    accurate = [n for n in candidates if n not in rejected]
    best = min(accurate, key=lambda n: candidates[n]["median_ms"])
    return BackendChoice(best, int(threads), candidates, rejected)


def _xywh(cxcywh: np.ndarray) -> np.ndarray:
    out = cxcywh.copy()
    out[:, :2] -= out[:, 2:] / 2.0
    return out


def choose_backend(model, threads: int, use_cache: bool = True) -> BackendChoice:
    """The backend ``auto`` stands for, for ``model`` on ``threads`` threads: from the cache when this machine
    measured this model before, else measured now (about a second for a small model) and cached."""
    path = cache_file_for(model, threads)
    if use_cache and path.is_file():
        try:
            data = json.loads(path.read_text())
            choice = BackendChoice(**{k: v for k, v in data.items() if k in BackendChoice.__dataclass_fields__})
            choice.cached, choice.cache_file = True, str(path)
            return choice
        except (ValueError, TypeError, OSError):
            log.warning("ignoring an unreadable backend choice in %s", path)
    previous = torch.get_num_threads()
    try:
        choice = measure_backends(model, threads)
    finally:
        torch.set_num_threads(previous)
    try:
        atomic_write_text(path, json.dumps({**asdict(choice), "cached": False, "cache_file": None}, indent=1))
        choice.cache_file = str(path)
    except OSError as exc:
        log.warning("cannot cache the backend choice in %s: %s", path, exc)
    return choice


__all__ = ["BackendChoice", "MIN_IOU", "MIN_MEAN_IOU", "cache_file_for", "candidate_backends",
           "choose_backend", "measure_backends", "measurement_inputs"]
