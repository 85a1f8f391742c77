"""Packaging test-split results for the evaluation servers (GOT-10k and TrackingNet have no public test
ground truth).

GOT-10k: a zip of ``<seq>/<seq>_001.txt`` (x, y, w, h px per frame; ``_002``, ``_003`` for further
repetitions) and ``<seq>/<seq>_time.txt`` (seconds per frame). TrackingNet: a zip of ``<seq>.txt`` files
at the archive's top level. Every sequence must be present with one finite box per frame.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import List

import numpy as np

from ..files import atomic_write
from ..datasets.annotations import format_boxes
from ..datasets import Dataset, FramesUnavailableError
from .results import MissingResultsError, find_results, missing_message


class SubmissionError(ValueError):
    """Results that the evaluation server would reject; the message says which and why."""


def package_submission(dataset: Dataset, results_dir: Path, out_zip: Path) -> Path:
    """Check the results folder against ``dataset`` and write the server's zip to ``out_zip`` atomically."""
    if dataset.name not in ("got10k", "trackingnet"):
        raise ValueError(f"submission packaging is for GOT-10k and TrackingNet test results, not {dataset.name}")
    results = find_results(results_dir, dataset.names())
    if results.missing:
        raise MissingResultsError(missing_message(results, len(dataset)).split("; pass --partial")[0])
    entries: List[tuple] = []
    problems: List[str] = []
    for seq in dataset:
        try:
            expected = seq.num_frames
        except FramesUnavailableError:
            expected = None
        runs = results.boxes(seq.name)
        for rep, (path, boxes) in enumerate(zip(results.boxes_files[seq.name], runs), start=1):
            if expected is not None and len(boxes) != expected:
                problems.append(f"{path}: {len(boxes)} boxes for {expected} frames")
            elif not np.isfinite(boxes).all():
                row = int(np.nonzero(~np.isfinite(boxes).all(axis=1))[0][0]) + 1
                problems.append(f"{path}:{row}: box is not finite")
            if dataset.name == "got10k":
                entries.append((f"{seq.name}/{seq.name}_{rep:03d}.txt", format_boxes(boxes, 4)))
            else:
                entries.append((f"{seq.name}.txt", format_boxes(boxes, 4)))
                break  # TrackingNet takes one run
        if dataset.name == "got10k":
            times = results.times(seq.name)  # checks that it parses
            if times is None:
                problems.append(f"{seq.name}: no {seq.name}_time.txt (seconds per frame) in {results_dir}")
            else:
                text = results.time_files[seq.name].read_text()
                entries.append((f"{seq.name}/{seq.name}_time.txt", text))
    if problems:
        raise SubmissionError(f"{len(problems)} problem(s) in {results_dir}: " + "; ".join(problems[:10])
                              + (f"; ... ({len(problems) - 10} more)" if len(problems) > 10 else ""))

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, text in entries:
                archive.writestr(name, text)

    atomic_write(out_zip, write)
    return Path(out_zip)
