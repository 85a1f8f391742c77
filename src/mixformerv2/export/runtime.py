"""Running an export directory with ONNX Runtime: the template encoder and the (float32 or int8) search step."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from ..model.config import ModelConfig
from .onnx_export import ExportError, ExportManifest
from ..tracking.backends import check_threads


def make_session(path: Union[str, Path], threads: Optional[int] = None):
    """An ONNX Runtime CPU session with all graph optimizations and ``threads`` intra-op threads
    (None: ONNX Runtime's default, one per physical core). The worker threads spin-wait briefly after a run
    (ONNX Runtime's default): waking sleeping threads for every small search step cost more than their spinning
    takes from the tracker's cropping between runs (measured on a 2-core AMD EPYC, default model, 2 threads,
    interleaved: search step 5.9 against 7.5 ms median, and 0.9 ms less per step with the cropping included)."""
    import onnxruntime as ort

    if threads is not None:
        threads = check_threads(threads)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTrackingGraphs:
    """The two graphs of an export directory. ``precision`` "float32" or "int8" chooses the search step
    (the template encoder is always float32)."""

    def __init__(self, export_dir: Union[str, Path], precision: str = "float32", threads: Optional[int] = None):
        export_dir = Path(export_dir)
        self.manifest = ExportManifest.load(export_dir)
        self.config: ModelConfig = self.manifest.model_config
        if precision == "float32":
            search_graph = self.manifest.search_graph
        elif precision == "int8":
            if "int8" not in self.manifest.quantized:
                raise ExportError(f"{export_dir} has no int8 search step (export it with --int8)")
            search_graph = self.manifest.quantized["int8"]["graph"]
        else:
            raise ValueError(f"precision must be 'float32' or 'int8', got {precision!r}")
        for name in (self.manifest.template_graph, search_graph):
            if not (export_dir / name).is_file():
                raise ExportError(f"{export_dir / name} is missing (the export directory is incomplete)")
        self.precision = precision
        self.encoder = make_session(export_dir / self.manifest.template_graph, threads)
        self.step = make_session(export_dir / search_graph, threads)
        self.output_names = list(self.manifest.search_outputs)

    def encode(self, templates: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """templates (N, 1+K, 3, T, T) float32 (target template then K online templates, normalized) ->
        keys, values (L, N, H, N_t, D)."""
        keys, values = self.encoder.run(None, {"templates": np.ascontiguousarray(templates, dtype=np.float32)})
        return keys, values

    def search(self, search: np.ndarray, keys: np.ndarray, values: np.ndarray) -> Dict[str, np.ndarray]:
        """search (N, 3, S, S) float32 normalized, with the keys/values of ``encode`` -> the search step's
        outputs by name (pred_boxes (N, 1, 4) cx, cy, w, h normalized to the crop; pred_scores (N,) logits;
        per-side bin probabilities)."""
        outputs = self.step.run(None, {"search": np.ascontiguousarray(search, dtype=np.float32),
                                       "keys": keys, "values": values})
        return dict(zip(self.output_names, outputs))


class OpenVinoTrackingGraphs:
    """The float32 graphs of an export directory compiled by OpenVINO for the CPU, computing in
    ``inference_precision`` ("bf16": bfloat16 where the CPU has AVX-512 BF16 or AMX, else OpenVINO keeps float32;
    "f32"). The same interface as OnnxTrackingGraphs. Needs the ``openvino`` package (``pip install openvino``)."""

    def __init__(self, export_dir: Union[str, Path], threads: Optional[int] = None, inference_precision: str = "bf16"):
        try:
            import openvino as ov
        except ImportError:
            raise ExportError("the openvino backends need the openvino package: pip install openvino "
                              "(or pip install -e \".[openvino]\")") from None
        export_dir = Path(export_dir)
        self.manifest = ExportManifest.load(export_dir)
        self.config: ModelConfig = self.manifest.model_config
        for name in (self.manifest.template_graph, self.manifest.search_graph):
            if not (export_dir / name).is_file():
                raise ExportError(f"{export_dir / name} is missing (the export directory is incomplete)")
        properties = {"INFERENCE_PRECISION_HINT": inference_precision, "PERFORMANCE_HINT": "LATENCY"}
        if threads is not None:
            properties["INFERENCE_NUM_THREADS"] = int(check_threads(threads))
        core = ov.Core()
        self.encoder = core.compile_model(str(export_dir / self.manifest.template_graph), "CPU", properties)
        self.step = core.compile_model(str(export_dir / self.manifest.search_graph), "CPU", properties)
        self._encode_request = self.encoder.create_infer_request()
        self._search_request = self.step.create_infer_request()
        self.precision = inference_precision
        self.output_names = list(self.manifest.search_outputs)

    def encode(self, templates: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """As OnnxTrackingGraphs.encode (the arrays are copies: a request reuses its output buffers)."""
        result = self._encode_request.infer({"templates": np.ascontiguousarray(templates, dtype=np.float32)})
        return (np.array(result[self.encoder.output(0)], dtype=np.float32),
                np.array(result[self.encoder.output(1)], dtype=np.float32))

    def search(self, search: np.ndarray, keys: np.ndarray, values: np.ndarray) -> Dict[str, np.ndarray]:
        """As OnnxTrackingGraphs.search."""
        result = self._search_request.infer({"search": np.ascontiguousarray(search, dtype=np.float32),
                                             "keys": keys, "values": values})
        return {name: np.array(result[self.step.output(i)]) for i, name in enumerate(self.output_names)}
