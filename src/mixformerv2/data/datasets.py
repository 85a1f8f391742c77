"""Readers for the training splits of GOT-10k, LaSOT, TrackingNet and COCO 2017, in their native layouts,
and ``build_dataset`` that makes any training dataset (these or the synthetic one) from a config entry.

GOT-10k, LaSOT and TrackingNet are read by the evaluation readers (``evaluation.datasets``: one definition
of each layout and annotation format); the classes here choose the training sequences and turn a sequence's
flags into the sampler's visibility. Boxes are x, y, w, h in pixels as each dataset ships them. Annotations
are read when a sequence is first used (and cached per process in a small LRU cache), so opening a dataset
only lists its sequences.
"""
from __future__ import annotations

import fnmatch
import json
import logging
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..datasets import DatasetLayoutError, open_dataset
from ..datasets import Sequence as BenchmarkSequence
from ..datasets.base import read_list_file
from ..datasets.images import read_image
from .base import LRUCache, SequenceAnnotations, TrackingDataset

log = logging.getLogger(__name__)

# A dataset folder that is missing or does not hold its layout, or annotations that cannot be used: one
# error for the training and the evaluation readers (an OSError, which the sampler logs and redraws on).
DatasetError = DatasetLayoutError


def select_sequences(names: List[str], split_file: Optional[str], exclude_file: Optional[str],
                     where: str) -> List[str]:
    """``names`` restricted to ``split_file`` and without the sequences ``exclude_file`` names.

    A split file lists one entry per line: sequence names, or integer indices into ``names`` (the layout
    of GOT-10k's ``got10k_vot_train_split.txt``). DatasetError for entries that are not in ``names`` and
    when nothing is left; ``where`` names the dataset in those messages.
    """
    if split_file:
        entries = read_list_file(Path(split_file))
        if all(e.isdigit() for e in entries):
            bad = [e for e in entries if int(e) >= len(names)]
            if bad:
                raise DatasetError(f"split file {split_file} has indices {bad[:5]} beyond the {len(names)} "
                                   f"sequences of {where}")
            names = [names[int(e)] for e in entries]
        else:
            known = set(names)
            missing = [e for e in entries if e not in known]
            if missing:
                raise DatasetError(f"split file {split_file} names sequences not in {where}: {missing[:5]}")
            names = entries
    if exclude_file:
        excluded = set(read_list_file(Path(exclude_file)))
        names = [n for n in names if n not in excluded]
    if not names:
        raise DatasetError(f"{where}: no sequences selected")
    return names


def match_names(names: List[str], include: Union[str, Sequence[str], None], exclude: Union[str, Sequence[str], None],
                where: str) -> List[str]:
    """``names`` that match one of the shell patterns of ``include`` (all when None) and none of ``exclude``
    (e.g. ``include: "davis-*"`` to give one source of a mixed folder its own sampling ratio). DatasetError
    when nothing is left."""
    def patterns(value) -> List[str]:
        return [value] if isinstance(value, str) else list(value or [])

    keep = [n for n in names if not patterns(include) or any(fnmatch.fnmatchcase(n, p) for p in patterns(include))]
    keep = [n for n in keep if not any(fnmatch.fnmatchcase(n, p) for p in patterns(exclude))]
    if not keep:
        raise DatasetError(f"{where}: no sequence matches include {patterns(include)} / exclude {patterns(exclude)}")
    return keep


class BenchmarkTrackingDataset(TrackingDataset):
    """Training view of benchmark sequences opened by an evaluation reader.

    Annotations come from each sequence's own loaders (not its unbounded cache) through an LRU cache; a
    frame is visible when the sequence does not flag it absent (absence, full occlusion, out of view),
    its cover level (GOT-10k) is above 0, and its box is valid. Frames are read by their file names
    (the layout's numbering, without listing folders).
    """

    def __init__(self, sequences: List[BenchmarkSequence], where: str):
        without_frames = [s.name for s in sequences if s.frame_file is None]
        if without_frames:
            raise DatasetError(f"{where}: sequence(s) {', '.join(without_frames[:5])} have annotations only, no "
                               f"frames to train on")
        self.sequences = sequences
        self._annos: LRUCache[int, SequenceAnnotations] = LRUCache(512)

    def __len__(self) -> int:
        return len(self.sequences)

    def sequence_name(self, index: int) -> str:
        return self.sequences[index].name

    def annotations(self, index: int) -> SequenceAnnotations:
        def load() -> SequenceAnnotations:
            seq = self.sequences[index]
            boxes = seq.load_ground_truth()
            not_absent = seq.load_visible() if seq.load_visible is not None else None
            cover = seq.load_cover() if seq.load_cover is not None else None
            visible = np.ones(len(boxes), bool)
            for flags in (not_absent, None if cover is None else cover > 0):
                if flags is not None:  # a short flag file leaves the frames after it visible
                    visible[: len(flags)] &= flags[: len(boxes)]
            return SequenceAnnotations(boxes, visible)

        return self._annos.get(index, load)

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        frame_file = self.sequences[index].frame_file
        return [read_image(frame_file(int(t))) for t in frame_ids]


class GOT10k(BenchmarkTrackingDataset):
    """GOT-10k train split: ``root/<seq>/00000001.jpg``, ``groundtruth.txt``, ``absence.label``, ``cover.label``.

    ``root`` is the ``train`` folder (or the GOT-10k root holding it). The sequences are those in
    ``list.txt`` (else the sorted sequence folders). ``split_file`` restricts them: one entry per line,
    either a sequence name or an integer index into that list (the layout of the widely used
    ``got10k_vot_train_split.txt`` and ``got10k_vot_val_split.txt``, which remove the sequences that
    overlap VOT). ``exclude_file`` removes the sequences it names (e.g. ``got10k_vot_exclude.txt``);
    ``include`` / ``exclude`` keep or drop names by shell patterns (``davis-*``); ``split`` picks another split
    folder of the same layout (``val``). A frame is visible when it is not marked absent, its cover label is
    > 0 and its box is valid.
    """

    name = "got10k"

    def __init__(self, root: str, split_file: Optional[str] = None, exclude_file: Optional[str] = None,
                 include: Union[str, Sequence[str], None] = None, exclude: Union[str, Sequence[str], None] = None,
                 split: str = "train"):
        dataset = open_dataset("got10k", root, split)
        self.root = dataset.root
        where = f"GOT-10k at {self.root}"
        names = select_sequences(dataset.names(), split_file, exclude_file, where)
        names = match_names(names, include, exclude, where)
        super().__init__([dataset[n] for n in names], where)


class LaSOT(BenchmarkTrackingDataset):
    """LaSOT: ``root/<class>/<class>-<k>/img/00000001.jpg``, ``groundtruth.txt``, ``full_occlusion.txt``,
    ``out_of_view.txt`` (our synthetic benchmarks use the same layout).

    The sequences are those listed in ``split_file`` (e.g. the official ``training_set.txt``), else those
    in ``root/training_set.txt`` when present, else every sequence found; ``exclude_file`` (e.g. the
    toolkit's ``testing_set.txt``) removes sequences. A frame is visible when it is neither fully occluded
    nor out of view and its box is valid.
    """

    name = "lasot"

    def __init__(self, root: str, split_file: Optional[str] = None, exclude_file: Optional[str] = None):
        dataset = open_dataset("lasot", root, "all")
        self.root = dataset.root
        if split_file is None and (self.root / "training_set.txt").is_file():
            split_file = str(self.root / "training_set.txt")
        if not split_file:
            log.info("LaSOT at %s: no split file, using all %d sequences found", self.root, len(dataset))
        where = f"LaSOT at {self.root}"
        # sorted by name, as training always ordered them (the evaluation reader orders cat-2 before cat-10)
        names = select_sequences(sorted(dataset.names()), split_file, exclude_file, where)
        super().__init__([dataset[n] for n in names], where)


class TrackingNet(BenchmarkTrackingDataset):
    """TrackingNet training chunks: ``root/TRAIN_<k>/anno/<seq>.txt`` and ``root/TRAIN_<k>/frames/<seq>/<i>.jpg``
    (frames numbered from 0). ``chunks`` selects the TRAIN_<k> folders (default: all present)."""

    name = "trackingnet"

    def __init__(self, root: str, chunks: Optional[Sequence[int]] = None):
        split = "train" if chunks is None else ",".join(str(int(k)) for k in chunks)
        dataset = open_dataset("trackingnet", root, split)
        self.root = dataset.root
        if not len(dataset):
            raise DatasetError(f"TrackingNet at {self.root}: no sequences found")
        super().__init__(dataset.sequences, f"TrackingNet at {self.root}")


class COCO(TrackingDataset):
    """COCO 2017 objects as one-frame "sequences": ``root/annotations/instances_<split>.json`` and
    ``root/<split>/<file_name>``. Crowd annotations and objects smaller than ``min_area`` pixels are
    skipped. Boxes are COCO's x, y, w, h."""

    name = "coco"
    is_video = False

    def __init__(self, root: str, split: str = "train2017", min_area: float = 0.0):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(f"COCO folder {self.root} does not exist")
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
        image = read_image(self.image_dir / self.objects[index][0])
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
