"""int8 quantization of the exported search step (the graph that runs every frame).

Measured on a 2-core AMD EPYC (AVX2, no VNNI) with MixFormerV2-S, 2 threads (README, "int8"): dynamic
quantization of the backbone's weight matrix products (int8 weights in 7-bit range; uint8 activations
quantized per frame) is the fastest and the most faithful variant, with one weight scale per output channel
(for the trained default model that brought the boxes closer to float32's, mean per-crop IoU 0.977 -> 0.986,
at the same speed; README, "int8"). Static QDQ (activation ranges calibrated on real crops) is slower here
because ONNX Runtime then also runs the attention and softmax in int8 with extra (de)quantization, and full
8-bit weights saturate AVX2's u8*s8 kernel. Both
modes are available; the template encoder stays float32 (it runs once per template update) and so do the
prediction heads (tiny, and the box is an expectation over bins that int8 would coarsen).
"""
from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, List, Mapping, Optional, Union

import numpy as np

from ..files import make_readable
from .onnx_export import ExportManifest

log = logging.getLogger(__name__)

QUANT_MODES = ("dynamic", "static")
INT8_SEARCH_GRAPH = "search_step.int8.onnx"


def _backbone_matmuls(model, weights_only: bool) -> List[str]:
    """Names of the MatMul nodes of the transformer blocks (not of the prediction heads). With
    ``weights_only`` only products with a weight matrix (an initializer), i.e. not attention products."""
    initializers = {init.name for init in model.graph.initializer}
    names = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or "head" in node.name:
            continue
        if weights_only and not any(name in initializers for name in node.input):
            continue
        names.append(node.name)
    return names


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime.quantization logs one INFO line per tensor on the root logger: keep them out."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


class _Reader:
    """onnxruntime CalibrationDataReader over a list of feeds."""

    def __init__(self, feeds: Iterable[Mapping[str, np.ndarray]]):
        self._iter: Iterator = iter(feeds)

    def get_next(self):
        return next(self._iter, None)

    def rewind(self):  # pragma: no cover - not used by MinMax calibration
        raise NotImplementedError


def quantize_search_step(export_dir: Union[str, Path], mode: str = "dynamic",
                         calibration: Optional[List[Mapping[str, np.ndarray]]] = None,
                         per_channel: Optional[bool] = None) -> Path:
    """Write ``search_step.int8.onnx`` into an export directory and record it in the manifest.

    mode "dynamic": weights int8 (7-bit range, so that AVX2's u8*s8 products cannot saturate), activations
    quantized per frame; needs no calibration. mode "static": QDQ with int8 weights and activation ranges from
    ``calibration``, a list of search-step feeds {"search", "keys", "values"} made from real crops (see
    ``calibration_feeds``). ``per_channel``: one weight scale per output channel (None or True) or one per
    matrix (False). Returns the path of the int8 graph."""
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantization mode {mode!r}; choose one of {QUANT_MODES}")
    export_dir = Path(export_dir).resolve()   # absolute: the work below runs in another directory
    manifest = ExportManifest.load(export_dir)
    source = export_dir / manifest.search_graph
    if mode == "static" and not calibration:
        raise ValueError("static quantization needs calibration crops (search-step feeds from real frames)")
    target = export_dir / INT8_SEARCH_GRAPH
    # In the temporary folder as the working directory: ONNX Runtime's shape-inference tools write
    # uuid-named external-data files relative to it (they would be left beside the caller otherwise).
    with tempfile.TemporaryDirectory(dir=export_dir) as tmp, _quiet_root_logger(), contextlib.chdir(tmp):
        prepared = Path(tmp) / "prepared.onnx"
        try:
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=False)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises bare Exception
            # Symbolic shape inference gives up on some graphs (the MixViT corner head's); ONNX's own shape
            # inference is enough to find the MatMuls to quantize.
            log.info("symbolic shape inference failed (%s); preparing %s with ONNX shape inference", exc, source.name)
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared), load_external_data=False)
        per_channel = per_channel is None or bool(per_channel)
        if mode == "dynamic":
            nodes = _backbone_matmuls(graph, weights_only=True)
            quantize_dynamic(str(prepared), str(Path(tmp) / "q.onnx"), op_types_to_quantize=["MatMul"],
                             nodes_to_quantize=nodes, per_channel=per_channel, reduce_range=True,
                             weight_type=QuantType.QInt8)
        else:
            nodes = _backbone_matmuls(graph, weights_only=True)
            quantize_static(str(prepared), str(Path(tmp) / "q.onnx"), _Reader(calibration),
                            quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes,
                            per_channel=per_channel, reduce_range=True,
                            activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        Path(tmp, "q.onnx").replace(target)
    make_readable(target)
    manifest.quantized["int8"] = {"graph": INT8_SEARCH_GRAPH, "mode": mode, "per_channel": per_channel,
                                  "quantized_matmuls": len(nodes),
                                  "calibration_samples": len(calibration) if mode == "static" else 0}
    manifest.save(export_dir)
    log.info("int8 search step (%s, %d matrix products) written to %s", mode, len(nodes), target)
    return target
