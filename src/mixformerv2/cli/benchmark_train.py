"""`mixformerv2 benchmark-train CONFIG [--processes 1 2] [--steps N]`: training samples per second."""
from __future__ import annotations

import json

from ..train.throughput import loading_throughput, training_throughput


def register(sub) -> None:
    p = sub.add_parser("benchmark-train", help="training samples/s of a config with 1..N processes (torchrun)")
    p.add_argument("config", help="training YAML config")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to measure (default 1 2)")
    p.add_argument("--steps", type=int, default=10, help="measured optimizer steps (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="steps before measuring (default 3)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--loader-batches", type=int, default=10,
                   help="also time the data loader alone over this many batches (0 = skip; default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    results = [training_throughput(args.config, n, args.steps, args.warmup, args.overrides, args.device)
               for n in args.processes]
    loader = loading_throughput(args.config, args.loader_batches, args.overrides) if args.loader_batches > 0 else None
    if args.json:
        print(json.dumps({"training": results, "data_loading": loader}, indent=2))
        return 0
    base = results[0]["samples_per_s"]
    print(f"config: {args.config}  global batch {results[0]['global_batch']}, {args.steps} steps after "
          f"{args.warmup} warm-up, device {args.device}")
    print(f"{'processes':>9}  {'samples/s':>10}  {'s/step':>8}  {'speed-up':>8}")
    for r in results:
        print(f"{r['processes']:>9}  {r['samples_per_s']:>10.2f}  {r['seconds_per_step']:>8.3f}  "
              f"{r['samples_per_s'] / base:>7.2f}x")
    if loader:
        print(f"data loading alone ({loader['num_workers']} worker(s)): {loader['samples_per_s']:.1f} samples/s")
    return 0
