"""Turn a preset name, a dict or a ModelConfig into a model."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Union

import torch

from .config import ModelConfig, resolve_config
from .mixformer import MixFormerV2


def build_model(preset_or_config: Union[str, Mapping[str, Any], ModelConfig]) -> MixFormerV2:
    """A freshly initialised model. ``preset_or_config`` is a preset name ("mixformerv2-b", "mixformerv2-s",
    "mixvit-b", or the aliases "b", "s", "teacher"), a dict with keys embed_dim, depth, num_heads, mlp_ratio,
    template_size, search_size, num_bins (optional patch_size, head, score_head, active_blocks, ...),
    or a ModelConfig."""
    return MixFormerV2(resolve_config(preset_or_config))


def expected_shapes(preset_or_config: Union[str, Mapping[str, Any], ModelConfig]) -> Dict[str, Tuple[int, ...]]:
    """The state-dict entries and shapes of the model a config describes, found without allocating its weights
    (built on torch's "meta" device), so that a checkpoint can be checked against its config before the model is
    built: a hostile config cannot make a loader allocate gigabytes."""
    with torch.device("meta"):
        model = MixFormerV2(resolve_config(preset_or_config))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}
