"""`mixformerv2 export`: ONNX graphs (template encoder, search step) checked against PyTorch, plus int8."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..export import EXPORT_TOLERANCE, export_onnx
from ..export.onnx_export import DEFAULT_OPSET
from ..export.quantize import QUANT_MODES, quantize_search_step
from .common import add_model_arguments, model_from_args


def register(sub) -> None:
    p = sub.add_parser("export", help="export the template encoder and search step to ONNX (float32 and int8)",
                       description="Write template_encoder.onnx, search_step.onnx (float32), search_step.int8.onnx "
                                   "and manifest.json into --out, after checking that the float32 graphs match "
                                   f"PyTorch within {EXPORT_TOLERANCE:g}. Batch, number of online templates and "
                                   "cached template tokens are free axes of the graphs.")
    add_model_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="output directory (created if needed)")
    p.add_argument("--int8", choices=QUANT_MODES + ("none",), default="dynamic",
                   help="int8 search step: dynamic (default; no calibration), static (QDQ calibrated on real crops "
                        "from --calibration), or none")
    p.add_argument("--calibration", type=Path, nargs="+", default=None, metavar="SEQUENCE",
                   help="sequence folders (frames + ground truth) whose crops calibrate --int8 static")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=None,
                   help="int8 weight scales per output channel (default) or, with --no-per-channel, one per "
                        "matrix")
    p.add_argument("--calibration-frames", type=int, default=64,
                   help="number of calibration crops for --int8 static (default 64)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--no-check", action="store_true", help="skip the equality check against PyTorch")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.int8 == "static" and not args.calibration:
        raise ValueError("--int8 static needs --calibration SEQUENCE [SEQUENCE ...] (real frames with ground truth)")
    if args.int8 != "static" and args.calibration:
        raise ValueError("--calibration is only used with --int8 static")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a directory")
    model = model_from_args(args)
    manifest = export_onnx(model, args.out, opset=args.opset, check=not args.no_check)
    if manifest.check:
        worst = max(manifest.check.values())
        print(f"float32 graphs match PyTorch: largest difference {worst:.2e} (tolerance {EXPORT_TOLERANCE:g})")
    if args.int8 != "none":
        calibration = None
        if args.int8 == "static":
            from ..export.calibration import calibration_feeds

            calibration = calibration_feeds(args.out, args.calibration, args.calibration_frames)
        quantize_search_step(args.out, args.int8, calibration, per_channel=args.per_channel)
        manifest = type(manifest).load(args.out)
    for name in sorted(p.name for p in args.out.glob("*.onnx")):
        print(f"wrote {args.out / name}")
    print(json.dumps({"out": str(args.out), "check": manifest.check, "quantized": manifest.quantized}, indent=2))
    return 0
