"""ONNX export of the two tracking graphs (template encoder, search step) and the check against PyTorch.

An export directory holds ``template_encoder.onnx``, ``search_step.onnx`` and ``manifest.json`` (the model
config, the graphs' input/output names and axes, and the equality check's result). Both graphs have a free
batch axis; the template encoder also takes any number of online templates and the search step any
number of cached template tokens.
"""
from __future__ import annotations

import copy
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np
import torch

from ..files import atomic_write, make_readable
from ..model.config import ModelConfig, preset_name
from ..model.mixformer import MixFormerV2
from .graphs import (SEARCH_INPUTS, TEMPLATE_INPUTS, TEMPLATE_OUTPUTS, SearchStepGraph, TemplateEncoderGraph,
                     search_output_names)

log = logging.getLogger(__name__)

TEMPLATE_GRAPH = "template_encoder.onnx"
SEARCH_GRAPH = "search_step.onnx"
MANIFEST = "manifest.json"
DEFAULT_OPSET = 17
# Largest absolute difference between an exported graph and PyTorch that the check accepts.
EXPORT_TOLERANCE = 1e-4


class ExportError(ValueError):
    """An export directory is missing, incomplete, or its graphs disagree with PyTorch."""


@dataclass
class ExportManifest:
    """What an export directory holds. ``config`` is the model config (a dict of ModelConfig keys)."""

    config: dict
    opset: int
    template_graph: str = TEMPLATE_GRAPH
    search_graph: str = SEARCH_GRAPH
    search_outputs: List[str] = field(default_factory=list)
    check: Dict[str, float] = field(default_factory=dict)
    quantized: Dict[str, dict] = field(default_factory=dict)

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.config)

    def save(self, directory: Union[str, Path]) -> None:
        text = json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n"
        path = Path(directory) / MANIFEST
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        make_readable(path)

    @classmethod
    def load(cls, directory: Union[str, Path]) -> "ExportManifest":
        path = Path(directory) / MANIFEST
        if not path.is_file():
            raise ExportError(f"{directory} is not an export directory: {MANIFEST} is missing "
                              f"(create one with `mixformerv2 export`)")
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ExportError(f"{path} is not a valid export manifest: {exc}") from exc


def _float32_cpu(model: MixFormerV2) -> MixFormerV2:
    """The model itself when it is float32 on the CPU, else a float32 CPU copy (the graphs are float32)."""
    param = next(model.parameters())
    if param.dtype == torch.float32 and param.device.type == "cpu":
        return model
    return copy.deepcopy(model).float().cpu()


def _example_inputs(config: ModelConfig, batch: int, num_online: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t, s = config.template_size, config.search_size
    templates = torch.randn(batch, 1 + num_online, 3, t, t, generator=g)
    search = torch.randn(batch, 3, s, s, generator=g)
    return templates, search


def _export_graph(module: torch.nn.Module, args: tuple, path: Path, input_names: Sequence[str],
                  output_names: Sequence[str], dynamic_axes: dict, opset: int, metadata: Dict[str, str]) -> None:
    import onnx

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and legacy-exporter notices
            torch.onnx.export(module, args, tmp, input_names=list(input_names), output_names=list(output_names),
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True,
                              dynamo=False)
        proto = onnx.load(tmp)
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)

    atomic_write(path, write)
    make_readable(path)


@torch.no_grad()
def export_onnx(model: MixFormerV2, out_dir: Union[str, Path], opset: int = DEFAULT_OPSET,
                check: bool = True, tolerance: float = EXPORT_TOLERANCE) -> ExportManifest:
    """Write the template-encoder and search-step graphs of ``model`` into ``out_dir`` (created if needed)
    and, if ``check``, verify them against PyTorch (raises ExportError beyond ``tolerance``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = _float32_cpu(model).eval()
    config = model.config
    # Trace with batch 2 and two online templates so that no size is mistaken for a constant.
    templates, search = _example_inputs(config, batch=2, num_online=2)
    encoder = TemplateEncoderGraph(model).eval()
    step = SearchStepGraph(model).eval()
    keys, values = encoder(templates)
    metadata = {"mixformerv2_config": json.dumps(config.to_dict(), sort_keys=True),
                "mixformerv2_preset": preset_name(config) or "custom"}
    cache_axes = {1: "batch", 3: "template_tokens"}
    _export_graph(encoder, (templates,), out_dir / TEMPLATE_GRAPH, TEMPLATE_INPUTS, TEMPLATE_OUTPUTS,
                  {"templates": {0: "batch", 1: "num_templates"}, "keys": cache_axes, "values": cache_axes},
                  opset, dict(metadata, graph="template_encoder"))
    outputs = search_output_names(model)
    _export_graph(step, (search, keys, values), out_dir / SEARCH_GRAPH, SEARCH_INPUTS, outputs,
                  dict({"search": {0: "batch"}, "keys": cache_axes, "values": cache_axes},
                       **{name: {0: "batch"} for name in outputs}),
                  opset, dict(metadata, graph="search_step"))
    manifest = ExportManifest(config=config.to_dict(), opset=opset, search_outputs=list(outputs))
    manifest.save(out_dir)
    if check:
        manifest.check = check_export(model, out_dir, tolerance=tolerance)
        manifest.save(out_dir)
    log.info("exported %s to %s", preset_name(config) or "model", out_dir)
    return manifest


def _session(path: Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@torch.no_grad()
def check_export(model: MixFormerV2, out_dir: Union[str, Path], tolerance: float = EXPORT_TOLERANCE,
                 cases: Sequence[tuple] = ((1, 1), (3, 0), (2, 3))) -> Dict[str, float]:
    """Run both exported graphs (ONNX Runtime, float32) and PyTorch on random inputs for every
    (batch, online templates) case; returns the largest absolute difference per output and raises
    ExportError if any exceeds ``tolerance``."""
    out_dir = Path(out_dir)
    manifest = ExportManifest.load(out_dir)
    encoder = _session(out_dir / manifest.template_graph)
    step = _session(out_dir / manifest.search_graph)
    model = _float32_cpu(model).eval()
    worst: Dict[str, float] = {}
    for case, (batch, num_online) in enumerate(cases):
        templates, search = _example_inputs(model.config, batch, num_online, seed=100 + case)
        cache = model.encode_templates(templates[:, 0], templates[:, 1:])
        expected = model.forward_search(search, cache)
        keys, values = encoder.run(None, {"templates": templates.numpy()})
        got = dict(zip(manifest.search_outputs,
                       step.run(None, {"search": search.numpy(), "keys": keys, "values": values})))
        pairs = {"keys": (keys, cache.keys), "values": (values, cache.values)}
        pairs.update({name: (got[name], expected[name]) for name in manifest.search_outputs})
        for name, (a, b) in pairs.items():
            b = b.numpy()
            if a.shape != b.shape:
                raise ExportError(f"exported output {name} has shape {a.shape}, PyTorch gives {b.shape} "
                                  f"(batch {batch}, {num_online} online templates)")
            worst[name] = max(worst.get(name, 0.0), float(np.abs(a - b).max()))
    bad = {k: v for k, v in worst.items() if v > tolerance}
    if bad:
        raise ExportError(f"exported graphs differ from PyTorch by more than {tolerance:g}: "
                          + ", ".join(f"{k} {v:.3g}" for k, v in sorted(bad.items())))
    return worst
