"""Reading a tracker's raw results folder in the community layouts.

``flat``: ``<dir>/<seq>.txt`` (x, y, w, h px per line) with optional ``<seq>_time.txt`` (seconds per frame).
``got10k``: ``<dir>/<seq>/<seq>_001.txt`` (one file per repetition: ``_002``, ``_003``) and
``<dir>/<seq>/<seq>_time.txt``; a flat file is accepted too. File names are matched to sequence names
leniently (case, and ``-`` / ``_`` / space / ``.`` separators).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..datasets.annotations import read_boxes, read_number_rows
from ..datasets.base import NameIndex, normalize_name

_REPETITION = re.compile(r"^(?P<seq>.+)_(?P<rep>\d{3})$")
_SIDE_FILES = re.compile(r"_(time|times|confidence|scores?|fps)$", re.IGNORECASE)


class MissingResultsError(ValueError):
    """A results folder lacks sequences of the dataset; the message lists them."""


@dataclass
class TrackerResults:
    """Boxes per sequence name (of the dataset): a list of (N, 4) arrays, one per repetition."""
    name: str
    folder: Path
    boxes_files: Dict[str, List[Path]] = field(default_factory=dict)
    time_files: Dict[str, Path] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)

    def boxes(self, sequence: str) -> List[np.ndarray]:
        return [read_boxes(p) for p in self.boxes_files[sequence]]

    def times(self, sequence: str) -> Optional[np.ndarray]:
        """Seconds per frame (all repetitions' columns flattened), or None without a time file."""
        path = self.time_files.get(sequence)
        if path is None:
            return None
        return read_number_rows(path, range(1, 64), "seconds per frame").reshape(-1)


def find_results(folder: Path, sequence_names: Sequence[str], name: Optional[str] = None) -> TrackerResults:
    """Match the result files in ``folder`` to ``sequence_names``; unmatched names go to ``missing``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist")
    index = NameIndex(sequence_names)
    out = TrackerResults(name or folder.name, folder)
    candidates: Dict[str, List[Path]] = {}
    times: Dict[str, Path] = {}

    def add(stem: str, path: Path):
        if stem.endswith("_time") or stem.endswith("_times"):
            times.setdefault(stem.rsplit("_", 1)[0], path)
            return
        if _SIDE_FILES.search(stem):
            return
        match = _REPETITION.match(stem)
        if match and path.parent != folder:  # <seq>/<seq>_001.txt
            stem = match.group("seq")
        candidates.setdefault(stem, []).append(path)

    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() == ".txt":
            add(path.stem, path)
        elif path.is_dir():
            for inner in sorted(path.glob("*.txt")):
                if normalize_name(inner.stem).startswith(normalize_name(path.name)):
                    add(inner.stem, inner)
    claimed: Dict[str, str] = {}
    for stem, paths in candidates.items():
        seq = index.find(stem)
        if seq is None:
            continue
        if seq in claimed and claimed[seq] != stem:
            raise ValueError(f"{folder}: both {claimed[seq]!r} and {stem!r} match sequence {seq!r}")
        claimed[seq] = stem
        out.boxes_files[seq] = sorted(paths)
    for stem, path in times.items():
        seq = index.find(stem)
        if seq is not None:
            out.time_files[seq] = path
    out.missing = [s for s in sequence_names if s not in out.boxes_files]
    return out


def missing_message(results: TrackerResults, total: int) -> str:
    shown = ", ".join(results.missing[:20]) + (f", ... ({len(results.missing) - 20} more)"
                                                if len(results.missing) > 20 else "")
    return (f"results folder {results.folder} lacks {len(results.missing)} of {total} sequences: {shown}; "
            f"pass --partial to score the {total - len(results.missing)} that exist")
