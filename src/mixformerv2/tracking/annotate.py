"""Drawing tracked boxes, writing annotated videos atomically, showing frames in a window."""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..files import (OutputWriteError, is_special_file, make_readable, output_target, remove_stale_temporaries,
                     temporary_prefix)

# BGR colours for targets 1, 2, ... (cycled).
COLORS = ((0, 220, 0), (0, 140, 255), (255, 80, 0), (200, 0, 200), (0, 220, 220), (255, 255, 0), (80, 80, 255))
# .webm (VP8) is the one that web browsers play.
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID", ".webm": "VP80"}


def draw_boxes(frame_rgb: np.ndarray, boxes: Sequence[Sequence[float]],
               scores: Optional[Sequence[Optional[float]]] = None) -> np.ndarray:
    """A BGR copy of the frame with each box (x, y, w, h pixels) drawn, labelled with its target number
    and score (when given)."""
    image = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    height, width = image.shape[:2]
    thick = max(1, round(min(height, width) / 240))
    font = max(0.35, min(height, width) / 700)
    for i, box in enumerate(boxes):
        color = COLORS[i % len(COLORS)]
        x, y, w, h = (float(v) for v in box)
        p1, p2 = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
        cv2.rectangle(image, p1, p2, color, thick, cv2.LINE_AA)
        score = scores[i] if scores is not None else None
        label = (f"{i + 1}: " if len(boxes) > 1 else "") + (("init" if score is None else "" if math.isnan(score) else f"{score:.2f}"))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        ty = p1[1] - 3 if p1[1] - th - 3 >= 0 else min(p2[1] + th + 3, height - base)
        cv2.putText(image, label, (max(0, p1[0]), ty), cv2.FONT_HERSHEY_SIMPLEX, font, color, thick, cv2.LINE_AA)
    return image


class VideoWriteError(OutputWriteError):
    """Writing the annotated video failed (a full disk, say); the temporary file is already removed."""


def free_bytes(folder: os.PathLike) -> int:
    """Bytes a process may still write in ``folder``'s file system."""
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


class AnnotatedVideoWriter:
    """Writes BGR frames to a temporary file beside ``path`` and moves it into place on close(), so the
    path never holds a half-written video. Frames of another size are resized to the first frame's.

    OpenCV's writer does not report failed writes (it prints a warning and goes on), so before each frame
    the free space of the file system is checked: with less than one uncompressed frame left, write() raises
    VideoWriteError naming the file, and the temporary file is removed. A symbolic link is written through;
    a device or FIFO is refused (a video needs a seekable file). Temporary videos that killed runs left
    beside ``path`` are removed first."""

    def __init__(self, path: os.PathLike, fps: float, size: Tuple[int, int]):
        self.requested = path
        self.path = output_target(path)
        codec = VIDEO_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise ValueError(f"cannot write video {self.path}: use one of the suffixes {', '.join(VIDEO_CODECS)}")
        if is_special_file(self.path):
            raise ValueError(f"cannot write video {self.path}: it is a device, FIFO or socket, not a regular file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        fd, self.tmp = tempfile.mkstemp(prefix=temporary_prefix(self.path), suffix=self.path.suffix,
                                        dir=str(self.path.parent))
        os.close(fd)
        self.size = (int(size[0]), int(size[1]))
        self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*codec), float(fps), self.size)
        if not self.writer.isOpened():
            os.unlink(self.tmp)
            raise OSError(f"cannot write video {self.path}: OpenCV has no {codec} encoder for {self.path.suffix}")
        self.frames = 0

    def write(self, frame_bgr: np.ndarray) -> None:
        if (frame_bgr.shape[1], frame_bgr.shape[0]) != self.size:
            frame_bgr = cv2.resize(frame_bgr, self.size, interpolation=cv2.INTER_AREA)
        needed = self.size[0] * self.size[1] * 3
        try:
            free = free_bytes(self.path.parent)
        except OSError:
            free = needed
        if free < needed:
            self.close(keep=False)
            raise VideoWriteError(f"cannot write video {self.path}: no space left on the device after "
                                  f"{self.frames} frames ({free} bytes free); the partial video was removed",
                                  self.requested)
        self.writer.write(frame_bgr)
        self.frames += 1

    def close(self, keep: bool = True) -> bool:
        """Finish the file and move it to ``path`` (keep=True, and at least one frame), else delete it.
        Returns whether ``path`` now holds the video (False also after an earlier close)."""
        if self.writer is None:
            return False
        self.writer.release()
        self.writer = None
        if keep and self.frames:
            make_readable(self.tmp)
            os.replace(self.tmp, self.path)
            return True
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
        return False


class FrameWindow:
    """An OpenCV window; show() returns False once the user pressed q or Esc."""

    def __init__(self, title: str = "mixformerv2"):
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise OSError("--show needs a display and an OpenCV build with GUI support; the installed build "
                          "has none (opencv-*-headless). Install opencv-contrib-python instead, or write the "
                          "result with --video") from None

    def show(self, frame_bgr: np.ndarray) -> bool:
        cv2.imshow(self.title, frame_bgr)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass
