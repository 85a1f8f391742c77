"""Calibration crops for static int8 quantization: real template and search crops cut from sequences.

Each sample is what the tracker would feed the search step at a frame: the target template from the first
frame, an online template cut at the previous frame's ground-truth box, and the search crop around that
box (the tracker's crop arithmetic and factors), encoded by the float32 template encoder. The crops are cut
at the ground truth, not by tracking (so that a weak model still calibrates on its target), with the tracker's
own crop function (``geometry.model_input``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np

from .runtime import OnnxTrackingGraphs


def calibration_feeds(export_dir: Union[str, Path], sequences: Sequence[Union[str, Path]],
                      num_samples: int = 64) -> List[Dict[str, np.ndarray]]:
    """About ``num_samples`` search-step feeds {"search", "keys", "values"} spread evenly over the frames of
    ``sequences`` (folders of frames, or with an img/ sub-folder, plus a groundtruth file of x,y,w,h
    rectangles or VOT polygons)."""
    from ..datasets.annotations import read_regions
    from ..datasets.folders import ground_truth_file
    from ..geometry import model_input
    from ..tracking import TrackerParams
    from ..tracking.sources import open_source

    if num_samples < 1:
        raise ValueError(f"the number of calibration samples must be >= 1, got {num_samples}")
    if not sequences:
        raise ValueError("calibration needs at least one sequence")
    graphs = OnnxTrackingGraphs(export_dir, "float32")
    params = TrackerParams.for_benchmark("default", graphs.config).resolved(graphs.config)
    per_sequence = max(1, -(-num_samples // len(sequences)))
    feeds: List[Dict[str, np.ndarray]] = []

    def crop(frame: np.ndarray, box, factor: float, size: int) -> np.ndarray:
        return model_input(frame, box, factor, size, params.far_side_padding_quirk)

    for folder in map(Path, sequences):
        boxes = read_regions(ground_truth_file(folder))
        usable = [i for i in range(1, len(boxes)) if np.isfinite(boxes[i - 1]).all() and boxes[i - 1][2:].min() > 0]
        if not np.isfinite(boxes[0]).all() or not usable:
            raise ValueError(f"sequence {folder} has no usable ground-truth boxes for calibration")
        picks = set(usable[j] for j in np.linspace(0, len(usable) - 1, min(per_sequence, len(usable))).astype(int))
        template = previous = None
        with open_source(folder) as frames:
            for i, frame in enumerate(frames):
                if i == 0:
                    template = crop(frame, boxes[0], params.template_factor, params.template_size)
                if i in picks:
                    online = crop(frame if previous is None else previous, boxes[i - 1], params.template_factor,
                                  params.template_size)
                    search = crop(frame, boxes[i - 1], params.search_factor, params.search_size)
                    templates = np.stack([template] + [online] * params.online_templates)[None]
                    keys, values = graphs.encode(templates)
                    feeds.append({"search": search[None], "keys": keys, "values": values})
                previous = frame
                if i >= max(picks) or i + 1 >= len(boxes):
                    break
    return feeds
