"""Frame sources: a video file, a folder of images (natural order) or a camera, yielding RGB uint8 frames."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Iterator, Optional, Union

import cv2
import numpy as np

from ..datasets.images import IMAGE_SUFFIXES, as_rgb_frame, list_images, read_image

log = logging.getLogger(__name__)

# Sub-folders that hold the frames in common benchmark layouts (OTB/LaSOT "img", VOT "color").
FRAME_SUBFOLDERS = ("img", "color", "imgs", "images", "frames")
class FrameReadError(OSError):
    """A frame of a source cannot be read. ``index``: 0-based index of the frame."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


class FrameSource:
    """Iterate to get RGB uint8 frames. ``num_frames`` (None when unknown), ``fps`` (None when unknown),
    ``name`` for messages, ``is_camera``."""

    name: str = ""
    num_frames: Optional[int] = None
    fps: Optional[float] = None
    is_camera: bool = False

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ImageFolderSource(FrameSource):
    def __init__(self, folder: Path):
        files = list_images(folder)
        if not files:
            for sub in FRAME_SUBFOLDERS:
                if (folder / sub).is_dir() and list_images(folder / sub):
                    log.info("reading frames from %s", folder / sub)
                    folder = folder / sub
                    files = list_images(folder)
                    break
        if not files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
        self.files, self.name, self.num_frames = files, str(folder), len(files)

    def __iter__(self) -> Iterator[np.ndarray]:
        first_size = None
        for index, path in enumerate(self.files):
            try:
                frame = read_image(path)
            except (OSError, ValueError) as exc:
                raise FrameReadError(f"frame {index + 1} of {self.num_frames} ({path.name}) cannot be read: {exc}",
                                     index) from None
            size = (frame.shape[1], frame.shape[0])
            if first_size is None:
                first_size = size
            elif size != first_size:
                log.warning("frame %d of %d (%s) is %dx%d, but the first frame is %dx%d: boxes are pixels of each "
                            "frame, so the tracked box will jump; are these frames of one video?", index + 1,
                            self.num_frames, path.name, size[0], size[1], first_size[0], first_size[1])
                first_size = size          # one warning per change, not one per frame
            yield frame


class VideoCaptureSource(FrameSource):
    """A video file or a camera through OpenCV."""

    def __init__(self, target: Union[str, int], is_camera: bool):
        self.is_camera = is_camera
        self.name = (f"camera {target}" if isinstance(target, int) else str(target)) if is_camera else str(target)
        self.capture = cv2.VideoCapture(target)
        if not self.capture.isOpened():
            what = self.name if is_camera else f"video {target} (not a video, unsupported, or corrupt)"
            raise OSError(f"cannot open {what}")
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(self.capture.get(cv2.CAP_PROP_FPS))
        self.num_frames = count if count > 0 and not is_camera else None
        self.fps = fps if 0 < fps < 1000 else None

    def __iter__(self) -> Iterator[np.ndarray]:
        index = 0
        while True:
            ok, frame = self.capture.read()
            if not ok or frame is None:
                break
            try:
                yield as_rgb_frame(frame, name=f"frame {index + 1}", bgr=True)
            except ValueError as exc:
                raise FrameReadError(f"frame {index + 1} of {self.name} is unusable: {exc}", index) from None
            index += 1
        if index == 0:
            raise FrameReadError(f"{self.name} delivered no frame", 0)
        if self.num_frames is not None and index < self.num_frames:
            raise FrameReadError(f"frame {index + 1} of {self.num_frames} of {self.name} cannot be decoded "
                                 f"(corrupt or truncated video)", index)
        if self.is_camera:
            log.info("%s stopped delivering frames after %d frames", self.name, index)

    def close(self) -> None:
        self.capture.release()


def open_source(source: Union[str, int, os.PathLike]) -> FrameSource:
    """A video file, a folder of images (or a sequence folder with an img/ or color/ sub-folder), a camera
    index ("0", 0) or a stream URL (rtsp://...). Raises FileNotFoundError / OSError with the reason when it cannot be opened."""
    if isinstance(source, int):
        return VideoCaptureSource(source, is_camera=True)
    path = Path(source)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise ValueError(f"{path} is a single image; pass the folder that holds the frames")
        return VideoCaptureSource(str(path), is_camera=False)
    text = str(source).strip()
    if text.isdigit():
        return VideoCaptureSource(int(text), is_camera=True)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):   # rtsp://, http://: a live stream
        return VideoCaptureSource(text, is_camera=True)
    raise FileNotFoundError(f"source {source} does not exist (expected a video file, a folder of images, "
                            f"or a camera index)")
