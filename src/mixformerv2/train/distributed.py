"""torch.distributed set-up for torchrun (gloo on CPU, nccl on GPU); a no-op in a single process."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "auto", data_workers: int = 0) -> DistInfo:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR/PORT); without it, a single process. ``device``: auto (CUDA if present), cpu or cuda.
    On the CPU, unless OMP_NUM_THREADS is set, each process uses its share of the cores, halved when
    ``data_workers`` load data beside it (oversubscribed cores slow training down several times)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if not use_cuda and "OMP_NUM_THREADS" not in os.environ:
        share = (os.cpu_count() or 1) // max(1, local_world)
        torch.set_num_threads(max(1, share // 2 if data_workers > 0 else share))
    return DistInfo(rank, world, local_rank, local_world, dev)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def average_stats(stats: Dict[str, float], weight: float, info: DistInfo) -> Dict[str, float]:
    """Weighted mean of per-process statistics over all processes (weight = samples behind them)."""
    if not info.distributed:
        return dict(stats)
    keys = sorted(stats)
    t = torch.tensor([stats[k] * weight for k in keys] + [weight], dtype=torch.float64,
                     device=info.device if info.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return {k: float(t[i] / t[-1]) for i, k in enumerate(keys)}
