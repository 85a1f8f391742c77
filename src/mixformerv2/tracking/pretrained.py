"""Which weights a tracker runs with when the user names only a model, and the models shipped in the package.

A *bundled model* is a name (``"default"``) that stands for a weights file inside the package
(``mixformerv2/assets/default.safetensors``, its architecture stored in the file's metadata) and the model
card beside it (``default.json``: the tracker settings chosen for it and how it was trained). Such a name
works wherever a preset name does (``--model default``, ``Tracker.load(model="default")``), and the default
model is what runs when neither a model nor weights are named. ``MIXFORMERV2_DEFAULT_WEIGHTS`` points the
name at another file (its card is the ``.json`` of the same name beside it, when there is one).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from torch import nn

from ..model.checkpoint import CheckpointError, load_checkpoint, read_stored_config
from ..model.config import ModelConfig, PRESETS, preset_name, resolve_config

DEFAULT_MODEL = "default"
ASSETS = Path(__file__).resolve().parents[1] / "assets"
# Weights shipped inside the package (file names under mixformerv2/assets/). A key that is a preset name
# gives that preset's weights when no weights are given; any other key is a model of its own, selected by
# that name, whose architecture is the config stored in the file and whose model card is the .json file of
# the same stem beside it.
BUNDLED_WEIGHTS: Dict[str, str] = {DEFAULT_MODEL: "default.safetensors"}
# Tracker settings a model card may set (crop sizes always come from the model).
CARD_TRACKER_KEYS = ("template_factor", "search_factor", "update_interval", "score_threshold", "online_templates",
                     "max_score_decay", "far_side_padding_quirk")

ModelLike = Union[str, Mapping[str, Any], ModelConfig, None]


class WeightsRequiredError(ValueError):
    """A model was named without weights and none are bundled for it."""


class BundledModelMissingError(WeightsRequiredError):
    """A bundled model (such as the default model) was asked for, but its weights file is not installed."""


class ModelCardError(ValueError):
    """A bundled model's card (its .json) is unreadable or does not describe its weights."""


# ---------------------------------------------------------------------------------------------- names
def bundled_names() -> List[str]:
    """The names of the bundled models (not presets) that --model accepts, e.g. ["default"]."""
    return sorted(name for name in BUNDLED_WEIGHTS if name not in PRESETS)


def bundled_model_name(model: Any) -> Optional[str]:
    """The canonical bundled-model name ``model`` stands for ("default"), or None (a preset, a config, ...)."""
    if not isinstance(model, str):
        return None
    name = model.strip().lower()
    return name if name in BUNDLED_WEIGHTS and name not in PRESETS else None


def weights_env_var(name: str) -> str:
    """The environment variable that points bundled model ``name`` at another file."""
    return "MIXFORMERV2_" + "".join(c if c.isalnum() else "_" for c in name.upper()) + "_WEIGHTS"


def bundled_weights_path(name: str) -> Path:
    """Where bundled model (or preset) ``name`` has its weights: the environment variable's file when set, else
    the file in the package's assets. The file may not exist (see ``bundled_weights``)."""
    override = os.environ.get(weights_env_var(name))
    if override:
        return Path(override).expanduser()
    return ASSETS / BUNDLED_WEIGHTS[name]


def bundled_weights(name: str) -> Path:
    """The existing weights file of bundled model ``name``; BundledModelMissingError naming it otherwise."""
    path = bundled_weights_path(name)
    if path.is_file():
        return path
    env = weights_env_var(name)
    if os.environ.get(env):
        raise BundledModelMissingError(f"the {name} model's weights {path} do not exist ({env} names that file)")
    what = "the default model" if name == DEFAULT_MODEL else f"the bundled model {name!r}"
    raise BundledModelMissingError(
        f"{what} is not installed: its weights {path} do not exist (this copy of mixformerv2 ships no "
        f"trained {name} weights); pass --weights PATH (Python: weights=PATH) with an official MixFormerV2 "
        f"checkpoint or one written by mixformerv2, or set {env} to a trained .safetensors file")


def default_weights(config: ModelConfig) -> Path:
    """The bundled checkpoint of a preset, or WeightsRequiredError."""
    name = preset_name(config)
    if name in BUNDLED_WEIGHTS:
        return bundled_weights(name)
    raise WeightsRequiredError(
        f"weights are required: no trained weights are bundled for {name or 'a custom model config'}; "
        f"pass --weights PATH (Python: weights=PATH) with an official MixFormerV2 checkpoint "
        f"({{'net': state_dict}} .pth.tar) or one written by mixformerv2, or use --model "
        f"{' / '.join(bundled_names())} (the trained model shipped with the package)")


# ------------------------------------------------------------------------------------ configs and cards
_CONFIGS: Dict[Tuple[str, int, int], ModelConfig] = {}


def bundled_config(name: str) -> ModelConfig:
    """The architecture of bundled model ``name``: the config stored in its weights file's metadata.
    BundledModelMissingError when the file is absent; CheckpointError when it stores no config."""
    path = bundled_weights(name)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _CONFIGS:
        stored = read_stored_config(path)
        if stored is None:
            raise CheckpointError(f"the {name} model's weights {path} store no model config; write them with "
                                  f"mixformerv2.save_checkpoint(model, '{path.name}')")
        _CONFIGS[key] = ModelConfig.from_dict(stored)
    return _CONFIGS[key]


def _installed_config(name: str) -> Optional[ModelConfig]:
    try:
        return bundled_config(name)
    except (BundledModelMissingError, CheckpointError):
        return None


@dataclass(frozen=True)
class ModelCard:
    """What a bundled model's ``.json`` card says: ``tracker`` (TrackerParams values used with this model on
    every benchmark), ``benchmarks`` (per-benchmark values on top of those), ``weights_sha256`` (SHA-256 of the
    weights file it describes, checked when set) and free-form provenance (training, results, ...) in ``data``."""

    name: str
    path: Optional[Path]
    tracker: Dict[str, Any] = field(default_factory=dict)
    benchmarks: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    weights_sha256: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)

    def tracker_values(self, benchmark: str = "default") -> Dict[str, Any]:
        """The TrackerParams values this card sets for ``benchmark`` (a canonical benchmark key)."""
        values = dict(self.tracker)
        values.update(self.benchmarks.get(benchmark, {}))
        return values


def card_path(weights: Path) -> Path:
    """A bundled model's card: the .json file of the same stem beside its weights."""
    return weights.with_suffix(".json")


def read_model_card(name: str, weights: Path) -> ModelCard:
    """Read and check the card beside ``weights`` (an empty card when there is none). ModelCardError names
    the file and the problem: not JSON, unknown tracker keys, invalid values, or a weights digest that
    does not match the file."""
    from .params import TrackerParams, benchmark_name

    path = card_path(weights)
    if not path.is_file():
        return ModelCard(name, None)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelCardError(f"model card {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ModelCardError(f"model card {path} must hold a JSON object")

    def tracker_section(values: Any, where: str) -> Dict[str, Any]:
        if values is None:
            return {}
        if not isinstance(values, dict):
            raise ModelCardError(f"model card {path}: {where} must be an object of tracker settings")
        unknown = sorted(set(values) - set(CARD_TRACKER_KEYS))
        if unknown:
            raise ModelCardError(f"model card {path}: unknown tracker settings {unknown} in {where}; known: "
                                 f"{', '.join(CARD_TRACKER_KEYS)}")
        try:
            TrackerParams(**values)
        except (TypeError, ValueError) as exc:
            raise ModelCardError(f"model card {path}: {where}: {exc}") from None
        return dict(values)

    tracker = tracker_section(data.get("tracker"), "'tracker'")
    benchmarks = {}
    raw = data.get("benchmarks") or {}
    if not isinstance(raw, dict):
        raise ModelCardError(f"model card {path}: 'benchmarks' must map benchmark names to tracker settings")
    for bench, values in raw.items():
        try:
            key = benchmark_name(bench)
        except ValueError as exc:
            raise ModelCardError(f"model card {path}: {exc}") from None
        benchmarks[key] = tracker_section(values, f"benchmarks.{bench}")
        try:
            TrackerParams(**{**tracker, **benchmarks[key]})
        except (TypeError, ValueError) as exc:
            raise ModelCardError(f"model card {path}: benchmarks.{bench}: {exc}") from None
    digest = data.get("weights_sha256")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        raise ModelCardError(f"model card {path}: weights_sha256 must be a 64-character hex string or null")
    return ModelCard(name, path, tracker, benchmarks, digest.lower() if digest else None, data)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_CARDS: Dict[Tuple[str, int, int, Optional[int]], ModelCard] = {}


def model_card(name: str = DEFAULT_MODEL) -> ModelCard:
    """The checked card of installed bundled model ``name`` (BundledModelMissingError when not installed).
    When the card records ``weights_sha256`` it must match the weights file (ModelCardError otherwise)."""
    weights = bundled_weights(name)
    st = weights.stat()
    card_file = card_path(weights)
    card_mtime = card_file.stat().st_mtime_ns if card_file.is_file() else None
    key = (str(weights.resolve()), st.st_mtime_ns, st.st_size, card_mtime)
    if key not in _CARDS:
        card = read_model_card(name, weights)
        if card.weights_sha256 is not None:
            actual = file_sha256(weights)
            if actual != card.weights_sha256:
                raise ModelCardError(f"model card {card.path} describes other weights than {weights} "
                                     f"(weights_sha256 {card.weights_sha256[:12]}... there, {actual[:12]}... in "
                                     f"the file); ship the card and the weights together")
        _CARDS[key] = card
    return _CARDS[key]


def card_for_config(config: ModelConfig) -> Optional[ModelCard]:
    """The card of the installed bundled model whose architecture is ``config``, or None. Tracker settings
    follow the architecture (as the S preset's search factor does), so any model of that config uses them."""
    for name in bundled_names():
        if _installed_config(name) == config:
            return model_card(name)
    return None


def model_display_name(config: ModelConfig) -> Optional[str]:
    """The preset name of ``config``, else the name of the installed bundled model with that architecture."""
    name = preset_name(config)
    if name is not None:
        return name
    for bundled in bundled_names():
        if _installed_config(bundled) == config:
            return bundled
    return None


def model_config(model: ModelLike) -> ModelConfig:
    """The architecture a preset name, bundled-model name, config dict or ModelConfig stands for."""
    name = bundled_model_name(model)
    if name is not None:
        return bundled_config(name)
    return resolve_config(model)


# ------------------------------------------------------------------------------------------------ loading
def resolve_weights(model: ModelLike = None, weights: Union[str, os.PathLike, None] = None,
                    required: bool = True) -> Optional[Path]:
    """The checkpoint to load for ``model`` and ``weights``: ``weights`` itself; a bundled model's file (the
    default model's when both are None); a preset's bundled file. Without any of those: None when not
    ``required`` (the caller builds random weights), else WeightsRequiredError. Naming a bundled model and
    weights together is an error (the bundled name already names its weights)."""
    name = bundled_model_name(model) if model is not None else DEFAULT_MODEL
    if weights is not None:
        if model is not None and name is not None:
            raise ValueError(f"--model {name} names the weights shipped with the package; give either it or "
                             f"--weights {weights} (whose stored config is used), not both")
        return Path(weights)
    if name is not None:
        return bundled_weights(name)
    config = resolve_config(model)
    try:
        return default_weights(config)
    except WeightsRequiredError:
        if required:
            raise
        return None


def load_model(model: ModelLike = None, weights: Union[str, os.PathLike, None] = None,
               required: bool = True) -> nn.Module:
    """A MixFormerV2 in eval mode with trained weights.

    ``model``: a preset name, a config dict or ModelConfig the weights must fit, or a bundled model's name
    ("default"). ``weights``: a checkpoint file. Neither: the default model shipped with the package.
    A preset or config without weights uses the preset's bundled weights; when there are none it raises
    WeightsRequiredError, or (``required=False``) builds the model with random weights. A bundled model
    that is not installed raises BundledModelMissingError (a WeightsRequiredError) naming the missing
    file; weights of another model raise CheckpointError naming the mismatching keys and shapes.
    """
    path = resolve_weights(model, weights, required=required)
    if path is None:
        from ..model.build import build_model

        return build_model(resolve_config(model)).eval()
    if weights is None and (model is None or bundled_model_name(model) is not None):
        return load_checkpoint(path, model_config(model if model is not None else DEFAULT_MODEL))
    return load_checkpoint(path, resolve_config(model) if model is not None else None)


def describe_weights(model: ModelLike = None, weights: Union[str, os.PathLike, None] = None) -> str:
    """A short text naming what ``load_model(model, weights, required=False)`` loads (for reports)."""
    path = resolve_weights(model, weights, required=False)
    if path is None:
        return "random"
    name = bundled_model_name(model) if weights is None else None
    if name is None and model is None and weights is None:
        name = DEFAULT_MODEL
    return f"{name} ({path})" if name else str(path)


__all__ = ["ASSETS", "BUNDLED_WEIGHTS", "BundledModelMissingError", "DEFAULT_MODEL", "ModelCard", "ModelCardError",
           "WeightsRequiredError", "bundled_config", "bundled_model_name", "bundled_names", "bundled_weights",
           "bundled_weights_path", "card_for_config", "default_weights", "describe_weights", "load_model",
           "model_card", "model_config", "model_display_name", "read_model_card", "resolve_weights",
           "weights_env_var"]
