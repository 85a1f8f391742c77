"""Convolutional patch embedding (not in the published model): a MobileNetV3-small feature extractor of stride
16 — the architecture of NanoTrack V3's backbone, so that its trained weights can initialise it — followed
by a 1x1 projection to the transformer width. One token per 16x16 pixel cell, row-major, like the linear
patch embedding it replaces (``ModelConfig.patch_embed = "mobilenetv3"``).

Why: a ViT trained from random weights on a few thousand real frames learns poor visual features; the
published recipe starts from MAE weights that cannot be had here. NanoTrack's backbone was trained for
tracking on millions of real frames. BatchNorm is folded into the convolutions (each conv has a bias), so
the stem behaves the same in training and inference and small batches cannot disturb it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

# The model's input normalization (geometry.IMAGENET_MEAN/STD; the model layer cannot import geometry, a test
# keeps the two equal).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STEM_STRIDE = 16
STEM_CHANNELS = 96
BN_EPS = 1e-5

# One row per inverted-residual block features.1 .. features.9 (features.0 is the 3x3 stride-2 stem conv):
# kernel, hidden channels, output channels, squeeze-excitation channels (0 = none), h-swish (else ReLU), stride.
BLOCKS: Tuple[Tuple[int, int, int, int, bool, int], ...] = (
    (3, 16, 16, 8, False, 2),
    (3, 72, 24, 0, False, 2),
    (3, 88, 24, 0, False, 1),
    (5, 96, 40, 24, True, 2),
    (5, 240, 40, 64, True, 1),
    (5, 240, 40, 64, True, 1),
    (5, 120, 48, 32, True, 1),
    (5, 144, 48, 40, True, 1),
    (5, 288, 96, 72, True, 1),
)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, reduced)
        self.fc2 = nn.Linear(reduced, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.hardsigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))
        return x * w[:, :, None, None]


class InvertedResidual(nn.Module):
    """[1x1 expand, act] (absent when hidden == input), k x k depthwise, [squeeze-excite], act, 1x1 project;
    a residual connection when the stride is 1 and the channels do not change."""

    def __init__(self, in_channels: int, kernel: int, hidden: int, out_channels: int, se: int, hswish: bool,
                 stride: int):
        super().__init__()
        self.act = nn.Hardswish() if hswish else nn.ReLU()
        self.expand = nn.Conv2d(in_channels, hidden, 1) if hidden != in_channels else None
        self.depthwise = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden)
        self.se = SqueezeExcite(hidden, se) if se else None
        self.project = nn.Conv2d(hidden, out_channels, 1)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand is not None:
            y = self.act(self.expand(y))
            y = self.depthwise(y)
            if self.se is not None:
                y = self.se(y)
            y = self.act(y)
        else:  # NanoTrack's first block: depthwise, act, then squeeze-excite
            y = self.act(self.depthwise(y))
            if self.se is not None:
                y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class MobileNetV3Stem(nn.Module):
    """Normalized RGB crops (B, 3, H, W) (ImageNet mean/std, as every model input here) -> feature map
    (B, 96, ceil(H/16), ceil(W/16)). Internally the crops are turned into the 0-255 BGR values NanoTrack was
    trained on (a fixed per-channel affine map), so NanoTrack's weights apply unchanged."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 2, 1)
        blocks: List[nn.Module] = []
        channels = 16
        for kernel, hidden, out, se, hswish, stride in BLOCKS:
            blocks.append(InvertedResidual(channels, kernel, hidden, out, se, hswish, stride))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        # normalized RGB -> 0-255 BGR: x * (255 std) + 255 mean, channels reversed.
        scale = torch.tensor(IMAGENET_STD[::-1], dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        shift = torch.tensor(IMAGENET_MEAN[::-1], dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.register_buffer("input_scale", scale, persistent=False)
        self.register_buffer("input_shift", shift, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flip(1) * self.input_scale + self.input_shift
        return self.blocks(F.hardswish(self.conv(x)))


class ConvPatchEmbed(nn.Module):
    """(B, 3, H, W) normalized RGB -> (B, H/16 * W/16, E) tokens, row-major: MobileNetV3 stem, LayerNorm
    over its 96 channels, 1x1 projection to E."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.stem = MobileNetV3Stem()
        self.norm = nn.LayerNorm(STEM_CHANNELS)
        self.proj = nn.Conv2d(STEM_CHANNELS, embed_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stem(x).flatten(2).transpose(1, 2)
        return F.linear(self.norm(features), self.proj.weight.flatten(1), self.proj.bias)


class NanoTrackWeightsError(ValueError):
    """The NanoTrack weights file is missing or does not hold the expected backbone."""


def _fold(state: Mapping[str, torch.Tensor], conv: str, bn: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """A bias-free conv followed by BatchNorm (eval mode) as one conv's (weight, bias)."""
    w = state[f"{conv}.weight"].double()
    gamma, beta = state[f"{bn}.weight"].double(), state[f"{bn}.bias"].double()
    mean, var = state[f"{bn}.running_mean"].double(), state[f"{bn}.running_var"].double()
    factor = gamma / torch.sqrt(var + BN_EPS)
    return (w * factor.view(-1, 1, 1, 1)).float(), (beta - mean * factor).float()


def nanotrack_stem_state(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """NanoTrack V3's ``backbone.features.*`` weights (conv + BatchNorm) as a MobileNetV3Stem state dict
    (BatchNorm folded). Raises NanoTrackWeightsError naming the first missing key or wrong shape."""
    stem = MobileNetV3Stem()
    own = stem.state_dict()
    p = "backbone.features"
    out: Dict[str, torch.Tensor] = {}
    try:
        out["conv.weight"], out["conv.bias"] = _fold(state, f"{p}.0.0", f"{p}.0.1")
        for i, (_, hidden, _, se, _, _) in enumerate(BLOCKS):
            f, b = f"{p}.{i + 1}.conv", f"blocks.{i}"
            if i == 0:  # dw, bn, act, se, pw, bn
                dw, se_at, pw = (0, 1), 3, (4, 5)
            else:       # pw, bn, act, dw, bn, se, act, pw, bn
                out[f"{b}.expand.weight"], out[f"{b}.expand.bias"] = _fold(state, f"{f}.0", f"{f}.1")
                dw, se_at, pw = (3, 4), 5, (7, 8)
            out[f"{b}.depthwise.weight"], out[f"{b}.depthwise.bias"] = _fold(state, f"{f}.{dw[0]}", f"{f}.{dw[1]}")
            out[f"{b}.project.weight"], out[f"{b}.project.bias"] = _fold(state, f"{f}.{pw[0]}", f"{f}.{pw[1]}")
            if se:
                for j, name in ((0, "fc1"), (2, "fc2")):
                    out[f"{b}.se.{name}.weight"] = state[f"{f}.{se_at}.fc.{j}.weight"].float()
                    out[f"{b}.se.{name}.bias"] = state[f"{f}.{se_at}.fc.{j}.bias"].float()
    except KeyError as exc:
        raise NanoTrackWeightsError(f"not NanoTrack V3 backbone weights: no {exc.args[0]!r}") from None
    for key, value in own.items():
        if key not in out or tuple(out[key].shape) != tuple(value.shape):
            got = tuple(out[key].shape) if key in out else "nothing"
            raise NanoTrackWeightsError(f"not NanoTrack V3 backbone weights: {key} should be {tuple(value.shape)}, "
                                        f"got {got}")
    return out


def nanotrack_weights_file(path: Union[str, Path]) -> Path:
    """The NanoTrack V3 PyTorch weights: ``path`` itself or ``path/nanotrackv3.safetensors``."""
    path = Path(path)
    file = path / "nanotrackv3.safetensors" if path.is_dir() else path
    if not file.is_file():
        raise NanoTrackWeightsError(f"NanoTrack V3 weights not found: {file} (expected nanotrackv3.safetensors, "
                                    f"the folder ../shared/models/nanotrack/v3 holds it)")
    return file


def load_nanotrack_stem(stem: MobileNetV3Stem, path: Union[str, Path]) -> Path:
    """Copy NanoTrack V3's trained backbone (a folder holding ``nanotrackv3.safetensors``, or the file) into
    ``stem``. Returns the file read. Never runs code from the file (safetensors)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = nanotrack_weights_file(path)
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise NanoTrackWeightsError(f"cannot read NanoTrack weights {file}: {exc}") from None
    try:
        stem.load_state_dict(nanotrack_stem_state(state), strict=True)
    except NanoTrackWeightsError as exc:
        raise NanoTrackWeightsError(f"{file}: {exc}") from None
    return file
