"""Benchmark readers in each benchmark's native layout. ``open_dataset(name, root, split)`` picks one."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional

from .base import (Dataset, DatasetLayoutError, FramesUnavailableError, NameIndex, Sequence, normalize_name)


def _lasot(root, split):
    from .lasot import open_lasot
    return open_lasot(root, split, "lasot")


def _lasot_ext(root, split):
    from .lasot import open_lasot
    return open_lasot(root, split, "lasot_ext")


def _otb(root, split):
    from .otb import open_otb
    return open_otb(root, split)


def _got10k(root, split):
    from .got10k import open_got10k
    return open_got10k(root, split)


def _trackingnet(root, split):
    from .trackingnet import open_trackingnet
    return open_trackingnet(root, split)


def _tnl2k(root, split):
    from .tnl2k import open_tnl2k
    return open_tnl2k(root, split)


def _uav123(root, split):
    from .uav import open_uav
    return open_uav(root, split, "uav123")


def _uav20l(root, split):
    from .uav import open_uav
    return open_uav(root, split, "uav20l")


def _nfs(root, split):
    from .nfs import open_nfs
    return open_nfs(root, split)


def _vot(root, split):
    from .vot import open_vot
    return open_vot(root, split)


def _sequences(root, split):
    from .folders import open_folders
    return open_folders(root, split)


# name -> opener(root, split)
DATASETS: Dict[str, Callable[[Path, Optional[str]], Dataset]] = {
    "lasot": _lasot, "lasot_ext": _lasot_ext, "got10k": _got10k, "trackingnet": _trackingnet, "tnl2k": _tnl2k,
    "uav123": _uav123, "uav20l": _uav20l, "otb": _otb, "nfs": _nfs, "vot": _vot, "sequences": _sequences,
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
