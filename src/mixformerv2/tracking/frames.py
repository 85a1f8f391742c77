"""Bring frames of any common layout to what the tracker works on: RGB uint8 (H, W, 3), C-contiguous."""
from __future__ import annotations

import cv2
import numpy as np


def as_rgb_frame(frame, name: str = "frame", bgr: bool = False) -> np.ndarray:
    """The frame as RGB uint8 (H, W, 3).

    Accepted: (H, W) or (H, W, 1) grayscale (expanded to three channels), (H, W, 3) colour, (H, W, 4) with
    alpha (dropped); uint8, or uint16 scaled to 8 bits (x * 255 / 65535, rounded). ``bgr=True`` says the
    colour channels are in OpenCV's B, G, R order. Anything else raises ValueError naming the problem.
    """
    if not isinstance(frame, np.ndarray):
        try:
            frame = np.asarray(frame)
        except Exception as exc:  # noqa: BLE001 - any failure means "not an image"
            raise ValueError(f"{name} is not an image array ({type(frame).__name__}): {exc}") from None
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise ValueError(f"{name} must be an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                         f"got shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"{name} is empty (shape {frame.shape})")
    if frame.dtype == np.uint16:
        frame = cv2.convertScaleAbs(frame, alpha=255.0 / 65535.0)
    elif frame.dtype != np.uint8:
        hint = " (multiply by 255 and convert to uint8 first)" if frame.dtype.kind == "f" else ""
        raise ValueError(f"{name} must hold uint8 or uint16 pixels, got {frame.dtype}{hint}")
    if frame.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if bgr:
        frame = frame[:, :, ::-1]
    return np.ascontiguousarray(frame)
