"""Model configuration: one dataclass describes every variant (B, S, the MixViT teacher, pruned students)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple, Union

HEAD_TYPES = ("tokens", "corner")
PATCH_EMBEDS = ("linear", "mobilenetv3")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a MixFormerV2 model.

    head="tokens" is the MixFormerV2 student: four prediction tokens, a shared MLP over ``num_bins``
    coordinate bins and a score head. head="corner" is the MixViT teacher: no prediction tokens and a
    dense pyramid corner head (its map side is 4 * search_size / patch_size; ``num_bins`` is unused).
    ``active_blocks`` lists the blocks that run (None = all); the others keep their weights in the
    state dict but act as the identity (a pruned model before its blocks are dropped).
    ``patch_embed``: "linear" (the published model: one linear map per 16x16 patch) or "mobilenetv3" (not
    published: a MobileNetV3-small stem of stride 16, NanoTrack V3's backbone, then a 1x1 projection; see
    model/stems.py), which needs patch_size 16.
    """

    embed_dim: int = 768
    depth: int = 8
    num_heads: int = 12
    mlp_ratio: float = 4.0
    template_size: int = 128
    search_size: int = 288
    num_bins: int = 96
    patch_size: int = 16
    head: str = "tokens"
    score_head: bool = True
    active_blocks: Optional[Tuple[int, ...]] = None
    drop_path_rate: float = 0.0
    patch_embed: str = "linear"

    def __post_init__(self) -> None:
        def fail(msg: str) -> None:
            raise ValueError(f"invalid model config: {msg}")

        for name in ("embed_dim", "depth", "num_heads", "template_size", "search_size", "num_bins", "patch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                fail(f"{name} must be a positive integer, got {value!r}")
        if self.embed_dim % self.num_heads:
            fail(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if not (isinstance(self.mlp_ratio, (int, float)) and self.mlp_ratio > 0):
            fail(f"mlp_ratio must be positive, got {self.mlp_ratio!r}")
        hidden = self.embed_dim * self.mlp_ratio
        if abs(hidden - round(hidden)) > 1e-6:
            fail(f"embed_dim * mlp_ratio = {hidden} is not an integer")
        for name in ("template_size", "search_size"):
            if getattr(self, name) % self.patch_size:
                fail(f"{name} {getattr(self, name)} is not a multiple of patch_size {self.patch_size}")
        if self.patch_embed not in PATCH_EMBEDS:
            fail(f"patch_embed must be one of {PATCH_EMBEDS}, got {self.patch_embed!r}")
        if self.patch_embed == "mobilenetv3" and self.patch_size != 16:
            fail(f"patch_embed mobilenetv3 has stride 16: patch_size must be 16, got {self.patch_size}")
        if self.head not in HEAD_TYPES:
            fail(f"head must be one of {HEAD_TYPES}, got {self.head!r}")
        if self.head == "corner" and self.score_head:
            object.__setattr__(self, "score_head", False)
        if self.active_blocks is not None:
            blocks = tuple(int(b) for b in self.active_blocks)
            bad = [b for b in blocks if not 0 <= b < self.depth]
            if bad:
                fail(f"active_blocks {bad} outside 0..{self.depth - 1}")
            object.__setattr__(self, "active_blocks", tuple(sorted(set(blocks))))
        if not 0.0 <= self.drop_path_rate < 1.0:
            fail(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")

    # Derived sizes -------------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def mlp_hidden_dim(self) -> int:
        return int(round(self.embed_dim * self.mlp_ratio))

    @property
    def template_grid(self) -> int:
        return self.template_size // self.patch_size

    @property
    def search_grid(self) -> int:
        return self.search_size // self.patch_size

    @property
    def num_template_tokens(self) -> int:
        """Tokens of one template image."""
        return self.template_grid**2

    @property
    def num_search_tokens(self) -> int:
        return self.search_grid**2

    @property
    def num_prediction_tokens(self) -> int:
        return 4 if self.head == "tokens" else 0

    @property
    def corner_map_size(self) -> int:
        """Side of the teacher's corner score maps (cells)."""
        return 4 * self.search_grid

    @property
    def running_blocks(self) -> Tuple[int, ...]:
        return tuple(range(self.depth)) if self.active_blocks is None else self.active_blocks

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["active_blocks"] is not None:
            d["active_blocks"] = list(d["active_blocks"])
        return d

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known keys: {sorted(names)}")
        d = dict(d)
        if d.get("active_blocks") is not None:
            d["active_blocks"] = tuple(d["active_blocks"])
        return cls(**d)


PRESETS = {
    # Released MixFormerV2 models (spec section 1).
    "mixformerv2-b": ModelConfig(embed_dim=768, depth=8, num_heads=12, mlp_ratio=4.0,
                                 template_size=128, search_size=288, num_bins=96),
    "mixformerv2-s": ModelConfig(embed_dim=768, depth=4, num_heads=12, mlp_ratio=1.0,
                                 template_size=112, search_size=224, num_bins=96),
    # The MixViT-B teacher with its dense corner head (spec section 5).
    "mixvit-b": ModelConfig(embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0,
                            template_size=128, search_size=288, num_bins=72, head="corner"),
}
ALIASES = {"b": "mixformerv2-b", "s": "mixformerv2-s", "teacher": "mixvit-b", "mixvit": "mixvit-b"}


def resolve_config(preset_or_config: Union[str, Mapping[str, Any], ModelConfig]) -> ModelConfig:
    """Turn a preset name (or alias), a dict of config keys, or a ModelConfig into a ModelConfig."""
    if isinstance(preset_or_config, ModelConfig):
        return preset_or_config
    if isinstance(preset_or_config, str):
        name = preset_or_config.strip().lower()
        name = ALIASES.get(name, name)
        if name not in PRESETS:
            raise ValueError(f"unknown model preset {preset_or_config!r}; presets: {sorted(PRESETS)} "
                             f"(aliases {sorted(ALIASES)})")
        return PRESETS[name]
    if isinstance(preset_or_config, Mapping):
        return ModelConfig.from_dict(preset_or_config)
    raise TypeError(f"expected a preset name, a dict or a ModelConfig, got {type(preset_or_config).__name__}")


def preset_name(config: ModelConfig) -> Optional[str]:
    """The preset a config equals, or None."""
    for name, preset in PRESETS.items():
        if preset == config:
            return name
    return None
