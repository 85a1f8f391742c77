"""OpenCV's classic single-object trackers (opencv-contrib) behind the interface of ``mixformerv2.Tracker``.

They serve as baselines: ``OpenCVTracker("csrt").init(frame_rgb, (x, y, w, h))``, then ``update(frame)``
returns a ``TrackResult`` per frame, so the evaluation runner, ``mixformerv2 eval --tracker csrt`` and
``mixformerv2 compare`` run them exactly like the MixFormerV2 tracker (same frames, same timing).

Trackers that need no model files: CSRT, KCF and MIL (OpenCV's current API) and MOSSE, MedianFlow, Boosting
and TLD (``cv2.legacy``). One learned peer: NanoTrack V2 through OpenCV's ``TrackerNano`` (``nanotrack``), given
the folder that holds its two ONNX graphs (``backbone.onnx``, ``head.onnx``) by ``model_dir`` / ``--nanotrack``
or the ``MIXFORMERV2_NANOTRACK`` environment variable. The other network-based ones (GOTURN, DaSiamRPN, Vit)
are left out.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from ..datasets.images import as_rgb_frame
from .tracker import TrackResult, parse_boxes, check_box
from .backends import check_threads

# The name under which the package's own tracker is run by the evaluation tools.
MIXFORMER_TRACKER = "mixformerv2"


@dataclass(frozen=True)
class OpenCVTrackerInfo:
    """Where OpenCV keeps a tracker: ``module`` is "cv2" or "cv2.legacy", ``cls`` the class name
    (created with ``cls.create()``); ``legacy`` trackers take float boxes and return bool from init."""

    title: str
    module: str
    cls: str

    @property
    def legacy(self) -> bool:
        return self.module == "cv2.legacy"

    def factory(self) -> Optional[Callable[[], object]]:
        """``create`` of the tracker class, or None when this OpenCV build lacks it."""
        module = cv2 if self.module == "cv2" else getattr(cv2, "legacy", None)
        tracker_class = getattr(module, self.cls, None) if module is not None else None
        return getattr(tracker_class, "create", None)


# name -> where OpenCV keeps it (the modern API first where both exist)
OPENCV_TRACKERS: Dict[str, OpenCVTrackerInfo] = {
    "csrt": OpenCVTrackerInfo("CSRT (discriminative correlation filter with channel and spatial reliability)",
                              "cv2", "TrackerCSRT"),
    "kcf": OpenCVTrackerInfo("KCF (kernelized correlation filter)", "cv2", "TrackerKCF"),
    "mil": OpenCVTrackerInfo("MIL (multiple-instance learning)", "cv2", "TrackerMIL"),
    "mosse": OpenCVTrackerInfo("MOSSE (minimum output sum of squared error filter)", "cv2.legacy", "TrackerMOSSE"),
    "medianflow": OpenCVTrackerInfo("MedianFlow (forward-backward optical flow)", "cv2.legacy", "TrackerMedianFlow"),
    "boosting": OpenCVTrackerInfo("Boosting (online AdaBoost)", "cv2.legacy", "TrackerBoosting"),
    "tld": OpenCVTrackerInfo("TLD (tracking-learning-detection)", "cv2.legacy", "TrackerTLD"),
}
NANOTRACK = "nanotrack"
NANOTRACK_ENV = "MIXFORMERV2_NANOTRACK"
# NanoTrack V2's graphs as OpenCV's TrackerNano runs them: (input shapes, output shapes) of each file.
NANOTRACK_V2_GRAPHS = {
    "backbone.onnx": ([(1, 3, 255, 255)], [(1, 48, 16, 16)]),
    "head.onnx": ([(1, 48, 8, 8), (1, 48, 16, 16)], [(1, 2, 16, 16), (1, 4, 16, 16)]),
}
OPENCV_TRACKERS[NANOTRACK] = OpenCVTrackerInfo("NanoTrack V2 (MobileNetV3 Siamese tracker, trained on real video)",
                                               "cv2", "TrackerNano")
_ALIASES = {"nano": NANOTRACK, "nanotrackv2": NANOTRACK, "nanotrack_v2": NANOTRACK, "nanotrack-v2": NANOTRACK,
            "median_flow": "medianflow", "median-flow": "medianflow", "mixformer": MIXFORMER_TRACKER,
            "mixformer-v2": MIXFORMER_TRACKER, "mixformer_v2": MIXFORMER_TRACKER}


def available_opencv_trackers() -> List[str]:
    """Names of the OpenCV trackers this OpenCV build provides (a subset of OPENCV_TRACKERS)."""
    return [name for name, info in OPENCV_TRACKERS.items() if info.factory() is not None]


def tracker_names() -> List[str]:
    """Every tracker the evaluation tools can run: the MixFormerV2 tracker, then the OpenCV ones available."""
    return [MIXFORMER_TRACKER] + available_opencv_trackers()


def canonical_tracker_name(name: str) -> str:
    """``"CSRT"`` -> ``"csrt"``, ``"mixformer"`` -> ``"mixformerv2"``; ValueError naming the known trackers
    for an unknown one, or for an OpenCV tracker this OpenCV build lacks."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key == MIXFORMER_TRACKER:
        return key
    if key in OPENCV_TRACKERS:
        if OPENCV_TRACKERS[key].factory() is None:
            raise ValueError(f"OpenCV {cv2.__version__} has no {OPENCV_TRACKERS[key].module}."
                             f"{OPENCV_TRACKERS[key].cls} (install opencv-contrib-python-headless); available "
                             f"trackers: {', '.join(tracker_names())}")
        return key
    raise ValueError(f"unknown tracker {name!r}; known: {', '.join(tracker_names())}")


def set_opencv_threads(threads: Optional[int]) -> None:
    """``cv2.setNumThreads(threads)`` (process-wide: OpenCV's parallel loops); None leaves it as it is."""
    if threads is None:
        return
    cv2.setNumThreads(check_threads(threads))


class NanoTrackFilesError(ValueError):
    """NanoTrack's ONNX files are missing, of another version, or corrupt (the message names the file)."""


@dataclass(frozen=True)
class NanoTrackFiles:
    """The two ONNX graphs of NanoTrack V2 (checked: present, readable, V2's input and output shapes)."""

    backbone: Path
    head: Path

    def digests(self) -> Dict[str, str]:
        """SHA-256 of each file (what decides the tracker's boxes, with OpenCV's version)."""
        return {name: hashlib.sha256(path.read_bytes()).hexdigest()
                for name, path in (("backbone_sha256", self.backbone), ("head_sha256", self.head))}


def nanotrack_files(model_dir: Union[str, os.PathLike, None] = None) -> NanoTrackFiles:
    """NanoTrack V2's graphs in ``model_dir`` (else the folder ``$MIXFORMERV2_NANOTRACK`` names): a folder
    holding ``backbone.onnx`` and ``head.onnx`` (e.g. ``../shared/models/nanotrack/v2``). NanoTrackFilesError
    names the file and what was expected when a file is missing, unreadable, or of another version (V3's head
    gives a 15x15 grid, OpenCV's TrackerNano needs V2's 16x16)."""
    where = "--nanotrack"
    if model_dir is None:
        model_dir = os.environ.get(NANOTRACK_ENV) or None
        where = NANOTRACK_ENV
    if model_dir is None:
        raise NanoTrackFilesError(f"the nanotrack tracker needs NanoTrack V2's ONNX files: give the folder holding "
                                  f"backbone.onnx and head.onnx with --nanotrack DIR (Python: model_dir=DIR) or "
                                  f"set {NANOTRACK_ENV}=DIR")
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise NanoTrackFilesError(f"NanoTrack folder {folder} ({where}) does not exist; it must hold NanoTrack "
                                  f"V2's backbone.onnx and head.onnx")
    paths = {}
    for name, (inputs, outputs) in NANOTRACK_V2_GRAPHS.items():
        path = folder / name
        if not path.is_file():
            raise NanoTrackFilesError(f"NanoTrack file {path} does not exist ({where} names {folder}); expected "
                                      f"NanoTrack V2's {name}")
        got_inputs, got_outputs = _onnx_shapes(path)
        if (got_inputs, got_outputs) != (inputs, outputs):
            raise NanoTrackFilesError(f"{path} is not NanoTrack V2's {name}: its graph maps {got_inputs} to "
                                      f"{got_outputs}, V2's maps {inputs} to {outputs} (V3 does not run in OpenCV's "
                                      f"TrackerNano)")
        paths[name] = path
    return NanoTrackFiles(paths["backbone.onnx"], paths["head.onnx"])


def _onnx_shapes(path: Path) -> Tuple[List[Tuple[int, ...]], List[Tuple[int, ...]]]:
    """(input shapes, output shapes) declared by an ONNX graph; NanoTrackFilesError when it is not one."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for corrupt files
        raise NanoTrackFilesError(f"{path} is not a readable ONNX graph (corrupt or another file): "
                                  f"{type(exc).__name__}") from None
    initializers = {i.name for i in graph.initializer}

    def shapes(values) -> List[Tuple[int, ...]]:
        return [tuple(d.dim_value for d in v.type.tensor_type.shape.dim) for v in values if v.name not in initializers]

    return shapes(graph.input), shapes(graph.output)


def pixel_rect(box, width: int, height: int) -> Tuple[int, int, int, int]:
    """The integer rectangle (x, y, w, h pixels) OpenCV trackers are initialised with: the box's corners
    rounded to the nearest pixel and clipped to the ``width`` x ``height`` frame. ValueError when less
    than one pixel of the box lies in the frame."""
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, int(math.floor(x + 0.5))), max(0, int(math.floor(y + 0.5)))
    x1, y1 = min(width, int(math.floor(x + w + 0.5))), min(height, int(math.floor(y + h + 0.5)))
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValueError(f"box ({x:g}, {y:g}, {w:g}, {h:g}) covers less than one pixel of the {width}x{height} "
                         f"frame once rounded to whole pixels")
    return x0, y0, x1 - x0, y1 - y0


class OpenCVTracker:
    """One of OpenCV's trackers (``name`` from ``available_opencv_trackers()``) with the interface of
    ``mixformerv2.Tracker``: ``init(frame, box)`` once, then ``update(frame)`` per frame.

    Frames are RGB uint8 (H, W, 3) like everywhere in this package (grayscale, RGBA and 16-bit are
    converted, as by ``Tracker``); ``bgr=True`` says they are in OpenCV's B, G, R order already. They are
    handed to OpenCV in BGR order. Boxes are (x, y, w, h) in pixels: the initial box is rounded to whole
    pixels and clipped to the frame (``pixel_rect``), since OpenCV trackers take integer rectangles.

    ``update`` returns a ``TrackResult``: ``box`` as OpenCV reports it (x, y, w, h px; not clipped to the
    frame), ``score`` 1.0 when OpenCV reports success and 0.0 when it reports a failure (OpenCV gives no
    confidence), ``time`` the seconds of OpenCV's update (the conversion of the frame to BGR, which a caller
reading frames with OpenCV would not need, is left out, as decoding is). **A failed update
    keeps the previous box** (OpenCV then returns an empty or meaningless rectangle); an exception raised
    inside OpenCV's update counts as a failure too. Several boxes given to ``init`` track several targets,
    one OpenCV tracker each, and ``update`` returns a list of results whose ``time`` is the whole step.

    ``threads``: ``cv2.setNumThreads`` (process-wide) so that speed comparisons use the same thread count.
    """

    def __init__(self, name: str, threads: Optional[int] = None, bgr: bool = False,
                 model_dir: Union[str, os.PathLike, None] = None):
        key = canonical_tracker_name(name)
        if key == MIXFORMER_TRACKER:
            raise ValueError(f"{key!r} is not an OpenCV tracker; use mixformerv2.Tracker")
        self.name = key
        self.info = OPENCV_TRACKERS[key]
        self.files = nanotrack_files(model_dir) if key == NANOTRACK else None
        self.bgr = bgr
        set_opencv_threads(threads)
        self.threads = threads
        self._trackers: List[object] = []
        self._boxes: List[Tuple[float, float, float, float]] = []
        self._single = True
        self._frame_index = 0
        self.failures = 0

    def __repr__(self) -> str:
        return f"OpenCVTracker({self.name!r}, threads={self.threads})"

    @property
    def num_targets(self) -> int:
        return len(self._trackers)

    @property
    def frame_index(self) -> int:
        """Frames tracked since init (0 right after init)."""
        return self._frame_index

    @property
    def boxes(self) -> List[Tuple[float, float, float, float]]:
        """Current box of every target, (x, y, w, h) pixels."""
        return list(self._boxes)

    def _bgr(self, frame) -> np.ndarray:
        image = as_rgb_frame(frame)      # validates; any layout to 3 channels uint8, channel order kept
        return image if self.bgr else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)

    def _factory(self) -> Callable[[], object]:
        return _nano_factory(self.files) if self.files is not None else self.info.factory()

    def identity(self) -> Dict[str, object]:
        """What decides this tracker's boxes: its name, OpenCV's version and, for NanoTrack, its files' digests."""
        identity: Dict[str, object] = {"tracker": self.name, "opencv": cv2.__version__}
        if self.files is not None:
            identity.update(self.files.digests())
        return identity

    def init(self, frame, box) -> None:
        """Start tracking in ``frame`` (RGB uint8) from ``box`` (x, y, w, h px) or a list of boxes.
        ValueError for a box that is non-finite, has non-positive size, lies outside the frame, or that
        OpenCV refuses."""
        image = self._bgr(frame)
        boxes, single = parse_boxes(box)
        height, width = image.shape[:2]
        rects = []
        for i, b in enumerate(boxes):
            check_box(b, width, height, name="box" if single else f"box {i + 1}")
            rects.append(pixel_rect(b, width, height))
        factory = self._factory()
        trackers = []
        for rect in rects:
            tracker = factory()
            try:
                ok = tracker.init(image, rect)
            except cv2.error as exc:
                raise ValueError(f"OpenCV {self.name} tracker refused the box {rect} in a {width}x{height} frame: "
                                 f"{_short(exc)}") from None
            if ok is False:   # legacy trackers return False when they cannot start
                raise ValueError(f"OpenCV {self.name} tracker could not initialise on the box {rect} "
                                 f"(x, y, w, h px) in a {width}x{height} frame")
            trackers.append(tracker)
        self._trackers, self._single = trackers, single
        self._boxes = [tuple(float(v) for v in b) for b in boxes]
        self._frame_index = 0
        self.failures = 0

    def update(self, frame) -> Union[TrackResult, List[TrackResult]]:
        """Track the targets into the next frame: a TrackResult (a list for several targets)."""
        if not self._trackers:
            raise RuntimeError("call init(frame, box) before update(frame)")
        image = self._bgr(frame)       # the frame in OpenCV's order, like decoding: not part of the step
        start = time.perf_counter()
        scores = []
        for i, tracker in enumerate(self._trackers):
            try:
                ok, rect = tracker.update(image)
            except cv2.error:
                ok, rect = False, None
            new_box = _valid_box(rect) if ok else None
            if new_box is None:
                self.failures += 1
                scores.append(0.0)
            else:
                self._boxes[i] = new_box
                scores.append(float(tracker.getTrackingScore()) if self.files is not None else 1.0)
        elapsed = time.perf_counter() - start
        self._frame_index += 1
        results = [TrackResult(b, s, elapsed) for b, s in zip(self._boxes, scores)]
        return results[0] if self._single else results


def _nano_factory(files: NanoTrackFiles) -> Callable[[], object]:
    def create():
        params = cv2.TrackerNano_Params()
        params.backbone = str(files.backbone)
        params.neckhead = str(files.head)
        logging = cv2.utils.logging
        level = logging.getLogLevel()
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)  # OpenCV's DNN warns about targets on every load
        try:
            return cv2.TrackerNano_create(params)
        except cv2.error as exc:
            raise NanoTrackFilesError(f"OpenCV could not load NanoTrack from {files.backbone} and {files.head}: "
                                      f"{_short(exc)}") from None
        finally:
            logging.setLogLevel(level)
    return create


def _valid_box(rect) -> Optional[Tuple[float, float, float, float]]:
    """The rectangle as a float box, or None when it is not a usable box (empty, NaN)."""
    try:
        box = tuple(float(v) for v in rect)
    except (TypeError, ValueError):
        return None
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        return None
    return box


def _short(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


__all__ = ["MIXFORMER_TRACKER", "NANOTRACK", "NANOTRACK_ENV", "NanoTrackFiles", "NanoTrackFilesError", "OPENCV_TRACKERS", "OpenCVTracker", "OpenCVTrackerInfo", "available_opencv_trackers",
           "canonical_tracker_name", "nanotrack_files", "pixel_rect", "set_opencv_threads", "tracker_names"]
