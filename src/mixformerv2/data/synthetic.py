"""A synthetic tracking dataset made from real photos, needing no download.

Each sequence shows a target cut from a real photo (a textured region with an object-like outline)
moving over another photo, with the nuisances real videos have: scale change, aspect change and rotation,
illumination change (global flicker, light switches, colour casts, shadows on the target), motion blur,
partial and full occlusion by other photo cut-outs (passing in front, or fixed in the scene), look-alike
distractors (cut from the same photo next to the target), leaving and re-entering the view, camera pan,
zoom and shake, and sensor noise.

Everything about sequence ``i`` of a split is drawn from one seed derived from (seed, split, i), so the
dataset is reproducible for a given photo set. Only the motion, the cut-outs and the ground truth are made
when a sequence is first used; frames are rendered on demand, so sampling three frames of a sequence
costs three renders. ``write_lasot_benchmark`` writes a split to disk in LaSOT's layout for evaluation.

Coordinates: boxes are x, y, w, h in frame pixels; the box of a frame is the tight axis-aligned box of the
target's outline (alpha >= 0.5), clipped to the frame, and (0, 0, 0, 0) when the target has left the frame.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .base import MIN_VISIBLE_FRACTION, LRUCache, SequenceAnnotations, TrackingDataset
from .photos import PhotoLibrary

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MASK_SHAPES = ("ellipse", "rounded_rect", "blob", "polygon", "rect")
PATCH_MAX_SIDE = 192  # cut-outs are stored at most this large (frame pixels are warped from them)


@dataclass
class SyntheticConfig:
    """Size, photo sources and nuisance rates of a synthetic split.

    Sizes are pixels; rates are per-sequence probabilities unless named otherwise. ``photos`` lists
    folders, files, ``skimage`` (scikit-image's bundled photos) or ``system`` (Debian's wallpaper folders,
    skipped when absent); the default takes both, so scikit-image's photos are the fallback.
    The ``test`` split draws targets and backgrounds only from a held-out part of the photos (a fixed,
    name-based ``heldout_photo_fraction`` of them); ``train`` and ``val`` use the rest.
    """

    num_sequences: int = 2000
    min_length: int = 150
    max_length: int = 400
    frame_width: int = 480
    frame_height: int = 360
    min_target_size: float = 20.0
    max_target_size: float = 110.0
    photos: Tuple[str, ...] = ("system", "skimage")
    photo_max_side: int = 1024
    heldout_photo_fraction: float = 0.2
    seed: int = 0
    split: str = "train"
    camera_motion: float = 0.7
    camera_shake: float = 0.2
    distractors: float = 0.7
    max_distractors: int = 3
    lookalike: float = 0.6
    partial_occlusion: float = 0.5
    full_occlusion: float = 0.3
    out_of_view: float = 0.1
    rotation: float = 0.4
    max_rotation_deg: float = 60.0
    scale_change: float = 0.5
    max_log_scale_change: float = 0.7
    illumination: float = 0.5
    motion_blur: float = 0.5
    noise: float = 0.5
    fast_motion: float = 0.15

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"synthetic split must be one of {SPLITS}, got {self.split!r}")
        if isinstance(self.photos, str):
            self.photos = (self.photos,)
        self.photos = tuple(str(p) for p in self.photos)
        for name in ("num_sequences", "min_length", "frame_width", "frame_height"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"synthetic {name} must be >= 1, got {getattr(self, name)}")
        if self.max_length < self.min_length:
            raise ValueError(f"synthetic max_length {self.max_length} < min_length {self.min_length}")
        if not 4 <= self.min_target_size <= self.max_target_size:
            raise ValueError(f"synthetic target sizes must satisfy 4 <= min <= max, got "
                             f"{self.min_target_size}, {self.max_target_size}")
        if self.max_target_size > 0.6 * min(self.frame_width, self.frame_height):
            raise ValueError(f"max_target_size {self.max_target_size} is too large for a "
                             f"{self.frame_width}x{self.frame_height} frame")

    @classmethod
    def from_dict(cls, d: Dict) -> "SyntheticConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown synthetic dataset keys {unknown}; known keys: {sorted(names)}")
        d = dict(d)
        if "photos" in d:
            d["photos"] = tuple(d["photos"]) if not isinstance(d["photos"], str) else (d["photos"],)
        return cls(**d)


# ------------------------------------------------------------------------------------------------
# Building blocks: smooth random signals, outlines, cut-outs


def _smooth(rng: np.random.Generator, n: int, min_period: float = 40.0, max_period: float = 400.0,
            terms: int = 3) -> np.ndarray:
    """A smooth random signal over n frames, roughly in [-1, 1], equal to 0 at frame 0."""
    t = np.arange(n, dtype=np.float64)
    out = np.zeros(n)
    for _ in range(terms):
        period = rng.uniform(min_period, max_period)
        phase = rng.uniform(0, 2 * np.pi)
        out += rng.uniform(0.3, 1.0) * (np.sin(2 * np.pi * t / period + phase) - np.sin(phase))
    return out / terms


def _mask_shape(rng: np.random.Generator, h: int, w: int, shape: str) -> np.ndarray:
    """An object outline filling an h x w patch: float32 alpha in [0, 1] with a one-pixel soft edge."""
    mask = np.zeros((h, w), np.uint8)
    m = 2
    if shape == "ellipse":
        cv2.ellipse(mask, (w // 2, h // 2), (max(1, w // 2 - m), max(1, h // 2 - m)), 0, 0, 360, 255, -1)
    elif shape in ("rounded_rect", "rect"):
        r = 0 if shape == "rect" else int(min(h, w) * rng.uniform(0.1, 0.35))
        cv2.rectangle(mask, (m + r, m), (w - 1 - m - r, h - 1 - m), 255, -1)
        cv2.rectangle(mask, (m, m + r), (w - 1 - m, h - 1 - m - r), 255, -1)
        if r > 0:
            for cx, cy in ((m + r, m + r), (w - 1 - m - r, m + r), (m + r, h - 1 - m - r), (w - 1 - m - r, h - 1 - m - r)):
                cv2.circle(mask, (cx, cy), r, 255, -1)
    elif shape == "blob":
        theta = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        radius = np.ones_like(theta)
        for k in range(2, 6):
            radius += rng.uniform(0.0, 0.18) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        pts = np.stack([np.cos(theta) * radius, np.sin(theta) * radius], 1)
        pts -= pts.min(0)
        pts = pts / pts.max(0) * [w - 1 - 2 * m, h - 1 - 2 * m] + m
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    elif shape == "polygon":
        k = int(rng.integers(5, 10))
        pts = rng.random((k, 2)) * [w - 1 - 2 * m, h - 1 - 2 * m] + m
        hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
        hull -= hull.min(0)
        span = np.maximum(hull.max(0), 1)
        hull = hull / span * [w - 1 - 2 * m, h - 1 - 2 * m] + m
        cv2.fillPoly(mask, [np.round(hull).astype(np.int32)], 255)
    else:
        raise ValueError(f"unknown mask shape {shape!r}; shapes: {MASK_SHAPES}")
    return cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32) / 255.0


@dataclass
class CutOut:
    """A photo region with an outline: rgba float32 (h, w, 4) (RGB 0..255, alpha 0..1), the outline's
    hull points (K, 2) and interior sample points (P, 2), in patch pixels (x, y)."""

    rgba: np.ndarray
    hull: np.ndarray
    interior: np.ndarray

    @property
    def size(self) -> float:
        """sqrt(w*h) of the outline's box, patch pixels."""
        span = self.hull.max(0) - self.hull.min(0)
        return float(math.sqrt(max(span[0], 1.0) * max(span[1], 1.0)))

    @property
    def centre(self) -> np.ndarray:
        return (self.hull.max(0) + self.hull.min(0)) / 2


def _texture_score(region: np.ndarray) -> float:
    gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.abs(np.diff(small, axis=0)).mean() + np.abs(np.diff(small, axis=1)).mean() + small.std() * 0.5)


def _cut(photo: np.ndarray, rng: np.random.Generator, aspect: float, shape: str, region: Optional[Tuple[int, int, int, int]] = None,
         candidates: int = 5) -> Tuple[CutOut, Tuple[int, int, int, int]]:
    """Cut an object-like region (textured; the best of a few random tries) out of a photo.
    Returns the cut-out and its region (x, y, w, h) in photo pixels."""
    ph, pw = photo.shape[:2]
    if region is None:
        best, best_score = None, -1.0
        for _ in range(candidates):
            side = rng.uniform(0.12, 0.45) * min(ph, pw)
            rw = int(np.clip(side * math.sqrt(aspect), 8, pw - 1))
            rh = int(np.clip(side / math.sqrt(aspect), 8, ph - 1))
            x = int(rng.integers(0, pw - rw))
            y = int(rng.integers(0, ph - rh))
            score = _texture_score(photo[y:y + rh, x:x + rw])
            if score > best_score:
                best, best_score = (x, y, rw, rh), score
        region = best
    x, y, rw, rh = region
    patch = photo[y:y + rh, x:x + rw]
    s = min(1.0, PATCH_MAX_SIDE / max(rw, rh))
    if s < 1.0:
        patch = cv2.resize(patch, (max(8, round(rw * s)), max(8, round(rh * s))), interpolation=cv2.INTER_AREA)
    h, w = patch.shape[:2]
    alpha = _mask_shape(rng, h, w, shape)
    rgba = np.dstack([patch.astype(np.float32), alpha])
    solid = (alpha >= 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(solid, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float32)
    hull = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64) + 0.5  # pixel centres -> outline extent
    ys, xs = np.nonzero(solid)
    pick = rng.choice(len(xs), size=min(160, len(xs)), replace=False)
    interior = np.stack([xs[pick], ys[pick]], 1).astype(np.float64) + 0.5
    return CutOut(rgba, hull, interior), region


def _affine(centre: np.ndarray, scale_x: np.ndarray, scale_y: np.ndarray, theta: np.ndarray,
            pivot: np.ndarray) -> np.ndarray:
    """Per-frame 2x3 matrices mapping patch pixels to frame pixels: rotate/scale about ``pivot`` (patch px),
    then put the pivot at ``centre`` (N, 2) frame px."""
    c, s = np.cos(theta), np.sin(theta)
    m = np.empty((len(centre), 2, 3))
    m[:, 0, 0] = c * scale_x
    m[:, 0, 1] = -s * scale_y
    m[:, 1, 0] = s * scale_x
    m[:, 1, 1] = c * scale_y
    m[:, :, 2] = centre - m[:, :, :2] @ pivot
    return m


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(N, 2, 3) matrices applied to (P, 2) points -> (N, P, 2)."""
    return np.matmul(pts[None], m[:, :, :2].transpose(0, 2, 1)) + m[:, None, :, 2]


def _invert(m: np.ndarray) -> np.ndarray:
    a = m[:, :, :2]
    inv = np.linalg.inv(a)
    out = np.empty_like(m)
    out[:, :, :2] = inv
    out[:, :, 2] = -(inv @ m[:, :, 2:3])[:, :, 0]
    return out


def _wander(rng: np.random.Generator, n: int, start: np.ndarray, speed: float, lo: np.ndarray, hi: np.ndarray,
            agility: float) -> np.ndarray:
    """Smooth random 2-D motion over n frames starting at ``start``, bouncing inside [lo, hi]; ``speed`` is
    the typical pixels per frame, ``agility`` how quickly the direction changes."""
    out = np.empty((n, 2))
    p = [float(start[0]), float(start[1])]
    angle = rng.uniform(0, 2 * np.pi)
    v = [math.cos(angle) * speed, math.sin(angle) * speed]
    kicks = (rng.standard_normal((n, 2)) * agility * max(speed, 0.2)).tolist()
    lo, hi = [float(lo[0]), float(lo[1])], [float(hi[0]), float(hi[1])]
    limit = 2.5 * speed + 0.5
    out[0] = p
    for t in range(1, n):
        v = [0.96 * v[0] + kicks[t][0], 0.96 * v[1] + kicks[t][1]]
        norm = math.hypot(v[0], v[1])
        if norm > limit:
            v = [v[0] * limit / norm, v[1] * limit / norm]
        for d in range(2):
            q = p[d] + v[d]
            if q < lo[d]:
                q, v[d] = 2 * lo[d] - q, abs(v[d])
            elif q > hi[d]:
                q, v[d] = 2 * hi[d] - q, -abs(v[d])
            p[d] = min(max(q, lo[d]), hi[d])
        out[t] = p
    return out


_KERNELS: Dict[Tuple[int, int], np.ndarray] = {}


def _blur_kernel(dx: float, dy: float) -> Optional[np.ndarray]:
    """Linear motion-blur kernel along (dx, dy) pixels, or None for motion under 2 pixels."""
    length = int(round(math.hypot(dx, dy)))
    if length < 2:
        return None
    length = min(length, 21)
    angle = int(round(math.degrees(math.atan2(dy, dx)) / 10.0)) % 36
    key = (length, angle)
    if key not in _KERNELS:
        size = length + (1 - length % 2)
        k = np.zeros((size, size), np.float32)
        a = math.radians(angle * 10.0)
        c = (size - 1) / 2
        hx, hy = math.cos(a) * (length - 1) / 2, math.sin(a) * (length - 1) / 2
        cv2.line(k, (int(round(c - hx)), int(round(c - hy))), (int(round(c + hx)), int(round(c + hy))), 1.0, 1)
        _KERNELS[key] = k / k.sum()
    return _KERNELS[key]


# ------------------------------------------------------------------------------------------------
# Sequences


@dataclass
class Layer:
    """One cut-out over the background: its object->frame matrices (N, 2, 3), per-frame brightness gain
    (N,), per-frame motion (N, 2) in frame pixels (for blur) and its depth (larger = in front)."""

    cut: CutOut
    matrices: np.ndarray
    gain: np.ndarray
    motion: np.ndarray
    depth: float
    role: str


@dataclass
class SyntheticSequence:
    """A generated sequence: ground truth arrays plus what ``frame(t)`` needs to render frame t."""

    name: str
    class_name: str
    length: int
    frame_size: Tuple[int, int]
    boxes: np.ndarray
    visibility: np.ndarray
    full_occlusion: np.ndarray
    out_of_view: np.ndarray
    background: np.ndarray
    background_matrices: np.ndarray
    background_motion: np.ndarray
    layers: List[Layer]
    light: np.ndarray  # (N, 3) per-channel global gain
    noise_std: float = 0.0
    noise_seed: int = 0
    blur_strength: float = 0.0
    _noise: Optional[np.ndarray] = field(default=None, repr=False)

    def frame(self, t: int) -> np.ndarray:
        """Frame t (0-based) as RGB uint8 (H, W, 3)."""
        if not 0 <= t < self.length:
            raise IndexError(f"frame {t} outside sequence {self.name} of {self.length} frames")
        w, h = self.frame_size
        image = cv2.warpAffine(self.background, self.background_matrices[t], (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
        if self.blur_strength > 0:
            k = _blur_kernel(*(self.background_motion[t] * self.blur_strength))
            if k is not None:
                image = cv2.filter2D(image, -1, k, borderType=cv2.BORDER_REFLECT_101)
        for layer in self.layers:
            self._draw(image, layer, t)
        image *= self.light[t][None, None, :]
        if self.noise_std > 0:
            if self._noise is None:  # one noise field per sequence, shifted every frame
                noise_rng = np.random.default_rng(self.noise_seed)
                self._noise = noise_rng.standard_normal((h + 64, w + 64, 3), dtype=np.float32) * self.noise_std
            oy, ox = (t * 7919) % 65, (t * 104729) % 65
            image += self._noise[oy:oy + h, ox:ox + w]
        return np.clip(image, 0, 255).astype(np.uint8)

    def _draw(self, image: np.ndarray, layer: Layer, t: int) -> None:
        h, w = image.shape[:2]
        m = layer.matrices[t]
        ph, pw = layer.cut.rgba.shape[:2]
        corners = np.array([[0, 0], [pw, 0], [0, ph], [pw, ph]], np.float64) @ m[:, :2].T + m[:, 2]
        pad = 12 if self.blur_strength > 0 else 1
        x0 = max(int(math.floor(corners[:, 0].min())) - pad, 0)
        y0 = max(int(math.floor(corners[:, 1].min())) - pad, 0)
        x1 = min(int(math.ceil(corners[:, 0].max())) + pad, w)
        y1 = min(int(math.ceil(corners[:, 1].max())) + pad, h)
        if x1 <= x0 or y1 <= y0:
            return
        local = m.copy()
        local[:, 2] -= (x0, y0)
        patch = cv2.warpAffine(layer.cut.rgba, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        if self.blur_strength > 0:
            k = _blur_kernel(*(layer.motion[t] * self.blur_strength))
            if k is not None:
                patch = cv2.filter2D(patch, -1, k, borderType=cv2.BORDER_CONSTANT)
        alpha = patch[:, :, 3:4]
        roi = image[y0:y1, x0:x1]
        roi *= 1.0 - alpha
        roi += patch[:, :, :3] * (alpha * layer.gain[t])


class SyntheticTracking(TrackingDataset):
    """The synthetic dataset: ``num_sequences`` sequences of one split, made on first use."""

    is_video = True

    def __init__(self, config: Optional[SyntheticConfig] = None, cache_size: int = 24, **overrides):
        if config is None:
            config = SyntheticConfig(**overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.name = f"synthetic-{config.split}"
        self.photos = PhotoLibrary(config.photos, max_side=config.photo_max_side)
        regular, heldout = self.photos.split_indices(config.heldout_photo_fraction)
        self.pool = heldout if config.split == "test" and heldout else regular
        if len(self.pool) < 2:
            log.warning("synthetic dataset: only %d photo(s) available for split %s; targets and backgrounds "
                        "will come from the same photo", len(self.pool), config.split)
        self._cache: LRUCache[int, SyntheticSequence] = LRUCache(cache_size)
        self._texture: Dict[int, float] = {}

    def __len__(self) -> int:
        return self.config.num_sequences

    def photo_texture(self, photo_id: int) -> float:
        """How textured a whole photo is (mean gradient of a 32x32 thumbnail plus contrast); cached."""
        if photo_id not in self._texture:
            self._texture[photo_id] = _texture_score(self.photos.load(photo_id))
        return self._texture[photo_id]

    def _rng(self, index: int) -> np.random.Generator:
        split_id = SPLITS.index(self.config.split)
        return np.random.default_rng(np.random.SeedSequence([int(self.config.seed), split_id, int(index)]))

    def sequence(self, index: int) -> SyntheticSequence:
        if not 0 <= index < len(self):
            raise IndexError(f"sequence {index} outside 0..{len(self) - 1}")
        return self._cache.get(index, lambda: _generate(self, index))

    def sequence_name(self, index: int) -> str:
        return self.sequence(index).name

    def annotations(self, index: int) -> SequenceAnnotations:
        seq = self.sequence(index)
        return SequenceAnnotations(seq.boxes, seq.visibility >= MIN_VISIBLE_FRACTION)

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        seq = self.sequence(index)
        return [seq.frame(int(t)) for t in frame_ids]


def _class_name(photo_name: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "", photo_name.lower().split("_")[0]) or "object"
    return name[:20]


def _generate(ds: SyntheticTracking, index: int) -> SyntheticSequence:
    """Draw sequence ``index`` of the dataset's split."""
    cfg = ds.config
    rng = ds._rng(index)
    n = int(rng.integers(cfg.min_length, cfg.max_length + 1))
    fw, fh = cfg.frame_width, cfg.frame_height
    frame_centre = np.array([fw / 2, fh / 2])
    pool = ds.pool
    # Targets come from the most textured of three random photos (flat abstract wallpapers make poor objects).
    candidates = [int(pool[int(rng.integers(len(pool)))]) for _ in range(3)]
    target_photo_id = max(candidates, key=ds.photo_texture)
    others = [p for p in pool if p != target_photo_id] or [target_photo_id]
    bg_photo_id = int(others[int(rng.integers(len(others)))])
    target_photo = ds.photos.load(target_photo_id)
    background = ds.photos.load(bg_photo_id)

    # Camera: world (frame-0 pixels) -> frame. p_f = zoom * (p_w - look(t)) + frame_centre.
    look = np.repeat(frame_centre[None], n, 0)
    zoom = np.ones(n)
    if rng.random() < cfg.camera_motion:
        amp = rng.uniform(0.05, 0.25) * np.array([fw, fh])
        look = look + np.stack([_smooth(rng, n), _smooth(rng, n)], 1) * amp
        if rng.random() < 0.5:
            zoom = np.exp(_smooth(rng, n) * rng.uniform(0.1, 0.35))
    if rng.random() < cfg.camera_shake:
        look = look + rng.standard_normal((n, 2)) * rng.uniform(0.5, 3.0)
    cam_scale = zoom[:, None, None]

    def world_to_frame(m: np.ndarray) -> np.ndarray:
        out = m * cam_scale
        out[:, :, 2] = (m[:, :, 2] - look) * zoom[:, None] + frame_centre
        return out

    # Background photo placed in the world, covering the frame with room to pan.
    bh, bw = background.shape[:2]
    cover = max(fw / bw, fh / bh) * rng.uniform(1.05, 1.5)
    bg_world = np.array([[cover, 0, frame_centre[0] - cover * bw / 2], [0, cover, frame_centre[1] - cover * bh / 2]])
    background_matrices = world_to_frame(np.repeat(bg_world[None], n, 0))
    background_motion = np.zeros((n, 2))
    background_motion[1:] = background_matrices[1:, :, 2] - background_matrices[:-1, :, 2]

    # Target: cut-out, size, motion in frame coordinates.
    aspect = float(np.exp(rng.uniform(-0.9, 0.9)))
    shape = MASK_SHAPES[int(rng.choice(len(MASK_SHAPES), p=[0.25, 0.25, 0.25, 0.15, 0.10]))]
    target_cut, target_region = _cut(target_photo, rng, aspect, shape)
    size0 = float(np.exp(rng.uniform(math.log(cfg.min_target_size), math.log(cfg.max_target_size))))
    log_scale = np.zeros(n)
    if rng.random() < cfg.scale_change:
        log_scale = _smooth(rng, n, 60, 500) * rng.uniform(0.2, cfg.max_log_scale_change)
    size = np.clip(size0 * np.exp(log_scale), cfg.min_target_size * 0.6, cfg.max_target_size * 1.5)
    stretch = np.exp(_smooth(rng, n, 30, 200) * rng.uniform(0.0, 0.15))  # non-rigid aspect change
    base = size / target_cut.size
    theta = np.zeros(n)
    if rng.random() < cfg.rotation:
        theta = _smooth(rng, n, 40, 300) * math.radians(rng.uniform(10, cfg.max_rotation_deg))
    fast = rng.random() < cfg.fast_motion
    speed = size0 * (rng.uniform(0.2, 0.6) if fast else rng.uniform(0.01, 0.15))
    margin = np.array([0.5 * size0, 0.5 * size0])
    lo, hi = margin, np.array([fw, fh]) - margin
    start = lo + rng.random(2) * (hi - lo)
    centre = _wander(rng, n, start, speed, lo, hi, agility=rng.uniform(0.05, 0.3))
    if rng.random() < cfg.out_of_view and n > 60:
        t_mid = int(rng.integers(30, n - 30))
        half = int(rng.integers(10, min(60, t_mid, n - t_mid - 1)))
        direction = rng.normal(size=2)
        direction /= np.linalg.norm(direction) + 1e-9
        p = centre[t_mid]
        to_edge = min(((fw - p[0]) if direction[0] > 0 else p[0]) / max(abs(direction[0]), 1e-3),
                      ((fh - p[1]) if direction[1] > 0 else p[1]) / max(abs(direction[1]), 1e-3))
        reach = to_edge + size.max() * rng.uniform(0.7, 1.5)
        t = np.arange(n)
        bump = np.clip(1 - np.abs(t - t_mid) / half, 0, 1)
        centre = centre + (np.sin(bump * np.pi / 2) ** 2 * reach)[:, None] * direction
    target_matrices = _affine(centre, base * stretch, base / stretch, theta, target_cut.centre)
    target_gain = np.ones(n)
    if rng.random() < cfg.illumination:
        target_gain = np.exp(_smooth(rng, n, 20, 200) * rng.uniform(0.1, 0.45))
    target_motion = np.zeros((n, 2))
    target_motion[1:] = centre[1:] - centre[:-1]
    layers: List[Layer] = [Layer(target_cut, target_matrices, target_gain, target_motion, 0.0, "target")]

    # Distractors: look-alikes cut next to the target in the same photo, or other photo regions.
    if rng.random() < cfg.distractors:
        for _ in range(int(rng.integers(1, cfg.max_distractors + 1))):
            if rng.random() < cfg.lookalike:
                x, y, rw, rh = target_region
                ph, pw = target_photo.shape[:2]
                dx = int(np.clip(x + rng.uniform(-0.8, 0.8) * rw, 0, pw - rw))
                dy = int(np.clip(y + rng.uniform(-0.8, 0.8) * rh, 0, ph - rh))
                cut, _ = _cut(target_photo, rng, aspect, shape, region=(dx, dy, rw, rh))
                d_size = size0 * rng.uniform(0.75, 1.3)
            else:
                photo = ds.photos.load(int(pool[int(rng.integers(len(pool)))]))
                cut, _ = _cut(photo, rng, float(np.exp(rng.uniform(-0.9, 0.9))),
                              MASK_SHAPES[int(rng.integers(len(MASK_SHAPES)))])
                d_size = size0 * rng.uniform(0.5, 1.8)
            d_scale = d_size / cut.size * np.exp(_smooth(rng, n, 60, 400) * 0.3)
            d_theta = _smooth(rng, n, 40, 300) * math.radians(rng.uniform(0, 40))
            if rng.random() < 0.4:  # crosses the target's path at some frame
                t_c = int(rng.integers(n))
                vel = rng.normal(size=2)
                vel *= rng.uniform(0.5, 2.0) * max(speed, 1.0) / (np.linalg.norm(vel) + 1e-9)
                d_centre = centre[t_c] + (np.arange(n) - t_c)[:, None] * vel
                m = _affine(d_centre, d_scale, d_scale, d_theta, cut.centre)
            else:  # wanders in the scene (moves with the camera)
                w_lo, w_hi = np.array([-0.2 * fw, -0.2 * fh]), np.array([1.2 * fw, 1.2 * fh])
                d_centre = _wander(rng, n, w_lo + rng.random(2) * (w_hi - w_lo), size0 * rng.uniform(0.0, 0.2),
                                   w_lo, w_hi, agility=rng.uniform(0.05, 0.3))
                m = world_to_frame(_affine(d_centre, d_scale, d_scale, d_theta, cut.centre))
            motion = np.zeros((n, 2))
            motion[1:] = m[1:, :, 2] - m[:-1, :, 2]
            gain = np.exp(_smooth(rng, n, 20, 200) * rng.uniform(0.0, 0.3))
            layers.append(Layer(cut, m, gain, motion, float(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 1)), "distractor"))

    # Occluders: a cut-out sweeping across the target, or one fixed in the scene on the target's path.
    events = []
    if rng.random() < cfg.full_occlusion:
        events.append(True)
    if rng.random() < cfg.partial_occlusion:
        events.append(False)
    for full in events:
        photo = ds.photos.load(int(pool[int(rng.integers(len(pool)))]))
        cut, _ = _cut(photo, rng, float(np.exp(rng.uniform(-0.6, 0.6))),
                      MASK_SHAPES[int(rng.choice(len(MASK_SHAPES), p=[0.2, 0.3, 0.2, 0.1, 0.2]))])
        t_mid = int(rng.integers(n))
        target_extent = float(size[t_mid] * max(stretch[t_mid], 1 / stretch[t_mid]) * 1.5)
        occ_size = target_extent * (rng.uniform(1.6, 2.5) if full else rng.uniform(0.5, 1.0))
        scale = np.full(n, occ_size / cut.size)
        if rng.random() < 0.5:  # sweeps across the target
            half = rng.uniform(10, 50) if full else rng.uniform(5, 30)
            u = rng.normal(size=2)
            u /= np.linalg.norm(u) + 1e-9
            reach = (occ_size + target_extent) * 0.6
            shift = (np.arange(n) - t_mid) / half
            if full:  # stays on the target for a while in the middle of the sweep
                shift = np.sign(shift) * np.maximum(np.abs(shift) - 0.5, 0) * 2
            else:
                shift = shift + rng.uniform(-0.3, 0.3)
            o_centre = centre + shift[:, None] * reach * u
            m = _affine(o_centre, scale, scale, np.zeros(n), cut.centre)
        else:  # fixed in the scene where the target will be
            inv_world = (centre[t_mid] - frame_centre) / zoom[t_mid] + look[t_mid]
            m = world_to_frame(_affine(np.repeat(inv_world[None], n, 0), scale, scale, np.zeros(n), cut.centre))
        motion = np.zeros((n, 2))
        motion[1:] = m[1:, :, 2] - m[:-1, :, 2]
        layers.append(Layer(cut, m, np.ones(n), motion, 2.0 + rng.random(), "occluder"))
    layers.sort(key=lambda layer: layer.depth)

    # Ground truth: box of the transformed outline, fraction in frame, fraction not covered.
    hull = _apply(target_matrices, target_cut.hull)
    x1, y1 = hull[:, :, 0].min(1), hull[:, :, 1].min(1)
    x2, y2 = hull[:, :, 0].max(1), hull[:, :, 1].max(1)
    pts = _apply(target_matrices, target_cut.interior)  # (n, P, 2)
    inside = (pts[:, :, 0] >= 0) & (pts[:, :, 0] < fw) & (pts[:, :, 1] >= 0) & (pts[:, :, 1] < fh)
    covered = np.zeros_like(inside)
    for layer in layers:
        if layer.depth <= 0.0 or layer.role == "target":
            continue
        inv = _invert(layer.matrices)
        local = np.matmul(pts, inv[:, :, :2].transpose(0, 2, 1)) + inv[:, None, :, 2]
        ph, pw = layer.cut.rgba.shape[:2]
        xi = np.floor(local[:, :, 0]).astype(np.int64)
        yi = np.floor(local[:, :, 1]).astype(np.int64)
        ok = (xi >= 0) & (xi < pw) & (yi >= 0) & (yi < ph)
        alpha = np.zeros(ok.shape)
        alpha[ok] = layer.cut.rgba[yi[ok], xi[ok], 3]
        covered |= alpha >= 0.5
    in_frame = inside.mean(1)
    visibility = (inside & ~covered).mean(1)
    out_of_view = in_frame < 0.1
    full_occlusion = ~out_of_view & (visibility < 0.1)
    cx1, cy1 = np.clip(x1, 0, fw), np.clip(y1, 0, fh)
    cx2, cy2 = np.clip(x2, 0, fw), np.clip(y2, 0, fh)
    boxes = np.stack([cx1, cy1, cx2 - cx1, cy2 - cy1], 1)
    boxes[out_of_view | (boxes[:, 2] < 1) | (boxes[:, 3] < 1)] = 0.0

    # Global light: flicker, colour cast, light switches.
    light = np.ones((n, 3))
    if rng.random() < cfg.illumination:
        light *= np.exp(_smooth(rng, n, 30, 300) * rng.uniform(0.1, 0.5))[:, None]
        light *= np.exp(np.stack([_smooth(rng, n, 100, 500) for _ in range(3)], 1) * rng.uniform(0.0, 0.15))
        if rng.random() < 0.3:
            t_switch = int(rng.integers(n))
            light[t_switch:] *= rng.uniform(0.5, 1.5)
    noise_std = float(rng.uniform(1.0, 6.0)) if rng.random() < cfg.noise else 0.0
    noise_seed = int(rng.integers(2**31))
    blur = rng.uniform(0.4, 1.0) if rng.random() < cfg.motion_blur else 0.0
    class_name = _class_name(ds.photos.name(target_photo_id))
    return SyntheticSequence(
        name=f"{class_name}-{index + 1}", class_name=class_name, length=n, frame_size=(fw, fh),
        boxes=boxes.astype(np.float64), visibility=visibility.astype(np.float32),
        full_occlusion=full_occlusion, out_of_view=out_of_view, background=background,
        background_matrices=background_matrices.astype(np.float64), background_motion=background_motion,
        layers=layers, light=light.astype(np.float32), noise_std=noise_std, noise_seed=noise_seed,
        blur_strength=float(blur))


# ------------------------------------------------------------------------------------------------
# Writing a split to disk as a LaSOT-style benchmark


def write_lasot_benchmark(dataset: SyntheticTracking, root: Path, sequences: Optional[Sequence[int]] = None,
                          jpeg_quality: int = 92, progress: bool = True) -> List[str]:
    """Write sequences of ``dataset`` under ``root`` in LaSOT's layout:
    ``<class>/<class>-<k>/img/00000001.jpg``, ``groundtruth.txt`` (x,y,w,h per line in image pixels, the
    box's top-left corner at (x, y); (0,0,0,0) where the target is out of view), ``full_occlusion.txt`` and
    ``out_of_view.txt`` (one comma-separated line of 0/1), plus ``testing_set.txt`` listing the sequences
    and ``synthetic_config.json`` recording how they were made. Each sequence is written to a temporary
    folder and renamed into place, so an interrupted run leaves no half sequence. Returns the names."""
    import json
    import os
    import shutil

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids = list(range(len(dataset))) if sequences is None else [int(i) for i in sequences]
    names: List[str] = []
    iterator = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc=f"writing {dataset.name}", unit="seq")
    for i in iterator:
        seq = dataset.sequence(i)
        names.append(seq.name)
        final = root / seq.class_name / seq.name
        if (final / "groundtruth.txt").is_file():
            continue
        tmp = root / seq.class_name / f".{seq.name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "img").mkdir(parents=True)
        for t in range(seq.length):
            bgr = cv2.cvtColor(seq.frame(t), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(str(tmp / "img" / f"{t + 1:08d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                raise OSError(f"cannot write frame {t + 1} of {seq.name} under {tmp}")
        np.savetxt(tmp / "groundtruth.txt", seq.boxes, fmt="%.2f", delimiter=",")
        (tmp / "full_occlusion.txt").write_text(",".join(str(int(v)) for v in seq.full_occlusion) + "\n")
        (tmp / "out_of_view.txt").write_text(",".join(str(int(v)) for v in seq.out_of_view) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    (root / "testing_set.txt").write_text("\n".join(names) + "\n")
    info = dataclasses.asdict(dataset.config)
    info["photo_fingerprint"] = dataset.photos.fingerprint()
    info["num_photos"] = len(dataset.photos)
    (root / "synthetic_config.json").write_text(json.dumps(info, indent=2, default=list) + "\n")
    return names
