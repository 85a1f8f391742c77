"""A folder of sequence folders, each in its own benchmark's native layout (dataset name ``sequences``).

Each sub-folder of the root is read by the reader of the layout it has:
- OTB native: ``groundtruth_rect.txt`` (or ``groundtruth_rect.<N>.txt`` per target, named ``<folder>-<N>``),
  x, y, w, h px separated by commas, tabs or spaces, frames in ``img/``;
- VOT style: ``groundtruth.txt`` with rectangles, 8-value polygons or masks (enclosing boxes x, y, w, h px),
  frames in ``color/``, ``img/``, ``imgs/`` or the folder itself (this also reads single GOT-10k, LaSOT
  or TNL2k sequence folders by their ground truth and frames).
An ``attrs.txt`` in a sequence folder lists its attribute codes (OTB's codes get their full names).
Folders with neither ground-truth file are skipped; the root may also be one sequence folder itself.
Scored one-pass, per-sequence averaged (the ``ope`` convention).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

from .base import Dataset, DatasetLayoutError, Sequence
from .otb import OTB_ATTRIBUTES, native_sequences
from .vot import vot_sequence

log = logging.getLogger(__name__)

NAME = "sequences"
GROUND_TRUTH_FILES = ("groundtruth_rect.txt", "groundtruth.txt")


def ground_truth_file(folder: Path) -> Path:
    """The ground-truth file of a sequence folder (OTB's groundtruth_rect.txt, else groundtruth.txt);
    FileNotFoundError naming the folder when it has neither."""
    for name in GROUND_TRUTH_FILES:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise FileNotFoundError(f"sequence {folder} has no ground truth ({' or '.join(GROUND_TRUTH_FILES)})")


def folder_sequences(folder: Path, dataset: str = NAME) -> List[Sequence]:
    """The sequences of one folder in whichever supported layout it has (OTB first); [] for none."""
    found = native_sequences(folder, dataset)
    if found:
        return found
    if (folder / "groundtruth.txt").is_file():
        return [vot_sequence(folder, dataset)]
    return []


def open_folders(root: Path, split: Optional[str] = None) -> Dataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    sequences = folder_sequences(root)
    if not sequences:
        for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            found = folder_sequences(folder)
            if not found:
                log.debug("%s: no groundtruth_rect.txt or groundtruth.txt, skipped", folder)
            sequences.extend(found)
    if not sequences:
        raise DatasetLayoutError(
            f"{root} holds no sequence folders: expected sub-folders with groundtruth_rect.txt and img/ (OTB "
            f"layout) or groundtruth.txt and color/ or img/ (VOT layout)")
    names = [s.name for s in sequences]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise DatasetLayoutError(f"{root}: several sequences are named {', '.join(clashes)}")
    return Dataset(NAME, root, sequences, convention="ope", attribute_names=dict(OTB_ATTRIBUTES), split=split)
