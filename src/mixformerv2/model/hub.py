"""The model hub: one table from a name to a model, and the model card that travels with its weights.

A name is a preset (``mixformerv2-b``, ``mixformerv2-s``, ``mixvit-b``), an alias of one (``b``, ``s``,
``teacher``), a bundled model (``default``), or a JSON/YAML file holding a model config. ``load_model`` turns a
name and/or a weights file into a model in eval mode; the model it returns carries its card (``model.card``,
a ``ModelCard`` or None), so tracker settings come from the weights that were loaded, never from another
model that merely has the same architecture.

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

from ..files import atomic_write_text
from .checkpoint import CheckpointError, load_checkpoint, read_stored_config, save_checkpoint
from .config import ALIASES, ModelConfig, PRESETS, preset_name, resolve_config

DEFAULT_MODEL = "default"
ASSETS = Path(__file__).resolve().parents[1] / "assets"
CONFIG_FILE_SUFFIXES = (".json", ".yaml", ".yml")
# Weights shipped inside the package (file names under mixformerv2/assets/). A key that is a preset name
# gives that preset's weights when no weights are given; any other key is a model of its own, selected by
# that name, whose architecture is the config stored in the file and whose model card is the .json file of
# the same stem beside it.
BUNDLED_WEIGHTS: Dict[str, str] = {DEFAULT_MODEL: "default.safetensors"}
# Tracker settings a model card may set (crop sizes always come from the model).
CARD_TRACKER_KEYS = ("template_factor", "search_factor", "update_interval", "score_threshold", "online_templates",
                     "max_score_decay", "far_side_padding_quirk", "size_update_rate", "size_filter_noise")

ModelLike = Union[str, Mapping[str, Any], ModelConfig, None]


class WeightsRequiredError(ValueError):
    """A model was named without weights and none are bundled for it."""


class BundledModelMissingError(WeightsRequiredError):
    """A bundled model (such as the default model) was asked for, but its weights file is not installed."""


class ModelCardError(ValueError):
    """A model card (the .json beside a weights file) is unreadable or does not describe its weights."""


# ---------------------------------------------------------------------------------------------- names
def bundled_names() -> List[str]:
    """The names of the bundled models (not presets) that --model accepts, e.g. ["default"]."""
    return sorted(name for name in BUNDLED_WEIGHTS if name not in PRESETS)


def model_names() -> List[str]:
    """Every name ``--model`` accepts besides config files: bundled models, presets, aliases."""
    return bundled_names() + sorted(PRESETS) + sorted(ALIASES)


def read_model_argument(value: str) -> Union[str, Dict[str, Any]]:
    """A ``--model`` value as the hub takes it: a name is returned as is; a path ending in .json/.yaml/.yml is a
    model-config file, returned as the dict it holds (FileNotFoundError naming it when it is missing)."""
    path = Path(value)
    if path.suffix.lower() not in CONFIG_FILE_SUFFIXES:
        name = value.strip().lower()
        if bundled_model_name(name) is None and name not in PRESETS and name not in ALIASES:
            raise ValueError(f"unknown model {value!r}; choose {', '.join(sorted(BUNDLED_WEIGHTS))} (the trained "
                             f"model shipped with the package), a preset ({', '.join(sorted(PRESETS))}; aliases "
                             f"{', '.join(sorted(ALIASES))}) or a .json/.yaml model-config file")
        return value
    if not path.is_file():
        raise FileNotFoundError(f"model config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"model config file {path} must hold a mapping of config keys")
    return data


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


@dataclass(frozen=True)
class ModelCard:
    """What a model card (the ``.json`` beside a weights file) says: ``tracker`` (TrackerParams values used
    with this model on every benchmark), ``benchmarks`` (benchmark name as written -> values on top of those),
    ``weights_sha256`` (SHA-256 of the weights file it describes) and free-form provenance (training,
    results, ...) in ``data``. The hub checks the layout and the digest; the tracker checks the values when it
    applies them (``TrackerParams.for_benchmark``), naming ``path``."""

    name: str
    path: Optional[Path]
    tracker: Dict[str, Any] = field(default_factory=dict)
    benchmarks: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    weights_sha256: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)


def card_path(weights: Path) -> Path:
    """A model's card: the .json file of the same stem beside its weights."""
    return Path(weights).with_suffix(".json")


def read_model_card(name: str, weights: Path) -> ModelCard:
    """Read the card beside ``weights`` (an empty card when there is none). ModelCardError names the file and
    the problem: not JSON, not an object, sections of the wrong type, unknown tracker settings, a malformed
    digest. (The digest is compared with the weights by ``model_card``/``load_model``.)"""
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
        return dict(values)

    tracker = tracker_section(data.get("tracker"), "'tracker'")
    raw = data.get("benchmarks") or {}
    if not isinstance(raw, dict):
        raise ModelCardError(f"model card {path}: 'benchmarks' must map benchmark names to tracker settings")
    benchmarks = {str(bench): tracker_section(values, f"benchmarks.{bench}") for bench, values in raw.items()}
    digest = data.get("weights_sha256")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        raise ModelCardError(f"model card {path}: weights_sha256 must be a 64-character hex string or null")
    return ModelCard(str(data.get("name") or name), path, tracker, benchmarks, digest.lower() if digest else None,
                     data)


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_CARDS: Dict[Tuple[str, int, int, Optional[int]], Optional[ModelCard]] = {}


def _card_for_weights(name: str, weights: Path, bundled: bool) -> Optional[ModelCard]:
    """The card that belongs to the weights file ``weights``. A bundled model's card must match its weights
    (ModelCardError otherwise). Beside any other file a card counts only when it records the file's digest
    (a .json of the same name that describes other weights, or is no card at all, is not this model's)."""
    weights = Path(weights)
    card_file = card_path(weights)
    if not card_file.is_file():
        return None
    st = weights.stat()
    key = (str(weights.resolve()), st.st_mtime_ns, st.st_size, card_file.stat().st_mtime_ns)
    if key in _CARDS:
        return _CARDS[key]
    if bundled:
        card = read_model_card(name, weights)
        if card.weights_sha256 is not None:
            actual = file_sha256(weights)
            if actual != card.weights_sha256:
                raise ModelCardError(f"model card {card.path} describes other weights than {weights} "
                                     f"(weights_sha256 {card.weights_sha256[:12]}... there, {actual[:12]}... in "
                                     f"the file); ship the card and the weights together")
    else:
        try:
            card = read_model_card(weights.stem, weights)
        except ModelCardError:
            card = None
        if card is not None and (card.weights_sha256 is None or card.weights_sha256 != file_sha256(weights)):
            card = None
    _CARDS[key] = card
    return card


def model_card(name: str = DEFAULT_MODEL) -> ModelCard:
    """The checked card of installed bundled model ``name`` (BundledModelMissingError when not installed; an
    empty card when it has none). When the card records ``weights_sha256`` it must match the weights file."""
    weights = bundled_weights(name)
    return _card_for_weights(name, weights, bundled=True) or ModelCard(name, None)


def model_name(model: nn.Module) -> Optional[str]:
    """What to call a loaded model in reports: its card's name (``default``), else the preset its config
    equals, else None (a custom architecture)."""
    card = getattr(model, "card", None)
    if card is not None:
        return card.name
    config = getattr(model, "config", None)
    return preset_name(config) if isinstance(config, ModelConfig) else None


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
    """A MixFormerV2 in eval mode with trained weights, carrying its card as ``model.card`` (None without one).

    ``model``: a preset name, a config dict or ModelConfig the weights must fit, or a bundled model's name
    ("default"). ``weights``: a checkpoint file. Neither: the default model shipped with the package.
    A preset or config without weights uses the preset's bundled weights; when there are none it raises
    WeightsRequiredError, or (``required=False``) builds the model with random weights. A bundled model
    that is not installed raises BundledModelMissingError (a WeightsRequiredError) naming the missing
    file; weights of another model raise CheckpointError naming the mismatching keys and shapes; a bundled
    model's card that is malformed or describes other weights raises ModelCardError naming the card.
    """
    from .build import build_model

    path = resolve_weights(model, weights, required=required)
    if path is None:
        network = build_model(resolve_config(model)).eval()
        network.card = None
        return network
    bundled = bundled_model_name(model if model is not None else DEFAULT_MODEL) if weights is None else None
    if bundled is not None:
        card = _card_for_weights(bundled, path, bundled=True)
        network = load_checkpoint(path, bundled_config(bundled))
        network.card = card or ModelCard(bundled, None)
        return network
    network = load_checkpoint(path, resolve_config(model) if model is not None else None)
    network.card = _card_for_weights(path.stem, path, bundled=False)
    return network


def describe_weights(model: ModelLike = None, weights: Union[str, os.PathLike, None] = None) -> str:
    """A short text naming what ``load_model(model, weights, required=False)`` loads (for reports)."""
    path = resolve_weights(model, weights, required=False)
    if path is None:
        return "random"
    name = bundled_model_name(model) if weights is None else None
    if name is None and model is None and weights is None:
        name = DEFAULT_MODEL
    return f"{name} ({path})" if name else str(path)


# ------------------------------------------------------------------------------------------------ shipping
def ship_model(checkpoint: Union[str, os.PathLike], assets: Union[str, os.PathLike, None] = None,
               name: str = DEFAULT_MODEL, tracker: Optional[Mapping[str, Any]] = None, half: bool = False,
               check: Optional[Any] = None) -> Tuple[Path, Path]:
    """Install a trained checkpoint as bundled model ``name`` (the file names of ``BUNDLED_WEIGHTS``) in
    ``assets`` (default: the package's): loads it strictly (its stored config is the architecture), calls
    ``check(model)`` when given (e.g. ``Tracker`` to refuse models the tracker cannot run), writes the weights
    as safetensors with the config in the metadata (``half``: float16 where it holds the values), then updates
    the card beside them: ``weights_sha256``, ``model`` (the config), ``parameters`` and the ``tracker``
    settings given on top of the card's. Provenance fields stay as the card has them. Both files are written
    atomically; the card as written must read back. Returns (weights path, card path)."""
    assets = Path(assets) if assets is not None else ASSETS
    if name not in BUNDLED_WEIGHTS:
        raise ValueError(f"unknown bundled model {name!r}; bundled: {', '.join(sorted(BUNDLED_WEIGHTS))}")
    unknown = sorted(set(tracker or {}) - set(CARD_TRACKER_KEYS))
    if unknown:
        raise ValueError(f"unknown tracker settings {unknown}; known: {', '.join(CARD_TRACKER_KEYS)}")
    network = load_checkpoint(checkpoint)
    if check is not None:
        check(network)
    weights = assets / BUNDLED_WEIGHTS[name]
    card_file = card_path(weights)
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {"name": name}
    save_checkpoint(network, weights, half=half)
    card["weights"] = weights.name
    card["weights_sha256"] = file_sha256(weights)
    card["model"] = network.config.to_dict()
    card["parameters"] = sum(p.numel() for p in network.parameters())
    card["tracker"] = {**dict(card.get("tracker") or {}), **dict(tracker or {})}
    atomic_write_text(card_file, json.dumps(card, indent=2) + "\n")
    read_model_card(name, weights)
    return weights, card_file


__all__ = ["ASSETS", "BUNDLED_WEIGHTS", "BundledModelMissingError", "CARD_TRACKER_KEYS", "DEFAULT_MODEL", "ModelCard",
           "ModelCardError", "WeightsRequiredError", "bundled_config", "bundled_model_name", "bundled_names",
           "bundled_weights", "bundled_weights_path", "card_path", "default_weights", "describe_weights",
           "file_sha256", "load_model", "model_card", "model_config", "model_name", "model_names",
           "read_model_argument", "read_model_card", "resolve_weights", "ship_model", "weights_env_var"]
