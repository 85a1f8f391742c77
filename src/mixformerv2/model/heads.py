"""Prediction heads: the token box head and score head of MixFormerV2, the MixViT pyramid corner head."""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

HEAD_LN_EPS = 1e-5

# Prediction token i predicts this side of the box (spec section 3).
TOKEN_SIDES = ("l", "r", "t", "b")


def box_xyxy_to_cxcywh(box: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = box.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def box_cxcywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = box.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


class TokenBoxHead(nn.Module):
    """Shared MLP mapping each prediction token to a distribution over ``num_bins`` coordinate bins.

    Linear(E->E) -> LayerNorm -> ReLU -> Linear(E->F) -> LayerNorm. Bin i sits at normalized coordinate
    i / F; a side is the expectation of that coordinate under the softmax.
    """

    def __init__(self, embed_dim: int, num_bins: int):
        super().__init__()
        self.num_bins = num_bins
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.LayerNorm(embed_dim, eps=HEAD_LN_EPS), nn.ReLU()),
            nn.Sequential(nn.Linear(embed_dim, num_bins), nn.LayerNorm(num_bins, eps=HEAD_LN_EPS)),
        ])
        self.register_buffer("bin_positions", torch.arange(num_bins, dtype=torch.float32) / num_bins,
                             persistent=False)

    def forward(self, tokens: torch.Tensor, return_logits: bool = False) -> Dict[str, torch.Tensor]:
        """tokens (B, 4, E) in order l, r, t, b -> pred_boxes (B, 1, 4) normalized cx, cy, w, h of the
        search crop, and prob_l/prob_t/prob_r/prob_b (B, F) (the pre-softmax logits if return_logits)."""
        logits = tokens
        for layer in self.layers:
            logits = layer(logits)
        # The softmax and the expectation over bins stay in float32 under autocast (a bfloat16 tracker).
        with torch.autocast(logits.device.type, enabled=False):
            logits = logits.float()
            probs = logits.softmax(dim=-1)
            sides = probs @ self.bin_positions  # (B, 4) in order l, r, t, b
        l, r, t, b = sides.unbind(-1)
        out = {"pred_boxes": box_xyxy_to_cxcywh(torch.stack([l, t, r, b], dim=-1)).unsqueeze(1)}
        per_side = logits if return_logits else probs
        for i, side in enumerate(TOKEN_SIDES):
            out[f"prob_{side}"] = per_side[:, i]
        return out


class ScoreHead(nn.Module):
    """Linear(E->E) -> ReLU -> Linear(E->1) on each prediction token, averaged: one logit per sample."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU()),
            nn.Linear(embed_dim, 1),
        ])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = tokens
        for layer in self.layers:
            x = layer(x)
        return x.mean(dim=1).reshape(-1)


def _conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=True),
                         nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="nearest")


class CornerBranch(nn.Module):
    """One pyramid branch (top-left or bottom-right): (B, E, g, g) search features -> (B, 1, 4g, 4g) scores."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.conv1 = _conv_bn_relu(embed_dim, 384)
        self.conv2 = _conv_bn_relu(384, 192)
        self.conv3 = _conv_bn_relu(192, 96)
        self.conv4 = _conv_bn_relu(96, 48)
        self.conv5 = nn.Conv2d(48, 1, kernel_size=1)
        self.adjust1 = _conv_bn_relu(embed_dim, 192)
        self.adjust2 = _conv_bn_relu(embed_dim, 96)
        self.adjust3 = nn.Sequential(_conv_bn_relu(192, 96), _conv_bn_relu(96, 48), _conv_bn_relu(48, 1))
        self.adjust4 = nn.Sequential(_conv_bn_relu(96, 48), _conv_bn_relu(48, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c2 = self.conv2(self.conv1(x))
        c3 = self.conv3(_up(c2, 2) + _up(self.adjust1(x), 2))
        c4 = self.conv4(_up(c3, 2) + _up(self.adjust2(x), 4))
        return self.conv5(c4) + _up(self.adjust3(c2), 4) + _up(self.adjust4(c3), 2)


class CornerHead(nn.Module):
    """MixViT's dense corner head. State-dict keys follow the official layout (conv1_tl, adjust3_br, ...)."""

    def __init__(self, embed_dim: int, search_grid: int):
        super().__init__()
        self.map_size = 4 * search_grid
        self.branches = {"tl": CornerBranch(embed_dim), "br": CornerBranch(embed_dim)}
        for corner, branch in self.branches.items():
            for name, module in branch.named_children():
                self.add_module(f"{name}_{corner}", module)
        cells = torch.arange(self.map_size, dtype=torch.float32) / self.map_size
        self.register_buffer("cell_positions", cells, persistent=False)

    def forward(self, search_tokens: torch.Tensor, return_logits: bool = False) -> Dict[str, torch.Tensor]:
        """search_tokens (B, g*g, E) -> pred_boxes (B, 1, 4) normalized cx, cy, w, h and prob_tl/prob_br
        (B, (4g)^2) over row-major cells (logits if return_logits)."""
        b, n, e = search_tokens.shape
        g = self.map_size // 4
        fmap = search_tokens.transpose(1, 2).reshape(b, e, g, g)
        out, corners = {}, []
        m = self.map_size
        for corner, branch in self.branches.items():
            logits = branch(fmap).reshape(b, m * m)
            probs = logits.softmax(dim=-1)
            grid = probs.reshape(b, m, m)
            x = grid.sum(dim=1) @ self.cell_positions
            y = grid.sum(dim=2) @ self.cell_positions
            corners += [x, y]
            out[f"prob_{corner}"] = logits if return_logits else probs
        out["pred_boxes"] = box_xyxy_to_cxcywh(torch.stack(corners, dim=-1)).unsqueeze(1)
        return out
