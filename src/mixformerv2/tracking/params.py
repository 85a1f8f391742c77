"""Tracker settings: crop factors and the template-update rule. The per-benchmark values of the official
tracker come from the benchmark table (``datasets.benchmarks``), a model's own values from its card (the
``card`` a loaded model carries); nothing here reads a file."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Union

from ..datasets.benchmarks import SETTINGS_NAMES, benchmark, settings_benchmark
from ..model.config import ModelConfig, preset_name, resolve_config
from ..model.hub import ModelCard, ModelCardError

BENCHMARKS = SETTINGS_NAMES   # the names for_benchmark accepts (and their aliases)

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
    size_update_rate: not in the official tracker (1.0 = it: the box is the prediction). With r < 1 the box
        takes the predicted centre but moves its width and height only the fraction r of the way to the
        predicted ones each frame (the size smoothing of Siamese trackers such as SiamRPN and NanoTrack),
        which damps the drift of a model whose size estimates are noisy.
    size_filter_noise: not in the official tracker (0 = off). When > 0 the width and height follow a Kalman
        filter on their logarithms instead of a fixed rate: each frame the filter's variance grows by this much
        (the variance of a frame's log size change that it expects), and the prediction is weighed by how sure
        the model is of it, the variance of its left and right (top and bottom) side distributions over the
        squared predicted width (height). A sure prediction moves the size almost all the way, an unsure one
        little. Needs size_update_rate 1 (the two are alternatives); a model without per-side distributions
        (a corner head) takes its predicted size.
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
    size_update_rate: float = 1.0
    size_filter_noise: float = 0.0

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
        rate = self.size_update_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate <= 1.0:
            fail(f"size_update_rate must be in (0, 1], got {rate!r}")
        noise = self.size_filter_noise
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
            fail(f"size_filter_noise must be a finite number >= 0, got {noise!r}")
        if noise > 0 and rate < 1.0:
            fail(f"size_update_rate {rate:g} and size_filter_noise {noise:g} are alternatives: set one (the other "
                 f"to 1 and 0)")
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
                      preset: Union[str, ModelConfig, Mapping[str, Any], None] = "mixformerv2-b",
                      card: Optional[ModelCard] = None) -> "TrackerParams":
        """The test settings of a benchmark for a model: the official update interval and search factor (the
        benchmark table, spec sections 1 and 4), then the model card's values on top (``card.tracker``, then
        ``card.benchmarks[name]``). ``preset``: a preset name, config dict or ModelConfig; the S preset (or a
        config equal to it) selects the S values, anything else the B values, whose search factor 5.0 is also
        the training one. A card's values are checked here: ModelCardError names the card and the setting."""
        entry = settings_benchmark(name)
        small = preset is not None and preset_name(resolve_config(preset)) == "mixformerv2-s"
        column = 1 if small else 0
        params = cls(search_factor=entry.search_factor[column], update_interval=entry.update_interval[column])
        if card is not None:
            params = params.replace(**card_values(card, benchmark(name).name))
        return params


def params_for_model(model, name: str = "default") -> TrackerParams:
    """``TrackerParams.for_benchmark(name, model.config, model.card)``: the settings a loaded model tracks
    benchmark ``name`` with (its card's, when it carries one)."""
    return TrackerParams.for_benchmark(name, model.config, getattr(model, "card", None))


def card_values(card: ModelCard, name: str) -> Dict[str, Any]:
    """The TrackerParams values ``card`` sets for canonical benchmark ``name``: its ``tracker`` section, then
    the section of its ``benchmarks`` that names that benchmark (by name or alias). Every section is checked
    (unknown benchmarks and invalid values raise ModelCardError naming the card)."""
    where = card.path or card.name

    def check(values: Dict[str, Any], section: str) -> None:
        try:
            TrackerParams(**values)
        except (TypeError, ValueError) as exc:
            raise ModelCardError(f"model card {where}: {section}: {exc}") from None

    check(card.tracker, "'tracker'")
    values = dict(card.tracker)
    for raw, section in card.benchmarks.items():
        try:
            key = benchmark(raw).name
        except ValueError as exc:
            raise ModelCardError(f"model card {where}: {exc}") from None
        check({**card.tracker, **section}, f"benchmarks.{raw}")
        if key == name:
            values.update(section)
    return values
