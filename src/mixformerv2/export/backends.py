"""Tracker backends on ONNX Runtime: "onnx" (float32) and "onnx-int8" (int8 search step).

Both cache the template keys/values as numpy arrays (L, N, H, N_t, D) and run only the search step per
frame. Given a PyTorch model they export it on first use (see ``cache.cached_export``); given
``export_dir`` they run a directory written by ``mixformerv2 export`` without a PyTorch model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..model.config import ModelConfig
from ..tracking.backends import TrackerBackend, register_backend, search_outputs, side_probabilities
from .runtime import OnnxTrackingGraphs, OpenVinoTrackingGraphs

OnnxCache = Tuple[np.ndarray, np.ndarray]


class OnnxBackend(TrackerBackend):
    """ONNX Runtime, float32 graphs; template keys/values cached between template updates."""

    name = "onnx"
    precision = "float32"

    def __init__(self, model: Optional[nn.Module] = None, threads: Optional[int] = None,
                 export_dir: Union[str, Path, None] = None):
        if export_dir is None:
            config = getattr(model, "config", None)
            if not isinstance(config, ModelConfig):
                raise TypeError(f"expected a MixFormerV2 model or an export directory, got {type(model).__name__}")
            from .cache import cached_export

            export_dir = cached_export(model.eval(), int8=self.precision == "int8")
        self.graphs = self._graphs(export_dir, threads)
        # The tracker's own small torch operations (crop normalisation) then run on the calling thread:
        # idle torch (OpenMP) worker threads spin-wait after each operation and would take the cores from
        # ONNX Runtime (measured: +4.5 ms on a 47 ms MixFormerV2-S step with 2 threads on 2 cores).
        torch.set_num_threads(1)
        self.config = self.graphs.config
        self.export_dir = Path(export_dir)

    def _graphs(self, export_dir: Path, threads: Optional[int]):
        return OnnxTrackingGraphs(export_dir, self.precision, threads)

    def encode(self, template: np.ndarray, online: np.ndarray) -> OnnxCache:
        templates = np.concatenate([np.asarray(template, np.float32)[:, None], np.asarray(online, np.float32)], 1)
        return self.graphs.encode(templates)

    def search(self, cache: OnnxCache, search: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        keys, values = cache
        out = self.graphs.search(search, keys, values)
        return search_outputs(out["pred_boxes"], out.get("pred_scores"), side_probabilities(out))

    def select(self, cache: OnnxCache, index: Sequence[int]) -> OnnxCache:
        index = list(index)
        return np.ascontiguousarray(cache[0][:, index]), np.ascontiguousarray(cache[1][:, index])

    def reencode(self, cache: OnnxCache, index: Sequence[int], template: np.ndarray, online: np.ndarray) -> OnnxCache:
        index = list(index)
        keys, values = cache
        tokens = self.config.num_template_tokens * (1 + online.shape[1])
        if keys.shape[3] != tokens or len(index) == template.shape[0]:
            return self.encode(template, online)
        fresh_keys, fresh_values = self.encode(template[index], online[index])
        keys, values = keys.copy(), values.copy()
        keys[:, index], values[:, index] = fresh_keys, fresh_values
        return keys, values


class OnnxInt8Backend(OnnxBackend):
    """ONNX Runtime with the int8 search step (the template encoder stays float32)."""

    name = "onnx-int8"
    precision = "int8"


class OpenVinoBf16Backend(OnnxBackend):
    """OpenVINO on the CPU, the float32 export computed in bfloat16 (AVX-512 BF16 or AMX; OpenVINO keeps float32
    where the CPU has neither), template keys/values cached like the ONNX backends. Needs ``pip install
    openvino``. Measured on an AVX-512-BF16 CPU, 2 threads: the S search step 12.5 ms against 20.5 ms with ONNX
    Runtime float32."""

    name = "openvino-bf16"
    precision = "float32"    # the exported graphs it compiles

    def _graphs(self, export_dir: Path, threads: Optional[int]):
        return OpenVinoTrackingGraphs(export_dir, threads, "bf16")


register_backend(OnnxBackend.name, OnnxBackend, overwrite=True)
register_backend(OpenVinoBf16Backend.name, OpenVinoBf16Backend, overwrite=True)
register_backend(OnnxInt8Backend.name, OnnxInt8Backend, overwrite=True)
