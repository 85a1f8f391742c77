"""Training samples: two templates and a search frame of one target, drawn from several datasets.

Sample ``i`` of epoch ``e`` depends only on (seed, e, i): the random generator is seeded from them, so
the data are the same whatever the number of workers or processes, and a resumed run sees exactly the
samples the interrupted one would have seen. :class:`EpochIndexSampler` hands each process its share of
the (epoch, index) pairs so that global batch k is always samples k*B .. k*B+B-1.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .base import TrackingDataset
from .processing import PairProcessing

log = logging.getLogger(__name__)


@dataclass
class SamplerConfig:
    """How frames are drawn. ``max_gap``: largest distance in frames between the first template and the
    search frame (widened by 5 frames per failed try). ``mode``: "box" (every sample shows the target) or
    "score" (positives and negatives 50/50 for the score head)."""

    samples_per_epoch: int = 60000
    max_gap: int = 200
    num_templates: int = 2
    mode: str = "box"
    negative_prob: float = 0.5
    max_redraws: int = 50

    def __post_init__(self) -> None:
        if self.mode not in ("box", "score"):
            raise ValueError(f"sampler mode must be 'box' or 'score', got {self.mode!r}")
        if self.num_templates < 1 or self.samples_per_epoch < 1 or self.max_gap < 1:
            raise ValueError("sampler num_templates, samples_per_epoch and max_gap must be >= 1")


def _pick(rng: np.random.Generator, visible: np.ndarray, lo: int, hi: int) -> Optional[int]:
    """A random visible frame in [lo, hi] (inclusive), or None."""
    lo, hi = max(lo, 0), min(hi, len(visible) - 1)
    if hi < lo:
        return None
    ids = np.flatnonzero(visible[lo:hi + 1])
    return None if len(ids) == 0 else lo + int(ids[rng.integers(len(ids))])


class TrackingSampler(torch.utils.data.Dataset):
    """A map-style dataset over (epoch, index) pairs producing processed samples.

    Each sample (see PairProcessing): templates uint8 (K,3,T,T), search uint8 (3,S,S), search_box (4,)
    x, y, w, h normalized to the search crop, template_boxes (K,4), label () float (1 = the target is in the
    search crop, 0 = a negative, only in "score" mode). Bad frames or annotations are logged and another
    sample is drawn from the same random stream.
    """

    def __init__(self, datasets: Sequence[TrackingDataset], ratios: Sequence[float], processing: PairProcessing,
                 config: SamplerConfig, seed: int = 0):
        if not datasets:
            raise ValueError("the sampler needs at least one dataset")
        if len(ratios) != len(datasets) or any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f"dataset ratios {list(ratios)} must be one non-negative weight per dataset, not all 0")
        self.datasets = list(datasets)
        self.probs = np.asarray(ratios, dtype=np.float64) / float(sum(ratios))
        self.processing = processing
        self.config = config
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.config.samples_per_epoch

    def __getitem__(self, key) -> Dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(epoch), int(index)]))
        last_error: Optional[Exception] = None
        for _ in range(self.config.max_redraws):
            d = int(rng.choice(len(self.datasets), p=self.probs))
            dataset = self.datasets[d]
            seq = int(rng.integers(len(dataset)))
            try:
                if self.config.mode == "score" and rng.random() < self.config.negative_prob:
                    sample = self._negative(rng, dataset, seq)
                else:
                    sample = self._positive(rng, dataset, seq)
            except (OSError, ValueError, IndexError) as exc:
                log.warning("bad sample from %s sequence %d (%s); drawing another", dataset.name, seq, exc)
                last_error = exc
                continue
            if sample is not None:
                return sample
        raise RuntimeError(f"no usable sample after {self.config.max_redraws} draws (epoch {epoch}, index {index}); "
                           f"last error: {last_error}")

    # Frame choice ---------------------------------------------------------------------------------
    def _frame_ids(self, rng: np.random.Generator, dataset: TrackingDataset, visible: np.ndarray
                   ) -> Optional[Tuple[List[int], int]]:
        """(template frame ids, search frame id): first template t0 <= online templates <= search s, with
        s - t0 <= max_gap (+5 per failed try); all visible."""
        k = self.config.num_templates
        if not dataset.is_video:
            return ([0] * k, 0) if visible[0] else None
        if visible.sum() < 2:
            return None
        gap = self.config.max_gap
        for _ in range(10):
            s = _pick(rng, visible, 1, len(visible) - 1)
            if s is None:
                return None
            t0 = _pick(rng, visible, s - gap, s - 1)
            if t0 is None:
                gap += 5
                continue
            online = [_pick(rng, visible, t0, s) for _ in range(k - 1)]
            return [t0] + sorted(int(t) for t in online if t is not None) + [t0] * sum(t is None for t in online), s
        return None

    def _positive(self, rng: np.random.Generator, dataset: TrackingDataset, seq: int) -> Optional[Dict[str, torch.Tensor]]:
        anno = dataset.annotations(seq)
        chosen = self._frame_ids(rng, dataset, anno.visible)
        if chosen is None:
            return None
        templates, search = chosen
        frames = dataset.frames(seq, templates + [search])
        sample = self.processing(frames[:-1], anno.boxes[templates], frames[-1], anno.boxes[search], rng)
        sample["label"] = torch.tensor(1.0)
        return sample

    def _negative(self, rng: np.random.Generator, dataset: TrackingDataset, seq: int) -> Optional[Dict[str, torch.Tensor]]:
        """Templates of one target, and a search crop without it: where it is absent (crop at its last
        visible box) when the sequence has such frames and a coin says so, else around another sequence's target."""
        anno = dataset.annotations(seq)
        chosen = self._frame_ids(rng, dataset, anno.visible)
        if chosen is None:
            return None
        templates, _ = chosen
        template_frames = dataset.frames(seq, templates)
        absent = np.flatnonzero(~anno.visible)
        absent = absent[absent > templates[0]]
        if dataset.is_video and len(absent) and rng.random() < 0.5:
            s = int(absent[rng.integers(len(absent))])
            before = np.flatnonzero(anno.visible[:s])
            if len(before) == 0:
                return None
            search_frame = dataset.frames(seq, [s])[0]
            search_box = anno.boxes[int(before[-1])]
        else:
            d = int(rng.choice(len(self.datasets), p=self.probs))
            other_ds = self.datasets[d]
            other = int(rng.integers(len(other_ds)))
            if other_ds is dataset and other == seq:
                return None
            other_anno = other_ds.annotations(other)
            ids = np.flatnonzero(other_anno.visible)
            if len(ids) == 0:
                return None
            s = int(ids[rng.integers(len(ids))])
            search_frame = other_ds.frames(other, [s])[0]
            search_box = other_anno.boxes[s]
        sample = self.processing(template_frames, anno.boxes[templates], search_frame, search_box, rng)
        sample["label"] = torch.tensor(0.0)
        return sample


class EpochIndexSampler(torch.utils.data.Sampler):
    """Yields (epoch, index) for this process's share of one epoch: indices start+rank, start+rank+world, ...
    With per-process batch B/world, global batch k is samples k*B .. k*B+B-1 for any number of processes.
    ``num_samples`` should be a multiple of the global batch (the trainer drops the remainder)."""

    def __init__(self, num_samples: int, rank: int = 0, world_size: int = 1):
        self.num_samples = num_samples
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Next iteration covers epoch ``epoch`` from global sample ``start`` on (a multiple of the global batch)."""
        self.epoch = epoch
        self.start = start

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        for i in range(self.start + self.rank, self.num_samples, self.world_size):
            yield (self.epoch, i)

    def __len__(self) -> int:
        return len(range(self.start + self.rank, self.num_samples, self.world_size))
