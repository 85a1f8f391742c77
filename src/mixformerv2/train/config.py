"""Training configuration: YAML files (with ``base:`` inheritance) and ``key.sub=value`` overrides.

A config file is a mapping with the sections below (every key is optional except ``stage`` and ``model``;
see ``configs/README.md`` for the recipe). ``base`` names another YAML file (relative to this one) whose
content is merged underneath, recursively; lists are replaced, not merged.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml

from ..data.processing import ProcessingConfig

STAGES = ("teacher", "dense_to_sparse", "progressive_elimination", "finetune", "score")


class ConfigError(ValueError):
    """A training config is malformed (names the key and the problem)."""


@dataclass
class InitConfig:
    """Initial weights of the trained model. ``weights``: a checkpoint (ours or official); ``mae``: MAE
    ViT weights for the backbone; ``partial``: load only the entries that exist in the model with the same
    shape (e.g. a student's backbone from the teacher); ``remove_blocks``: drop these blocks of the
    checkpoint and renumber the rest first; ``reduce_mlp``: shrink the checkpoint's MLPs to the model's
    hidden size, keeping the hidden units of largest weight norm. Not in the published recipe:
    ``nanotrack_stem``: NanoTrack V3's trained backbone (its folder or ``nanotrackv3.safetensors``) for a model
    with ``patch_embed: mobilenetv3``, loaded before ``weights`` (so a checkpoint holding a stem wins)."""

    weights: Optional[str] = None
    nanotrack_stem: Optional[str] = None
    mae: Optional[str] = None
    partial: bool = False
    remove_blocks: List[int] = field(default_factory=list)
    reduce_mlp: bool = False


@dataclass
class TeacherConfig:
    """The frozen teacher: a checkpoint and, if it stores no config, its model config. It runs on the
    student's crops (its sin-cos tables are rebuilt for the student's template/search sizes)."""

    weights: Optional[str] = None
    model: Any = None
    # Not in the published recipe: NanoTrack (a folder with its backbone.onnx and head.onnx, V2 or V3) as a
    # teacher trained on real video, for loss.nanotrack_kl and loss.nanotrack_feature; ``nanotrack_sharpness``:
    # each score-grid cell's box counts with its foreground probability to this power.
    nanotrack: Optional[str] = None
    nanotrack_sharpness: float = 4.0
    nanotrack_threads: int = 1


@dataclass
class LossConfig:
    ciou: float = 2.0
    l1: float = 5.0
    kl: float = 5.0
    feature: float = 0.2
    score: float = 1.0
    # Not in the published recipe: cross-entropy between each side's bin distribution and the ground truth
    # coordinate split over its two nearest bins (a distribution-focal-style target). It gives the token
    # head a dense signal when no teacher is available (training from scratch). 0 = off.
    side_target: float = 0.0
    # Not in the published recipe: cross-entropy pulling each prediction token's attention (heads averaged)
    # onto the search tokens at the midpoint of its side of the ground-truth box, in the last
    # token_attention_blocks running blocks (at most all but the first). Without it new prediction tokens
    # read the same box for every input for hundreds of steps on small data (scripts/head_learnability.py).
    # 0 = off.
    token_attention: float = 0.0
    token_attention_blocks: int = 2
    # Not in the published recipe (need teacher.nanotrack): KL between the prediction tokens' side distributions
    # and those of NanoTrack's dense score and box maps on the same crops (dense-to-sparse from a tracker trained
    # on real video); and the MSE between the cosine-similarity matrices of the student's first-template and
    # search tokens after running block ``nanotrack_feature_block`` (-1 = the last) and of NanoTrack's backbone
    # features at the same places (a stand-in for the MAE initialisation). 0 = off.
    nanotrack_kl: float = 0.0
    nanotrack_feature: float = 0.0
    nanotrack_feature_block: int = -1


@dataclass
class EliminationConfig:
    """Progressive elimination: ``blocks`` (0-based) fade out with r = 0.5*(1 + cos(pi*e/epochs)),
    e = min(epoch + 1, epochs), epochs counted from 1; their parameters are frozen."""

    blocks: List[int] = field(default_factory=list)
    epochs: int = 40


@dataclass
class DataConfig(ProcessingConfig):
    """Training data. ``datasets``: entries for ``build_dataset`` with a ``ratio`` each. Crop sizes come
    from the model config; crop factors, jitter and augmentations are the ``ProcessingConfig`` fields this
    class inherits (same keys under ``data:``); the rest are the sampler's settings."""

    datasets: List[Dict[str, Any]] = field(default_factory=list)
    samples_per_epoch: int = 60000
    max_gap: int = 200
    num_templates: int = 2
    num_workers: int = 2


@dataclass
class TrackingValConfig:
    """Model selection by tracking: every ``every`` epochs (and after the last) the model tracks ``dataset``
    (a benchmark name of ``mixformerv2.datasets``, e.g. ``sequences`` or ``got10k``) at ``root`` (``split``)
    one-pass and is scored under the dataset's convention; the checkpoint with the best success AUC is kept as
    ``model_best.pth``. ``sequences``: only the first N (0 = all); ``params``: tracker settings on top of the
    model's (e.g. ``{search_factor: 4.0}``). Off while ``dataset`` is null."""

    dataset: Optional[str] = None
    root: Optional[str] = None
    split: Optional[str] = None
    every: int = 1
    sequences: int = 0
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ValConfig:
    """Validation every ``every`` epochs (0 = never) on ``samples`` fixed samples of ``datasets``
    (default: the training datasets with another seed), and by tracking (``tracking``)."""

    datasets: List[Dict[str, Any]] = field(default_factory=list)
    samples: int = 1000
    every: int = 1
    seed: int = 12345
    tracking: TrackingValConfig = field(default_factory=TrackingValConfig)


@dataclass
class OptimConfig:
    epochs: int = 500
    batch_size: int = 32
    lr: float = 4e-4
    backbone_lr_mult: float = 0.1
    # Not in the published recipe: the learning-rate factor (times lr * backbone_lr_mult) of a convolutional
    # patch embedding's MobileNetV3 stem (patch_embed: mobilenetv3); 0 freezes it (no gradient is computed).
    stem_lr_mult: float = 1.0
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    lr_drop_epochs: List[int] = field(default_factory=lambda: [400])
    lr_gamma: float = 0.1
    amp: str = "auto"


@dataclass
class CheckpointConfig:
    """Checkpoints are written at every epoch end; ``every_steps`` > 0 also writes one mid-epoch."""

    every_steps: int = 0
    keep: int = 2


@dataclass
class TrainConfig:
    stage: str = "teacher"
    model: Any = None
    seed: int = 0
    output: Optional[str] = None
    init: InitConfig = field(default_factory=InitConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    feature_pairs: List[List[int]] = field(default_factory=list)
    elimination: EliminationConfig = field(default_factory=EliminationConfig)
    data: DataConfig = field(default_factory=DataConfig)
    val: ValConfig = field(default_factory=ValConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log_every: int = 10
    source: Optional[str] = None  # the file the config was read from (paths in it are relative to the CWD)

    def to_dict(self) -> Dict[str, Any]:
        return _to_plain(self)


def _to_plain(obj: Any) -> Any:
    if is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _build(cls, data: Any, where: str):
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"config section {where or 'top level'} must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown config keys {[f'{where}.{k}'.lstrip('.') for k in unknown]}; "
                          f"known keys of {where or 'the top level'}: {sorted(known)}")
    kwargs = {}
    for name, value in data.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else known[name].default
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{name}".lstrip("."))
        else:
            if isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"config key {where}.{name} must be true or false, got {value!r}".replace(" .", " "))
            if isinstance(default, (int, float)) and not isinstance(default, bool) and value is not None:
                if isinstance(value, str):  # YAML 1.1 reads 2e-3 (no dot) as a string
                    try:
                        value = float(value) if isinstance(default, float) else int(value)
                    except ValueError:
                        pass
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"config key {f'{where}.{name}'.lstrip('.')} must be a number, got {value!r}")
                value = type(default)(value) if isinstance(default, float) else value
            if isinstance(default, list) and not isinstance(value, list):
                raise ConfigError(f"config key {f'{where}.{name}'.lstrip('.')} must be a list, got {value!r}")
            kwargs[name] = value
    return cls(**kwargs)


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> Dict[str, Any]:
    """Recursive merge of mappings; values of ``top`` win, lists are replaced."""
    out = copy.deepcopy(dict(base))
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def read_config_file(path: Path, _seen: Sequence[Path] = ()) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.resolve() in _seen:
        raise ConfigError(f"config {path} includes itself through 'base'")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"config {path} must be a mapping at the top level")
    base = data.pop("base", None)
    if base:
        parent = read_config_file(path.parent / base, tuple(_seen) + (path.resolve(),))
        data = merge(parent, data)
    return dict(data)


def apply_overrides(data: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """``a.b.c=value`` strings (value parsed as YAML) applied to a config mapping."""
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = value
    return data


def config_from_dict(data: Mapping[str, Any], source: Optional[str] = None) -> TrainConfig:
    config = _build(TrainConfig, dict(data), "")
    config.source = source
    validate(config)
    return config


def load_config(path: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    data = apply_overrides(read_config_file(Path(path)), overrides)
    return config_from_dict(data, source=str(path))


def validate(c: TrainConfig) -> None:
    if c.stage not in STAGES:
        raise ConfigError(f"stage must be one of {STAGES}, got {c.stage!r}")
    if c.model is None:
        raise ConfigError("config has no 'model' (a preset name or a mapping of model config keys)")
    if c.stage == "dense_to_sparse" and not (c.teacher.weights or c.teacher.nanotrack):
        raise ConfigError("stage dense_to_sparse needs teacher.weights (the corner-head teacher's checkpoint) or "
                          "teacher.nanotrack (a NanoTrack folder)")
    if c.stage in ("progressive_elimination", "finetune") and not c.teacher.weights:
        raise ConfigError(f"stage {c.stage} needs teacher.weights (the checkpoint of the previous stage)")
    if c.stage == "dense_to_sparse" and not c.teacher.weights and c.loss.nanotrack_kl <= 0:
        raise ConfigError("stage dense_to_sparse with NanoTrack as its only teacher needs loss.nanotrack_kl > 0")
    if (c.loss.nanotrack_kl > 0 or c.loss.nanotrack_feature > 0) and not c.teacher.nanotrack:
        raise ConfigError("loss.nanotrack_kl and loss.nanotrack_feature need teacher.nanotrack (the folder of "
                          "NanoTrack's backbone.onnx and head.onnx)")
    if c.teacher.nanotrack_sharpness <= 0 or c.teacher.nanotrack_threads < 1:
        raise ConfigError("teacher.nanotrack_sharpness must be > 0 and teacher.nanotrack_threads >= 1")
    if c.stage == "progressive_elimination" and not c.elimination.blocks:
        raise ConfigError("stage progressive_elimination needs elimination.blocks")
    if c.stage in ("progressive_elimination", "finetune") and c.loss.feature > 0 and not c.feature_pairs:
        raise ConfigError(f"stage {c.stage} with loss.feature > 0 needs feature_pairs")
    for pair in c.feature_pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, int) for v in pair)):
            raise ConfigError(f"feature_pairs entries must be [student_layer, teacher_layer], got {pair!r}")
    if not c.data.datasets:
        raise ConfigError("data.datasets is empty: name at least one dataset (e.g. {type: synthetic})")
    if c.optim.batch_size < 1 or c.optim.epochs < 1:
        raise ConfigError("optim.batch_size and optim.epochs must be >= 1")
    if c.data.samples_per_epoch < c.optim.batch_size:
        raise ConfigError(f"data.samples_per_epoch {c.data.samples_per_epoch} is smaller than one batch "
                          f"({c.optim.batch_size})")
    if c.optim.amp is False:  # YAML reads a bare `off` as false
        c.optim.amp = "off"
    if c.optim.amp not in ("auto", "off", "fp16", "bf16"):
        raise ConfigError(f"optim.amp must be auto, off, fp16 or bf16, got {c.optim.amp!r}")
    if c.elimination.epochs < 1:
        raise ConfigError("elimination.epochs must be >= 1")
    tv = c.val.tracking
    if tv.dataset is not None:
        if not tv.root:
            raise ConfigError("val.tracking.root is required with val.tracking.dataset")
        if tv.every < 1 or tv.sequences < 0:
            raise ConfigError("val.tracking.every must be >= 1 and val.tracking.sequences >= 0")
        if not isinstance(tv.params, Mapping):
            raise ConfigError("val.tracking.params must be a mapping of tracker settings")
