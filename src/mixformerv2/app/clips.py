"""Clips the app can track: an uploaded video, an uploaded zip of frames, or the sample clip.

Every clip lives in a folder of its own (named by a random id, so that users never see each other's clips),
with ``first.jpg`` (its first frame, for drawing boxes on) and, where known, its ground truth. Bad input
raises ``UploadError`` with a message meant for the page. Boxes are (x, y, w, h) in frame pixels.
"""
from __future__ import annotations

import math
import re
import secrets
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from ..datasets.images import IMAGE_SUFFIXES, natural_key
from ..files import atomic_write_text
from ..tracking.sources import FrameReadError, open_source

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".3gp")
ZIP_EXPANSION_LIMIT = 20     # a zip may unpack to at most this many times the upload limit (zip bombs)


class UploadError(ValueError):
    """An upload or a request the app refuses; the message is shown in the page."""


def new_id() -> str:
    """A random, unguessable id for a clip, an upload or a job (32 hex digits)."""
    return secrets.token_hex(16)


def safe_suffix(name: str) -> str:
    """The lower-case suffix of an uploaded file name, kept only when it is short and plain ('.mp4')."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


@dataclass
class Clip:
    """A trackable clip: ``source`` (a video file or a folder of frames) of ``num_frames`` frames of
    ``width`` x ``height`` px at ``fps``; ``groundtruth`` (N, 4) x, y, w, h px or None."""

    id: str
    name: str
    folder: Path
    source: Path
    num_frames: int
    width: int
    height: int
    fps: Optional[float]
    groundtruth: Optional[np.ndarray] = None

    def describe(self) -> Dict[str, object]:
        return {"clip": self.id, "name": self.name, "frames": self.num_frames, "width": self.width,
                "height": self.height, "fps": self.fps, "first_frame": f"/api/clips/{self.id}/first.jpg",
                "groundtruth": self.groundtruth is not None,
                "initial_box": None if self.groundtruth is None else [round(float(v), 2) for v in self.groundtruth[0]]}


def probe_clip(clip_id: str, name: str, folder: Path, source: Path) -> Clip:
    """Open ``source``, write its first frame to ``folder/first.jpg`` and count its frames (UploadError when it
    is not a video or frames OpenCV can read)."""
    try:
        frames = open_source(source)
    except (OSError, ValueError):
        what = "holds no frames that can be read" if source.is_dir() else \
            "is not a video that can be read (not a video, a format OpenCV cannot decode, or corrupt)"
        raise UploadError(f"{name} {what}") from None
    with frames:
        count = 0
        first = None
        try:
            for frame in frames:
                if first is None:
                    first = frame
                    if frames.num_frames:        # the container knows its length: trust it
                        count = frames.num_frames
                        break
                count += 1
        except FrameReadError as exc:
            raise UploadError(f"{name}: frame {exc.index + 1} cannot be read (corrupt or truncated)") from None
        fps = frames.fps
    if first is None:
        raise UploadError(f"{name} holds no frame that can be read")
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(first, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise UploadError(f"{name}: its first frame cannot be encoded")
    (folder / "first.jpg").write_bytes(jpeg.tobytes())
    return Clip(clip_id, name, folder, source, count, first.shape[1], first.shape[0], fps)


def unpack_frames(archive: Path, folder: Path, max_bytes: int, name: str) -> Path:
    """Extract the images of a zip into ``folder`` (only those of the folder inside the zip that holds the most,
    under their own file names, so that nothing can be written outside ``folder``); returns ``folder``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()
                       and PurePosixPath(m.filename).suffix.lower() in IMAGE_SUFFIXES
                       and not PurePosixPath(m.filename).name.startswith(".")]
            if not members:
                raise UploadError(f"{name} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            by_folder: Dict[str, List[zipfile.ZipInfo]] = {}
            for member in members:
                by_folder.setdefault(str(PurePosixPath(member.filename).parent), []).append(member)
            chosen = max(by_folder.values(), key=len)
            total = sum(m.file_size for m in chosen)
            if total > max_bytes * ZIP_EXPANSION_LIMIT:
                raise UploadError(f"{name} unpacks to {total / 1e6:.0f} MB, more than this app accepts "
                                  f"({max_bytes * ZIP_EXPANSION_LIMIT / 1e6:.0f} MB)")
            folder.mkdir(parents=True, exist_ok=True)
            for member in sorted(chosen, key=lambda m: natural_key(m.filename)):
                target = folder / PurePosixPath(member.filename).name
                with zf.open(member) as src, open(target, "wb") as dst:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        dst.write(chunk)
    except zipfile.BadZipFile:
        raise UploadError(f"{name} is not a valid zip file") from None
    return folder


class ClipStore:
    """The clips of a running app, each in ``root/<id>/``; thread-safe. The sample clip is made once, on
    first use."""

    def __init__(self, root: Path, max_upload_bytes: int):
        self.root = root
        self.max_upload_bytes = max_upload_bytes
        self._clips: Dict[str, Clip] = {}
        self._lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._sample: Optional[Clip] = None

    def get(self, clip_id: str) -> Clip:
        with self._lock:
            clip = self._clips.get(clip_id)
        if clip is None:
            raise UploadError("unknown clip (the app was restarted, or the clip was never uploaded): upload it again")
        return clip

    def _add(self, clip: Clip) -> Clip:
        with self._lock:
            self._clips[clip.id] = clip
        return clip

    def add_upload(self, upload: Path, name: str) -> Clip:
        """A clip from an uploaded file: a video, or a zip of frames (UploadError for anything else)."""
        clip_id = new_id()
        folder = self.root / clip_id
        folder.mkdir(parents=True)
        suffix = safe_suffix(name)
        if suffix in IMAGE_SUFFIXES:
            raise UploadError(f"{name} is a single image: upload a video, or a zip of the frames")
        if suffix == ".zip" or zipfile.is_zipfile(upload):
            source = unpack_frames(upload, folder / "frames", self.max_upload_bytes, name)
            upload.unlink()
        else:
            source = folder / ("video" + (suffix or ".bin"))
            upload.replace(source)
        return self._add(probe_clip(clip_id, name, folder, source))

    def sample(self) -> Clip:
        """The bundled sample clip (``mixformerv2 demo``'s): made once into ``root/sample/``, with its ground
        truth."""
        with self._sample_lock:
            if self._sample is None:
                from ..data.sample_clip import sample_clip
                from ..tracking.annotate import AnnotatedVideoWriter

                clip = sample_clip()
                folder = self.root / "sample"
                folder.mkdir(parents=True, exist_ok=True)
                writer = AnnotatedVideoWriter(folder / "clip.mp4", clip.fps, clip.size)
                try:
                    for frame in clip.frames():
                        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                finally:
                    writer.close()
                atomic_write_text(folder / "groundtruth.txt", clip.groundtruth_text())
                probed = probe_clip("sample", f"sample clip ({clip.name})", folder, folder / "clip.mp4")
                probed.groundtruth = np.asarray(clip.boxes, dtype=np.float64)
                self._sample = self._add(probed)
            return self._sample


def check_boxes(boxes: Sequence[Sequence[float]], width: int, height: int, max_targets: int = 16) -> List[List[float]]:
    """The initial boxes (x, y, w, h px) as floats, each at least 2 px wide and high and inside the
    ``width`` x ``height`` frame (half a pixel of slack); UploadError naming the box otherwise."""
    if not isinstance(boxes, (list, tuple)) or not boxes:
        raise UploadError("set at least one box on the first frame")
    if len(boxes) > max_targets:
        raise UploadError(f"{len(boxes)} boxes: this app tracks at most {max_targets} targets at once")
    checked = []
    for i, box in enumerate(boxes, 1):
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            raise UploadError(f"box {i} must be four numbers x, y, w, h") from None
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise UploadError(f"box {i} must be four finite numbers x, y, w, h")
        x, y, w, h = values
        if w < 2 or h < 2:
            raise UploadError(f"box {i} ({_fmt(values)}) is too small: at least 2 x 2 pixels")
        slack = 0.5
        if x < -slack or y < -slack or x + w > width + slack or y + h > height + slack:
            raise UploadError(f"box {i} ({_fmt(values)}) reaches outside the {width}x{height} frame")
        checked.append(values)
    return checked


def read_groundtruth_upload(upload: Path, name: str) -> np.ndarray:
    """An uploaded ground-truth file (one x,y,w,h line per frame; NaN or empty for absent) as (N, 4)."""
    from ..datasets.annotations import read_boxes

    try:
        boxes = read_boxes(upload)
    except (OSError, ValueError) as exc:
        raise UploadError(f"{name} is not a ground-truth file of x,y,w,h lines ({exc})") from None
    if len(boxes) == 0:
        raise UploadError(f"{name} holds no boxes")
    return boxes


def _fmt(values: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)
