"""The one table of benchmarks: names, aliases, readers, default splits, and the official tracker settings
each one is run with.

Every layer asks this table: ``open_dataset`` (the reader), ``eval``/``score`` (the default split),
``TrackerParams.for_benchmark`` (update interval and search factor), the results folder and the submission
writer (``dataset.name``). A benchmark without a reader ("default") only names tracker settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Benchmark:
    """One benchmark.

    ``reader``: (module under ``mixformerv2.datasets``, function, extra arguments), called as
    ``function(root, split, *extra)``; None for a name that only selects tracker settings.
    ``tracking_split`` / ``scoring_split``: the split ``eval`` tracks and ``score`` scores when none is given
    (GOT-10k and TrackingNet track their test splits for the servers, but only val/train have ground truth).
    ``update_interval`` / ``search_factor``: the official MixFormerV2 test settings as (B, S) pairs (spec
    sections 1 and 4); ``settings_of``: take them from another benchmark instead (UAV20L runs as UAV123).
    """

    name: str
    reader: Optional[Tuple[str, str, Tuple[str, ...]]]
    aliases: Tuple[str, ...] = ()
    tracking_split: Optional[str] = None
    scoring_split: Optional[str] = None
    update_interval: Tuple[int, int] = (200, 200)
    search_factor: Tuple[float, float] = (5.0, 4.5)
    settings_of: Optional[str] = None

    @property
    def has_reader(self) -> bool:
        return self.reader is not None


# B uses search factor 5.0 everywhere. S uses 4.4 on LaSOT (and the LaSOT extension, same protocol), 4.55 on
# TrackingNet and GOT-10k, and its config's test value 4.5 elsewhere. GOT-10k is the only benchmark whose update
# interval differs between B (10) and S (15).
_TABLE = (
    Benchmark("lasot", ("lasot", "open_lasot", ("lasot",)), search_factor=(5.0, 4.4)),
    Benchmark("lasot_ext", ("lasot", "open_lasot", ("lasot_ext",)),
              ("lasotext", "lasot-ext", "lasot_extension_subset"), search_factor=(5.0, 4.4)),
    Benchmark("got10k", ("got10k", "open_got10k", ()), ("got-10k", "got10k_val", "got10k_test", "got10k-test"),
              tracking_split="test", scoring_split="val", update_interval=(10, 15), search_factor=(5.0, 4.55)),
    Benchmark("trackingnet", ("trackingnet", "open_trackingnet", ()), tracking_split="test",
              update_interval=(25, 25), search_factor=(5.0, 4.55)),
    Benchmark("tnl2k", ("tnl2k", "open_tnl2k", ()), ("tnl2k_test",)),
    Benchmark("uav123", ("uav", "open_uav", ("uav123",)), ("uav",)),
    Benchmark("uav20l", ("uav", "open_uav", ("uav20l",)), settings_of="uav123"),
    Benchmark("otb", ("otb", "open_otb", ()), ("otb100", "otb2015", "otb-100")),
    Benchmark("nfs", ("nfs", "open_nfs", ()), ("nfs30",)),
    Benchmark("vot", ("vot", "open_vot", ()), ("vot20", "vot2020", "vot2018", "vot2019", "vot2015"),
              update_interval=(10, 10)),
    Benchmark("sequences", ("folders", "open_folders", ()), ("folders", "mixed"), settings_of="default"),
    Benchmark("default", None),
)
BENCHMARKS: Dict[str, Benchmark] = {b.name: b for b in _TABLE}
_ALIASES: Dict[str, str] = {alias: b.name for b in _TABLE for alias in b.aliases}
# The names `open_dataset` accepts (benchmarks with a reader), in table order.
DATASET_NAMES: Tuple[str, ...] = tuple(b.name for b in _TABLE if b.has_reader)
# The names that select tracker settings (every benchmark, and "default").
SETTINGS_NAMES: Tuple[str, ...] = tuple(sorted(BENCHMARKS))


def benchmark(name: str, need_reader: bool = False) -> Benchmark:
    """The benchmark ``name`` stands for, by name or alias, case-insensitive (``OTB100`` -> otb). ValueError
    names the known benchmarks for an unknown one (with ``need_reader``: for one that cannot be read)."""
    key = str(name).strip().lower().replace(" ", "_")
    key = _ALIASES.get(key, key)
    found = BENCHMARKS.get(key)
    if found is None or (need_reader and not found.has_reader):
        known = DATASET_NAMES if need_reader else SETTINGS_NAMES
        what = "dataset" if need_reader else "benchmark"
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}")
    return found


def settings_benchmark(name: str) -> Benchmark:
    """The benchmark whose official tracker settings ``name`` runs with (itself, or the one it borrows from)."""
    found = benchmark(name)
    return BENCHMARKS[found.settings_of] if found.settings_of else found


__all__ = ["BENCHMARKS", "Benchmark", "DATASET_NAMES", "SETTINGS_NAMES", "benchmark", "settings_benchmark"]
