"""Crop, normalise and map back: the per-frame arithmetic of the official tracker (spec section 4).

Boxes are (x, y, w, h) in pixels of the full frame unless a name says otherwise. Every number that decides a
pixel (crop side, crop origin, map-back) is computed with the same Python/float32 operations, in the same
order, as the official tracker, so that results match its raw results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MARGIN = 10  # pixels: the smallest box side and the least part of a box kept inside the frame

Box = Tuple[float, float, float, float]


@dataclass(frozen=True)
class CropWindow:
    """A square crop of the frame: its top-left corner (x1, y1) and side, in integer pixels (the window may
    reach outside the frame), and resize_factor = output size / side."""

    x1: int
    y1: int
    side: int
    resize_factor: float


def crop_window(box: Sequence[float], factor: float, output_size: int) -> CropWindow:
    """The square window of side ceil(sqrt(w*h)*factor) centred on the box (x, y, w, h pixels), its corner
    rounded with Python's round (half to even), as the official sample_target computes it."""
    x, y, w, h = (float(v) for v in box)
    side = math.ceil(math.sqrt(w * h) * factor)
    if side < 1:
        raise ValueError(f"box {tuple(box)} is too small to crop (crop side {side} px)")
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    return CropWindow(int(x1), int(y1), int(side), output_size / side)


def crop_frame(frame: np.ndarray, window: CropWindow, output_size: int, far_side_padding_quirk: bool = True
               ) -> np.ndarray:
    """The window of an RGB uint8 frame (H, W, 3), zero outside the frame, resized bilinearly to
    (output_size, output_size, 3) uint8.

    With far_side_padding_quirk (the official behaviour) the padding on the far side is computed as
    max(x2 - W + 1, 0), so a window that reaches the right (bottom) border also loses the frame's last
    column (row): only columns [max(x1, 0), min(x2, W - 1)) are copied. Without it: [max(x1, 0), min(x2, W)).
    """
    height, width = frame.shape[:2]
    x1, y1, side = window.x1, window.y1, window.side
    x2, y2 = x1 + side, y1 + side
    far = 1 if far_side_padding_quirk else 0
    cx1, cy1 = max(x1, 0), max(y1, 0)
    cx2, cy2 = min(x2, width - far), min(y2, height - far)
    if cx1 == x1 and cy1 == y1 and cx2 == x2 and cy2 == y2:
        patch = frame[y1:y2, x1:x2]  # inside the frame: no copy
    else:
        patch = np.zeros((side, side, frame.shape[2]), dtype=frame.dtype)
        if cx2 > cx1 and cy2 > cy1:
            patch[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1] = frame[cy1:cy2, cx1:cx2]
    if side == output_size:
        return np.ascontiguousarray(patch)
    return cv2.resize(patch, (output_size, output_size), interpolation=cv2.INTER_LINEAR)


_MEAN = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)


def normalize_crop(patch: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """RGB uint8 (S, S, 3) -> float32 (3, S, S) = (x / 255 - ImageNet mean) / std per channel, with the same
    float32 operations as the official preprocessor. ``out`` (3, S, S) float32 is filled when given."""
    x = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1)
    if out is None:
        result = x.float().contiguous()
    else:
        result = torch.from_numpy(out)
        result.copy_(x)
    return result.div_(255.0).sub_(_MEAN).div_(_STD).numpy()


def sample_crop(frame: np.ndarray, box: Sequence[float], factor: float, output_size: int,
                far_side_padding_quirk: bool = True) -> Tuple[np.ndarray, CropWindow]:
    """Crop the window around box (x, y, w, h pixels) and resize it: (uint8 (o, o, 3) patch, window)."""
    window = crop_window(box, factor, output_size)
    return crop_frame(frame, window, output_size, far_side_padding_quirk), window


def map_box_back(pred_cxcywh: np.ndarray, previous_box: Sequence[float], search_size: int,
                 resize_factor: float) -> Box:
    """Predicted (cx, cy, w, h), normalised to the search crop (float32), -> (x, y, w, h) frame pixels.

    As the official tracker: pixels = pred * search_size / resize_factor in float32, then the centre is
    shifted by the unrounded previous centre minus half the crop side (not by the rounded crop corner).
    """
    pred = np.asarray(pred_cxcywh, dtype=np.float32).reshape(4)
    cx, cy, w, h = (float(v) for v in (pred * np.float32(search_size)) / np.float32(resize_factor))
    px, py, pw, ph = (float(v) for v in previous_box)
    cx_prev, cy_prev = px + 0.5 * pw, py + 0.5 * ph
    half_side = 0.5 * search_size / resize_factor
    cx_real = cx + (cx_prev - half_side)
    cy_real = cy + (cy_prev - half_side)
    return (cx_real - 0.5 * w, cy_real - 0.5 * h, w, h)


def clip_box(box: Sequence[float], height: int, width: int, margin: float = CLIP_MARGIN) -> Box:
    """Keep a box (x, y, w, h pixels) at least partly inside the frame, as the official clip_box:
    x1 to [0, W - margin], x2 to [margin, W] (same for y), then w, h at least margin."""
    x1, y1, w, h = (float(v) for v in box)
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0, y1), height - margin)
    y2 = min(max(margin, y2), height)
    return (float(x1), float(y1), float(max(margin, x2 - x1)), float(max(margin, y2 - y1)))
