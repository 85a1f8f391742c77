"""Turning frames and boxes into training crops: box jitter, then the tracker's own crop (``geometry``) around
the jittered box, the ground truth in the crop's normalized coordinates, and the photometric/geometric
augmentations.

Boxes are ``x, y, w, h`` in pixels unless a name says otherwise. Crops are RGB uint8 (H, W, 3) arrays; the
network input is made by ``geometry.normalize_images`` (on the training device, so workers ship uint8).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch

from ..geometry import CropWindow, box_in_crop, sample_crop


class BadSampleError(ValueError):
    """A frame or annotation cannot be used (the sampler logs it and draws another sample)."""


def training_crop(image: np.ndarray, box_xywh: Sequence[float], factor: float, out_size: int
                  ) -> Tuple[np.ndarray, CropWindow]:
    """The tracker's crop (``geometry.sample_crop``: ``crop_window`` + ``crop_frame``, with the official far-side
    padding quirk) of side ceil(sqrt(w*h)*factor) around ``box_xywh``, resized to out_size x out_size.
    Returns (crop uint8 (out_size, out_size, 3), its window). BadSampleError for a box that cannot be cropped."""
    x, y, w, h = (float(v) for v in box_xywh)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise BadSampleError(f"cannot crop around box {list(box_xywh)}: width and height must be positive")
    try:
        return sample_crop(image, (x, y, w, h), factor, out_size, far_side_padding_quirk=True)
    except ValueError as exc:
        raise BadSampleError(str(exc)) from None


def jitter_box(box_xywh: Sequence[float], center_jitter: float, scale_jitter: float,
               rng: np.random.Generator) -> np.ndarray:
    """Random box around a target (pixels): width and height times exp(N(0,1) * scale_jitter), centre moved
    by up to +-0.5 * center_jitter * sqrt(w' * h') in each direction (uniform)."""
    x, y, w, h = (float(v) for v in box_xywh)
    if center_jitter == 0 and scale_jitter == 0:
        return np.array([x, y, w, h], dtype=np.float64)
    size = np.array([w, h]) * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = math.sqrt(size[0] * size[1]) * center_jitter
    centre = np.array([x + 0.5 * w, y + 0.5 * h]) + max_offset * (rng.random(2) - 0.5)
    return np.array([centre[0] - 0.5 * size[0], centre[1] - 0.5 * size[1], size[0], size[1]])


def _to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


@dataclass
class ProcessingConfig:
    """Crop factors, jitter and augmentations (spec section 6 defaults). Crop sizes are the model's; the
    training ``DataConfig`` is a ProcessingConfig with the sampler's settings added, so these settings exist
    once, with one set of defaults."""

    template_factor: float = 2.0
    search_factor: float = 5.0
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    search_center_jitter: float = 4.5
    search_scale_jitter: float = 0.5
    # Not in the published recipe: this fraction of the search crops takes the "tracking-like" jitter below
    # instead (a crop centred near the target at about its size, as the tracker's crops around the previous
    # box are), so that training also drills the precise boxes tracking needs. 0 = off (the official recipe).
    search_tracking_jitter_prob: float = 0.0
    search_tracking_center_jitter: float = 1.0
    search_tracking_scale_jitter: float = 0.15
    brightness_jitter: float = 0.2
    grayscale_prob: float = 0.05
    flip_prob: float = 0.5
    max_jitter_tries: int = 10

    def __post_init__(self) -> None:
        if not 0.0 <= self.search_tracking_jitter_prob <= 1.0:
            raise ValueError(f"search_tracking_jitter_prob must be in [0, 1], got {self.search_tracking_jitter_prob}")
        for name in ("template_center_jitter", "template_scale_jitter", "search_center_jitter",
                     "search_scale_jitter", "search_tracking_center_jitter", "search_tracking_scale_jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class PairProcessing:
    """Templates + search frame (with boxes) -> the network's crops and the search ground truth.

    Output (all tensors): templates uint8 (K, 3, T, T); search uint8 (3, S, S); search_box float32 (4,)
    x, y, w, h normalized to the search crop; template_boxes float32 (K, 4) likewise for each template.
    """

    def __init__(self, config: ProcessingConfig, template_size: int, search_size: int):
        self.config = config
        self.template_size = int(template_size)
        self.search_size = int(search_size)

    def _jittered_crop(self, frame: np.ndarray, box: np.ndarray, factor: float, size: int, center_jitter: float,
                       scale_jitter: float, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        for _ in range(self.config.max_jitter_tries):
            jittered = jitter_box(box, center_jitter, scale_jitter, rng)
            if jittered[2] <= 0 or jittered[3] <= 0:
                continue
            crop, window = training_crop(frame, jittered, factor, size)
            gt = box_in_crop(box, window, size)
            cx, cy = gt[0] + gt[2] / 2, gt[1] + gt[3] / 2
            if 0.0 < cx < 1.0 and 0.0 < cy < 1.0:  # the target centre must be in the crop
                return crop, gt
        crop, window = training_crop(frame, box, factor, size)
        return crop, box_in_crop(box, window, size)

    def __call__(self, template_frames: Sequence[np.ndarray], template_boxes: Sequence[np.ndarray],
                 search_frame: np.ndarray, search_box: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        c = self.config
        crops: List[np.ndarray] = []
        boxes: List[np.ndarray] = []
        for frame, box in zip(template_frames, template_boxes):
            crop, gt = self._jittered_crop(frame, np.asarray(box, float), c.template_factor, self.template_size,
                                           c.template_center_jitter, c.template_scale_jitter, rng)
            crops.append(crop)
            boxes.append(gt)
        center_jitter, scale_jitter = c.search_center_jitter, c.search_scale_jitter
        # The coin is drawn only when the option is on, so runs without it keep their random stream.
        if c.search_tracking_jitter_prob > 0 and rng.random() < c.search_tracking_jitter_prob:
            center_jitter, scale_jitter = c.search_tracking_center_jitter, c.search_tracking_scale_jitter
        search, search_gt = self._jittered_crop(search_frame, np.asarray(search_box, float), c.search_factor,
                                                self.search_size, center_jitter, scale_jitter, rng)
        images = crops + [search]
        all_boxes = boxes + [search_gt]
        if rng.random() < c.grayscale_prob:  # joint: every frame of the sample
            images = [np.repeat(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2) for im in images]
        if c.brightness_jitter > 0:  # per frame
            images = [cv2.convertScaleAbs(im, alpha=float(rng.uniform(1 - c.brightness_jitter,
                                                                      1 + c.brightness_jitter)))
                      for im in images]
        if rng.random() < c.flip_prob:  # joint horizontal flip
            images = [np.ascontiguousarray(im[:, ::-1]) for im in images]
            all_boxes = [np.array([1.0 - b[0] - b[2], b[1], b[2], b[3]], dtype=np.float32) for b in all_boxes]
        k = len(crops)
        return {
            "templates": torch.stack([_to_chw_tensor(im) for im in images[:k]]),
            "search": _to_chw_tensor(images[k]),
            "search_box": torch.from_numpy(np.asarray(all_boxes[k], dtype=np.float32)),
            "template_boxes": torch.from_numpy(np.stack(all_boxes[:k]).astype(np.float32)),
        }


def xywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    x, y, w, h = box.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)
