"""What the ratios depend on: CPU vector extensions, the BLAS and its threads, `np.exp`'s speed.

`machine_info()` goes into the benchmark JSON (``"machine"``), and
`benchmarks.report` prints it under the header (`report.describe_machine`), so that a reader can tell
why two machines' ratios differ: the finite-difference engine is bound by
`exp` (AVX-512 makes numpy's `exp` about 1.5x faster than AVX2), backprop
by the BLAS's matrix products and its threads.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

FLAGS = ("avx2", "fma", "avx512f", "avx512dq", "avx512vl")  # the ones numpy's exp/tanh dispatch on
EXP_ELEMENTS = 2**15  # float64: 256 KiB, in L2 like the engine's chunks
EXP_REPEATS = 50  # the best of this many calls


def cpu_flags() -> dict[str, Any]:
    """The CPU model and which of `FLAGS` it has, from /proc/cpuinfo (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError:
        return {}
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "flags": [f for f in FLAGS if f in flags]}


def blas() -> list[dict[str, Any]]:
    """numpy's BLAS: library, version, threads, kernel architecture (threadpoolctl if installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = getattr(np, "show_config", None)
        try:
            info = config(mode="dicts")["Build Dependencies"]["blas"]  # type: ignore[misc]
        except Exception:
            return []
        from ._cases import blas_threads  # the environment's thread settings, or the cores

        return [
            {"library": info.get("name"), "version": info.get("version"), "threads": blas_threads()}
        ]
    return [
        {
            "library": pool.get("internal_api"),
            "version": pool.get("version"),
            "threads": pool.get("num_threads"),
            "architecture": pool.get("architecture"),
        }
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]


def exp_ns_per_element() -> float:
    """`np.exp` on float64 in cache: nanoseconds per element, best of `EXP_REPEATS`."""
    x = np.random.default_rng(0).uniform(-5.0, 5.0, EXP_ELEMENTS)
    out = np.empty_like(x)
    best = np.inf
    for _ in range(EXP_REPEATS):
        start = time.perf_counter()
        np.exp(x, out=out)
        best = min(best, time.perf_counter() - start)
    return best / EXP_ELEMENTS * 1e9


def machine_info() -> dict[str, Any]:
    """CPU model and flags, BLAS, numpy's version and `np.exp`'s ns per element."""
    return {
        "cpu": cpu_flags(),
        "blas": blas(),
        "numpy": np.__version__,
        "exp_ns": exp_ns_per_element(),
    }
