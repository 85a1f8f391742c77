"""VOT short-term: ``<root>/list.txt`` and ``<root>/<seq>/groundtruth.txt`` (rectangles, 8-value polygons or
masks, each turned into its axis-aligned enclosing box x, y, w, h px), frames in ``<seq>/color/``,
``<seq>/img/`` or the sequence folder itself; an optional ``<seq>/attrs.txt`` lists attribute codes.
Scored one-pass (no re-initialisation)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .annotations import read_regions
from .base import Dataset, DatasetLayoutError, Sequence, attribute_codes_loader, image_files, read_list_file

# Where a sequence's frames may be, in order of preference (else the sequence folder itself).
FRAME_FOLDERS = ("color", "img", "imgs")


def open_vot(root: Path, split: Optional[str] = None) -> Dataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    if (root / "list.txt").is_file():
        names = read_list_file(root / "list.txt")
        absent = [n for n in names if not (root / n / "groundtruth.txt").is_file()]
        if absent:
            raise DatasetLayoutError(f"{root / 'list.txt'} lists sequence(s) without <seq>/groundtruth.txt: "
                                     f"{', '.join(absent[:10])}")
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "groundtruth.txt").is_file())
    if not names:
        raise DatasetLayoutError(f"{root} is not a VOT root: expected list.txt and <seq>/groundtruth.txt with frames "
                                 f"in <seq>/color/ (or <seq>/)")
    return Dataset("vot", root, [vot_sequence(root / n) for n in names], convention="ope", split=split)


def _frames(folder: Path):
    for sub in FRAME_FOLDERS:
        if (folder / sub).is_dir():
            return image_files(folder / sub)
    return image_files(folder)


def vot_sequence(folder: Path, dataset: str = "vot") -> Sequence:
    """The sequence of one VOT-style folder (``groundtruth.txt`` of rectangles, polygons or masks)."""
    return Sequence(folder.name, dataset, lambda: read_regions(folder / "groundtruth.txt"),
                    list_frames=lambda: _frames(folder), load_attributes=attribute_codes_loader(folder / "attrs.txt"))
