"""NfS (Need for Speed), 30 fps by default: ``<root>/<seq>/30/<seq>.txt`` and frames
``<root>/<seq>/30/<seq>/00001.jpg``. Annotation lines are ``id xmin ymin xmax ymax frame lost occluded
generated "label"`` (pixels); boxes become x, y, w = xmax - xmin, h = ymax - ymin. The 30 fps annotation
files may carry one row per 240 fps frame: then every 8th row is the 30 fps frame's. The pysot-style
``NFS30.json`` layout is read too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .annotations import AnnotationError
from .base import Dataset, DatasetLayoutError, Sequence, image_files
from .jsonlayout import find_json, open_json_layout


def read_nfs_annotation(path: Path) -> "tuple[np.ndarray, Optional[str]]":
    """(N, 4) x, y, w, h px boxes and the object label of an NfS annotation file."""
    boxes, label = [], None
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            x0, y0, x1, y1 = (float(t) for t in tokens[1:5])
        except ValueError:
            raise AnnotationError(f"{path}:{lineno}: expected 'id xmin ymin xmax ymax frame ...', got "
                                  f"{line.strip()[:80]!r}") from None
        if len(tokens) < 5:
            raise AnnotationError(f"{path}:{lineno}: expected at least 5 fields, got {len(tokens)}")
        boxes.append((x0, y0, x1 - x0, y1 - y0))
        if label is None and len(tokens) > 9:
            label = tokens[9].strip('"')
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), label


def open_nfs(root: Path, split: Optional[str] = None) -> Dataset:
    """``split``: the frame rate, ``30`` (default) or ``240``."""
    root = Path(root)
    fps = str(split or "30")
    if fps not in ("30", "240"):
        raise ValueError(f"unknown NfS frame rate {split!r}: use 30 or 240")
    json_path = find_json(root, [f"NFS{fps}.json", "NFS.json"])
    if json_path is not None:
        return open_json_layout(json_path, "nfs", "ope", {})
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    sequences = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
        anno = folder / fps / f"{folder.name}.txt"
        if folder.is_dir() and anno.is_file():
            sequences.append(_sequence(folder, anno, fps))
    if not sequences:
        raise DatasetLayoutError(f"{root} is not an NfS root: expected <seq>/{fps}/<seq>.txt and "
                                 f"<seq>/{fps}/<seq>/00001.jpg (or a pysot-style NFS{fps}.json)")
    return Dataset("nfs", root, sequences, convention="ope", split=fps)


def _sequence(folder: Path, anno: Path, fps: str) -> Sequence:
    frame_dir = folder / fps / folder.name
    holder = {}

    def frames():
        return image_files(frame_dir)

    def ground_truth():
        boxes, label = read_nfs_annotation(anno)
        holder["label"] = label
        if fps == "30" and frame_dir.is_dir():
            n = len(image_files(frame_dir))
            if n and abs(len(boxes) / n - 8) < 1:
                boxes = boxes[0::8]
            if 0 < len(boxes) - n <= 1:
                boxes = boxes[:n]
        return boxes

    return Sequence(folder.name, "nfs", ground_truth, list_frames=frames)
