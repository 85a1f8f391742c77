"""`mixformerv2 train CONFIG.yaml [--output DIR] [--resume] [key=value ...]` (also under torchrun)."""
from __future__ import annotations

import logging
from pathlib import Path

from ..train import Trainer, load_config


def register(sub) -> None:
    p = sub.add_parser("train", help="run one training stage from a YAML config (torchrun for several processes)",
                       description="Run one stage of the MixFormerV2 recipe (teacher, dense_to_sparse, "
                                   "progressive_elimination, finetune, score). Under "
                                   "`torchrun --nproc_per_node N -m mixformerv2 train ...` it trains with "
                                   "DistributedDataParallel (gloo on CPU, nccl on GPU).")
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. optim.epochs=10 data.num_workers=0 (values are YAML)")
    p.add_argument("--output", default=None, help="output folder (default: the config's 'output', else runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoints/last.pth")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimizer steps in total (resume later with --resume)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--timing-json", default=None, help="write per-step end times here (used by benchmark-train)")
    p.add_argument("--no-checkpoints", action="store_true", help="write no checkpoints (benchmarks)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.max_steps is not None and args.max_steps < 1:
        raise ValueError("--max-steps must be >= 1")
    config = load_config(args.config, args.overrides)
    trainer = Trainer(config, output_dir=args.output, resume=args.resume, max_steps=args.max_steps,
                      device=args.device, timing_file=args.timing_json, save_checkpoints=not args.no_checkpoints,
                      progress=not args.no_progress)
    try:
        result = trainer.run()
    except KeyboardInterrupt:
        last = Path(trainer.output) / "checkpoints" / "last.pth"
        if not trainer.save_checkpoints or not last.is_file():
            args.interrupted_hint = "no checkpoint had been written yet; the run starts over next time"
        else:
            args.interrupted_hint = (f"the last checkpoint is {last}; run the same command with --resume to "
                                     f"continue from it")
        raise
    finally:
        trainer.close()
    if trainer.info.is_main:
        last = result["history"][-1] if result["history"] else {}
        logging.getLogger("mixformerv2.train").info(
            "finished: %d epoch(s), %d step(s)%s%s", result["epochs_done"], result["global_step"],
            " (stopped at --max-steps)" if result["stopped_early"] else "",
            f"; last validation {last['val']}" if last.get("val") else "")
    return 0
