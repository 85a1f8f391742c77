"""Transformer building blocks: patch embedding, sin-cos tables, asymmetric mixed attention, MLP, block."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BACKBONE_LN_EPS = 1e-6


def sincos_pos_embed_2d(embed_dim: int, grid_size: int) -> torch.Tensor:
    """MAE-style fixed 2-D sin-cos table, shape (grid_size**2, embed_dim), tokens in row-major order.

    The first embed_dim/2 channels encode the column (x) index, the last embed_dim/2 the row (y) index;
    each half is embed_dim/4 sines followed by embed_dim/4 cosines of pos * omega_k,
    omega_k = 10000 ** (-k / (embed_dim / 4)). Computed in float64, returned as float32.
    """
    if embed_dim % 4:
        raise ValueError(f"sin-cos embedding needs embed_dim divisible by 4, got {embed_dim}")
    quarter = embed_dim // 4
    omega = 1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)
    rows, cols = np.meshgrid(np.arange(grid_size, dtype=np.float64), np.arange(grid_size, dtype=np.float64),
                             indexing="ij")

    def encode(pos: np.ndarray) -> np.ndarray:
        angles = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([encode(cols), encode(rows)], axis=1)
    return torch.from_numpy(table).float()


class PatchEmbed(nn.Module):
    """Non-overlapping patches: (B, 3, H, W) image -> (B, H/p * W/p, E) tokens, row-major."""

    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 3):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth per sample (training only)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class MixedAttention(nn.Module):
    """Multi-head self-attention over [templates | search + prediction tokens] with the asymmetric rule:
    template tokens attend only to template tokens, the rest attend to every token.

    The template part and the search part are computed by separate calls so that the template keys and
    values can be computed once and reused for many search steps.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def _split_heads(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]  # each (B, H, N, D)

    def attention_map(self, x: torch.Tensor, queries: slice) -> torch.Tensor:
        """Softmax attention weights (B, H, Q, N) of the tokens ``x[:, queries]`` over all N tokens of the
        (normalized) full sequence x (B, N, E). For training losses and inspection; not the tracking path."""
        q, k, _ = self._split_heads(x)
        return ((q[:, :, queries] @ k.transpose(-2, -1)) * self.scale).softmax(-1)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        b, _, n, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim))

    def forward_templates(self, x_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention of template tokens among themselves. Returns (output, keys, values)."""
        q, k, v = self._split_heads(x_t)
        return self._attend(q, k, v), k, v

    def forward_search(self, x_s: torch.Tensor, k_t: torch.Tensor, v_t: torch.Tensor) -> torch.Tensor:
        """Attention of search/prediction tokens (B, N_s, E) over template keys/values and themselves."""
        q, k, v = self._split_heads(x_s)
        if k_t.shape[0] != q.shape[0]:
            k_t = k_t.expand(q.shape[0], -1, -1, -1)
            v_t = v_t.expand(q.shape[0], -1, -1, -1)
        return self._attend(q, torch.cat([k_t, k], dim=2), torch.cat([v_t, v], dim=2))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)).

    ``residual_scale`` multiplies both residual branches (1 normally; progressive layer elimination
    decays it to 0, which turns the block into the identity).
    """

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=BACKBONE_LN_EPS)
        self.attn = MixedAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=BACKBONE_LN_EPS)
        self.mlp = Mlp(dim, mlp_hidden_dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.residual_scale = 1.0

    def _finish(self, x: torch.Tensor, attn_out: torch.Tensor) -> torch.Tensor:
        r = self.residual_scale
        x = x + r * self.drop_path(attn_out)
        return x + r * self.drop_path(self.mlp(self.norm2(x)))

    def forward_templates(self, x_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Template tokens through the block. Returns (new tokens, keys, values of this block)."""
        attn_out, k, v = self.attn.forward_templates(self.norm1(x_t))
        return self._finish(x_t, attn_out), k, v

    def forward_search(self, x_s: torch.Tensor, k_t: torch.Tensor, v_t: torch.Tensor) -> torch.Tensor:
        return self._finish(x_s, self.attn.forward_search(self.norm1(x_s), k_t, v_t))

    def attention_map(self, x: torch.Tensor, queries: slice) -> torch.Tensor:
        """Attention weights (B, H, Q, N) of ``x[:, queries]`` over the block's input x (B, N, E), the full
        sequence [templates | search | prediction]; the query slice must not include template tokens,
        which attend only among themselves."""
        return self.attn.attention_map(self.norm1(x), queries)


def check_images(name: str, x: torch.Tensor, size: int, batch: Optional[int] = None) -> None:
    """Raise ValueError unless x is a float tensor of shape (B, 3, size, size) (B = batch if given)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, 3, {size}, {size}), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"{name} must have shape (B, 3, {size}, {size}) (normalized RGB), "
                         f"got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor (normalized RGB), got {x.dtype}")
    if batch is not None and x.shape[0] != batch:
        raise ValueError(f"{name} has batch size {x.shape[0]} but the other inputs have {batch}")
