"""`mixformerv2 bench`: per-frame tracker-step speed of each backend, measured in one run, with FPS, GMACs,
achieved GFLOP/s against a measured matrix-multiply peak, the speed-up over `torch-full`, and how closely
the fast backends' boxes follow the reference ones."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..files import atomic_write
from .common import add_model_arguments, model_from_args

DEFAULT_BACKENDS = ("torch-full", "torch", "torch-bf16", "onnx", "onnx-int8")


def default_backends() -> List[str]:
    """DEFAULT_BACKENDS, and openvino-bf16 when the openvino package is installed."""
    import importlib.util

    return list(DEFAULT_BACKENDS) + (["openvino-bf16"] if importlib.util.find_spec("openvino") else [])


def register(sub) -> None:
    p = sub.add_parser("bench", help="speed of the tracker step per backend (median, p90, FPS, GFLOP/s, speed-up)",
                       description="Track the same frames with every backend (taking turns in chunks of frames, so "
                                   "that other load on the machine falls on all of them), after a warm-up, and "
                                   "report the per-frame tracker step: median and 90th percentile in ms, FPS, GMACs "
                                   "per frame, achieved GFLOP/s and its fraction of the matrix-multiply peak of its number format (float32, "
                                   "bfloat16 or int8) "
                                   "measured by this command, the speed-up against torch-full, and the per-frame IoU "
                                   "of each backend's boxes against its reference (float32 and bfloat16 backends against torch, "
                                   "onnx-int8 against onnx). Without --source the frames are the demo's sample clip.")
    add_model_arguments(p)
    p.add_argument("--backend", nargs="+", default=default_backends(), metavar="NAME",
                   help=f"backends to time (default: {' '.join(DEFAULT_BACKENDS)}, and openvino-bf16 when "
                        "openvino is installed; torch-full is always added "
                        "as the reference; names may also be comma-separated)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for every backend and the peak (default 2)")
    p.add_argument("--frames", type=int, default=100, help="timed frames per backend (default 100)")
    p.add_argument("--warmup", type=int, default=10, help="untimed frames per backend first (default 10)")
    p.add_argument("--source", help="video file or image folder (a sequence folder with img/ works); short ones "
                                    "are played forth and back; default: the sample clip of `mixformerv2 demo`")
    p.add_argument("--box", metavar="X,Y,W,H", help="initial box in pixels (default: the first line of the "
                                                     "source's groundtruth file, or the generated target)")
    p.add_argument("--online-templates", type=int, default=None, help="online templates per target (default 1)")
    p.add_argument("--json", type=Path, help="also write the report as JSON")
    p.set_defaults(func=run)


def backend_names(values: List[str]) -> List[str]:
    from ..tracking import available_backends

    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    known = available_backends()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown backend(s) {', '.join(unknown)}; available: {', '.join(known)}")
    return names


def sample_clip_frames(limit: int) -> Tuple[List[np.ndarray], Tuple[float, float, float, float]]:
    """The first ``limit`` frames (2..300) of the demo's sample clip (``data.sample_clip``, RGB uint8) and its
    first ground-truth box (x, y, w, h pixels): the package's one synthetic test video."""
    from ..data.sample_clip import CLIP_FRAMES, sample_clip

    clip = sample_clip(max(2, min(limit, CLIP_FRAMES)))
    return list(clip.frames()), tuple(float(v) for v in clip.boxes[0])


def read_frames(source: str, limit: int) -> List[np.ndarray]:
    from ..tracking.sources import open_source

    frames = []
    with open_source(source) as frames_in:
        for frame in frames_in:
            frames.append(frame)
            if len(frames) >= limit:
                break
    if len(frames) < 2:
        raise ValueError(f"--source {source} has {len(frames)} frame(s); the benchmark needs at least 2")
    return frames


def first_ground_truth_box(source: str) -> Optional[Tuple[float, float, float, float]]:
    """The first ground-truth box (x, y, w, h pixels) of a sequence folder, or None when it has none."""
    from ..datasets.annotations import read_regions
    from ..datasets.folders import ground_truth_file

    folder = Path(source)
    if not folder.is_dir():
        return None
    try:
        path = ground_truth_file(folder)
    except FileNotFoundError:
        return None
    return tuple(float(v) for v in read_regions(path)[0])


def run(args) -> int:
    from ..export.speed import measure_speed
    from ..tracking import params_for_model
    from .track import parse_box

    from ..tracking.backends import check_threads

    check_threads(args.threads, "--threads")
    if args.frames < 1 or args.warmup < 0:
        raise ValueError("--frames must be >= 1 and --warmup >= 0")
    names = backend_names(args.backend)
    if args.source is None:
        frames, box = sample_clip_frames(args.frames + args.warmup + 1)
        source = "sample clip"
    else:
        frames = read_frames(args.source, limit=args.frames + args.warmup + 1)
        box = first_ground_truth_box(args.source)
        source = args.source
    if args.box is not None:
        box = tuple(parse_box(args.box))
    if box is None:
        raise ValueError(f"--source {args.source} has no groundtruth file: give the initial box with --box X,Y,W,H")
    from ..model.hub import describe_weights
    from .common import model_argument

    weights = describe_weights(model_argument(args), args.weights)
    if weights == "random":
        import torch

        torch.manual_seed(0)  # the same random weights every run, so the cached ONNX export is reused
        weights = "random (seed 0)"
    model = model_from_args(args)
    params = params_for_model(model)
    if args.online_templates is not None:
        params = params.replace(online_templates=args.online_templates)

    def progress(done: int, total: int) -> None:
        print(f"\r  timed {done}/{total} frames per backend", end="", file=sys.stderr, flush=True)

    report = measure_speed(model, names, frames, box, threads=args.threads, num_frames=args.frames,
                           warmup=args.warmup, params=params, progress=progress)
    print(file=sys.stderr)
    report["source"] = source
    report["weights"] = weights
    print(format_report(report))
    if args.json is not None:
        text = json.dumps(report, indent=2) + "\n"
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(text))
    return 0


def _percent(fraction) -> str:
    return f"{'-':>8}" if fraction is None else f"{100 * fraction:7.0f}%"


def format_report(report: dict) -> str:
    peaks = report.get("peaks_gflops", {"float32": report["peak_gflops"]})
    lines = [f"CPU {report.get('cpu') or '?'}: {report.get('isa', '?')}",
             f"model {report['model']}, {report['threads']} threads, {report['frames']} timed frames per backend "
             f"after {report['warmup']} warm-up ({report.get('source', '')}, weights {report.get('weights', '?')}); "
             "matrix-product peaks " + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items()) + " GFLOP/s (int8: GOP/s); "
             f"load average {report['load_average']['before'][0]:.2f} before, "
             f"{report['load_average']['after'][0]:.2f} after",
             f"{'backend':<14} {'median ms':>9} {'p90 ms':>8} {'FPS':>7} {'GMACs':>6} {'GFLOP/s':>8} {'of peak':>8} "
             f"{'speed-up':>8}  boxes vs reference (IoU mean / min)"]
    for name, e in report["backends"].items():
        iou = f"{e['iou_vs']}: {e['mean_iou']:.4f} / {e['min_iou']:.4f}" if "iou_vs" in e else ""
        speedup = f"{e['speedup_vs_torch_full']:.2f}x" if e["speedup_vs_torch_full"] else "-"
        lines.append(f"{name:<14} {e['median_ms']:9.1f} {e['p90_ms']:8.1f} {e['fps']:7.1f} {e['gmacs_per_frame']:6.2f} "
                     f"{e['gflops']:8.1f} {_percent(e.get('fraction_of_peak'))} {speedup:>8}  {iou}")
    return "\n".join(lines)
