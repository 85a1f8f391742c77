"""The MixFormerV2 network: configuration, layers, heads, the model, checkpoints and cost accounting."""
from .build import build_model
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import ALIASES, PRESETS, ModelConfig, resolve_config
from .mixformer import MixFormerV2, TemplateCache

__all__ = ["ALIASES", "PRESETS", "CheckpointError", "MixFormerV2", "ModelConfig", "TemplateCache",
           "build_model", "load_checkpoint", "resolve_config", "save_checkpoint"]
