"""Several trackers side by side on one dataset, in one run: MixFormerV2 and OpenCV's baselines alike.

Every tracker runs over every sequence with the runner's pieces (``build_tracker``, ``track_sequence``,
``write_results``), so each leaves its community-format results folder ``<results>/<tracker>`` and the run
resumes where it stopped. The trackers take turns sequence by sequence, so that load from other processes
on the machine falls on all of them alike; all run in this one process with the same thread count, and the
FPS of each is computed from the per-frame times the runner records (the tracker step, image decoding
excluded, frame 1's initialisation left out). Scores come from ``scoring.score_results``.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..files import atomic_write
from ..datasets import Dataset
from .results import find_results
from .runner import (TrackerSpec, build_tracker, load_tracker_model, prepare_results_folder, track_sequence,
                     tracker_identity, write_results)
from .scoring import Report, fps_from_times, score_results
from ..tracking.backends import check_threads

log = logging.getLogger(__name__)


@dataclass
class Contender:
    """One tracker of a comparison: its name (also its results sub-folder), how to build it, its loaded
    model (MixFormerV2 only) and what identifies its results."""
    name: str
    spec: TrackerSpec
    folder: Path
    model: object = None
    identity: Dict[str, object] = field(default_factory=dict)
    tracker: object = None
    tracked: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)


@dataclass
class Comparison:
    """The outcome: the scoring report of all trackers plus what the run did."""
    dataset: Dataset
    report: Report
    contenders: List[Contender]
    threads: int
    sequence_fps: Dict[str, Dict[str, Optional[float]]]

    @property
    def failed(self) -> Dict[str, Dict[str, str]]:
        return {c.name: dict(c.failed) for c in self.contenders if c.failed}

    def format_table(self) -> str:
        """The printed comparison: one row per tracker (mean success AUC, precision at 20 px, normalized
        precision at 0.20, FPS of the tracker step), then each sequence's success AUC per tracker."""
        report = self.report
        names = list(report.trackers)
        width = max([len("tracker")] + [len(n) for n in names]) + 2
        # What the convention has: GOT-10k reports AO, SR0.5 and SR0.75 and no precision.
        has_precision = all(report.trackers[n].overall.precision is not None for n in names)
        columns = ([("AUC", "auc", 8), ("Prec", "precision", 8), ("NormPrec", "norm_precision", 10)] if has_precision
                   else [("AO", "auc", 8), ("SR0.5", "op50", 8), ("SR0.75", "op75", 8)])
        lines = [f"{self.dataset.name} at {self.dataset.root}: {len(report.sequences)} sequences, convention "
                 f"{report.convention!r}, {self.threads} thread{'s' if self.threads != 1 else ''}; FPS of the "
                 f"tracker step (decoding excluded)",
                 "tracker".ljust(width) + "".join(title.rjust(w) for title, _, w in columns) + "FPS".rjust(9)]
        for name in names:
            t = report.trackers[name]
            s = t.overall
            fps = f"{t.fps:9.1f}" if t.fps is not None else "        -"
            lines.append(name.ljust(width) + "".join(f"{getattr(s, key):{w}.3f}" for _, key, w in columns) + fps)
        col = max(10, max(len(n) for n in names) + 2)
        seq_width = max([len("sequence")] + [len(s) for s in report.sequences]) + 2
        lines += ["", f"{columns[0][0] if not has_precision else 'success AUC'} per sequence:",
                  "sequence".ljust(seq_width) + "frames".rjust(7) + "".join(n.rjust(col) for n in names)]
        for seq in report.sequences:
            cells = "".join(f"{report.trackers[n].per_sequence[seq]['auc']:.3f}".rjust(col) for n in names)
            lines.append(seq.ljust(seq_width) + str(self.dataset[seq].num_frames).rjust(7) + cells)
        for c in self.contenders:
            resumed = len(report.sequences) - len([s for s in c.tracked if s in report.sequences])
            if resumed:
                lines.append(f"({c.name}: {resumed} sequence(s) from earlier results in {c.folder}; their "
                             f"times are from that run)")
            for seq, error in c.failed.items():
                lines.append(f"({c.name} failed on {seq}: {error})")
        return "\n".join(lines)

    def to_json(self) -> Dict[str, object]:
        """The scoring report's JSON with details (``{"dataset", "convention", "trackers": {name: {auc,
        precision, norm_precision, op50, op75, sequences, fps, attributes, curves, per_sequence}}}``) plus
        the root, thread count, sequence list, and per tracker its results folder, identity and each
        sequence's FPS."""
        out = self.report.to_json(details=True)
        out.update({"root": str(self.dataset.root), "threads": self.threads, "sequence_names": self.report.sequences})
        for c in self.contenders:
            entry = out["trackers"].get(c.name)
            if entry is None:
                continue
            fps = self.report.trackers[c.name].fps
            entry["fps"] = None if fps is None else round(fps, 3)
            entry["results"] = str(c.folder)
            entry["identity"] = c.identity
            entry["failed"] = dict(c.failed)
            per_sequence = {}
            for seq, scores in entry["per_sequence"].items():
                fps = self.sequence_fps.get(c.name, {}).get(seq)
                per_sequence[seq] = dict(scores, fps=None if fps is None else round(fps, 3))
            entry["per_sequence"] = per_sequence
        return out

    def write_json(self, path: Path) -> None:
        text = json.dumps(self.to_json(), indent=2) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def contenders_for(specs: Sequence[TrackerSpec], results_root: Path, threads: int,
                   benchmark: str = "sequences", model=None) -> List[Contender]:
    """One Contender per spec (tracker names canonical and distinct), models loaded now so that missing or
    wrong weights stop the run before anything is tracked (``model``: the MixFormerV2 model already loaded)."""
    from ..tracking.baselines import canonical_tracker_name

    if not specs:
        raise ValueError("no tracker to compare: name at least one (--tracker)")
    contenders, seen = [], set()
    for spec in specs:
        name = canonical_tracker_name(spec.tracker)
        if name in seen:
            raise ValueError(f"tracker {name!r} is named twice")
        seen.add(name)
        spec = replace(spec, tracker=name, threads=threads)
        network = model if model is not None and spec.is_mixformer else load_tracker_model(spec)
        contenders.append(Contender(name, spec, Path(results_root) / name, network,
                                    tracker_identity(spec, network, benchmark)))
    return contenders


def run_comparison(dataset: Dataset, specs: Sequence[TrackerSpec], results_root: Path,
                   threads: Optional[int] = None, overwrite: bool = False, progress: bool = True,
                   model=None) -> Comparison:
    """Track ``dataset`` with every tracker of ``specs`` into ``results_root/<tracker>`` (resuming finished
    sequences; ``overwrite`` tracks everything again), taking turns per sequence, then score them all.

    ``threads``: torch and OpenCV threads for every tracker (default: all cores). Sequences a tracker
    fails on (unreadable frames, a box OpenCV refuses) are reported in the Comparison and left out of
    every tracker's scores. ``model``: the MixFormerV2 model of the specs, when already loaded.
    """
    threads = check_threads(threads) if threads is not None else (os.cpu_count() or 1)
    contenders = contenders_for(specs, results_root, threads, dataset.name, model)
    sequences = list(dataset.sequences)
    pending = {c.name: {s.name for s in prepare_results_folder(c.folder, dataset.results_layout, sequences,
                                                               c.identity, overwrite)}
               for c in contenders}
    for c in contenders:
        if pending[c.name]:
            c.tracker = build_tracker(c.spec, dataset.name, c.model)
    total = sum(s.num_frames for s in sequences for c in contenders if s.name in pending[c.name])
    bar = _progress_bar(total, progress)
    try:
        for seq in sequences:
            for c in contenders:
                if seq.name not in pending[c.name]:
                    continue
                if bar is not None:
                    bar.set_postfix_str(f"{c.name} {seq.name}")
                try:
                    boxes, times = track_sequence(c.tracker, seq, bar.update if bar is not None else None)
                except (ValueError, OSError) as exc:
                    c.failed[seq.name] = str(exc)
                    log.error("%s on %s: %s", c.name, seq.name, exc)
                    continue
                write_results(c.folder, dataset.results_layout, seq.name, boxes, times)
                c.tracked.append(seq.name)
    finally:
        if bar is not None:
            bar.close()
    failed = {s for c in contenders for s in c.failed}
    scored = dataset.select([s.name for s in sequences if s.name not in failed]) if failed else dataset
    if not len(scored):
        raise ValueError("every sequence failed for some tracker: nothing to score ("
                         + "; ".join(f"{c.name} on {s}: {e}" for c in contenders for s, e in c.failed.items())[:500]
                         + ")")
    report = score_results(scored, [c.folder for c in contenders], [c.name for c in contenders])
    sequence_fps = {}
    for c in contenders:
        found = find_results(c.folder, scored.names(), c.name)
        sequence_fps[c.name] = {s: fps_from_times(found, [s]) for s in scored.names()}
    return Comparison(scored, report, contenders, threads, sequence_fps)


def _progress_bar(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="frames", unit="frame", dynamic_ncols=True, smoothing=0.05)
