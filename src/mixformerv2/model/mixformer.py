"""The MixFormerV2 model: a plain ViT over [templates | search | prediction tokens] with mixed attention.

One class serves every variant (B, S, pruned students, the MixViT teacher): see ``ModelConfig``.
The forward pass is written as "encode the templates, then run the search step", so the full forward and
the cached tracking path share the same code and give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from .config import ModelConfig
from .heads import CornerHead, ScoreHead, TokenBoxHead
from .layers import Block, PatchEmbed, check_images, sincos_pos_embed_2d
from .stems import ConvPatchEmbed

OnlineTemplates = Union[torch.Tensor, Sequence[torch.Tensor]]


@dataclass
class TemplateCache:
    """What the search step needs from the templates, per running block.

    keys/values: (L, B, H, N_t, D) for the L running blocks, N_t = all template tokens (target template
    followed by every online template). tokens: (L, B, N_t, E), the template tokens after each running block
    (only needed for per-block features).
    """

    keys: torch.Tensor
    values: torch.Tensor
    tokens: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.keys.shape[1]

    @property
    def num_tokens(self) -> int:
        return self.keys.shape[3]

    def select(self, index: Union[torch.Tensor, Sequence[int]]) -> "TemplateCache":
        """The cache of a subset (or re-ordering) of the batch."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.keys.device)
        return TemplateCache(self.keys.index_select(1, index), self.values.index_select(1, index),
                             self.tokens.index_select(1, index))

    @staticmethod
    def cat(caches: Sequence["TemplateCache"]) -> "TemplateCache":
        """Concatenate caches along the batch (they must hold the same number of template tokens)."""
        return TemplateCache(torch.cat([c.keys for c in caches], 1), torch.cat([c.values for c in caches], 1),
                             torch.cat([c.tokens for c in caches], 1))


class Backbone(nn.Module):
    """Patch embedding, positional tables, prediction tokens and the transformer blocks."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        self.config = c
        e = c.embed_dim
        self.patch_embed = PatchEmbed(c.patch_size, e) if c.patch_embed == "linear" else ConvPatchEmbed(e)
        if torch.empty(0).device.type == "meta":   # shapes only (build.expected_shapes): no table is computed
            table = lambda grid: torch.empty(1, grid * grid, e)  # noqa: E731
        else:
            table = lambda grid: sincos_pos_embed_2d(e, grid).unsqueeze(0)  # noqa: E731
        self.pos_embed_t = nn.Parameter(table(c.template_grid), requires_grad=False)
        self.pos_embed_s = nn.Parameter(table(c.search_grid), requires_grad=False)
        if c.num_prediction_tokens:
            self.reg_tokens = nn.Parameter(torch.zeros(1, c.num_prediction_tokens, e))
            self.pos_embed_reg = nn.Parameter(torch.zeros(1, c.num_prediction_tokens, e))
            nn.init.trunc_normal_(self.reg_tokens, std=0.02)
            nn.init.trunc_normal_(self.pos_embed_reg, std=0.02)
        rates = [c.drop_path_rate * i / max(1, c.depth - 1) for i in range(c.depth)]
        self.blocks = nn.ModuleList(Block(e, c.num_heads, c.mlp_hidden_dim, rates[i]) for i in range(c.depth))
        self.running = list(c.running_blocks)

    def embed_templates(self, templates: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.patch_embed(t) + self.pos_embed_t for t in templates], dim=1)

    def embed_search(self, search: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(search) + self.pos_embed_s
        if hasattr(self, "reg_tokens"):
            reg = (self.reg_tokens + self.pos_embed_reg).expand(x.shape[0], -1, -1)
            x = torch.cat([x, reg], dim=1)
        return x

    def encode_templates(self, templates: Sequence[torch.Tensor]) -> TemplateCache:
        x = self.embed_templates(templates)
        keys, values, tokens = [], [], []
        for i in self.running:
            x, k, v = self.blocks[i].forward_templates(x)
            keys.append(k)
            values.append(v)
            tokens.append(x)
        return TemplateCache(torch.stack(keys), torch.stack(values), torch.stack(tokens))

    def forward_search(self, search: torch.Tensor, cache: TemplateCache,
                       return_features: bool = False) -> Dict[str, object]:
        """Search (+ prediction) tokens through the running blocks. Returns the final search-side tokens
        and, if asked, the full token sequence [templates | search | prediction] after every running block."""
        x = self.embed_search(search)
        features: List[torch.Tensor] = []
        for layer, i in enumerate(self.running):
            x = self.blocks[i].forward_search(x, cache.keys[layer], cache.values[layer])
            if return_features:
                t = cache.tokens[layer]
                if t.shape[0] != x.shape[0]:
                    t = t.expand(x.shape[0], -1, -1)
                features.append(torch.cat([t, x], dim=1))
        return {"tokens": x, "features": features}


class MixFormerV2(nn.Module):
    """MixFormerV2 tracker network (or the MixViT teacher when config.head == "corner").

    Inputs are normalized RGB crops: template (B,3,T,T), online template(s) (B,3,T,T), (B,K,3,T,T) or a
    list of K (B,3,T,T) tensors, search (B,3,S,S). Outputs are a dict:
      pred_boxes (B,1,4): box as cx, cy, w, h normalized to the search crop;
      pred_scores (B,): confidence logits (token models with a score head);
      prob_l/prob_t/prob_r/prob_b (B,F) (token head) or prob_tl/prob_br (B,M*M) (corner head):
        probabilities, or pre-softmax logits with return_logits=True;
      reg_tokens (B,4,E): last-block prediction tokens in order l, r, t, b (token head);
      features: list of (B,N,E) full token sequences after every running block (return_features=True).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.backbone = Backbone(config)
        if config.head == "tokens":
            self.box_head = TokenBoxHead(config.embed_dim, config.num_bins)
        else:
            self.box_head = CornerHead(config.embed_dim, config.search_grid)
        if config.score_head:
            self.score_head = ScoreHead(config.embed_dim)

    # Inputs --------------------------------------------------------------------------------------
    def _template_list(self, template: torch.Tensor, online_template: Optional[OnlineTemplates]) -> List[torch.Tensor]:
        t = self.config.template_size
        check_images("template", template, t)
        batch = template.shape[0]
        if online_template is None:
            online: List[torch.Tensor] = []
        elif isinstance(online_template, torch.Tensor) and online_template.ndim == 5:
            online = list(online_template.unbind(1))
        elif isinstance(online_template, torch.Tensor):
            online = [online_template]
        else:
            online = list(online_template)
        for j, o in enumerate(online):
            check_images(f"online_template[{j}]" if len(online) > 1 else "online_template", o, t, batch)
        return [template] + online

    # Forward paths -------------------------------------------------------------------------------
    def encode_templates(self, template: torch.Tensor,
                         online_template: Optional[OnlineTemplates] = None) -> TemplateCache:
        """Run the template tokens through every block once; the cache serves any number of search steps
        until a template changes. Several online templates are allowed (or none)."""
        return self.backbone.encode_templates(self._template_list(template, online_template))

    def forward_search(self, search: torch.Tensor, cache: TemplateCache, return_logits: bool = False,
                       return_features: bool = False) -> Dict[str, object]:
        """The per-frame step: search crop(s) (B,3,S,S) against cached templates. A cache of batch 1 is
        shared by every search crop; otherwise batch sizes must match."""
        s = self.config.search_size
        check_images("search", search, s)
        if cache.batch_size not in (1, search.shape[0]):
            raise ValueError(f"search has batch size {search.shape[0]} but the template cache has "
                             f"{cache.batch_size}")
        out = self.backbone.forward_search(search, cache, return_features=return_features)
        tokens = out["tokens"]
        n_s = self.config.num_search_tokens
        if self.config.head == "tokens":
            reg = tokens[:, n_s:]
            result: Dict[str, object] = dict(self.box_head(reg, return_logits=return_logits))
            result["reg_tokens"] = reg
            if self.config.score_head:
                result["pred_scores"] = self.score_head(reg)
        else:
            result = dict(self.box_head(tokens[:, :n_s], return_logits=return_logits))
        if return_features:
            result["features"] = out["features"]
        return result

    def forward(self, template: torch.Tensor, online_template: Optional[OnlineTemplates], search: torch.Tensor,
                return_logits: bool = False, return_features: bool = False) -> Dict[str, object]:
        """Full forward (templates re-encoded). Equal to encode_templates + forward_search."""
        check_images("search", search, self.config.search_size, template.shape[0] if isinstance(template, torch.Tensor) else None)
        cache = self.encode_templates(template, online_template)
        return self.forward_search(search, cache, return_logits=return_logits, return_features=return_features)

    # Pruning support -----------------------------------------------------------------------------
    def set_residual_scale(self, blocks: Sequence[int], scale: float) -> None:
        """Scale both residual branches of the given blocks (progressive layer elimination)."""
        for i in blocks:
            self.backbone.blocks[i].residual_scale = float(scale)
