"""Training: losses, one actor per stage of the MixFormerV2 recipe, the trainer (single process or torchrun),
and the YAML configuration (checkpoint conversions between stages live in ``model.surgery``)."""
from .actors import ACTORS, Actor, build_actor, elimination_scale
from .config import ConfigError, TrainConfig, load_config
from .trainer import Trainer, TrainingError

__all__ = ["ACTORS", "Actor", "ConfigError", "TrainConfig", "Trainer", "TrainingError", "build_actor",
           "elimination_scale", "load_config"]
