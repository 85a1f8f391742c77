"""Training: losses, one actor per stage of the MixFormerV2 recipe, the trainer (single process or torchrun),
checkpoint conversions between stages, and the YAML configuration."""
from .actors import ACTORS, Actor, build_actor, elimination_scale
from .config import ConfigError, TrainConfig, load_config
from .convert import load_mae_backbone, prune_model, remove_blocks_from_state, write_pruned_checkpoint
from .trainer import Trainer, TrainingError

__all__ = ["ACTORS", "Actor", "ConfigError", "TrainConfig", "Trainer", "TrainingError", "build_actor",
           "elimination_scale", "load_config", "load_mae_backbone", "prune_model", "remove_blocks_from_state",
           "write_pruned_checkpoint"]
