"""Arguments shared by several subcommands."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..model import ALIASES, PRESETS, build_model, load_checkpoint


def add_model_arguments(parser: argparse.ArgumentParser, default: str = "s") -> None:
    names = sorted(PRESETS) + sorted(ALIASES)
    default_text = default if default is not None else "the config stored in / inferred from --weights"
    parser.add_argument("--model", default=default,
                        help=f"preset name ({', '.join(names)}) or a JSON/YAML file with a model config "
                             f"(default: {default_text})")
    parser.add_argument("--weights", type=Path, default=None,
                        help="checkpoint: official {'net': ...} .pth/.pth.tar, plain state dict, or .safetensors")


def model_config_arg(value: str):
    """A preset name, or the dict read from a JSON/YAML model-config file."""
    path = Path(value)
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        if not path.is_file():
            raise FileNotFoundError(f"model config file {path} does not exist")
        text = path.read_text()
        if path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    return value


def model_from_args(args: argparse.Namespace) -> torch.nn.Module:
    """The model the arguments name, with weights when --weights is given, in eval mode."""
    config = model_config_arg(args.model)
    if args.weights is not None:
        return load_checkpoint(args.weights, config)
    return build_model(config).eval()
