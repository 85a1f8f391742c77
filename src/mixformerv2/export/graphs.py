"""Export-friendly views of the model's two tracking stages, with plain tensors in and out.

``TemplateEncoderGraph``: templates (B, 1+K, 3, T, T) (target template, then K online templates) ->
keys, values (L, B, H, N_t, D), N_t = (1+K) * template tokens. ``SearchStepGraph``: search (B, 3, S, S)
plus those keys/values -> the model's per-frame outputs. Both compute exactly what
``MixFormerV2.encode_templates`` / ``forward_search`` compute (same modules, same order of operations),
with the batch and the number of templates free.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from ..model.mixformer import MixFormerV2, TemplateCache

TEMPLATE_INPUTS = ("templates",)
TEMPLATE_OUTPUTS = ("keys", "values")
SEARCH_INPUTS = ("search", "keys", "values")


def search_output_names(model: MixFormerV2) -> Tuple[str, ...]:
    """Outputs of the search-step graph, in order: pred_boxes (B, 1, 4) cx, cy, w, h normalized to the
    search crop; pred_scores (B,) logits when the model has a score head; bin probabilities per side
    prob_l/prob_t/prob_r/prob_b (B, F) (token head) or prob_tl/prob_br (B, M*M) (corner head)."""
    c = model.config
    if c.head == "tokens":
        names = ("pred_boxes",) + (("pred_scores",) if c.score_head else ())
        return names + tuple(f"prob_{side}" for side in ("l", "t", "r", "b"))
    return ("pred_boxes", "prob_tl", "prob_br")


class TemplateEncoderGraph(nn.Module):
    """templates (B, 1+K, 3, T, T) -> (keys, values), each (L, B, H, N_t, D)."""

    def __init__(self, model: MixFormerV2):
        super().__init__()
        self.model = model

    def forward(self, templates: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        backbone = self.model.backbone
        batch, embed = templates.shape[0], self.model.config.embed_dim
        # Every template image is embedded separately (same patch conv, same positional table), then the
        # images' tokens are laid side by side: [template | online 1 | ... | online K].
        tokens = backbone.patch_embed(templates.flatten(0, 1)) + backbone.pos_embed_t
        x = tokens.reshape(batch, -1, embed)
        keys, values = [], []
        for i in backbone.running:
            x, k, v = backbone.blocks[i].forward_templates(x)
            keys.append(k)
            values.append(v)
        return torch.stack(keys), torch.stack(values)


class SearchStepGraph(nn.Module):
    """(search (B, 3, S, S), keys, values (L, B, H, N_t, D)) -> outputs named by ``search_output_names``."""

    def __init__(self, model: MixFormerV2):
        super().__init__()
        self.model = model
        self.output_names = search_output_names(model)

    def forward(self, search: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.model.forward_search(search, TemplateCache(keys, values, tokens=None))
        return tuple(out[name] for name in self.output_names)

