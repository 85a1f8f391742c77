"""`mixformerv2 app`: a local web page that tracks the sample clip or an uploaded video in the browser."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import DEFAULT_BACKEND, add_model_arguments, threads_argument, AUTO_THREADS


def register(sub) -> None:
    p = sub.add_parser("app", help="a web page to track a clip in the browser (local, offline)",
                       description="Serve a page where you pick the sample clip or upload a video (or a zip of "
                                   "frames), set boxes on the first frame with the mouse, choose the model and "
                                   "backend, and track: the annotated video, each target's score plot, the "
                                   "tracker-step frame rate and the boxes files (x,y,w,h per frame) come back in "
                                   "the page. Listens on 127.0.0.1 unless --host says otherwise; nothing is "
                                   "fetched from the internet.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 picks a free one)")
    add_model_arguments(p)
    p.add_argument("--backend", default=DEFAULT_BACKEND,
                   help="the backend the page selects first (default auto: the fastest that agrees with float32)")
    p.add_argument("--threads", type=threads_argument, default=AUTO_THREADS,
                   help="CPU threads per job: a number, or auto (default: the cores other work leaves free)")
    p.add_argument("--max-upload-mb", type=float, default=500.0, help="largest upload accepted, in MB (default 500)")
    p.add_argument("--max-frames", type=int, default=10000,
                   help="most frames a job tracks (longer clips are tracked up to it; default 10000)")
    p.add_argument("--workers", type=int, default=1,
                   help="jobs tracked at once (default 1; more jobs wait in a queue)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="folder for uploads and results (default: a temporary folder removed on exit)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..app import AppConfig, serve
    from ..model.hub import load_model, read_model_argument
    from ..tracking import available_backends

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be 0..65535, got {args.port}")
    if args.max_upload_mb <= 0:
        raise ValueError(f"--max-upload-mb must be > 0, got {args.max_upload_mb}")
    if args.max_frames < 2:
        raise ValueError(f"--max-frames must be >= 2, got {args.max_frames}")
    if not 1 <= args.workers <= 64:
        raise ValueError(f"--workers must be 1..64, got {args.workers}")
    if args.backend != "auto" and args.backend not in available_backends():
        raise ValueError(f"--backend {args.backend!r}: choose auto, {', '.join(available_backends())}")
    if args.workdir is not None and args.workdir.exists() and not args.workdir.is_dir():
        raise ValueError(f"--workdir {args.workdir} exists and is not a folder")
    # The model the app starts with is loaded now, so that a bad --model/--weights stops here, not in the page.
    model = read_model_argument(args.model) if args.model is not None else None
    if model is not None and not isinstance(model, str):
        raise ValueError("--model: the app takes a model name (default, a preset); give a config file's model as "
                         "a checkpoint with its stored config in the page instead")
    load_model(model, args.weights)
    config = AppConfig(model=model, weights=args.weights, backend=args.backend,
                       threads=None if args.threads == AUTO_THREADS else args.threads,
                       max_upload_mb=args.max_upload_mb, max_frames=args.max_frames, workers=args.workers,
                       workdir=args.workdir)

    def ready(server) -> None:
        print(f"mixformerv2 app: open {server.url} in a browser (Ctrl-C stops it)", file=sys.stderr, flush=True)

    try:
        serve(args.host, args.port, config, ready=ready)
    except KeyboardInterrupt:
        print("mixformerv2 app: stopped", file=sys.stderr)
    return 0
