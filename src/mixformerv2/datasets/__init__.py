"""Datasets: benchmark readers in each benchmark's native layout, annotation parsers, the one image reader,
and the one table of benchmarks (names, aliases, default splits, tracker settings). Training (``data``) and
evaluation both read through this layer. ``open_dataset(name, root, split)`` picks a reader."""
from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Optional

from .base import (Dataset, DatasetLayoutError, FramesUnavailableError, NameIndex, Sequence, normalize_name)
from .benchmarks import BENCHMARKS, DATASET_NAMES, SETTINGS_NAMES, Benchmark, benchmark, settings_benchmark


def dataset_name(name: str) -> str:
    """The canonical name of a readable benchmark (``OTB100`` -> ``otb``); ValueError for an unknown one."""
    return benchmark(name, need_reader=True).name


def open_dataset(name: str, root, split: Optional[str] = None) -> Dataset:
    """Open benchmark ``name`` stored at ``root`` in its native layout (nothing but the sequence list is
    read until needed; only that benchmark's reader module is imported). DatasetLayoutError says which layout
    was expected when ``root`` does not fit."""
    entry = benchmark(name, need_reader=True)
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetLayoutError(f"dataset root {root} does not exist")
    module, function, extra = entry.reader
    return getattr(import_module(f".{module}", __name__), function)(root, split, *extra)


__all__ = ["BENCHMARKS", "Benchmark", "DATASET_NAMES", "Dataset", "DatasetLayoutError",
           "FramesUnavailableError", "NameIndex", "SETTINGS_NAMES", "Sequence", "benchmark", "dataset_name",
           "normalize_name", "open_dataset", "settings_benchmark"]
