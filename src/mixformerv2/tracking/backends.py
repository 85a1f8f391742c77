"""What the tracker calls to run the network, and a registry of implementations.

A backend turns normalised template crops into an opaque cache and runs the per-frame search step against
it. All arrays crossing this interface are numpy float32:
  template (N, 3, T, T): the first-frame template of each of N targets;
  online   (N, K, 3, T, T): K online templates per target (K >= 1; every target has the same K);
  search   (N, 3, S, S): one search crop per target;
  results: pred_boxes (N, 4) as cx, cy, w, h normalised to the search crop, pred_scores (N,) logits; the
  built-in backends return them as a SearchOutputs pair that also carries side_variances (N, 4), the spread of
  each side's bin distribution, which the tracker's size filter (TrackerParams.size_filter_noise) reads.

Built in: "torch" (template keys/values cached per layer; templates are encoded only when they change) and
"torch-full" (the full forward every frame, like the official tracker; the reference). Other packages add
backends with register_backend(name, factory); factory(model, threads=None) returns a TrackerBackend.
Modules listed in BACKEND_PLUGIN_MODULES are imported on first use of the registry so that their
backends register themselves (e.g. ONNX Runtime backends from mixformerv2.export).
"""
from __future__ import annotations

import os

import abc
import contextlib
import importlib
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..model.config import ModelConfig
from ..model.mixformer import TemplateCache

log = logging.getLogger(__name__)

BACKEND_PLUGIN_MODULES = ["mixformerv2.export"]


class TrackerBackend(abc.ABC):
    """The network as the tracker sees it. ``config`` gives the crop sizes (template_size, search_size)."""

    name: str = "?"
    config: ModelConfig

    @abc.abstractmethod
    def encode(self, template: np.ndarray, online: np.ndarray) -> Any:
        """Encode the templates of N targets: template (N,3,T,T), online (N,K,3,T,T) -> cache."""

    @abc.abstractmethod
    def search(self, cache: Any, search: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Search crops (N,3,S,S) against the cache -> (pred_boxes (N,4) cxcywh normalised, pred_scores (N,) logits),
        best as ``search_outputs(...)`` (a SearchOutputs pair that also carries the side distributions' spread)."""

    @abc.abstractmethod
    def select(self, cache: Any, index: Sequence[int]) -> Any:
        """The cache of the targets ``index`` (a subset or re-ordering), in that order."""

    def reencode(self, cache: Any, index: Sequence[int], template: np.ndarray, online: np.ndarray) -> Any:
        """The cache after the templates of targets ``index`` changed. ``template``/``online`` hold every
        target's current templates. This default encodes all targets; backends override it to encode
        only the changed ones."""
        return self.encode(template, online)


MAX_THREADS_PER_CORE = 8  # more threads than this per core only thrash (and very many crash OpenMP)


def available_cores() -> int:
    """CPUs this process may run on (its affinity set; all CPUs where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_threads(cores: Optional[int] = None, load: Optional[float] = None) -> Tuple[int, str]:
    """The thread count ``--threads auto`` stands for, and why: the cores this process may use that other work is
    not already using (cores minus the 1-minute load average, rounded, at least 1). On cores other processes keep
    busy, threads of one parallel step wait for each other's time slices, and a small model's step collapses
    (measured: the default model 53 FPS on 2 threads against 170 FPS on 1 while another job kept both cores
    busy)."""
    cores = available_cores() if cores is None else int(cores)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    free = cores - float(load)
    threads = max(1, min(cores, int(free + 0.5)))
    return threads, (f"{cores} core{'s' if cores != 1 else ''}, load average {load:.2f}: "
                     f"{threads} thread{'s' if threads != 1 else ''}")


def check_threads(threads, name: str = "threads") -> int:
    """``threads`` as an int, or ValueError naming ``name`` unless it is between 1 and MAX_THREADS_PER_CORE
    times the machine's cores."""
    try:
        value = int(threads)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {threads!r}") from None
    cores = os.cpu_count() or 1
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {threads}")
    if value > MAX_THREADS_PER_CORE * cores:
        raise ValueError(f"{name} {value} is far more than this machine's {cores} cores (at most "
                         f"{MAX_THREADS_PER_CORE * cores}); use about one thread per core")
    return value


class TorchBackend(TrackerBackend):
    """PyTorch with cached template keys/values: each frame runs only the search step (spec section 4)."""

    name = "torch"

    def __init__(self, model: nn.Module, threads: Optional[int] = None):
        config = getattr(model, "config", None)
        if not isinstance(config, ModelConfig):
            raise TypeError(f"expected a MixFormerV2 model, got {type(model).__name__}")
        if threads is not None:
            torch.set_num_threads(check_threads(threads))
        self.model = model.eval()
        self.config = config
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self.device, self.dtype)

    def _precision(self):
        """The context the network runs in (float32: none)."""
        return contextlib.nullcontext()

    def encode(self, template: np.ndarray, online: np.ndarray) -> TemplateCache:
        with torch.inference_mode(), self._precision():
            return self.model.encode_templates(self._tensor(template), self._tensor(online))

    def search(self, cache: TemplateCache, search: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode(), self._precision():
            out = self.model.forward_search(self._tensor(search), cache)
            return _outputs(out)

    def select(self, cache: TemplateCache, index: Sequence[int]) -> TemplateCache:
        return cache.select(list(index))

    def reencode(self, cache: TemplateCache, index: Sequence[int], template: np.ndarray,
                 online: np.ndarray) -> TemplateCache:
        index = list(index)
        if cache.num_tokens != self.config.num_template_tokens * (1 + online.shape[1]) or \
                len(index) == template.shape[0]:
            return self.encode(template, online)
        with torch.inference_mode(), self._precision():
            fresh = self.model.encode_templates(self._tensor(template[index]), self._tensor(online[index]))
            at = torch.as_tensor(index, dtype=torch.long, device=cache.keys.device)
            return TemplateCache(cache.keys.index_copy(1, at, fresh.keys), cache.values.index_copy(1, at, fresh.values),
                                 cache.tokens.index_copy(1, at, fresh.tokens))


class TorchBf16Backend(TorchBackend):
    """PyTorch with cached templates, the network under bfloat16 autocast: matrix products and convolutions in
    bfloat16 (oneDNN uses AVX-512 BF16 or AMX where the CPU has them), layer norms, the softmax and the
    expectation over bins in float32. The template cache is kept in bfloat16."""

    name = "torch-bf16"

    def _precision(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16)


class TorchFullBackend(TorchBackend):
    """PyTorch, re-encoding both templates with the full forward every frame, as the official tracker does.
    Slower; kept as the reference the cached backends are checked against."""

    name = "torch-full"

    def encode(self, template: np.ndarray, online: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._tensor(template), self._tensor(online)

    def search(self, cache: Tuple[torch.Tensor, torch.Tensor], search: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        template, online = cache
        with torch.inference_mode():
            return _outputs(self.model(template, online, self._tensor(search)))

    def select(self, cache: Tuple[torch.Tensor, torch.Tensor], index: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        at = torch.as_tensor(list(index), dtype=torch.long)
        return cache[0].index_select(0, at.to(cache[0].device)), cache[1].index_select(0, at.to(cache[1].device))

    def reencode(self, cache, index, template, online):
        return self.encode(template, online)


class SearchOutputs(tuple):
    """What ``TrackerBackend.search`` returns: the pair (pred_boxes (N, 4) cx, cy, w, h normalised to the search
    crop, pred_scores (N,) logits), which unpacks as two values, with ``side_variances`` beside it: (N, 4) the
    variance of each side's bin distribution in order left, top, right, bottom (normalised crop units squared:
    how sure the model is of each side), or None for a model without per-side distributions (a corner head).
    Given the bin probabilities (``side_probs``) instead, the variances are computed on first use only, so a
    tracker that does not read them pays nothing."""

    def __new__(cls, boxes: np.ndarray, scores: np.ndarray, side_variances: Optional[np.ndarray] = None,
                side_probs: Optional[Sequence[Any]] = None):
        pair = super().__new__(cls, (boxes, scores))
        pair._variances, pair._probs = side_variances, side_probs
        return pair

    @property
    def side_variances(self) -> Optional[np.ndarray]:
        if self._variances is None and self._probs is not None:
            self._variances = side_distribution_variances(self._probs)
        return self._variances


def _float64(side: Any) -> np.ndarray:
    if isinstance(side, torch.Tensor):
        side = side.detach().float().cpu().numpy()
    return np.asarray(side, dtype=np.float64)


def side_distribution_variances(probs: Sequence[Any]) -> np.ndarray:
    """(N, 4) variances of the side distributions ``probs`` (four (N, F) numpy arrays or torch tensors of bin
    probabilities in order left, top, right, bottom; bin i at normalised coordinate i / F, as in TokenBoxHead)."""
    p = np.stack([_float64(side) for side in probs], axis=1)     # (N, 4, F)
    p = p / p.sum(axis=2, keepdims=True)
    positions = np.arange(p.shape[2], dtype=np.float64) / p.shape[2]
    mean = p @ positions
    return np.maximum(p @ positions ** 2 - mean ** 2, 0.0).astype(np.float32)


def search_outputs(boxes: np.ndarray, scores: Optional[np.ndarray],
                   side_probs: Optional[Sequence[Any]] = None) -> SearchOutputs:
    """What ``TrackerBackend.search`` returns: boxes (B, 4) normalized cx, cy, w, h and score logits (B,);
    NaN scores for a model without a score head such as the MixViT teacher (``scores`` None): the tracker
    then never replaces its online template. ``side_probs``: the token head's bin probabilities per side
    (left, top, right, bottom; four (B, F) numpy arrays or torch tensors), from which ``side_variances`` is computed when read; None
    for a corner head."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    if scores is None:
        scores = np.full(len(boxes), np.nan, dtype=np.float32)
    return SearchOutputs(boxes, np.asarray(scores).reshape(-1), side_probs=side_probs)


def side_probabilities(out: Mapping[str, Any]) -> Optional[List[Any]]:
    """The per-side bin probabilities prob_l, prob_t, prob_r, prob_b of a search step's outputs (a token head),
    or None when they are absent (a corner head)."""
    names = [f"prob_{side}" for side in ("l", "t", "r", "b")]
    if not all(name in out for name in names):
        return None
    return [out[name] for name in names]


def _outputs(out: Dict[str, torch.Tensor]) -> SearchOutputs:
    """``search_outputs`` of a torch model's output dict."""
    scores = out.get("pred_scores")
    probs = side_probabilities(out)
    return search_outputs(out["pred_boxes"].float().cpu().numpy(),
                          None if scores is None else scores.float().cpu().numpy(),
                          probs)   # kept as tensors: converted only if the size filter reads the variances


BackendFactory = Callable[..., TrackerBackend]
_REGISTRY: Dict[str, BackendFactory] = {"torch": TorchBackend, "torch-bf16": TorchBf16Backend,
                                        "torch-full": TorchFullBackend}
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in BACKEND_PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                log.debug("backend plugin module %s is not available", module)
            else:
                log.warning("backends of %s are unavailable: %s", module, exc)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the built-in backends
            log.warning("backends of %s are unavailable: %s: %s", module, type(exc).__name__, exc)


def register_backend(name: str, factory: BackendFactory, overwrite: bool = False) -> None:
    """Make ``factory(model, threads=None) -> TrackerBackend`` available as backend ``name``."""
    if not name or not isinstance(name, str):
        raise ValueError(f"backend name must be a non-empty string, got {name!r}")
    if name in _REGISTRY and not overwrite and _REGISTRY[name] is not factory:
        raise ValueError(f"a backend named {name!r} is already registered")
    _REGISTRY[name] = factory


def available_backends() -> List[str]:
    """Names of the registered backends (the built-in ones first)."""
    _load_plugins()
    return list(_REGISTRY)


def check_backend_name(name: str, option: str = "backend") -> str:
    """``name`` if a backend of that name is registered, else ValueError naming ``option`` and the choices."""
    if name not in available_backends():
        raise ValueError(f"{option}: unknown backend {name!r}; available: {', '.join(available_backends())}")
    return name


def create_backend(name: str, model: nn.Module, threads: Optional[int] = None) -> TrackerBackend:
    """Instantiate backend ``name`` for ``model`` (a loaded MixFormerV2)."""
    _load_plugins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(_REGISTRY)}")
    return _REGISTRY[name](model, threads=threads)
