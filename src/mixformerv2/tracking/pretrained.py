"""Which weights a tracker runs with when the user names only a model."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from torch import nn

from ..model.checkpoint import load_checkpoint
from ..model.config import ModelConfig, preset_name, resolve_config

DEFAULT_PRESET = "mixformerv2-s"
ASSETS = Path(__file__).resolve().parents[1] / "assets"
# Weights shipped inside the package, per preset (file names under mixformerv2/assets/). A preset listed
# here is the fallback when no weights are given.
BUNDLED_WEIGHTS: Dict[str, str] = {}


class WeightsRequiredError(ValueError):
    """A model was named without weights and none are bundled for it."""


def default_weights(config: ModelConfig) -> Path:
    """The bundled checkpoint of a preset, or WeightsRequiredError."""
    name = preset_name(config)
    if name in BUNDLED_WEIGHTS:
        return ASSETS / BUNDLED_WEIGHTS[name]
    raise WeightsRequiredError(
        f"weights are required: no trained weights are bundled for {name or 'a custom model config'}; "
        f"pass --weights PATH (Python: weights=PATH) with an official MixFormerV2 checkpoint "
        f"({{'net': state_dict}} .pth.tar) or one written by mixformerv2")


def load_model(model: Union[str, Mapping[str, Any], ModelConfig, None] = None,
               weights: Union[str, Path, None] = None) -> nn.Module:
    """A MixFormerV2 in eval mode with trained weights.

    ``model`` (preset name, config dict or ModelConfig) is the architecture the weights must fit; None
    means the config stored in or inferred from the weights, or the default preset (S) without weights.
    Without ``weights`` the preset's bundled weights are used (WeightsRequiredError when there are none).
    Weights of another model raise CheckpointError naming the mismatching keys and shapes.
    """
    config = resolve_config(model) if model is not None else None
    if weights is None:
        weights = default_weights(config or resolve_config(DEFAULT_PRESET))
    return load_checkpoint(weights, config)
