"""Crop, normalise and map back: the per-frame arithmetic of the official tracker (spec section 4), and the
one crop and normalisation that tracking and training share (training jitters the box, then crops with the
same functions, so a training crop without jitter is exactly the tracker's crop of that frame and box).

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


def normalize_images(images: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """uint8 RGB images (..., 3, H, W), on any device, -> float32 network input (x / 255 - ImageNet mean) / std
    per channel, with the same float32 operations, in the same order, as the official preprocessor. ``out``
    (float32, same shape) is filled and returned when given; the input is never modified."""
    mean, std = (_MEAN, _STD) if images.device.type == "cpu" else (_MEAN.to(images.device), _STD.to(images.device))
    result = images.to(torch.float32, copy=True) if out is None else out.copy_(images)
    return result.div_(255.0).sub_(mean).div_(std)


def normalize_crop(patch: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """One crop as the tracker feeds it: RGB uint8 (S, S, 3) -> float32 (3, S, S) by ``normalize_images``.
    ``out`` (3, S, S) float32 is filled when given."""
    x = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1)
    if out is None:
        return normalize_images(x.contiguous()).numpy()
    return normalize_images(x, out=torch.from_numpy(out)).numpy()


def box_in_crop(box: Sequence[float], window: CropWindow, output_size: int) -> np.ndarray:
    """A box (x, y, w, h frame pixels) -> the same box in the crop of ``window`` resized to ``output_size``,
    normalized to [0, 1] of the crop side (float32 x, y, w, h)."""
    x, y, w, h = (float(v) for v in box)
    rf = window.resize_factor
    return np.array([(x - window.x1) * rf, (y - window.y1) * rf, w * rf, h * rf], dtype=np.float32) / output_size


def sample_crop(frame: np.ndarray, box: Sequence[float], factor: float, output_size: int,
                far_side_padding_quirk: bool = True) -> Tuple[np.ndarray, CropWindow]:
    """Crop the window around box (x, y, w, h pixels) and resize it: (uint8 (o, o, 3) patch, window)."""
    window = crop_window(box, factor, output_size)
    return crop_frame(frame, window, output_size, far_side_padding_quirk), window


def model_input(frame: np.ndarray, box: Sequence[float], factor: float, output_size: int,
                far_side_padding_quirk: bool = True, out: Optional[np.ndarray] = None) -> np.ndarray:
    """What the network sees of ``frame`` around ``box`` (x, y, w, h pixels): the crop of ``sample_crop``,
    normalised by ``normalize_crop`` to float32 (3, output_size, output_size) (written into ``out`` when given).
    The tracker's template and search inputs and the int8 calibration crops are made by this function."""
    patch, _ = sample_crop(frame, box, factor, output_size, far_side_padding_quirk)
    return normalize_crop(patch, out=out)


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


def iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of paired x, y, w, h boxes (continuous coordinates); 0 where the union is empty, NaN stays NaN."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    out[np.isnan(union)] = np.nan
    return out
