"""The MixFormerV2 network: configuration, layers, heads, the model, checkpoints and their surgery, cost
accounting, and the model hub (names -> models, model cards, the bundled default model)."""
from .build import build_model
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import ALIASES, PRESETS, ModelConfig, resolve_config
from .hub import (DEFAULT_MODEL, BundledModelMissingError, ModelCard, ModelCardError, WeightsRequiredError, load_model,
                  model_name)
from .mixformer import MixFormerV2, TemplateCache

__all__ = ["ALIASES", "DEFAULT_MODEL", "PRESETS", "BundledModelMissingError", "CheckpointError", "MixFormerV2",
           "ModelCard", "ModelCardError", "ModelConfig", "TemplateCache", "WeightsRequiredError", "build_model",
           "load_checkpoint", "load_model", "model_name", "resolve_config", "save_checkpoint"]
