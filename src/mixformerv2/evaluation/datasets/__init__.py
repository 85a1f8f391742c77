"""Benchmark readers in each benchmark's native layout. ``open_dataset(name, root, split)`` picks one."""
from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Callable, Dict, Optional

from .base import (Dataset, DatasetLayoutError, FramesUnavailableError, NameIndex, Sequence, normalize_name)


def _opener(module: str, function: str, *args) -> Callable[[Path, Optional[str]], Dataset]:
    """``function(root, split, *args)`` of reader module ``.<module>``, imported when first called (opening one
    benchmark loads only its reader)."""
    def open_(root: Path, split: Optional[str]) -> Dataset:
        return getattr(import_module(f".{module}", __name__), function)(root, split, *args)
    return open_


# name -> opener(root, split)
DATASETS: Dict[str, Callable[[Path, Optional[str]], Dataset]] = {
    "lasot": _opener("lasot", "open_lasot", "lasot"), "lasot_ext": _opener("lasot", "open_lasot", "lasot_ext"),
    "got10k": _opener("got10k", "open_got10k"), "trackingnet": _opener("trackingnet", "open_trackingnet"),
    "tnl2k": _opener("tnl2k", "open_tnl2k"), "uav123": _opener("uav", "open_uav", "uav123"),
    "uav20l": _opener("uav", "open_uav", "uav20l"), "otb": _opener("otb", "open_otb"),
    "nfs": _opener("nfs", "open_nfs"), "vot": _opener("vot", "open_vot"),
    "sequences": _opener("folders", "open_folders"),
}
ALIASES = {"otb100": "otb", "otb2015": "otb", "lasotext": "lasot_ext", "lasot-ext": "lasot_ext",
           "got-10k": "got10k", "got10k_val": "got10k", "nfs30": "nfs", "uav": "uav123", "folders": "sequences",
           "mixed": "sequences"}


def dataset_name(name: str) -> str:
    """The canonical name of a benchmark (``OTB100`` -> ``otb``); ValueError for an unknown one."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return key


def open_dataset(name: str, root, split: Optional[str] = None) -> Dataset:
    """Open benchmark ``name`` stored at ``root`` in its native layout (nothing but the sequence list is
    read until needed). DatasetLayoutError says which layout was expected when ``root`` does not fit."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetLayoutError(f"dataset root {root} does not exist")
    return DATASETS[dataset_name(name)](root, split)


__all__ = ["ALIASES", "DATASETS", "Dataset", "DatasetLayoutError", "FramesUnavailableError", "NameIndex", "Sequence",
           "dataset_name", "normalize_name", "open_dataset"]
