"""Exports made on demand for the ONNX tracker backends, kept on disk keyed by the model's weights.

The directory is ``$MIXFORMERV2_CACHE/onnx/<fingerprint>`` (default ``~/.cache/mixformerv2``, or
``$XDG_CACHE_HOME/mixformerv2``). The fingerprint covers the model config, every weight, and the versions
of torch, onnx and onnxruntime, so a changed model or toolchain gets a fresh export.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch

from ..files import cache_root, make_readable
from ..model.checkpoint import weights_digest
from ..model.mixformer import MixFormerV2
from .onnx_export import ExportManifest, export_onnx

log = logging.getLogger(__name__)

# Bump when the exported graphs change for the same model, so that old cached exports are not reused.
EXPORT_FORMAT_VERSION = 2   # 2: the int8 search step's weight scales per output channel


def model_fingerprint(model: MixFormerV2) -> str:
    """A hex digest of the config, the weights and the export toolchain."""
    import onnx
    import onnxruntime

    return weights_digest(model, {"format": EXPORT_FORMAT_VERSION, "torch": torch.__version__,
                                  "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__})[:24]


def cached_export(model: MixFormerV2, int8: bool = False) -> Path:
    """The export directory of ``model`` (exported and checked against PyTorch on first use; with ``int8``
    also holding the dynamically quantized search step)."""
    from .quantize import quantize_search_step

    root = cache_root() / "onnx"
    target = root / model_fingerprint(model)
    if not (target / "manifest.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        log.info("exporting the model to ONNX (once; cached in %s)", target)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
        make_readable(staging, directory=True)  # mkdtemp makes it private; the cache is an ordinary folder
        try:
            export_onnx(model, staging)
            if target.exists():  # a half-written directory from an interrupted run
                shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        except OSError:
            if not (target / "manifest.json").is_file():  # not a concurrent process that won the race
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if int8 and "int8" not in ExportManifest.load(target).quantized:
        log.info("quantizing the search step to int8 (once; cached in %s)", target)
        quantize_search_step(target, "dynamic")
    return target


__all__ = ["EXPORT_FORMAT_VERSION", "cache_root", "cached_export", "model_fingerprint"]
