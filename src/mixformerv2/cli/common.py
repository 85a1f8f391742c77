"""Arguments shared by several subcommands."""
from __future__ import annotations

import argparse
import os
from typing import Optional, Tuple
from pathlib import Path

import torch

from ..model.hub import load_model, model_names, read_model_argument

AUTO_BACKEND = "auto"
AUTO_THREADS = "auto"
THREADS_HELP = ("CPU threads for the network: a number, or auto (default: the cores that other work leaves free, "
                "from the load average; one thread when the cores are busy)")
# The default --backend of track, demo, eval and compare ($MIXFORMERV2_BACKEND overrides it, e.g. "torch").
DEFAULT_BACKEND = os.environ.get("MIXFORMERV2_BACKEND", AUTO_BACKEND)
BACKEND_HELP = ("network backend: auto (default: the fastest backend whose boxes agree with float32 on this "
                "machine for this model, measured once and cached), torch (cached templates), torch-bf16, "
                "torch-full (the official full forward), onnx, onnx-int8, openvino-bf16 (with openvino installed); "
                "$MIXFORMERV2_BACKEND sets the default")


def model_choices_text() -> str:
    """The names --model accepts, for help texts."""
    return ", ".join(model_names())


def add_model_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """--model and --weights, as every command that runs MixFormerV2 has them. Neither given: the default
    model shipped with the package. ``prefix`` starts both help texts (e.g. "for --tracker mixformerv2: ")."""
    parser.add_argument("--model", default=None,
                        help=f"{prefix}{model_choices_text()} ('default': the trained model shipped with the "
                             f"package), or a JSON/YAML file with a model config (default: the config stored in --weights; "
                             f"without --weights the default model)")
    parser.add_argument("--weights", type=Path, default=None,
                        help=f"{prefix}checkpoint: official {{'net': ...}} .pth/.pth.tar, plain state dict, or "
                             f".safetensors")


def model_from_args(args: argparse.Namespace, random_weights: bool = True) -> torch.nn.Module:
    """The model the arguments name, in eval mode: --weights; the bundled weights of --model default (or of
    nothing named); a preset or config without weights gets random weights when ``random_weights`` (model
    statistics, speed), else WeightsRequiredError."""
    return load_model(model_argument(args), args.weights, required=not random_weights)


def model_argument(args: argparse.Namespace):
    """--model as the hub takes it (a name, or the dict of a config file), or None when not given."""
    return read_model_argument(args.model) if args.model is not None else None


def add_tracker_setting_arguments(parser: argparse.ArgumentParser) -> None:
    """--search-factor, --update-interval, --online-templates, --size-update-rate, --size-filter-noise: tracker
    settings over the benchmark's."""
    parser.add_argument("--search-factor", type=float, help="override the search factor (crop side / target size)")
    parser.add_argument("--update-interval", type=int, help="override the online-template update interval (frames)")
    parser.add_argument("--online-templates", type=int, help="override the number of online templates")
    parser.add_argument("--size-update-rate", type=float,
                        help="not in the official tracker: move the box size only this fraction (0-1] of the way "
                             "to the predicted size each frame (1 = the official tracker; replaces a model's size "
                             "filter)")
    parser.add_argument("--size-filter-noise", type=float,
                        help="not in the official tracker: filter the box size by how sure the model is of its sides "
                             "(a Kalman filter on log width and height; this is its per-frame variance growth, 0 = "
                             "off; replaces a model's size update rate)")


def tracker_setting_overrides(args: argparse.Namespace) -> Tuple[Tuple[str, object], ...]:
    """The TrackerParams values the options of ``add_tracker_setting_arguments`` set, as (name, value) pairs."""
    rate, noise = args.size_update_rate, getattr(args, "size_filter_noise", None)
    # The size update rate and the size filter are alternatives: setting one switches a card's other one off.
    if rate is not None and noise is None and rate < 1.0:
        noise = 0.0
    if noise is not None and rate is None and noise > 0:
        rate = 1.0
    pairs = (("search_factor", args.search_factor), ("update_interval", args.update_interval),
             ("online_templates", args.online_templates), ("size_update_rate", rate), ("size_filter_noise", noise))
    return tuple((name, value) for name, value in pairs if value is not None)


def check_tracking_options(args) -> None:
    """Validate --weights, --threads and --backend (where the command has them) before anything is opened or
    written."""
    from ..tracking.backends import check_backend_name, check_threads

    weights = getattr(args, "weights", None)
    if weights is not None:
        if Path(weights).is_dir():
            raise ValueError(f"--weights {weights} is a folder; give the checkpoint file in it (.pth, .pth.tar or "
                             f".safetensors)")
        if not Path(weights).is_file():
            raise FileNotFoundError(f"--weights {weights} does not exist")
    if getattr(args, "threads", None) not in (None, AUTO_THREADS):
        check_threads(args.threads, "--threads")
    backends = getattr(args, "backend", None)
    for name in ([backends] if isinstance(backends, str) else backends or []):
        for part in str(name).split(","):
            if part and part != AUTO_BACKEND:
                check_backend_name(part, "--backend")


def threads_argument(value: str):
    """argparse type of --threads: "auto" or a whole number (checked later, with the option's name)."""
    if value.strip().lower() == AUTO_THREADS:
        return AUTO_THREADS
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or auto, got {value!r}") from None


def resolve_threads(args, workers: int = 1) -> Optional[int]:
    """``args.threads``, or for "auto" the count ``tracking.backends.auto_threads`` gives (shared by ``workers``
    processes); the choice and its reason go to stderr, and ``args.threads`` is set to it."""
    if getattr(args, "threads", None) != AUTO_THREADS:
        return args.threads
    import sys

    from ..tracking.backends import auto_threads

    threads, why = auto_threads()
    per_worker = max(1, threads // max(1, workers))
    print(f"threads auto: {per_worker}" + (f" per worker ({workers} workers)" if workers > 1 else "") + f" ({why})",
          file=sys.stderr)
    args.threads = per_worker
    return per_worker


def resolve_backend(args, model, threads: Optional[int]) -> str:
    """``args.backend``, or for "auto" the backend ``export.auto.choose_backend`` picks for ``model`` on
    ``threads`` threads (None: torch's current count); the choice and its reasons go to stderr, and
    ``args.backend`` is set to it."""
    if args.backend != AUTO_BACKEND:
        return args.backend
    import sys

    from ..export.auto import choose_backend

    choice = choose_backend(model, threads if threads is not None else torch.get_num_threads())
    print(choice.explain(), file=sys.stderr)
    args.backend = choice.backend
    return choice.backend
