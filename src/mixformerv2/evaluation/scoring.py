"""Scoring raw results folders against a benchmark: overall, per attribute and per sequence."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..datasets import Dataset
from .metrics import CONVENTIONS, Scores, SequenceResult, aggregate, get_convention, score_sequence
from .results import MissingResultsError, TrackerResults, find_results, missing_message

log = logging.getLogger(__name__)


class NoGroundTruthError(ValueError):
    """The split has no public ground truth (GOT-10k / TrackingNet test): it is scored by the server."""


@dataclass
class TrackerReport:
    name: str
    folder: Path
    overall: Scores
    per_attribute: Dict[str, Scores] = field(default_factory=dict)
    per_sequence: Dict[str, Dict[str, float]] = field(default_factory=dict)
    fps: Optional[float] = None
    padded: Dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    dataset: str
    convention: str
    sequences: List[str]
    trackers: Dict[str, TrackerReport]
    attribute_names: Dict[str, str] = field(default_factory=dict)

    def to_json(self, details: bool = False) -> Dict[str, object]:
        """``{"dataset", "trackers": {name: {auc, precision, norm_precision, op50, op75, sequences}}}``,
        values as fractions. ``details`` adds the convention, per-attribute and per-sequence scores."""
        out: Dict[str, object] = {"dataset": self.dataset,
                                  "trackers": {n: t.overall.as_dict() for n, t in self.trackers.items()}}
        if details:
            out["convention"] = self.convention
            for n, t in self.trackers.items():
                entry = out["trackers"][n]
                entry["attributes"] = {a: s.as_dict() for a, s in t.per_attribute.items()}
                entry["per_sequence"] = t.per_sequence
                entry["curves"] = _curves_json(t.overall)
                if t.fps is not None:
                    entry["fps"] = round(t.fps, 3)
        return out

    def write_json(self, path: Path, details: bool = False) -> None:
        from ..files import atomic_write

        text = json.dumps(self.to_json(details), indent=2) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))

    def format_text(self, attributes: bool = True) -> str:
        return format_report(self, attributes)


def _curves_json(s: Scores) -> Dict[str, object]:
    out = {"success": {"thresholds": s.success_thresholds.round(4).tolist(), "values": s.success_curve.round(6).tolist()}}
    if s.precision_curve is not None:
        out["precision"] = {"thresholds": s.precision_thresholds.round(4).tolist(),
                            "values": s.precision_curve.round(6).tolist()}
        out["norm_precision"] = {"thresholds": s.norm_precision_thresholds.round(4).tolist(),
                                 "values": s.norm_precision_curve.round(6).tolist()}
    return out


def tracker_names(folders: Sequence[Path]) -> List[str]:
    """Display names: each folder's name, extended by parent folders until they are all distinct."""
    folders = [Path(f).resolve() for f in folders]
    depth = 1
    while True:
        names = ["/".join(f.parts[-depth:]) for f in folders]
        if len(set(names)) == len(names) or depth > max(len(f.parts) for f in folders):
            return names
        depth += 1


def score_dataset_sequence(convention: str, sequence, runs: List[np.ndarray], source: str = "results") -> SequenceResult:
    """Score a tracker's boxes on one dataset sequence under ``convention``: ``runs`` is a list of (N, 4)
    x, y, w, h px results (GOT-10k pools repetitions; the others use the first), scored against the sequence's
    ground truth with its visibility (and GOT-10k's cover levels and image size)."""
    kwargs = dict(name=sequence.name, source=source)
    if convention == "got10k":
        return score_sequence(convention, runs, sequence.ground_truth, cover=sequence.cover, visible=sequence.visible,
                              image_size=sequence.image_size, **kwargs)
    return score_sequence(convention, runs[0], sequence.ground_truth, visible=sequence.visible, **kwargs)


def score_results(dataset: Dataset, folders: Sequence[Path], names: Optional[Sequence[str]] = None,
                  partial: bool = False, convention: Optional[str] = None) -> Report:
    """Score each results folder on ``dataset`` under its convention (or ``convention``).

    Without ``partial`` a folder that lacks sequences raises MissingResultsError listing them; with it,
    every tracker is scored on the sequences that all folders have.
    """
    convention = convention or dataset.convention
    get_convention(convention)
    if not folders:
        raise ValueError("no results folder given")
    names = list(names) if names else tracker_names(folders)
    all_names = dataset.names()
    found: List[TrackerResults] = [find_results(f, all_names, n) for f, n in zip(folders, names)]
    for r in found:
        if r.missing and not partial:
            raise MissingResultsError(missing_message(r, len(all_names)))
        if len(r.missing) == len(all_names):
            raise MissingResultsError(f"results folder {r.folder} has no result file for any of the "
                                      f"{len(all_names)} {dataset.name} sequences")
    common = [s for s in all_names if all(s in r.boxes_files for r in found)]
    if not common:
        raise MissingResultsError("the results folders have no sequence in common")
    if len(common) < len(all_names):
        log.warning("scoring %d of %d sequences (--partial)", len(common), len(all_names))
    sequences = [dataset[s] for s in common]
    for seq in sequences:
        if not seq.has_full_ground_truth:
            raise NoGroundTruthError(f"{dataset.name} sequence {seq.name} has ground truth for its first frame only "
                                     f"(a test split scored by the evaluation server): package the results with "
                                     f"`mixformerv2 eval ... --package out.zip` and upload them")
    trackers = {}
    for r in found:
        per_seq: List[SequenceResult] = []
        for seq in sequences:
            per_seq.append(score_dataset_sequence(convention, seq, r.boxes(seq.name),
                                                  source=str(r.boxes_files[seq.name][0])))
        overall = aggregate(convention, per_seq)
        per_attribute = {}
        codes = list(dataset.attribute_names)
        codes += [c for c in _attribute_codes(sequences) if c not in dataset.attribute_names]
        for code in codes:
            subset = [res for res, seq in zip(per_seq, sequences) if code in seq.attributes]
            if subset:
                per_attribute[code] = aggregate(convention, subset)
        trackers[r.name] = TrackerReport(r.name, r.folder, overall, per_attribute,
                                         {res.name: _rounded(res.summary(convention)) for res in per_seq},
                                         fps_from_times(r, common), {res.name: res.padded_frames for res in per_seq
                                                           if res.padded_frames})
        if trackers[r.name].padded:
            log.warning("%s: %d result file(s) shorter than the ground truth; their missing frames count as "
                        "failures (%s convention)", r.folder, len(trackers[r.name].padded), convention)
    return Report(dataset.name, convention, common, trackers, dataset.attribute_names)


def _attribute_codes(sequences) -> List[str]:
    codes: List[str] = []
    for s in sequences:
        for a in s.attributes:
            if a not in codes:
                codes.append(a)
    return codes


def _rounded(d: Dict[str, Optional[float]]) -> Dict[str, Optional[float]]:
    return {k: (None if v is None else round(float(v), 6)) for k, v in d.items()}


def fps_from_times(results: TrackerResults, sequences: Sequence[str]) -> Optional[float]:
    """Frames per second of the tracker step over the time files of ``sequences`` (total frames / total
    seconds; frame 1, the initialisation, left out); None when a time file is missing or unreadable."""
    total_time, frames = 0.0, 0
    for s in sequences:
        try:
            t = results.times(s)
        except (OSError, ValueError):
            return None
        if t is None:
            return None
        t = t[1:][np.isfinite(t[1:]) & (t[1:] > 0)]
        total_time += float(t.sum())
        frames += len(t)
    return frames / total_time if total_time > 0 else None


def format_report(report: Report, attributes: bool = True) -> str:
    """The printed table: one row per tracker, values as fractions."""
    pooled = report.convention == "got10k"
    heads = ["AO", "SR0.5", "SR0.75"] if pooled else ["AUC", "OP50", "OP75", "Prec", "NormPrec"]
    width = max([len("tracker")] + [len(n) for n in report.trackers]) + 2
    lines = [f"{report.dataset}: {len(report.sequences)} sequences, convention {report.convention!r} "
             f"({CONVENTIONS[report.convention].description})",
             "tracker".ljust(width) + "".join(h.rjust(9) for h in heads) + "      FPS"]
    for name, t in report.trackers.items():
        s = t.overall
        values = [s.auc, s.op50, s.op75] + ([] if pooled else [s.precision, s.norm_precision])
        fps = f"{t.fps:9.1f}" if t.fps is not None else "        -"
        lines.append(name.ljust(width) + "".join(f"{v:9.3f}" for v in values) + fps)
        if t.padded:
            lines.append(" " * width + "  (short result files, missing frames scored as failures: "
                         + ", ".join(f"{k} {v}" for k, v in t.padded.items()) + ")")
        if s.excluded:
            lines.append(" " * width + "  (LaSOT toolkit rule: all-zero curves left out: "
                         + ", ".join(f"{k} {v}" for k, v in s.excluded.items()) + ")")
    codes = [c for c in (report.attribute_names or {}) if any(c in t.per_attribute for t in report.trackers.values())]
    codes += [c for t in report.trackers.values() for c in t.per_attribute if c not in codes]
    if attributes and codes:
        metric = "AO" if pooled else "AUC / Prec"
        lines.append("")
        lines.append(f"per attribute ({metric}):")
        names = list(report.trackers)
        col = max(14, max(len(n) for n in names) + 2)
        lines.append("attribute".ljust(30) + "seqs".rjust(6) + "".join(n.rjust(col) for n in names))
        for code in codes:
            full = report.attribute_names.get(code, code)
            first = next(t.per_attribute[code] for t in report.trackers.values() if code in t.per_attribute)
            cells = []
            for n in names:
                s = report.trackers[n].per_attribute.get(code)
                if s is None:
                    cells.append("-".rjust(col))
                elif pooled:
                    cells.append(f"{s.auc:.3f}".rjust(col))
                else:
                    cells.append(f"{s.auc:.3f} / {s.precision:.3f}".rjust(col))
            lines.append(f"{code} {full}"[:29].ljust(30) + str(first.sequences).rjust(6) + "".join(cells))
    return "\n".join(lines)
