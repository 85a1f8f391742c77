"""UAV123 and UAV20L: ``<root>/anno/UAV123/<seq>.txt`` (x, y, w, h px; NaN rows where the target is absent),
``<root>/anno/UAV123/att/<seq>.txt`` (12 attribute flags), ``<root>/anno/UAV20L/<seq>.txt`` and frames in
``<root>/data_seq/UAV123/<folder>/000001.jpg``. Several UAV123 sequences are segments of one frame folder
(``bird1_1``, ``bird1_2``, ...); their frame ranges come from the toolkit's ``configSeqs.m`` (looked up in
the root, ``util/`` or one folder down). The pysot-style ``UAV123.json`` layout is read too.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional

from .annotations import AnnotationError, read_boxes
from .images import natural_key
from .base import Dataset, DatasetLayoutError, FramesUnavailableError, Sequence, flags_for, image_files
from .jsonlayout import find_json, open_json_layout

# Attribute files hold 12 0/1 values in this order (the UAV123 toolkit's).
UAV_ATTRIBUTES = {
    "SV": "Scale Variation", "ARC": "Aspect Ratio Change", "LR": "Low Resolution", "FM": "Fast Motion",
    "FOC": "Full Occlusion", "POC": "Partial Occlusion", "OV": "Out-of-View", "BC": "Background Clutter",
    "IV": "Illumination Variation", "VC": "Viewpoint Change", "CM": "Camera Motion", "SOB": "Similar Object",
}

_STRUCT = re.compile(r"struct\((?P<body>[^()]*(?:\[[^\]]*\][^()]*)*)\)")
_FIELD = re.compile(r"'(?P<key>\w+)'\s*,\s*(?:'(?P<text>[^']*)'|(?P<number>[-\d.]+))")


def open_uav(root: Path, split: Optional[str] = None, name: str = "uav123") -> Dataset:
    root = Path(root)
    version = "UAV20L" if name == "uav20l" else "UAV123"
    json_path = find_json(root, [f"{version}.json"])
    if json_path is not None:
        return open_json_layout(json_path, name, "uav-pytracking", UAV_ATTRIBUTES)
    anno_dir = root / "anno" / version
    if not anno_dir.is_dir():
        raise DatasetLayoutError(f"{root} is not a {version} root: expected anno/{version}/<seq>.txt and "
                                 f"data_seq/UAV123/<seq>/000001.jpg (or a pysot-style {version}.json)")
    ranges = _config_ranges(root, version)
    sequences = []
    for anno in sorted(anno_dir.glob("*.txt"), key=lambda p: natural_key(p.stem)):
        sequences.append(_sequence(root, anno, name, ranges.get(anno.stem)))
    if not sequences:
        raise DatasetLayoutError(f"{anno_dir} holds no <seq>.txt annotation")
    return Dataset(name, root, sequences, convention="uav-pytracking", attribute_names=UAV_ATTRIBUTES, split=split)




def parse_config_seqs(path: Path) -> Dict[str, Dict[str, Dict[str, object]]]:
    """The sequence tables of a UAV123 ``configSeqs.m``: {table name: {seq: {startFrame, endFrame, nz, ext, path}}}."""
    text = path.read_text(encoding="utf-8", errors="replace")
    tables: Dict[str, Dict[str, Dict[str, object]]] = {}
    for match in re.finditer(r"(?P<table>\w+)\s*=\s*\{(?P<body>.*?)\}\s*;", text, re.S):
        entries = {}
        for struct in _STRUCT.finditer(match.group("body")):
            fields = {}
            for f in _FIELD.finditer(struct.group("body")):
                fields[f.group("key")] = f.group("text") if f.group("text") is not None else float(f.group("number"))
            if "name" in fields and "startFrame" in fields and "endFrame" in fields:
                entries[str(fields["name"])] = fields
        if entries:
            tables[match.group("table")] = entries
    return tables


def _config_ranges(root: Path, version: str) -> Dict[str, Dict[str, object]]:
    candidates = [root / "configSeqs.m", root / "util" / "configSeqs.m"]
    candidates += [p for child in sorted(root.iterdir()) if child.is_dir() and child.name not in ("data_seq", "anno")
                   for p in (child / "configSeqs.m", child / "util" / "configSeqs.m")]
    for path in candidates:
        if path.is_file():
            tables = parse_config_seqs(path)
            table = next((t for k, t in tables.items() if k.lower().endswith(version.lower())), None)
            if table is None and tables:
                table = next(iter(tables.values()))
            return table or {}
    return {}


def _sequence(root: Path, anno: Path, dataset: str, config: Optional[Dict[str, object]]) -> Sequence:
    seq = anno.stem

    def frames():
        n = len(read_boxes(anno))
        if config is not None:
            folder = [p for p in re.split(r"[\\/]", str(config.get("path", ""))) if p][-1:] or [seq]
            folder_path = root / "data_seq" / "UAV123" / folder[0]
            start, end = int(config["startFrame"]), int(config["endFrame"])
            nz, ext = int(config.get("nz", 6)), str(config.get("ext", "jpg"))
            paths = [folder_path / f"{i:0{nz}d}.{ext}" for i in range(start, end + 1)]
            if not paths[0].is_file():
                raise FramesUnavailableError(f"{dataset} sequence {seq}: frame {paths[0]} not found")
            return paths
        folder_path = root / "data_seq" / "UAV123" / seq
        if not folder_path.is_dir():
            raise FramesUnavailableError(
                f"{dataset} sequence {seq}: no frame folder {folder_path}; segments of a longer video (such as "
                f"bird1_2) need the UAV123 toolkit's configSeqs.m in {root} or {root / 'util'} for their frame ranges")
        files = image_files(folder_path)
        if len(files) < n:
            raise FramesUnavailableError(f"{folder_path}: {len(files)} frames for {n} annotated")
        return files[:n]

    def attributes():
        path = anno.parent / "att" / anno.name
        if not path.is_file():
            return ()
        flags = flags_for(path, None, "attribute flags")
        if len(flags) != len(UAV_ATTRIBUTES):
            raise AnnotationError(f"{path}: {len(flags)} attribute flags, expected {len(UAV_ATTRIBUTES)}")
        return tuple(code for code, flag in zip(UAV_ATTRIBUTES, flags) if flag)

    return Sequence(seq, dataset, lambda: read_boxes(anno), list_frames=frames, load_attributes=attributes)


__all__ = ["UAV_ATTRIBUTES", "open_uav", "parse_config_seqs"]
