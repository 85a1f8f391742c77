"""Tracker settings: crop factors, template-update rule, and the per-benchmark values of the official tracker."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ..model.config import ModelConfig, preset_name

# Update interval (frames) of the online template per benchmark (spec section 4; official test configs).
# GOT-10k test is the only one that differs between B and S.
_UPDATE_INTERVALS: Dict[str, Tuple[int, int]] = {  # name: (B, S)
    "lasot": (200, 200),
    "lasot_ext": (200, 200),
    "got10k": (10, 15),
    "trackingnet": (25, 25),
    "vot": (10, 10),
    "tnl2k": (200, 200),
    "uav123": (200, 200),
    "otb": (200, 200),
    "nfs": (200, 200),
    "default": (200, 200),
}
# Search factor per benchmark (spec section 1). B uses 5.0 everywhere. S uses 4.4 on LaSOT (and the
# LaSOT extension, same protocol), 4.55 on TrackingNet and GOT-10k, and its config's test value 4.5 elsewhere.
_SEARCH_FACTORS: Dict[str, Tuple[float, float]] = {  # name: (B, S)
    "lasot": (5.0, 4.4),
    "lasot_ext": (5.0, 4.4),
    "got10k": (5.0, 4.55),
    "trackingnet": (5.0, 4.55),
}
_DEFAULT_SEARCH_FACTOR = (5.0, 4.5)
_ALIASES = {
    "got10k_test": "got10k", "got-10k": "got10k", "got10k-test": "got10k", "lasotext": "lasot_ext",
    "lasot-ext": "lasot_ext", "lasot_extension_subset": "lasot_ext", "otb100": "otb", "otb2015": "otb",
    "otb-100": "otb", "uav": "uav123", "nfs30": "nfs", "vot20": "vot", "vot2020": "vot", "vot2018": "vot",
    "vot2019": "vot", "vot2015": "vot", "tnl2k_test": "tnl2k",
}
BENCHMARKS = tuple(sorted(_UPDATE_INTERVALS))


def benchmark_name(name: str) -> str:
    """Canonical benchmark key (lasot, lasot_ext, got10k, trackingnet, vot, tnl2k, uav123, otb, nfs, default)."""
    key = name.strip().lower().replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in _UPDATE_INTERVALS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return key


@dataclass(frozen=True)
class TrackerParams:
    """How the tracker crops, predicts and updates its online templates (spec section 4).

    template_factor / search_factor: crop side = ceil(sqrt(w*h) * factor) pixels around the target.
    template_size / search_size: crop sizes fed to the model (pixels); None = take them from the model config.
    update_interval: every this many frames the online template becomes the best-scoring candidate of the
        interval (or the first-frame template when no frame scored above score_threshold).
    score_threshold: a frame is a template candidate when sigmoid(score) > this and > the best score so far.
    online_templates: how many online templates the model sees (the official tracker only works with 1).
        With K > 1 the list starts with the first-frame template and grows by one per update up to K,
        then the oldest is replaced.
    max_score_decay: the best score of the interval is multiplied by this every frame (official default 1.0).
    far_side_padding_quirk: True reproduces the official crop, which also zeroes the last image column/row
        when a crop passes the right/bottom border; False pads only outside the image.
    """

    template_factor: float = 2.0
    search_factor: float = 5.0
    update_interval: int = 200
    score_threshold: float = 0.5
    online_templates: int = 1
    max_score_decay: float = 1.0
    far_side_padding_quirk: bool = True
    template_size: Optional[int] = None
    search_size: Optional[int] = None

    def __post_init__(self) -> None:
        def fail(msg: str) -> None:
            raise ValueError(f"invalid tracker params: {msg}")

        for name in ("template_factor", "search_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                fail(f"{name} must be a positive number, got {value!r}")
        for name in ("update_interval", "online_templates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.score_threshold, (int, float)) or not 0.0 <= self.score_threshold <= 1.0:
            fail(f"score_threshold must be in [0, 1], got {self.score_threshold!r}")
        if not isinstance(self.max_score_decay, (int, float)) or not 0.0 <= self.max_score_decay <= 1.0:
            fail(f"max_score_decay must be in [0, 1], got {self.max_score_decay!r}")
        for name in ("template_size", "search_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                fail(f"{name} must be a positive integer or None, got {value!r}")

    def replace(self, **changes: Any) -> "TrackerParams":
        return dataclasses.replace(self, **changes)

    def resolved(self, config: ModelConfig) -> "TrackerParams":
        """These params with template_size/search_size filled in from the model config; an explicit size
        that differs from the model's is an error (the model only accepts its own sizes)."""
        for name in ("template_size", "search_size"):
            value = getattr(self, name)
            if value is not None and value != getattr(config, name):
                raise ValueError(f"tracker {name} {value} does not match the model's {getattr(config, name)}")
        return self.replace(template_size=config.template_size, search_size=config.search_size)

    @classmethod
    def for_benchmark(cls, name: str = "default",
                      preset: Union[str, ModelConfig, Mapping[str, Any], None] = "mixformerv2-b") -> "TrackerParams":
        """The test settings of a benchmark for a model: the official update interval and search factor per
        spec sections 1 and 4. ``preset``: a preset name, bundled-model name ("default"), config dict or
        ModelConfig. "mixformerv2-s"/"s" or a config equal to it selects the S values; anything else (B, custom
        students) the B values, whose search factor 5.0 is also the training one. A model with the
        architecture of an installed bundled model (the default model) then gets the settings of its model
        card (``tracker``, and ``benchmarks[name]`` on top)."""
        key = benchmark_name(name)
        small = False
        card = None
        if preset is not None:
            from .pretrained import card_for_config, model_config

            config = model_config(preset)
            small = preset_name(config) == "mixformerv2-s"
            card = card_for_config(config)
        column = 1 if small else 0
        params = cls(search_factor=_SEARCH_FACTORS.get(key, _DEFAULT_SEARCH_FACTOR)[column],
                     update_interval=_UPDATE_INTERVALS[key][column])
        if card is not None:
            params = params.replace(**card.tracker_values(key))
        return params
