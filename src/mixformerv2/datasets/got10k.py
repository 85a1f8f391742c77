"""GOT-10k: ``<root>/{train,val,test}/<GOT-10k_Split_000001>/`` with ``00000001.jpg ...``,
``groundtruth.txt`` (x, y, w, h px; the test split has the first frame only), ``absence.label``,
``cover.label`` (visible-ratio levels 0-8, 0 = invisible), ``meta_info.ini`` (``resolution: (w, h)``) and
a ``list.txt`` per split. ``root`` may also be one split's folder.
"""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .annotations import AnnotationError, read_boxes
from .base import Dataset, DatasetLayoutError, Sequence, flags_for, image_files, numbered_frame, read_list_file

SPLITS = ("train", "val", "test")


def _is_split_folder(folder: Path) -> bool:
    return (folder / "list.txt").is_file() or any(p.is_dir() and p.name.startswith("GOT-10k_") for p in folder.iterdir())


def open_got10k(root: Path, split: Optional[str] = None) -> Dataset:
    """``split``: train, val or test (default: val); ignored when ``root`` is a split folder itself."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    if _is_split_folder(root):
        folder = root
        split = root.name.lower() if root.name.lower() in SPLITS else split
    else:
        split = (split or "val").lower()
        if split not in SPLITS:
            raise ValueError(f"unknown GOT-10k split {split!r}: use train, val or test")
        folder = next((p for p in root.iterdir() if p.is_dir() and p.name.lower() == split), None)
        if folder is None or not _is_split_folder(folder):
            raise DatasetLayoutError(f"{root} is not a GOT-10k root: expected {split}/list.txt and "
                                     f"{split}/GOT-10k_*/groundtruth.txt (or pass the split folder itself)")
    if (folder / "list.txt").is_file():
        names = read_list_file(folder / "list.txt")
    else:
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "groundtruth.txt").is_file())
    missing = [n for n in names if not (folder / n).is_dir()]
    if missing:
        raise DatasetLayoutError(f"{folder / 'list.txt'} lists sequence folder(s) that do not exist: "
                                 f"{', '.join(missing[:10])}")
    return Dataset("got10k", root, [_sequence(folder / n) for n in names], convention="got10k",
                   results_layout="got10k", split=split)


def _meta(folder: Path) -> dict:
    path = folder / "meta_info.ini"
    meta = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip()
    return meta


def _image_size(folder: Path) -> Optional[Tuple[int, int]]:
    text = _meta(folder).get("resolution")
    if not text:
        return None
    numbers = re.findall(r"\d+(?:\.\d+)?", text)
    if len(numbers) != 2:
        raise AnnotationError(f"{folder / 'meta_info.ini'}: resolution {text!r} is not (width, height)")
    return int(float(numbers[0])), int(float(numbers[1]))


def _visible(folder: Path) -> Optional[np.ndarray]:
    path = folder / "absence.label"
    return flags_for(path, None, "absence flags") == 0 if path.is_file() else None


def _cover(folder: Path) -> Optional[np.ndarray]:
    path = folder / "cover.label"
    return flags_for(path, None, "cover levels") if path.is_file() else None


def _sequence(folder: Path) -> Sequence:
    return Sequence(folder.name, "got10k", partial(read_boxes, folder / "groundtruth.txt"),
                    list_frames=partial(image_files, folder), load_visible=partial(_visible, folder),
                    load_cover=partial(_cover, folder), load_image_size=partial(_image_size, folder),
                    frame_file=partial(numbered_frame, folder, "{:08d}.jpg", 1))
