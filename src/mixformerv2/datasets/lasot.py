"""LaSOT and LaSOT_ext: the dataset's class-folder layout and the evaluation toolkit's annotation-only layout.

Dataset layout: ``<root>/<class>/<class>-<n>/{groundtruth.txt, full_occlusion.txt, out_of_view.txt,
nlp.txt, img/00000001.jpg}`` (the class level may be absent). Toolkit layout: ``<root>/annos/<seq>.txt``,
``<root>/annos/absent/<seq>.txt`` (1 = target absent), optional ``<root>/annos/att/<seq>.txt`` and
``<root>/sequence_evaluation_config/testing_set.txt``. Ground truth is x, y, w, h in pixels, 1-based as
the benchmark ships it.
"""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from .annotations import AnnotationError, read_boxes
from .images import natural_key
from .base import (Dataset, DatasetLayoutError, Sequence, flags_for, image_files, numbered_frame, read_list_file,
                   read_text_or_none, sequence_folders)

# Attribute files hold 14 0/1 values in this order (the LaSOT toolkit's).
LASOT_ATTRIBUTES = {
    "IV": "Illumination Variation", "POC": "Partial Occlusion", "DEF": "Deformation", "MB": "Motion Blur",
    "CM": "Camera Motion", "ROT": "Rotation", "BC": "Background Clutter", "VC": "Viewpoint Change",
    "SV": "Scale Variation", "FOC": "Full Occlusion", "FM": "Fast Motion", "OV": "Out-of-View",
    "LR": "Low Resolution", "ARC": "Aspect Ratio Change",
}

_SEQUENCE_DIR = re.compile(r"^[A-Za-z0-9_]+-\d+$")  # class names may hold digits (photo names such as 2560x1600)
_SPLIT_FILES = ("testing_set.txt", "sequence_evaluation_config/testing_set.txt")


def open_lasot(root: Path, split: Optional[str] = None, name: str = "lasot") -> Dataset:
    """LaSOT (``name='lasot'``) or LaSOT_ext (``name='lasot_ext'``) in either layout.

    ``split``: None uses a ``testing_set.txt`` found in the root (the 280 test sequences) and otherwise
    every sequence; ``'test'`` requires that file; ``'all'`` takes every sequence; a path names a list file.
    """
    root = Path(root)
    if (root / "annos").is_dir() and any((root / "annos").glob("*.txt")):
        available = {p.stem: None for p in sorted((root / "annos").glob("*.txt"))}
        make = lambda seq: _toolkit_sequence(root, seq, name)  # noqa: E731
    else:
        dirs = sequence_folders(root, nested_name=_SEQUENCE_DIR)
        if not dirs:
            raise DatasetLayoutError(
                f"{root} is not a {_title(name)} root: expected <class>/<class>-<n>/groundtruth.txt (the dataset "
                f"layout) or annos/<seq>.txt with annos/absent/<seq>.txt (the evaluation toolkit layout)")
        available = dirs
        make = lambda seq: _dataset_sequence(root, available[seq], name)  # noqa: E731
    names = _select(root, list(available), split, name)
    missing = [n for n in names if n not in available]
    if missing:
        raise DatasetLayoutError(f"{root}: the split lists sequence(s) that are not there: {', '.join(missing[:10])}"
                                 + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""))
    return Dataset(name, root, [make(n) for n in names], convention="lasot", attribute_names=LASOT_ATTRIBUTES,
                   split=split)


def _title(name: str) -> str:
    return "LaSOT_ext" if name == "lasot_ext" else "LaSOT"


def _select(root: Path, available: List[str], split: Optional[str], name: str) -> List[str]:
    if split in (None, "test"):
        for rel in _SPLIT_FILES:
            path = root / rel
            if path.is_file():
                return read_list_file(path)
        if split == "test":
            raise DatasetLayoutError(f"{root}: split 'test' needs a list of test sequences at "
                                     f"{' or '.join(_SPLIT_FILES)} (or pass a list file as the split)")
        return sorted(available, key=natural_key)
    if split == "all":
        return sorted(available, key=natural_key)
    path = Path(split)
    if path.is_file():
        return read_list_file(path)
    raise ValueError(f"unknown {_title(name)} split {split!r}: use 'test', 'all' or a file listing sequences")




def _read_attributes(paths: Tuple[Path, ...]) -> Tuple[str, ...]:
    """The attribute codes of the first of ``paths`` that exists (14 0/1 flags in LASOT_ATTRIBUTES order)."""
    for path in paths:
        if path.is_file():
            flags = flags_for(path, None, "attribute flags")
            codes = list(LASOT_ATTRIBUTES)
            if len(flags) != len(codes):
                raise AnnotationError(f"{path}: {len(flags)} attribute flags, expected {len(codes)}")
            return tuple(c for c, f in zip(codes, flags) if f)
    return ()


def _toolkit_visible(absent_path: Path) -> Optional[np.ndarray]:
    if not absent_path.is_file():
        return None
    return flags_for(absent_path, None, "absent flags") == 0


def _toolkit_sequence(root: Path, seq: str, name: str) -> Sequence:
    return Sequence(seq, name, partial(read_boxes, root / "annos" / f"{seq}.txt"), list_frames=None,
                    load_visible=partial(_toolkit_visible, root / "annos" / "absent" / f"{seq}.txt"),
                    load_attributes=partial(_read_attributes, (root / "annos" / "att" / f"{seq}.txt",
                                                               root / "att" / f"{seq}.txt")),
                    object_class=seq.rsplit("-", 1)[0])


def _dataset_visible(folder: Path) -> Optional[np.ndarray]:
    """Not fully occluded and not out of view; None when neither flag file exists."""
    absent = None
    for path in (folder / "full_occlusion.txt", folder / "out_of_view.txt"):
        if path.is_file():
            flags = flags_for(path, None, "0/1 flags").astype(bool)
            absent = flags if absent is None else _same_length(absent, flags, path) | flags
    return None if absent is None else ~absent


def _dataset_sequence(root: Path, folder: Path, name: str) -> Sequence:
    return Sequence(folder.name, name, partial(read_boxes, folder / "groundtruth.txt"),
                    list_frames=partial(image_files, folder / "img"), load_visible=partial(_dataset_visible, folder),
                    load_attributes=partial(_read_attributes, (root / "annos" / "att" / f"{folder.name}.txt",
                                                               root / "att" / f"{folder.name}.txt",
                                                               folder / "attributes.txt")),
                    load_language=partial(read_text_or_none, folder / "nlp.txt"),
                    object_class=folder.name.rsplit("-", 1)[0],
                    frame_file=partial(numbered_frame, folder / "img", "{:08d}.jpg", 1))


def _same_length(a: np.ndarray, b: np.ndarray, path: Path) -> np.ndarray:
    if len(a) != len(b):
        raise AnnotationError(f"{path}: {len(b)} flags, but full_occlusion.txt has {len(a)}")
    return a
