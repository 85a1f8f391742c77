"""Training throughput: samples per second of a config with 1..N processes (torchrun), and of its data
loading alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Sequence


def training_throughput(config_path: str, processes: int, steps: int, warmup: int, overrides: Sequence[str] = (),
                        device: str = "cpu", timeout: float = 3600.0) -> Dict[str, float]:
    """Run ``warmup + steps`` optimizer steps of the config under torchrun with ``processes`` processes and
    return {"processes", "global_batch", "samples_per_s", "seconds_per_step"} measured over the last
    ``steps`` steps (data loading included; no validation, no checkpoints)."""
    from .config import load_config

    if processes < 1 or steps < 1 or warmup < 0:
        raise ValueError("processes and steps must be >= 1, warmup >= 0")
    config = load_config(Path(config_path), overrides)
    batch = config.optim.batch_size
    total = warmup + steps
    with tempfile.TemporaryDirectory(prefix="mixformerv2-bench-") as tmp:
        timing = Path(tmp) / "timing.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "mixformerv2", "train", str(config_path), "--output", str(Path(tmp) / "run"),
               "--max-steps", str(total), "--no-checkpoints", "--no-progress", "--device", device,
               "--timing-json", str(timing), *overrides, "val.every=0", "optim.epochs=1",
               f"data.samples_per_epoch={(total + 1) * batch}"]
        env = dict(os.environ)  # threads per process: torchrun's and the trainer's defaults
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not timing.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"benchmark run with {processes} process(es) failed (exit {proc.returncode}):\n{tail}")
        times = json.loads(timing.read_text())["step_end_times"]
        wall = time.perf_counter() - start
    if len(times) < total:
        raise RuntimeError(f"benchmark recorded {len(times)} of {total} steps")
    span = times[total - 1] - (times[warmup - 1] if warmup > 0 else times[0])
    measured = steps if warmup > 0 else steps - 1
    if measured < 1 or span <= 0:
        raise RuntimeError("not enough steps measured; use --steps >= 2 or --warmup >= 1")
    return {"processes": processes, "global_batch": batch, "samples_per_s": batch * measured / span,
            "seconds_per_step": span / measured, "wall_seconds": wall}


def loading_throughput(config_path: str, batches: int, overrides: Sequence[str] = ()) -> Dict[str, float]:
    """Samples per second the config's training data loader produces on its own (its num_workers)."""
    from ..data.sampler import EpochIndexSampler
    from .config import load_config
    from .trainer import Trainer

    config = load_config(Path(config_path), overrides)
    batch = config.optim.batch_size
    config.data.samples_per_epoch = (batches + 2) * batch
    config.val.every = 0
    with tempfile.TemporaryDirectory(prefix="mixformerv2-bench-") as tmp:
        trainer = Trainer(config, output_dir=str(Path(tmp) / "run"), device="cpu", save_checkpoints=False,
                          progress=False)
        index: EpochIndexSampler = trainer.train_index
        index.set_epoch(0)
        it = iter(trainer.train_loader)
        next(it)
        start = time.perf_counter()
        for _ in range(batches):
            next(it)
        span = time.perf_counter() - start
        del it
        trainer.close()
    return {"num_workers": config.data.num_workers, "samples_per_s": batches * batch / span}
