"""Images: the one reader every layer uses (frames, benchmark sequences, photos), the natural order of frame
files, and the conversion of any common array layout to what the tracker works on: RGB uint8 (H, W, 3),
C-contiguous."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Union

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".jp2")
# imdecode flags: keep 16-bit depth and grayscale, drop alpha, apply EXIF orientation.
_IMREAD_FLAGS = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH


def natural_key(name: Union[str, Path]) -> list:
    """Sort key of a file name (or path: its name) that orders embedded numbers by value, case-insensitive:
    frame2 < frame10 < Frame11."""
    text = name.name if isinstance(name, Path) else str(name)
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", text)]


def list_images(folder: Union[str, Path]) -> List[Path]:
    """Image files directly in ``folder`` (hidden files left out), in natural order."""
    files = [p for p in Path(folder).iterdir()
             if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=natural_key)


def read_image(path: Union[str, Path], max_side: int = 0) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); grayscale, alpha and 16-bit images are converted. ``max_side`` > 0
    shrinks it (area interpolation) so that its longer side is at most that many pixels.
    Raises OSError naming the file when it is missing or cannot be decoded."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise OSError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, _IMREAD_FLAGS) if data.size else None
    if image is None:
        raise OSError(f"cannot read image {path}: corrupt or not an image")
    image = as_rgb_frame(image, name=str(path), bgr=True)
    if max_side and max(image.shape[:2]) > max_side:
        s = max_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


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


__all__ = ["IMAGE_SUFFIXES", "as_rgb_frame", "list_images", "natural_key", "read_image"]
