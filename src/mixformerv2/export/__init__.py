"""Deployment: ONNX export of the tracking graphs, ONNX Runtime inference (the onnx and onnx-int8 tracker backends),
int8 quantization and its calibration, and the speed benchmark (``export.speed``)."""
from .graphs import SearchStepGraph, TemplateEncoderGraph, search_output_names
from .onnx_export import EXPORT_TOLERANCE, ExportError, ExportManifest, check_export, export_onnx
from .backends import OnnxBackend, OnnxInt8Backend  # registers the "onnx" and "onnx-int8" tracker backends

__all__ = ["EXPORT_TOLERANCE", "ExportError", "ExportManifest", "OnnxBackend", "OnnxInt8Backend", "SearchStepGraph", "TemplateEncoderGraph",
           "check_export", "export_onnx", "search_output_names"]
