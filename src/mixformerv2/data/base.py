"""What every training dataset offers the sampler: sequences of frames with one box per frame."""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Generic, List, Sequence, TypeVar

import numpy as np

log = logging.getLogger(__name__)

# A target counts as visible for sampling when at least this fraction of it can be seen.
MIN_VISIBLE_FRACTION = 0.3


@dataclass
class SequenceAnnotations:
    """One sequence's ground truth: boxes (N, 4) x, y, w, h in pixels (float64) and visible (N,) bool
    (the target is in the frame, not fully occluded, and its box is valid)."""

    boxes: np.ndarray
    visible: np.ndarray

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        valid = np.isfinite(self.boxes).all(1) & (self.boxes[:, 2] > 0) & (self.boxes[:, 3] > 0)
        self.visible = np.asarray(self.visible, dtype=bool).reshape(-1)[: len(self.boxes)] & valid

    def __len__(self) -> int:
        return len(self.boxes)


class TrackingDataset:
    """Base class of the training datasets. Subclasses implement the four methods below.

    ``is_video`` is False for datasets of still images (COCO): each "sequence" is one image and one
    object, and the sampler uses that image for every template and the search frame.
    """

    name: str = "dataset"
    is_video: bool = True

    def __len__(self) -> int:
        raise NotImplementedError

    def sequence_name(self, index: int) -> str:
        raise NotImplementedError

    def annotations(self, index: int) -> SequenceAnnotations:
        raise NotImplementedError

    def frames(self, index: int, frame_ids: Sequence[int]) -> List[np.ndarray]:
        """RGB uint8 (H, W, 3) frames; raises OSError/ValueError for unreadable ones."""
        raise NotImplementedError


K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A small least-recently-used cache (each data-loading worker has its own)."""

    def __init__(self, size: int):
        self.size = size
        self._items: "OrderedDict[K, V]" = OrderedDict()

    def get(self, key: K, make: Callable[[], V]) -> V:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value
