"""OTB-100 (OTB-2015): native sequence folders or the pysot-style one-file JSON layout.

Native: ``<root>/<Seq>/img/0001.jpg`` with ``groundtruth_rect.txt`` (x, y, w, h px, separated by commas,
tabs or spaces); sequences with two targets have ``groundtruth_rect.1.txt`` / ``.2.txt`` and are named
``<Seq>-1`` / ``<Seq>-2``; an optional ``attrs.txt`` lists the sequence's attribute codes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

from .annotations import read_boxes
from .base import (Dataset, DatasetLayoutError, FramesUnavailableError, Sequence, attribute_codes_loader,
                   image_files)
from .jsonlayout import find_json, open_json_layout

OTB_ATTRIBUTES = {
    "IV": "Illumination Variation", "SV": "Scale Variation", "OCC": "Occlusion", "DEF": "Deformation",
    "MB": "Motion Blur", "FM": "Fast Motion", "IPR": "In-Plane Rotation", "OPR": "Out-of-Plane Rotation",
    "OV": "Out-of-View", "BC": "Background Clutters", "LR": "Low Resolution",
}

# Sequences whose annotated range starts after frame 1 (the OTB toolkit's configuration).
OTB_FIRST_FRAME = {"david": 300, "blurcar1": 247, "blurcar3": 3, "blurcar4": 18, "tiger1": 6}

_GT_FILE = re.compile(r"^groundtruth_rect(?:\.(\d+))?\.txt$", re.IGNORECASE)


def open_otb(root: Path, split: Optional[str] = None, name: str = "otb") -> Dataset:
    root = Path(root)
    json_path = find_json(root, ["OTB2015.json", "OTB100.json", "OTB.json"])
    if json_path is not None:
        return open_json_layout(json_path, name, "ope", OTB_ATTRIBUTES)
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {root} does not exist or is not a folder")
    sequences = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
        if folder.is_dir():
            sequences.extend(native_sequences(folder, name))
    if not sequences:
        raise DatasetLayoutError(f"{root} is not an OTB root: expected <Seq>/groundtruth_rect.txt with <Seq>/img/ "
                                 f"(native layout) or an OTB2015.json / OTB100.json file (pysot-style layout)")
    return Dataset(name, root, sequences, convention="ope", attribute_names=OTB_ATTRIBUTES)


def native_sequences(folder: Path, dataset: str = "otb") -> List[Sequence]:
    """The sequences of one OTB-native folder: ``<Seq>`` from ``groundtruth_rect.txt``, ``<Seq>-<N>`` from
    ``groundtruth_rect.<N>.txt`` (several targets); none when the folder has no such file."""
    gt_files = sorted((m.group(1) or "", p) for p in folder.iterdir() for m in [_GT_FILE.match(p.name)] if m)
    return [_native_sequence(folder, folder.name if not index else f"{folder.name}-{index}", gt_path, dataset)
            for index, gt_path in gt_files]


def _native_sequence(folder: Path, seq_name: str, gt_path: Path, dataset: str) -> Sequence:
    holder = {}

    def ground_truth():
        holder["gt"] = read_boxes(gt_path)
        return holder["gt"]

    def frames():
        files = image_files(folder / "img")
        n = len(read_boxes(gt_path)) if "gt" not in holder else len(holder["gt"])
        first = OTB_FIRST_FRAME.get(folder.name.lower(), 1)
        start = next((i for i, p in enumerate(files) if p.stem.isdigit() and int(p.stem) == first), None)
        if start is None:
            raise FramesUnavailableError(f"{folder / 'img'}: no frame numbered {first}")
        chosen = files[start:start + n]
        if len(chosen) < n:
            raise FramesUnavailableError(f"{folder / 'img'}: {len(chosen)} frames from number {first}, "
                                         f"the ground truth has {n}")
        return chosen

    return Sequence(seq_name, dataset, ground_truth, list_frames=frames,
                    load_attributes=attribute_codes_loader(folder / "attrs.txt"))
