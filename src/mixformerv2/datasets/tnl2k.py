"""TNL2k: ``<root>/<seq>/{groundtruth.txt, imgs/<frames>, language.txt}`` (x, y, w, h px); the sequence
folders may sit one level down (e.g. the test set's download parts)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .annotations import read_boxes
from .base import Dataset, DatasetLayoutError, Sequence, image_files, read_text_or_none, sequence_folders


def open_tnl2k(root: Path, split: Optional[str] = None) -> Dataset:
    root = Path(root)
    folders = sequence_folders(root)
    if not folders:
        raise DatasetLayoutError(f"{root} is not a TNL2k root: expected <seq>/groundtruth.txt with <seq>/imgs/ "
                                 f"and <seq>/language.txt")
    return Dataset("tnl2k", root, [_sequence(f) for f in folders.values()], convention="ope", split=split)


def _frames(folder: Path):
    for sub in ("imgs", "img", "images"):
        if (folder / sub).is_dir():
            return image_files(folder / sub)
    return image_files(folder / "imgs")


def _sequence(folder: Path) -> Sequence:
    return Sequence(folder.name, "tnl2k", lambda: read_boxes(folder / "groundtruth.txt"),
                    list_frames=lambda: _frames(folder),
                    load_language=lambda: read_text_or_none(folder / "language.txt"))
