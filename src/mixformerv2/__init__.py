"""MixFormerV2: a fully-transformer single-object tracker (Cui et al., NeurIPS 2023).

Official-checkpoint compatible model with a cached search step; tracker, evaluation, training and export
live in the subpackages.
"""
from .model import (BundledModelMissingError, CheckpointError, MixFormerV2, ModelConfig, TemplateCache,
                    WeightsRequiredError, build_model, load_checkpoint, load_model, save_checkpoint)
from .tracking import Tracker, TrackerParams, TrackResult

__version__ = "0.1.0"
__all__ = ["BundledModelMissingError", "WeightsRequiredError", "load_model", "CheckpointError", "MixFormerV2", "ModelConfig", "TemplateCache", "build_model", "load_checkpoint",
           "save_checkpoint", "Tracker", "TrackerParams", "TrackResult", "__version__"]
