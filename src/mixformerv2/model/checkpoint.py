"""Reading and writing checkpoints safely (no pickled code runs) in the official and our own layouts.

Accepted files:
- the official layout ``{'net': state_dict}`` (.pth/.pth.tar), read with ``torch.load(weights_only=True)``;
- a plain state dict, or ``{'model': state_dict, 'config': {...}}`` as our trainer writes;
- safetensors, optionally with our config in its metadata (key ``mixformerv2_config``, JSON).
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from ..files import atomic_write
from .config import ModelConfig, PRESETS, preset_name, resolve_config

log = logging.getLogger(__name__)

# Entries of an official MixViT (teacher) checkpoint that our model does not use (MAE leftovers).
IGNORED_KEY_PATTERNS = (r"^backbone\.cls_token$", r"^backbone\.pos_embed$", r"^backbone\.norm\.", r"^backbone\.head\.")
SAFETENSORS_CONFIG_KEY = "mixformerv2_config"
PathLike = Union[str, os.PathLike]


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit the requested model."""


def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(9)
        return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000
    except OSError:
        return False


def _checkpoint_file(path: PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; give the checkpoint file in it (.pth, .pth.tar or "
                              f".safetensors)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path


def _read_safetensors(path: Path, tensors: bool) -> Tuple[Optional[Dict[str, torch.Tensor]], Optional[dict]]:
    """(state dict, or None without ``tensors``; the model config stored in the metadata, or None)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()} if tensors else None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors checkpoint {path}: {exc}") from None
    if SAFETENSORS_CONFIG_KEY not in meta:
        return state, None
    try:
        return state, json.loads(meta[SAFETENSORS_CONFIG_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path}: the stored model config is not JSON ({exc})") from None


def read_state_dict(path: PathLike) -> Tuple[Dict[str, torch.Tensor], Optional[dict]]:
    """Read a checkpoint file. Returns (state_dict, stored model config or None). Never runs pickled code."""
    path = _checkpoint_file(path)
    if _is_safetensors(path):
        return _read_safetensors(path, tensors=True)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path} (truncated, corrupt, or not a PyTorch "
                              f"checkpoint): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except Exception as exc:  # weights_only refuses pickled objects with UnpicklingError
        raise CheckpointError(f"refusing to read checkpoint {path}: it holds objects other than tensors and "
                              f"plain containers ({type(exc).__name__}); only weights are loaded") from None
    config = None
    if isinstance(obj, Mapping):
        for key in ("net", "model", "state_dict"):
            if key in obj and isinstance(obj[key], Mapping):
                config = obj.get("config") if isinstance(obj.get("config"), Mapping) else None
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"checkpoint {path} holds no state dict (expected {{'net': state_dict}}, a plain "
                              f"state dict, or safetensors)")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
    return state, (dict(config) if config is not None else None)


def read_stored_config(path: PathLike) -> Optional[dict]:
    """The model config stored in a checkpoint (safetensors metadata, or our ``{'config': ...}`` entry), or
    None. Safetensors files are read without loading their tensors."""
    path = _checkpoint_file(path)
    if _is_safetensors(path):
        return _read_safetensors(path, tensors=False)[1]
    return read_state_dict(path)[1]


def checkpoint_config(state: Mapping[str, torch.Tensor], stored: Optional[Mapping[str, Any]],
                      preset_or_config: Union[str, Mapping[str, Any], ModelConfig, None] = None) -> ModelConfig:
    """The model config for a checkpoint's weights: ``preset_or_config`` when given, else the config stored
    in the file (``stored``, as read_state_dict returns it), else one inferred from the weights' shapes."""
    if preset_or_config is not None:
        return resolve_config(preset_or_config)
    if stored is not None:
        return ModelConfig.from_dict(stored)
    return infer_config(state)


def infer_config(state: Mapping[str, torch.Tensor]) -> ModelConfig:
    """Guess the architecture from state-dict shapes. A preset is returned when one fits exactly;
    otherwise num_heads assumes the ViT convention of 64 channels per head."""
    def need(key: str) -> torch.Tensor:
        if key not in state:
            raise CheckpointError(f"cannot infer the model from this checkpoint: it has no {key!r} "
                                  f"(is it a MixFormerV2 checkpoint?); pass preset_or_config")
        return state[key]

    patch_w = need("backbone.patch_embed.proj.weight")
    conv_stem = any(k.startswith("backbone.patch_embed.stem.") for k in state)
    embed_dim, patch = int(patch_w.shape[0]), 16 if conv_stem else int(patch_w.shape[-1])
    block_ids = {int(m.group(1)) for k in state if (m := re.match(r"backbone\.blocks\.(\d+)\.", k))}
    if not block_ids:
        raise CheckpointError("cannot infer the model from this checkpoint: it has no backbone blocks")
    depth = max(block_ids) + 1
    hidden = int(need("backbone.blocks.0.mlp.fc1.weight").shape[0])

    def grid_size(key: str) -> int:
        n = int(need(key).shape[1])
        g = math.isqrt(n)
        if g * g != n:
            raise CheckpointError(f"{key} holds {n} positions, not a square grid")
        return g * patch

    corner = any(k.startswith("box_head.conv1_tl.") for k in state)
    num_bins = 72 if corner else int(need("box_head.layers.1.0.weight").shape[0])
    if embed_dim % 64:
        raise CheckpointError(f"cannot infer num_heads for embed_dim {embed_dim}; pass preset_or_config")
    inferred = ModelConfig(embed_dim=embed_dim, depth=depth, num_heads=embed_dim // 64,
                           mlp_ratio=hidden / embed_dim, template_size=grid_size("backbone.pos_embed_t"),
                           search_size=grid_size("backbone.pos_embed_s"), num_bins=num_bins, patch_size=patch,
                           head="corner" if corner else "tokens",
                           patch_embed="mobilenetv3" if conv_stem else "linear",
                           score_head=any(k.startswith("score_head.") for k in state))
    for preset in PRESETS.values():
        if preset.replace(num_heads=inferred.num_heads, score_head=inferred.score_head) == inferred:
            return preset.replace(score_head=inferred.score_head)
    log.info("checkpoint matches no preset; inferred %s (num_heads assumes 64 channels per head)", inferred)
    return inferred


def adapt_state_dict(state: Mapping[str, torch.Tensor], model: Union[nn.Module, Iterable[str]]) -> Dict[str, torch.Tensor]:
    """Drop the unused MAE entries of an official MixViT checkpoint (with a logged note). ``model``: the model,
    or the keys of its state dict."""
    expected = set(model.state_dict().keys() if isinstance(model, nn.Module) else model)
    dropped = [k for k in state if k not in expected and any(re.match(p, k) for p in IGNORED_KEY_PATTERNS)]
    if dropped:
        log.info("ignoring %d checkpoint entries the model does not use: %s", len(dropped), ", ".join(dropped))
    return {k: v for k, v in state.items() if k not in dropped}


def check_state_fits(own: Mapping[str, Tuple[int, ...]], state: Mapping[str, torch.Tensor], source: str,
                     config: Optional[ModelConfig]) -> None:
    """CheckpointError naming every missing and unexpected key and every shape that differs between a model's
    state-dict shapes ``own`` and ``state``."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k])}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k])]
    if missing or unexpected or shapes:
        def listing(title: str, items: list) -> str:
            shown = items[:20] + ([f"... and {len(items) - 20} more"] if len(items) > 20 else [])
            return f"\n  {title} ({len(items)}): " + ", ".join(shown) if items else ""

        name = preset_name(config) if isinstance(config, ModelConfig) else None
        raise CheckpointError(f"{source} does not fit the model {name or config}:"
                              + listing("missing keys", missing) + listing("unexpected keys", unexpected)
                              + listing("shape mismatches", shapes))


def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """load_state_dict(strict=True), but a mismatch raises CheckpointError naming every missing and
    unexpected key and every shape that differs."""
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_state_fits(own, state, source, getattr(model, "config", None))
    model.load_state_dict(state, strict=True)


def load_checkpoint(path: PathLike, preset_or_config: Union[str, Mapping[str, Any], ModelConfig, None] = None,
                    map_location: Union[str, torch.device] = "cpu") -> nn.Module:
    """Build the model and load weights from ``path`` strictly; returns it in eval mode.

    Without ``preset_or_config`` the config stored in the file is used, else it is inferred from the shapes.
    The weights are checked against the config's shapes before the model is built (on torch's meta device,
    allocating nothing), so a file whose config is absurd or hostile fails with CheckpointError, not by
    exhausting memory."""
    from .build import build_model, expected_shapes

    state, stored = read_state_dict(path)
    config = checkpoint_config(state, stored, preset_or_config)
    expected = expected_shapes(config)
    state = adapt_state_dict(state, expected.keys())
    check_state_fits(expected, state, f"checkpoint {path}", config)
    model = build_model(config)
    model.load_state_dict(state, strict=True)
    return model.to(map_location).eval()


def save_checkpoint(model: nn.Module, path: PathLike, half: bool = False) -> None:
    """Write the model's weights with its config, atomically. ``.safetensors`` writes safetensors;
    any other suffix writes ``{'net': state_dict, 'config': {...}}`` (the official layout plus our config).
    ``half``: store float32 tensors as float16 where float16 holds them (|x| < 65504; BatchNorm running
    variances often do not), halving the file; loading casts them back to the model's float32."""
    config = model.config.to_dict()
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if half:
        limit = torch.finfo(torch.float16).max
        state = {k: v.half() if v.dtype == torch.float32 and (v.numel() == 0 or v.abs().max() < limit) else v
                 for k, v in state.items()}
    if str(path).endswith(".safetensors"):
        from safetensors.torch import save_file

        atomic_write(path, lambda tmp: save_file(state, tmp, metadata={SAFETENSORS_CONFIG_KEY: json.dumps(config)}))
    else:
        atomic_write(path, lambda tmp: torch.save({"net": state, "config": config}, tmp))


def weights_digest(model: nn.Module, extra: Optional[Mapping[str, Any]] = None) -> str:
    """SHA-256 hex digest of the model's config (plus ``extra``, JSON-able facts such as tool versions) and
    every weight: equal exactly when the model computes the same function."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    header = {"config": model.config.to_dict(), **dict(extra or {})}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        array = np.ascontiguousarray(tensor.detach().cpu().float().numpy())
        digest.update(f"{name}:{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()
