"""Checkpoint surgery: weight conversions between the training stages and from other models: dropping
eliminated blocks (renumbering the rest), shrinking MLPs, MAE ViT initialisation, the frozen teacher rebuilt
for the student's crops, and loading a checkpoint into a model with other crop sizes.

State dicts use the model's keys (``backbone.blocks.<i>.…``). Sin-cos position tables are fixed functions of
the crop sizes, so they are always taken from the target model, never from the checkpoint.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from .build import build_model
from .checkpoint import (CheckpointError, adapt_state_dict, checkpoint_config, load_checkpoint,
                         load_state_dict_strict, read_state_dict, save_checkpoint)
from .config import ModelConfig

log = logging.getLogger(__name__)

BLOCK_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.(.*)$")
POSITION_TABLES = ("backbone.pos_embed_t", "backbone.pos_embed_s")


def remove_blocks_from_state(state: Mapping[str, torch.Tensor], blocks: Sequence[int]) -> Dict[str, torch.Tensor]:
    """Drop the given backbone blocks and renumber the survivors 0..n-1 in their order; other entries are
    kept unchanged (the surviving blocks' tensors are the same objects)."""
    depth = 1 + max((int(m.group(1)) for k in state if (m := BLOCK_KEY.match(k))), default=-1)
    drop = sorted(set(int(b) for b in blocks))
    bad = [b for b in drop if not 0 <= b < depth]
    if bad:
        raise ValueError(f"cannot remove blocks {bad}: the checkpoint has blocks 0..{depth - 1}")
    if len(drop) >= depth:
        raise ValueError(f"removing blocks {drop} would leave no block of {depth}")
    survivors = [b for b in range(depth) if b not in drop]
    new_index = {old: new for new, old in enumerate(survivors)}
    out: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = BLOCK_KEY.match(key)
        if m is None:
            out[key] = value
        elif int(m.group(1)) in new_index:
            out[f"backbone.blocks.{new_index[int(m.group(1))]}.{m.group(2)}"] = value
    return out


def reduce_mlp_state(state: Mapping[str, torch.Tensor], hidden: int) -> Dict[str, torch.Tensor]:
    """Shrink every block's MLP to ``hidden`` units, keeping the units with the largest
    ||fc1 row|| * ||fc2 column|| (their original order is kept)."""
    out = dict(state)
    for key in [k for k in state if k.endswith(".mlp.fc1.weight")]:
        prefix = key[: -len("fc1.weight")]
        w1, b1 = state[prefix + "fc1.weight"], state[prefix + "fc1.bias"]
        w2 = state[prefix + "fc2.weight"]
        if w1.shape[0] < hidden:
            raise ValueError(f"{prefix}: cannot grow the MLP from {w1.shape[0]} to {hidden} units")
        importance = w1.float().norm(dim=1) * w2.float().norm(dim=0)
        keep = importance.topk(hidden).indices.sort().values
        out[prefix + "fc1.weight"] = w1[keep].clone()
        out[prefix + "fc1.bias"] = b1[keep].clone()
        out[prefix + "fc2.weight"] = w2[:, keep].clone()
    return out


def prune_model(model: nn.Module, blocks: Sequence[int]) -> nn.Module:
    """A new model without the given blocks (the survivors renumbered, weights copied), config depth reduced
    and ``active_blocks`` cleared."""
    config: ModelConfig = model.config
    drop = set(int(b) for b in blocks)
    pruned = build_model(config.replace(depth=config.depth - len(drop), active_blocks=None))
    state = remove_blocks_from_state(model.state_dict(), sorted(drop))
    load_state_dict_strict(pruned, state, source="pruned weights")
    return pruned


def load_weights(model: nn.Module, path: str, remove_blocks: Sequence[int] = (), reduce_mlp: bool = False,
                 partial: bool = False) -> None:
    """Load a checkpoint into ``model``: optionally drop blocks and shrink MLPs first; position tables always
    come from the model. ``partial`` loads only entries present in the model with the same shape (logging
    what was left out); otherwise any mismatch raises CheckpointError."""
    state, _ = read_state_dict(path)
    state = adapt_state_dict(state, model)
    if remove_blocks:
        state = remove_blocks_from_state(state, remove_blocks)
    if reduce_mlp:
        state = reduce_mlp_state(state, model.config.mlp_hidden_dim)
    own = model.state_dict()
    for key in POSITION_TABLES:
        if key in own:
            state[key] = own[key]
    if partial:
        usable = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
        left = sorted(set(own) - set(usable))
        ignored = sorted(set(state) - set(usable))
        log.info("partial load from %s: %d entries loaded, %d model entries keep their initial values%s, "
                 "%d checkpoint entries unused", path, len(usable), len(left),
                 f" ({', '.join(left[:6])}{', ...' if len(left) > 6 else ''})" if left else "", len(ignored))
        model.load_state_dict({**own, **usable}, strict=True)
    else:
        load_state_dict_strict(model, state, source=f"checkpoint {path}")


MAE_SKIPPED = re.compile(r"^(cls_token|pos_embed|mask_token|norm\.|fc_norm\.|head\.|decoder)")


def load_mae_backbone(model: nn.Module, path: str) -> Tuple[int, int]:
    """Initialise the backbone from MAE ViT weights (``{'model': state_dict}`` or a plain state dict with
    ``patch_embed.proj.*`` and ``blocks.<i>.*``): the patch embedding and the first ``depth`` blocks are
    copied; the class token, MAE position table, final norm, head and decoder are not used. Returns
    (blocks loaded, blocks in the file)."""
    state, _ = read_state_dict(path)
    state = {k[len("encoder."):] if k.startswith("encoder.") else k: v for k, v in state.items()}
    if "patch_embed.proj.weight" not in state:
        raise CheckpointError(f"{path} is not a MAE ViT checkpoint (no patch_embed.proj.weight)")
    depth_in_file = 1 + max((int(m.group(1)) for k in state if (m := re.match(r"^blocks\.(\d+)\.", k))), default=-1)
    depth = model.config.depth
    if depth_in_file < depth:
        raise CheckpointError(f"{path} has {depth_in_file} blocks; the model needs {depth}")
    mapped: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if MAE_SKIPPED.match(key):
            continue
        m = re.match(r"^blocks\.(\d+)\.(.*)$", key)
        if m and int(m.group(1)) >= depth:
            continue
        mapped["backbone." + key] = value
    own = model.state_dict()
    unexpected = [k for k in mapped if k not in own]
    shapes = [f"{k}: {tuple(mapped[k].shape)} vs {tuple(own[k].shape)}" for k in mapped
              if k in own and mapped[k].shape != own[k].shape]
    if unexpected or shapes:
        raise CheckpointError(f"MAE weights {path} do not fit the backbone: unexpected {unexpected[:5]}, "
                              f"shapes {shapes[:5]}")
    model.load_state_dict({**own, **mapped}, strict=True)
    if depth_in_file > depth:
        log.info("MAE init: used the first %d of %d blocks from %s", depth, depth_in_file, path)
    return depth, depth_in_file


def build_teacher(weights: str, model_config: Optional[object], template_size: int, search_size: int) -> nn.Module:
    """The frozen teacher from its checkpoint (config stored in the file, else ``model_config``), rebuilt for
    the student's crop sizes, in eval mode with gradients off."""
    state, stored = read_state_dict(weights)
    config = checkpoint_config(state, stored, model_config).replace(template_size=template_size,
                                                                   search_size=search_size)
    teacher = build_model(config)
    load_weights(teacher, weights)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def write_pruned_checkpoint(source: str, output: str, blocks: Sequence[int], mlp_ratio: Optional[float] = None) -> nn.Module:
    """Read a checkpoint, drop ``blocks`` (renumbering the rest), optionally shrink the MLPs to ``mlp_ratio``,
    and save the result (with its config) to ``output``. Returns the new model."""
    model = load_checkpoint(source)
    pruned = prune_model(model, blocks) if blocks else model
    if mlp_ratio is not None and mlp_ratio != pruned.config.mlp_ratio:
        smaller = build_model(pruned.config.replace(mlp_ratio=float(mlp_ratio)))
        state = reduce_mlp_state(pruned.state_dict(), smaller.config.mlp_hidden_dim)
        load_state_dict_strict(smaller, state, source="reduced weights")
        pruned = smaller
    save_checkpoint(pruned, Path(output))
    return pruned
