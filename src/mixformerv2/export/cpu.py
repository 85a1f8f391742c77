"""What the CPU offers for the tracker's arithmetic: instruction sets (from /proc/cpuinfo, else torch's own
detection) and the measured matrix-product peaks in float32, bfloat16 and int8 on a given number of threads."""
from __future__ import annotations

import functools
import math
import time
from typing import Dict, Union

import torch

# /proc/cpuinfo flag -> the name bench prints.
ISA_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512-BF16", "avx512_vnni": "AVX-512-VNNI",
             "avx_vnni": "AVX-VNNI", "amx_bf16": "AMX-BF16", "amx_int8": "AMX-INT8"}


@functools.lru_cache(maxsize=1)
def cpu_features() -> Dict[str, Union[bool, str]]:
    """{flag: bool for every ISA_FLAGS key, "model_name": the CPU's name, "capability": torch's detected
    vector capability ("AVX2", "AVX512", ...)}."""
    flags, name = set(), ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "flags" and not flags:
                    flags = set(value.split())
                elif key == "model name" and not name:
                    name = value.strip()
    except OSError:
        pass
    capability = ""
    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - older torch
        pass
    features: Dict[str, Union[bool, str]] = {flag: flag in flags for flag in ISA_FLAGS}
    if not flags:   # no /proc/cpuinfo (not Linux): what torch detected
        features["avx2"] = capability.startswith("AVX")
        features["avx512f"] = capability.startswith("AVX512")
    features["model_name"] = name
    features["capability"] = capability
    return features


def isa_summary() -> str:
    """'AVX2, AVX-512, AVX-512-BF16, ...' (what this CPU has of ISA_FLAGS) or 'none of ...'."""
    features = cpu_features()
    have = [label for flag, label in ISA_FLAGS.items() if features.get(flag)]
    return ", ".join(have) if have else "none of " + ", ".join(ISA_FLAGS.values())


def matmul_peak(dtype: str, threads: int, size: int = 1024, repeats: int = 10) -> float:
    """Throughput of a (size x size) matrix product in GFLOP/s (2 size^3 per product; int8: operations), the best
    of ``repeats``, on ``threads`` torch threads: "float32" (sgemm), "bfloat16" (oneDNN, AVX-512 BF16 / AMX where
    present) or "int8" (int8 x int8 -> int32, ``torch._int_mm``). NaN when this torch cannot run it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        g = torch.Generator().manual_seed(0)
        if dtype == "int8":
            a = torch.randint(-128, 128, (size, size), generator=g, dtype=torch.int8)
            b = torch.randint(-128, 128, (size, size), generator=g, dtype=torch.int8)
            run = lambda: torch._int_mm(a, b)  # noqa: E731
        else:
            kind = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
            a = torch.randn(size, size, generator=g).to(kind)
            b = torch.randn(size, size, generator=g).to(kind)
            run = lambda: torch.mm(a, b)  # noqa: E731
        try:
            for _ in range(2):
                run()
        except (RuntimeError, NotImplementedError):
            return math.nan
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        return 2.0 * size ** 3 / best / 1e9
    finally:
        torch.set_num_threads(previous)


__all__ = ["ISA_FLAGS", "cpu_features", "isa_summary", "matmul_peak"]
