"""Deployment: ONNX export of the tracking graphs, ONNX Runtime / OpenVINO inference, int8 quantization."""
from .graphs import SearchStepGraph, TemplateEncoderGraph, search_output_names
from .onnx_export import EXPORT_TOLERANCE, ExportError, ExportManifest, check_export, export_onnx

__all__ = ["EXPORT_TOLERANCE", "ExportError", "ExportManifest", "SearchStepGraph", "TemplateEncoderGraph",
           "check_export", "export_onnx", "search_output_names"]
