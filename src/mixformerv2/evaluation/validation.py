"""Model selection by tracking: a model in memory tracks a dataset one-pass (the library's tracking loop) and
is scored under the dataset's convention, with nothing written to disk. Training calls this every few epochs
on the real validation sequences and keeps the checkpoint with the best success AUC.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import numpy as np
from torch import nn

from ..datasets import Dataset
from .metrics import aggregate
from .runner import track_sequence
from .scoring import score_dataset_sequence


@dataclass(frozen=True)
class TrackingScores:
    """Scores of one validation run: ``auc`` (success AUC; GOT-10k: AO), ``precision`` (20 px; None for
    GOT-10k), ``op50``, ``fps`` of the tracker step, ``sequences`` and ``frames`` tracked, ``seconds`` of wall
    time, and each sequence's AUC."""

    auc: float
    precision: Optional[float]
    op50: float
    fps: Optional[float]
    sequences: int
    frames: int
    seconds: float
    per_sequence: Dict[str, float]

    def as_dict(self) -> Dict[str, Any]:
        def num(v):
            return None if v is None else round(float(v), 6)
        return {"auc": num(self.auc), "precision": num(self.precision), "op50": num(self.op50), "fps": num(self.fps),
                "sequences": self.sequences, "frames": self.frames, "seconds": round(self.seconds, 1),
                "per_sequence": {k: num(v) for k, v in self.per_sequence.items()}}


def track_and_score(model: nn.Module, dataset: Dataset, params: Optional[Mapping[str, Any]] = None,
                    max_sequences: int = 0, threads: Optional[int] = None, backend: str = "torch") -> TrackingScores:
    """Track every sequence of ``dataset`` (the first ``max_sequences`` when > 0) from its first box with
    ``model`` (in eval mode for the run; its training mode is restored) and the tracker settings for it
    (its card's or its architecture's, ``params`` on top), and score the boxes under the dataset's convention.
    ``backend``: the tracker backend (an ONNX one exports the model first; its boxes agree with torch's)."""
    from ..tracking import Tracker, params_for_model

    sequences = list(dataset.sequences)
    if max_sequences > 0:
        sequences = sequences[:max_sequences]
    if not sequences:
        raise ValueError(f"{dataset.name} at {dataset.root}: no sequences to validate on")
    tracker_params = params_for_model(model, dataset.name)
    if params:
        tracker_params = tracker_params.replace(**dict(params))
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    try:
        tracker = Tracker(model, tracker_params, backend=backend, threads=threads)
        results, step_seconds, frames = [], 0.0, 0
        for seq in sequences:
            boxes, times = track_sequence(tracker, seq)
            results.append(score_dataset_sequence(dataset.convention, seq, [boxes], source="validation"))
            step_seconds += float(np.sum(times[1:]))
            frames += len(times) - 1
    finally:
        model.train(was_training)
    overall = aggregate(dataset.convention, results)
    return TrackingScores(float(overall.auc), None if overall.precision is None else float(overall.precision),
                          float(overall.op50), frames / step_seconds if step_seconds > 0 else None, len(sequences),
                          frames + len(sequences), time.perf_counter() - start,
                          {r.name: float(r.summary(dataset.convention)["auc"]) for r in results})


__all__ = ["TrackingScores", "track_and_score"]
