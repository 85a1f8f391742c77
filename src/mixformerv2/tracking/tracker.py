"""The tracker facade: ``init(frame, box)`` once, then ``update(frame)`` per frame (OpenCV's habit).

It reproduces the official MixFormerV2 tracker (spec section 4) and adds what the official one lacks:
several targets at once (one batched forward per frame), several online templates, and a cached search
step that encodes the templates only when they change.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .backends import TrackerBackend, create_backend
from ..datasets.images import as_rgb_frame
from ..geometry import Box, clip_box, crop_frame, crop_window, map_box_back, model_input, normalize_crop
from .params import TrackerParams, params_for_model

BoxLike = Sequence[float]


@dataclass(frozen=True)
class TrackResult:
    """One target in one frame. box: (x, y, w, h) pixels; score: sigmoid confidence of the prediction;
    time: seconds of the tracker step that produced it (for several targets, the whole batched step)."""

    box: Box
    score: float
    time: float


@dataclass
class StepTimings:
    """Seconds spent in each part of update(), summed over the frames since init (template encoding at
    init is counted in ``init``). ``overhead`` is everything but the network: crops, normalisation,
    map-back and the update rule."""

    frames: int = 0
    init: float = 0.0
    crop: float = 0.0
    model: float = 0.0
    post: float = 0.0
    template: float = 0.0
    template_encodings: int = 0

    @property
    def step(self) -> float:
        return self.crop + self.model + self.post + self.template

    @property
    def overhead(self) -> float:
        return self.crop + self.post

    def per_frame_ms(self) -> Dict[str, float]:
        n = max(self.frames, 1)
        return {name: 1e3 * value / n for name, value in
                (("step", self.step), ("crop", self.crop), ("model", self.model), ("post", self.post),
                 ("template", self.template), ("overhead", self.overhead))}


@dataclass
class _Target:
    box: Box                       # current state, (x, y, w, h) pixels, unrounded
    template: np.ndarray           # (3, T, T) first-frame template, kept forever
    online: List[np.ndarray]       # online templates, (3, T, T) each
    candidate: np.ndarray          # best template of the current interval
    max_score: float = -1.0
    size_variance: Tuple[float, float] = (0.0, 0.0)  # the size filter's variance of log w, log h


def parse_boxes(box) -> Tuple[np.ndarray, bool]:
    """(N, 4) float64 boxes and whether a single box (not a list) was given."""
    try:
        arr = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"box must be (x, y, w, h) numbers or a list of such boxes, got {box!r}") from None
    single = arr.ndim == 1
    if single:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ValueError(f"box must be (x, y, w, h) or a non-empty list of (x, y, w, h), got shape {arr.shape}")
    return arr, single


def smooth_size(predicted: Box, previous: Box, rate: float) -> Box:
    """The predicted box (x, y, w, h pixels) with its centre kept and its width and height moved only the fraction
    ``rate`` of the way from ``previous``'s to its own."""
    x, y, w, h = predicted
    cx, cy = x + w / 2.0, y + h / 2.0
    w = previous[2] + rate * (w - previous[2])
    h = previous[3] + rate * (h - previous[3])
    return (cx - w / 2.0, cy - h / 2.0, w, h)


def filter_size(predicted: Box, previous: Box, measurement_variance: Tuple[float, float],
                state_variance: Tuple[float, float], noise: float) -> Tuple[Box, Tuple[float, float]]:
    """One step of the size filter (TrackerParams.size_filter_noise): a Kalman filter on log width and log height.
    ``predicted``/``previous``: (x, y, w, h) pixels; ``measurement_variance``: the variance of the predicted log
    width and log height (NaN: unknown, the predicted size is taken as it is); ``state_variance``: the filter's
    variance of the previous log width and log height; ``noise``: what that variance grows by per frame. A
    predicted width or height that is not positive keeps the previous one. Returns the box with the predicted
    centre and the filtered size, and the filter's new variances."""
    x, y, w, h = predicted
    cx, cy = x + w / 2.0, y + h / 2.0
    sizes, variances = [], []
    for new, old, r, p in ((w, previous[2], measurement_variance[0], state_variance[0]),
                           (h, previous[3], measurement_variance[1], state_variance[1])):
        p = p + noise
        if not (new > 0 and math.isfinite(new)):      # a degenerate prediction (right side left of the left one)
            sizes.append(old)
            variances.append(p)
            continue
        gain = 1.0 if math.isnan(r) else p / (p + r) if p + r > 0 else 1.0
        sizes.append(math.exp(math.log(old) + gain * (math.log(new) - math.log(old))))
        variances.append((1.0 - gain) * p)
    w, h = sizes
    return (cx - w / 2.0, cy - h / 2.0, w, h), (variances[0], variances[1])


def size_measurement_variance(side_variances: Optional[np.ndarray], pred_cxcywh: np.ndarray) -> Tuple[float, float]:
    """Variance of the predicted log width and log height from one target's side variances (4,) (left, top,
    right, bottom; normalised crop units squared) and its predicted box (cx, cy, w, h normalised): (var_l + var_r)
    / w^2 and (var_t + var_b) / h^2. NaN for both when the model gives no side distributions."""
    if side_variances is None:
        return math.nan, math.nan
    vl, vt, vr, vb = (float(v) for v in side_variances)
    w, h = max(float(pred_cxcywh[2]), 1e-6), max(float(pred_cxcywh[3]), 1e-6)
    return (vl + vr) / (w * w), (vt + vb) / (h * h)


MAX_BOX_TO_FRAME = 4.0  # an initial box may exceed the frame (a target partly outside), not by more than this


def check_box(box: Sequence[float], width: int, height: int, name: str = "box") -> None:
    """Raise ValueError unless box (x, y, w, h pixels) is finite, has positive size, overlaps the frame and is at
    most MAX_BOX_TO_FRAME times the frame's width and height."""
    x, y, w, h = (float(v) for v in box)
    text = f"{name} ({x:g}, {y:g}, {w:g}, {h:g})"
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError(f"{text} has a non-finite value (NaN or inf)")
    if w <= 0 or h <= 0:
        raise ValueError(f"{text} has a non-positive size: width and height must be > 0 pixels")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"{text} lies entirely outside the {width}x{height} frame")
    if w > MAX_BOX_TO_FRAME * width or h > MAX_BOX_TO_FRAME * height:
        raise ValueError(f"{text} is far larger than the {width}x{height} frame (at most {MAX_BOX_TO_FRAME:g} times "
                         f"its width and height)")


class Tracker:
    """MixFormerV2 single- and multi-object tracker.

    ``model``: a loaded MixFormerV2 (see ``Tracker.load`` to build one from a preset and weights). A MixViT
    teacher (corner head, no score head) tracks too: its scores are NaN and its online template stays the
    first frame's, as nothing tells a good frame from a bad one.
    ``params``: TrackerParams; None = the default settings for this model: its card's when the model carries
    one (``model.card``, set by ``mixformerv2.load_model``), else the official ones for its architecture
    (``params_for_model(model)``).
    ``backend``: a registered backend name ("torch", the cached default; "torch-full", the official-style
    full forward; others from ``available_backends()``) or a TrackerBackend instance.
    ``threads``: torch.set_num_threads for the torch backends (process-wide), intra-op threads for others.
    """

    def __init__(self, model: Optional[nn.Module], params: Optional[TrackerParams] = None,
                 backend: Union[str, TrackerBackend] = "torch", threads: Optional[int] = None):
        self.model = model
        self.backend = backend if isinstance(backend, TrackerBackend) else create_backend(backend, model, threads)
        config = self.backend.config
        if params is None:
            params = TrackerParams.for_benchmark("default", config, getattr(model, "card", None))
        self.params = params.resolved(config)
        self.timings = StepTimings()
        self._targets: List[_Target] = []
        self._single = True
        self._cache = None
        self._frame_index = 0
        self._forget_index = 0
        self._search = np.empty((0, 3, self.params.search_size, self.params.search_size), np.float32)

    @classmethod
    def load(cls, weights: Union[str, Path, None] = None, model: Union[str, dict, None] = None,
             params: Optional[TrackerParams] = None, benchmark: Optional[str] = None,
             backend: Union[str, TrackerBackend] = "torch", threads: Optional[int] = None) -> "Tracker":
        """A tracker for a checkpoint. ``model``: preset name ("s", "b", ...) or config dict the weights
        must fit, or "default"; None = the config stored in / inferred from the weights. Without weights
        and model: the default model shipped with the package (BundledModelMissingError, a
        WeightsRequiredError, when it is not installed). ``benchmark``: use that benchmark's settings (see
        TrackerParams.for_benchmark, with the loaded model's card) when ``params`` is None."""
        from ..model.hub import load_model

        network = load_model(model, weights)
        if params is None and benchmark is not None:
            params = params_for_model(network, benchmark)
        return cls(network, params, backend=backend, threads=threads)

    # State -----------------------------------------------------------------------------------------
    @property
    def num_targets(self) -> int:
        return len(self._targets)

    @property
    def frame_index(self) -> int:
        """Frames tracked since init (0 right after init)."""
        return self._frame_index

    @property
    def boxes(self) -> List[Box]:
        """Current box of every target, (x, y, w, h) pixels."""
        return [t.box for t in self._targets]

    # Tracking --------------------------------------------------------------------------------------
    def init(self, frame, box) -> None:
        """Start tracking in ``frame`` (RGB uint8 (H, W, 3); grayscale, RGBA and uint16 are converted).
        ``box``: (x, y, w, h) pixels, or a list of such boxes for several targets (update then returns a
        list of results). Raises ValueError for a box that is non-finite, has non-positive size, or lies
        entirely outside the frame."""
        start = time.perf_counter()
        frame = as_rgb_frame(frame)
        boxes, single = parse_boxes(box)
        height, width = frame.shape[:2]
        for i, b in enumerate(boxes):
            check_box(b, width, height, name="box" if single else f"box {i + 1}")
        p = self.params
        targets = []
        for b in boxes:
            state = tuple(float(v) for v in b)
            template = self._template_crop(frame, state)
            targets.append(_Target(box=state, template=template, online=[template], candidate=template))
        self._targets, self._single = targets, single
        self._frame_index, self._forget_index = 0, 0
        self._search = np.empty((len(targets), 3, p.search_size, p.search_size), np.float32)
        self.timings = StepTimings()
        self._cache = self.backend.encode(*self._template_arrays())
        self.timings.init = time.perf_counter() - start

    def update(self, frame) -> Union[TrackResult, List[TrackResult]]:
        """Track the targets into the next frame. Returns a TrackResult (or a list, one per target, when
        init was given a list of boxes)."""
        if not self._targets:
            raise RuntimeError("call init(frame, box) before update(frame)")
        t0 = time.perf_counter()
        frame = as_rgb_frame(frame)
        height, width = frame.shape[:2]
        p = self.params
        self._frame_index += 1
        windows = []
        for i, target in enumerate(self._targets):
            window = crop_window(target.box, p.search_factor, p.search_size)
            normalize_crop(crop_frame(frame, window, p.search_size, p.far_side_padding_quirk), out=self._search[i])
            windows.append(window)
        t1 = time.perf_counter()
        outputs = self.backend.search(self._cache, self._search)
        pred_boxes, pred_logits = outputs
        t2 = time.perf_counter()
        # Read only by the size filter (computed on first read); None from a backend that gives no spread.
        variances = getattr(outputs, "side_variances", None) if p.size_filter_noise > 0 else None
        scores = torch.sigmoid(torch.from_numpy(np.asarray(pred_logits, dtype=np.float32))).tolist()
        for i, (target, window, pred, score) in enumerate(zip(self._targets, windows, pred_boxes, scores)):
            box = map_box_back(pred, target.box, p.search_size, window.resize_factor)
            if p.size_filter_noise > 0:
                measured = size_measurement_variance(None if variances is None else variances[i], pred)
                box, target.size_variance = filter_size(box, target.box, measured, target.size_variance,
                                                        p.size_filter_noise)
            elif p.size_update_rate < 1.0:
                box = smooth_size(box, target.box, p.size_update_rate)
            target.box = clip_box(box, height, width)
            target.max_score = target.max_score * p.max_score_decay
            if score > p.score_threshold and score > target.max_score:
                target.candidate = self._template_crop(frame, target.box)
                target.max_score = score
        t3 = time.perf_counter()
        if self._frame_index % p.update_interval == 0:
            self._update_templates()
        t4 = time.perf_counter()
        tm = self.timings
        tm.frames += 1
        tm.crop += t1 - t0
        tm.model += t2 - t1
        tm.post += t3 - t2
        tm.template += t4 - t3
        results = [TrackResult(t.box, s, t4 - t0) for t, s in zip(self._targets, scores)]
        return results[0] if self._single else results

    def remove(self, index: Union[int, Sequence[int]]) -> None:
        """Stop tracking the targets at ``index`` (positions in the current list of targets)."""
        drop = {index} if isinstance(index, int) else set(index)
        bad = [i for i in drop if not 0 <= i < len(self._targets)]
        if bad:
            raise IndexError(f"no target {bad} (tracking {len(self._targets)})")
        keep = [i for i in range(len(self._targets)) if i not in drop]
        self._targets = [self._targets[i] for i in keep]
        self._search = self._search[:len(keep)]
        self._cache = self.backend.select(self._cache, keep) if keep else None

    # Internals -------------------------------------------------------------------------------------
    def _template_crop(self, frame: np.ndarray, box: Box) -> np.ndarray:
        p = self.params
        return model_input(frame, box, p.template_factor, p.template_size, p.far_side_padding_quirk)

    def _template_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        template = np.stack([t.template for t in self._targets])
        online = np.stack([np.stack(t.online) for t in self._targets])
        return template, online

    def _update_templates(self) -> None:
        """End of an update interval: the online templates take the interval's candidate (the first-frame
        template when no frame was confident), then the candidate and best score are reset."""
        k = self.params.online_templates
        changed = []
        replace_at = None
        for i, target in enumerate(self._targets):
            if k == 1:
                online = [target.candidate]
            elif len(target.online) < k:
                online = target.online + [target.candidate]
            else:
                replace_at = self._forget_index
                online = list(target.online)
                online[replace_at] = target.candidate
            if len(online) != len(target.online) or any(a is not b for a, b in zip(online, target.online)):
                changed.append(i)
            target.online = online
            target.max_score = -1.0
            target.candidate = target.template
        if replace_at is not None:
            self._forget_index = (self._forget_index + 1) % k
        if changed:
            self._cache = self.backend.reencode(self._cache, changed, *self._template_arrays())
            self.timings.template_encodings += 1
