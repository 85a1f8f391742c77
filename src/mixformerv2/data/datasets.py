"""Readers for the training splits of GOT-10k, LaSOT, TrackingNet and COCO 2017, in their native layouts,
and ``build_dataset`` that makes any training dataset (these or the synthetic one) from a config entry.

Boxes are x, y, w, h in pixels as each dataset ships them. Annotations are read when a sequence is first
used (and cached per process), so opening a dataset only lists its sequences.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

import cv2
import numpy as np

from .base import LRUCache, SequenceAnnotations, TrackingDataset

log = logging.getLogger(__name__)


class DatasetError(OSError):
    """A dataset folder or its annotations are missing or malformed."""


def read_rgb_file(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot read frame {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_boxes(path: Path) -> np.ndarray:
    """x, y, w, h rows separated by commas, tabs or spaces; 'NaN' allowed. Returns (N, 4) float64."""
    try:
        rows = [line.replace(",", " ").replace("\t", " ").split() for line in path.read_text().splitlines()
                if line.strip()]
        boxes = np.array(rows, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read boxes from {path}: {exc}") from None
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DatasetError(f"{path} must have 4 numbers (x, y, w, h) per line, got shape {boxes.shape}")
    return boxes


def read_flags(path: Path) -> np.ndarray:
    """0/1 (or small integer) values separated by commas or newlines -> int array."""
    try:
        return np.array(path.read_text().replace(",", " ").split(), dtype=np.float64).astype(np.int64)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read flags from {path}: {exc}") from None


def read_name_list(path: Path) -> List[str]:
    if not Path(path).is_file():
        raise DatasetError(f"split list {path} does not exist")
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


def _require_dir(root: Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{what} folder {root} does not exist")
    return root


class GOT10k(TrackingDataset):
    """GOT-10k train split: ``root/<seq>/00000001.jpg``, ``groundtruth.txt``, ``absence.label``, ``cover.label``.

    ``root`` is the ``train`` folder. The sequences are those in ``root/list.txt`` (else the sorted
    folders). ``split_file`` restricts them: one entry per line, either a sequence name or an integer index
    into that list (the layout of the widely used ``got10k_vot_train_split.txt`` and
    ``got10k_vot_val_split.txt``, which remove the sequences that overlap VOT). ``exclude_file`` removes
    the sequences it names (e.g. ``got10k_vot_exclude.txt``). A frame is visible when it is not marked
    absent, its cover label is > 0 and its box is valid.
    """

    name = "got10k"

    def __init__(self, root: str, split_file: Optional[str] = None, exclude_file: Optional[str] = None):
        self.root = _require_dir(Path(root), "GOT-10k")
        list_file = self.root / "list.txt"
        names = read_name_list(list_file) if list_file.is_file() else sorted(
            p.name for p in self.root.iterdir() if p.is_dir())
        if split_file:
            entries = read_name_list(Path(split_file))
            if all(e.isdigit() for e in entries):
                bad = [e for e in entries if int(e) >= len(names)]
                if bad:
                    raise DatasetError(f"split file {split_file} has indices {bad[:5]} beyond the {len(names)} "
                                       f"sequences of {self.root}")
                names = [names[int(e)] for e in entries]
            else:
                known = set(names)
                missing = [e for e in entries if e not in known]
                if missing:
                    raise DatasetError(f"split file {split_file} names sequences not in {self.root}: {missing[:5]}")
                names = entries
        if exclude_file:
            excluded = set(read_name_list(Path(exclude_file)))
            names = [n for n in names if n not in excluded]
        if not names:
            raise DatasetError(f"GOT-10k at {self.root}: no sequences selected")
        self.names = names
        self._annos: LRUCache[int, SequenceAnnotations] = LRUCache(512)

    def __len__(self) -> int:
        return len(self.names)

    def sequence_name(self, index: int) -> str:
        return self.names[index]

    def annotations(self, index: int) -> SequenceAnnotations:
        def load() -> SequenceAnnotations:
            folder = self.root / self.names[index]
            boxes = read_boxes(folder / "groundtruth.txt")
            visible = np.ones(len(boxes), bool)
            if (folder / "absence.label").is_file():
                visible &= read_flags(folder / "absence.label")[: len(boxes)] == 0
            if (folder / "cover.label").is_file():
                visible &= read_flags(folder / "cover.label")[: len(boxes)] > 0
            return SequenceAnnotations(boxes, visible)

        return self._annos.get(index, load)

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        folder = self.root / self.names[index]
        return [read_rgb_file(folder / f"{int(t) + 1:08d}.jpg") for t in frame_ids]


class LaSOT(TrackingDataset):
    """LaSOT: ``root/<class>/<class>-<k>/img/00000001.jpg``, ``groundtruth.txt``, ``full_occlusion.txt``,
    ``out_of_view.txt`` (our synthetic benchmarks use the same layout).

    The sequences are those listed in ``split_file`` (e.g. the official ``training_set.txt``), else those
    in ``root/training_set.txt`` when present, else every sequence found; ``exclude_file`` (e.g. the
    toolkit's ``testing_set.txt``) removes sequences. A frame is visible when it is neither fully occluded
    nor out of view and its box is valid.
    """

    name = "lasot"

    def __init__(self, root: str, split_file: Optional[str] = None, exclude_file: Optional[str] = None):
        self.root = _require_dir(Path(root), "LaSOT")
        if split_file is None and (self.root / "training_set.txt").is_file():
            split_file = str(self.root / "training_set.txt")
        if split_file:
            names = read_name_list(Path(split_file))
        else:
            names = sorted(p.parent.name for p in self.root.glob("*/*/groundtruth.txt"))
            log.info("LaSOT at %s: no split file, using all %d sequences found", self.root, len(names))
        if exclude_file:
            excluded = set(read_name_list(Path(exclude_file)))
            names = [n for n in names if n not in excluded]
        if not names:
            raise DatasetError(f"LaSOT at {self.root}: no sequences selected")
        self.names = names
        self._annos: LRUCache[int, SequenceAnnotations] = LRUCache(512)

    def _folder(self, index: int) -> Path:
        name = self.names[index]
        return self.root / name.rsplit("-", 1)[0] / name

    def __len__(self) -> int:
        return len(self.names)

    def sequence_name(self, index: int) -> str:
        return self.names[index]

    def annotations(self, index: int) -> SequenceAnnotations:
        def load() -> SequenceAnnotations:
            folder = self._folder(index)
            boxes = read_boxes(folder / "groundtruth.txt")
            visible = np.ones(len(boxes), bool)
            for flag in ("full_occlusion.txt", "out_of_view.txt"):
                if (folder / flag).is_file():
                    values = read_flags(folder / flag)
                    visible[: len(values)] &= values[: len(boxes)] == 0
            return SequenceAnnotations(boxes, visible)

        return self._annos.get(index, load)

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        folder = self._folder(index) / "img"
        return [read_rgb_file(folder / f"{int(t) + 1:08d}.jpg") for t in frame_ids]


class TrackingNet(TrackingDataset):
    """TrackingNet training chunks: ``root/TRAIN_<k>/anno/<seq>.txt`` and ``root/TRAIN_<k>/frames/<seq>/<i>.jpg``
    (frames numbered from 0). ``chunks`` selects the TRAIN_<k> folders (default: all present)."""

    name = "trackingnet"

    def __init__(self, root: str, chunks: Optional[Sequence[int]] = None):
        self.root = _require_dir(Path(root), "TrackingNet")
        folders = [self.root / f"TRAIN_{k}" for k in chunks] if chunks is not None else sorted(
            self.root.glob("TRAIN_*"), key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else 0)
        self.items: List[tuple] = []
        for folder in folders:
            if not (folder / "anno").is_dir():
                raise DatasetError(f"TrackingNet chunk {folder} has no anno/ folder")
            self.items += [(folder, p.stem) for p in sorted((folder / "anno").glob("*.txt"))]
        if not self.items:
            raise DatasetError(f"TrackingNet at {self.root}: no sequences found")
        self._annos: LRUCache[int, SequenceAnnotations] = LRUCache(512)

    def __len__(self) -> int:
        return len(self.items)

    def sequence_name(self, index: int) -> str:
        return self.items[index][1]

    def annotations(self, index: int) -> SequenceAnnotations:
        def load() -> SequenceAnnotations:
            folder, name = self.items[index]
            boxes = read_boxes(folder / "anno" / f"{name}.txt")
            return SequenceAnnotations(boxes, np.ones(len(boxes), bool))

        return self._annos.get(index, load)

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        folder, name = self.items[index]
        return [read_rgb_file(folder / "frames" / name / f"{int(t)}.jpg") for t in frame_ids]


class COCO(TrackingDataset):
    """COCO 2017 objects as one-frame "sequences": ``root/annotations/instances_<split>.json`` and
    ``root/<split>/<file_name>``. Crowd annotations and objects smaller than ``min_area`` pixels are
    skipped. Boxes are COCO's x, y, w, h."""

    name = "coco"
    is_video = False

    def __init__(self, root: str, split: str = "train2017", min_area: float = 0.0):
        self.root = _require_dir(Path(root), "COCO")
        anno_file = self.root / "annotations" / f"instances_{split}.json"
        if not anno_file.is_file():
            raise DatasetError(f"COCO annotations {anno_file} do not exist")
        try:
            data = json.loads(anno_file.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read COCO annotations {anno_file}: {exc}") from None
        files = {img["id"]: img["file_name"] for img in data.get("images", [])}
        self.image_dir = self.root / split
        self.objects = [(files[a["image_id"]], tuple(float(v) for v in a["bbox"]), a["id"])
                        for a in data.get("annotations", [])
                        if not a.get("iscrowd", 0) and a["image_id"] in files and float(a.get("area", 0)) >= min_area
                        and a["bbox"][2] > 0 and a["bbox"][3] > 0]
        if not self.objects:
            raise DatasetError(f"COCO {anno_file}: no usable objects")

    def __len__(self) -> int:
        return len(self.objects)

    def sequence_name(self, index: int) -> str:
        return f"coco-{self.objects[index][2]}"

    def annotations(self, index: int) -> SequenceAnnotations:
        return SequenceAnnotations(np.array([self.objects[index][1]]), np.ones(1, bool))

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        image = read_rgb_file(self.image_dir / self.objects[index][0])
        return [image for _ in frame_ids]


DATASET_TYPES = {"got10k": GOT10k, "lasot": LaSOT, "trackingnet": TrackingNet, "coco": COCO}


def build_dataset(spec: Mapping[str, Any]) -> TrackingDataset:
    """A dataset from a config entry: ``{type: got10k|lasot|trackingnet|coco|synthetic, ...}``; the other
    keys are the reader's arguments (``root``, ``split_file``, ...) or, for ``synthetic``, SyntheticConfig
    fields. ``ratio`` (the sampling weight) is ignored here."""
    spec = dict(spec)
    spec.pop("ratio", None)
    kind = str(spec.pop("type", "")).lower()
    if kind == "synthetic":
        from .synthetic import SyntheticConfig, SyntheticTracking

        return SyntheticTracking(SyntheticConfig.from_dict(spec))
    if kind not in DATASET_TYPES:
        raise ValueError(f"unknown dataset type {kind!r}; types: {sorted(DATASET_TYPES) + ['synthetic']}")
    try:
        return DATASET_TYPES[kind](**spec)
    except TypeError as exc:
        raise ValueError(f"bad arguments for dataset {kind}: {exc}") from None
