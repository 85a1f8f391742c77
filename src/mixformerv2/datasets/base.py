"""Sequences and datasets shared by every benchmark reader.

A reader lists its sequences when opened (a directory walk) and reads nothing else until asked:
ground truth, flags and attributes on first access, frames one at a time. Readers that training also uses
(GOT-10k, LaSOT, TrackingNet) bind their loaders with ``functools.partial`` of module-level functions, so
their sequences pickle (the training data-loading workers receive them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence as Seq, Tuple

import numpy as np

from .images import list_images, read_image



class DatasetLayoutError(OSError):
    """The folder given does not hold the layout a reader expects; the message says what it expected."""


class FramesUnavailableError(OSError):
    """A sequence's frames cannot be found (e.g. an annotation-only layout)."""


def _cached(loader_attr: str, cache_attr: str):
    def getter(self):
        value = getattr(self, cache_attr)
        if value is None:
            loader = getattr(self, loader_attr)
            value = loader() if loader is not None else None
            setattr(self, cache_attr, value)
        return value
    return property(getter)


@dataclass(eq=False)
class Sequence:
    """One benchmark sequence. Annotations are loaded on first access and cached.

    ``ground_truth``: (N, 4) x, y, w, h in pixels (0-based or 1-based as the benchmark ships it; rows
    may be NaN where the target is absent). ``visible``: (N,) bool or None. ``cover``: GOT-10k visible
    ratio levels or None. ``attributes``: the benchmark's attribute codes that apply. ``image_size``:
    (width, height) in pixels where the benchmark records it (GOT-10k), else read from the first frame.
    ``frame_file``: frame i's (0-based) path by the layout's naming rule, without listing the folder
    (set by layouts whose frames are numbered files; the training readers use it).
    """
    name: str
    dataset: str
    load_ground_truth: Callable[[], np.ndarray]
    list_frames: Optional[Callable[[], List[Path]]] = None
    load_visible: Optional[Callable[[], Optional[np.ndarray]]] = None
    load_cover: Optional[Callable[[], Optional[np.ndarray]]] = None
    load_attributes: Optional[Callable[[], Tuple[str, ...]]] = None
    load_language: Optional[Callable[[], Optional[str]]] = None
    load_image_size: Optional[Callable[[], Optional[Tuple[int, int]]]] = None
    object_class: Optional[str] = None
    frame_file: Optional[Callable[[int], Path]] = None
    _ground_truth: Optional[np.ndarray] = field(default=None, repr=False)
    _frames: Optional[List[Path]] = field(default=None, repr=False)
    _visible: Optional[np.ndarray] = field(default=None, repr=False)
    _cover: Optional[np.ndarray] = field(default=None, repr=False)
    _attributes: Optional[Tuple[str, ...]] = field(default=None, repr=False)
    _language: Optional[str] = field(default=None, repr=False)
    _image_size: Optional[Tuple[int, int]] = field(default=None, repr=False)

    ground_truth = _cached("load_ground_truth", "_ground_truth")
    visible = _cached("load_visible", "_visible")
    cover = _cached("load_cover", "_cover")
    language = _cached("load_language", "_language")

    @property
    def attributes(self) -> Tuple[str, ...]:
        if self._attributes is None:
            self._attributes = tuple(self.load_attributes()) if self.load_attributes is not None else ()
        return self._attributes

    @property
    def frames(self) -> List[Path]:
        """Frame image paths in order; FramesUnavailableError when the layout has none."""
        if self._frames is None:
            if self.list_frames is None:
                raise FramesUnavailableError(f"{self.dataset} sequence {self.name}: this layout has annotations "
                                             f"only, no frames")
            self._frames = list(self.list_frames())
            if not self._frames:
                raise FramesUnavailableError(f"{self.dataset} sequence {self.name}: no frames found")
        return self._frames

    @property
    def init_box(self) -> np.ndarray:
        """The first frame's box (x, y, w, h, pixels), the tracker's initialisation."""
        return np.asarray(self.ground_truth[0], dtype=np.float64)

    @property
    def num_frames(self) -> int:
        """Number of frames (from the frame list when it exists, else from the ground truth)."""
        if self.list_frames is not None:
            return len(self.frames)
        return len(self.ground_truth)

    @property
    def has_full_ground_truth(self) -> bool:
        """False for test splits whose ground truth is only the first frame (GOT-10k, TrackingNet)."""
        return len(self.ground_truth) > 1 or self.num_frames == 1

    @property
    def image_size(self) -> Optional[Tuple[int, int]]:
        """(width, height) in pixels, from the benchmark's metadata or the first frame."""
        if self._image_size is None:
            size = self.load_image_size() if self.load_image_size is not None else None
            if size is None and self.list_frames is not None:
                image = read_image(self.frames[0])
                size = (int(image.shape[1]), int(image.shape[0]))
            self._image_size = size
        return self._image_size

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as an RGB uint8 array (H, W, 3)."""
        return read_image(self.frames[index])


@dataclass
class Dataset:
    """An ordered collection of sequences with the facts needed to score them.

    ``convention``: the scoring convention of ``metrics.CONVENTIONS`` this benchmark uses.
    ``attribute_names``: attribute code -> full name, for the per-attribute breakdown.
    ``results_layout``: ``flat`` (``<seq>.txt``) or ``got10k`` (``<seq>/<seq>_001.txt``).
    """
    name: str
    root: Path
    sequences: List[Sequence]
    convention: str = "ope"
    attribute_names: Dict[str, str] = field(default_factory=dict)
    results_layout: str = "flat"
    split: Optional[str] = None

    def __post_init__(self):
        self._by_name = {s.name: s for s in self.sequences}

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __getitem__(self, key) -> Sequence:
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                raise KeyError(f"{self.name} has no sequence {key!r}") from None
        return self.sequences[key]

    def names(self) -> List[str]:
        return [s.name for s in self.sequences]

    def select(self, names: Seq[str]) -> "Dataset":
        """The same dataset restricted to ``names`` (matched leniently, in the order given)."""
        index = NameIndex(self.names())
        missing, chosen = [], []
        for n in names:
            hit = index.find(n)
            if hit is None:
                missing.append(n)
            else:
                chosen.append(self._by_name[hit])
        if missing:
            raise ValueError(f"{self.name} has no sequence(s) {', '.join(missing[:10])}"
                             + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""))
        return Dataset(self.name, self.root, chosen, self.convention, self.attribute_names, self.results_layout,
                       self.split)


def normalize_name(name: str) -> str:
    """Lenient key for sequence names: case-folded, with '-', ' ' and '.' read as '_'
    (so ``Jogging-1`` matches ``jogging_1``)."""
    return re.sub(r"[-\s.]+", "_", name.strip()).casefold()


class NameIndex:
    """Finds a name among known names exactly, then leniently (``normalize_name``)."""

    def __init__(self, names: Seq[str]):
        self.exact = set(names)
        self.lenient: Dict[str, List[str]] = {}
        for n in names:
            self.lenient.setdefault(normalize_name(n), []).append(n)

    def find(self, name: str) -> Optional[str]:
        if name in self.exact:
            return name
        hits = self.lenient.get(normalize_name(name), [])
        if len(hits) > 1:
            raise ValueError(f"{name!r} matches several names: {', '.join(sorted(hits))}")
        return hits[0] if hits else None


def image_files(folder: Path) -> List[Path]:
    """Image files of a folder, in natural order (``2.jpg`` before ``10.jpg``)."""
    if not folder.is_dir():
        raise FramesUnavailableError(f"frame folder {folder} does not exist")
    return list_images(folder)


def numbered_frame(folder: Path, pattern: str, first: int, index: int) -> Path:
    """Path of frame ``index`` (0-based) where frames are numbered files: ``pattern`` formatted with
    ``index + first`` (``{:08d}.jpg`` from 1 for GOT-10k and LaSOT, ``{}.jpg`` from 0 for TrackingNet)."""
    return folder / pattern.format(index + first)


def sequence_folders(root: Path, marker: str = "groundtruth.txt",
                     nested_name: Optional[re.Pattern] = None) -> Dict[str, Path]:
    """Sequence name -> folder for the folders holding ``marker`` directly under ``root`` or one level down
    (inside a class or part folder), in sorted order; a nested folder must also match ``nested_name`` when
    given. DatasetLayoutError when ``root`` is not a folder."""
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    found = {}
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            continue
        if (child / marker).is_file():
            found[child.name] = child
            continue
        for inner in sorted(child.iterdir()):
            if inner.is_dir() and (inner / marker).is_file() and (nested_name is None or nested_name.match(inner.name)):
                found[inner.name] = inner
    return found


def read_text_or_none(path: Path) -> Optional[str]:
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace").strip()


def attribute_codes_loader(path: Path) -> Callable[[], Tuple[str, ...]]:
    """Loader of a sequence's attribute codes from a text file such as OTB's ``attrs.txt`` (codes separated
    by commas or white space, upper-cased); an absent file means no attributes."""
    def load() -> Tuple[str, ...]:
        text = read_text_or_none(path)
        return tuple(t.strip().upper() for t in re.split(r"[,;\s]+", text) if t.strip()) if text else ()
    return load


def read_list_file(path: Path) -> List[str]:
    """Non-empty stripped lines of a text file (sequence lists); DatasetLayoutError when it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"list file {path} does not exist")
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]


def flags_for(path: Path, n: Optional[int], what: str) -> np.ndarray:
    """0/1 flags of a file, checked against the expected count."""
    from .annotations import AnnotationError, read_flags

    flags = read_flags(path, what)
    if n is not None and len(flags) != n:
        raise AnnotationError(f"{path}: {len(flags)} {what} for {n} frames of ground truth")
    return flags
