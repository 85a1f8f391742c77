"""The one-file JSON layout of pysot-style toolkits (OTB2015.json, UAV123.json, NFS30.json, ...).

``{key: {"name" | "video_dir": folder, "image_files" | "img_names": [...], "init_rect": [x, y, w, h],
"gt_rect": [[x, y, w, h], ...], "attr": [...]?}}``. Image names are resolved against the root, the
sequence folder, or its ``img/`` subfolder, whichever holds them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .annotations import AnnotationError
from .base import Dataset, DatasetLayoutError, FramesUnavailableError, Sequence


def find_json(root: Path, candidates: List[str]) -> Optional[Path]:
    """The JSON annotation file: ``root`` itself, or one of ``candidates`` inside it (case-insensitive)."""
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".json":
        return root
    if root.is_dir():
        by_lower = {p.name.lower(): p for p in root.iterdir() if p.suffix.lower() == ".json"}
        for c in candidates:
            if c.lower() in by_lower:
                return by_lower[c.lower()]
    return None


def open_json_layout(path: Path, dataset: str, convention: str, attribute_names: Dict[str, str]) -> Dataset:
    """Sequences described by one JSON file; frames are looked up beside it."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict) or not meta:
        raise DatasetLayoutError(f"{path}: expected a JSON object of sequences {{key: {{gt_rect, image_files, ...}}}}")
    frames_root = path.parent
    full_to_code = {v.casefold(): k for k, v in attribute_names.items()}
    sequences = []
    for key, info in meta.items():
        if not isinstance(info, dict) or "gt_rect" not in info:
            raise DatasetLayoutError(f"{path}: sequence {key!r} has no gt_rect (expected keys gt_rect, "
                                     f"image_files or img_names, init_rect)")
        sequences.append(_sequence(key, info, path, frames_root, dataset, full_to_code))
    return Dataset(dataset, path, sequences, convention=convention, attribute_names=attribute_names)


def _sequence(key: str, info: dict, path: Path, frames_root: Path, dataset: str, full_to_code) -> Sequence:
    folder = info.get("video_dir") or info.get("name") or key
    names = info.get("image_files") or info.get("img_names") or []

    def ground_truth():
        try:
            boxes = np.asarray([[np.nan if v is None else v for v in row] for row in info["gt_rect"]],
                               dtype=np.float64)
        except (TypeError, ValueError):
            raise AnnotationError(f"{path}: sequence {key!r}: gt_rect is not a list of [x, y, w, h]") from None
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            # pysot writes [] for frames without a box
            fixed = [row if len(row) == 4 else [np.nan] * 4 for row in info["gt_rect"]]
            boxes = np.asarray(fixed, dtype=np.float64)
        return boxes

    def frames():
        if not names:
            raise FramesUnavailableError(f"{path}: sequence {key!r} lists no image files")
        for base in (frames_root, frames_root / folder, frames_root / folder / "img", frames_root / key,
                     frames_root / key / "img"):
            if (base / names[0]).is_file():
                return [base / n for n in names]
        raise FramesUnavailableError(f"{dataset} sequence {key}: frame {names[0]} not found under {frames_root} "
                                     f"(looked in ., {folder}/, {folder}/img/)")

    attrs = tuple(full_to_code.get(str(a).casefold(), str(a)) for a in info.get("attr", []) or [])
    return Sequence(key, dataset, ground_truth, list_frames=frames, load_attributes=lambda: attrs)
