"""The building blocks every benchmark shares: cases, ids, flop counts, threads, timing and labels.

A *case* is a seeded network with its data and its reference gradient
(`backprop`, the oracle), built once per session and shared by every
competitor on it, so the forms of one comparison see the same numbers.

Each benchmark is labelled with `label` (its group and the ``extra_info``
that `benchmarks.report` reads: which form, which shape, how big) and timed
with `timed`, which also knows which benchmarks are too slow to run under
plain ``pytest`` (where benchmarks run once each as smoke tests).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from reference import Gradients, Network, backprop

from .report import FORMS

SEED = 0  # every case draws its network and data from this seed
SLOW = "slow: timed under `pytest --benchmark-only` only (plain pytest runs benchmarks once each)"


def shape_id(sizes: Sequence[int], d: int | None = None) -> str:
    """``784-128-10,d=256``: the layer sizes and the batch size."""
    name = "-".join(map(str, sizes))
    return name if d is None else f"{name},d={d}"


@dataclass(frozen=True, eq=False)
class Case:
    """A network in the article's layout, a batch ``(X, Y)`` and the reference gradient on it."""

    sizes: tuple[int, ...]
    d: int
    net: Network
    X: np.ndarray  # (d, n_in)
    Y: np.ndarray  # (d, n_H)
    expected: Gradients  # backprop(net, X, Y)

    @property
    def id(self) -> str:
        return shape_id(self.sizes, self.d)

    @property
    def n_params(self) -> int:
        return self.net.layout.size

    def cost(self, theta: np.ndarray) -> float:
        """`J` at the flat parameters `theta`: what a hand-written check calls."""
        return self.net.cost(self.X, self.Y, theta=theta)


@functools.cache
def case(sizes: tuple[int, ...], d: int) -> Case:
    """The seeded case of these sizes and batch: sigmoid layers, the article's quadratic cost.

    Cached: the competitors of one comparison get the very same arrays
    (nothing in the project mutates them).
    """
    rng = np.random.default_rng(SEED)
    net = Network.random(sizes, seed=rng)
    X = rng.normal(size=(d, sizes[0]))
    Y = rng.uniform(size=(d, sizes[-1]))
    return Case(tuple(sizes), d, net, X, Y, backprop(net, X, Y))


#: The batch-gradient comparison, (sizes, d): the forms of `test_bench_backprop.py` and the peers.
BATCH_SHAPES = [
    ((4, 8, 3), 16),
    ((32, 64, 10), 128),
    ((784, 128, 10), 256),
    ((1024, 1024, 1024, 10), 512),
]


def batch_group(case: Case) -> str:
    """The group of every competitor computing the batch gradient of this case."""
    return f"batch gradient {case.id}"


def case_params(shapes: Sequence[tuple[tuple[int, ...], int]]) -> list[Any]:
    """``pytest.param``s of ``(sizes, d)`` pairs, with ids that describe the shape."""
    return [pytest.param(sizes, d, id=shape_id(sizes, d)) for sizes, d in shapes]


# ------------------------------------------------------------- flop counts


def backprop_flops(sizes: Sequence[int], d: int) -> int:
    """Flops one batch gradient performs: the forward pass, `dJ/dW^L`, and `Delta^{L-1}` for L >= 1.

    Each is one matrix product of ``2 d M N`` flops per layer; there is no
    `Delta` for the input layer, so layer 0 costs ``4 d M N``, the others
    ``6 d M N`` (element-wise work not counted).
    """
    MN = [M * N for M, N in pairwise(sizes)]
    return 2 * d * (3 * sum(MN) - MN[0])


def nominal_flops(sizes: Sequence[int], d: int) -> int:
    """The issue's count, ``6 d sum M N``: it includes the input-layer `Delta` nobody computes."""
    return 6 * d * sum(M * N for M, N in pairwise(sizes))


# ------------------------------------------------------------------ threads


def blas_threads() -> int:
    """How many threads numpy's BLAS uses (peers are given the same number)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        counts = [
            pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"
        ]
        if counts:
            return max(counts)
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    # OpenBLAS and MKL default to one thread per core available to the process.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# ------------------------------------------------------------ machine load


def cpu_snapshot() -> tuple[float, float, float, float] | None:
    """Seconds of (wall, machine busy, steal, this process), from /proc/stat; None elsewhere.

    Two snapshots tell how much of the machine *other* processes (and the
    hypervisor, as steal time) took while the benchmarks ran: on a shared
    2-core machine, the first thing to know before trusting a ratio.
    """
    try:
        with open("/proc/stat", encoding="ascii") as file:
            ticks = [int(v) for v in file.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return (
        time.monotonic(),
        (user + nice + system + irq + softirq) / hz,
        steal / hz,
        own.user + own.system + own.children_user + own.children_system,
    )


def minor_faults() -> int | None:
    """Minor page faults of this process so far (None where `resource` is missing)."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def other_load(start: Any, end: Any) -> dict[str, float] | None:
    """Shares of the machine's CPU time taken by other processes and by steal between snapshots."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    capacity = (end[0] - start[0]) * (os.cpu_count() or 1)
    others = (end[1] - start[1]) - (end[3] - start[3])
    return {
        "other_processes": max(0.0, others / capacity),
        "steal": max(0.0, (end[2] - start[2]) / capacity),
        "seconds": end[0] - start[0],
    }


# ------------------------------------------------------- labels and timing


def label(
    benchmark: Any, *, group: str, form: str, kind: str, case: Case | None = None, **extra: Any
) -> None:
    """Put the benchmark in `group` and record what `benchmarks.report` needs in ``extra_info``.

    `form` is a key of `benchmarks.report.FORMS`; `kind` says which table it
    belongs to (``backprop``, ``fd``, ``scaling``, ``gemm``, ``oracle``).
    """
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; add it to benchmarks.report.FORMS")
    benchmark.group = group
    info = {"kind": kind, "form": form, "threads": blas_threads()}
    if case is not None:
        info.update(
            shape=case.id,
            sizes=list(case.sizes),
            d=case.d,
            n_params=case.n_params,
            flops=backprop_flops(case.sizes, case.d),
            flops_nominal=nominal_flops(case.sizes, case.d),
        )
    info.update(extra)
    benchmark.extra_info.update(info)


def timed(
    benchmark: Any,
    fn: Callable[..., Any],
    *args: Any,
    slow: bool = False,
    smoke: bool = True,
    **kwargs: Any,
) -> Any:
    """Time ``fn(*args, **kwargs)`` and return its result.

    ``slow=True`` (seconds a call): one round of one call, and not run by
    plain ``pytest``, where benchmarks are disabled and run once as smoke
    tests. ``smoke=False`` (about a second a call): timed as usual, but not
    run by plain ``pytest`` either. ``pytest --benchmark-only`` runs all.
    """
    if benchmark.disabled:
        if slow or not smoke:
            pytest.skip(SLOW)
        return benchmark(fn, *args, **kwargs)
    start, faults = cpu_snapshot(), minor_faults()
    if slow:
        result = benchmark.pedantic(fn, args, kwargs, rounds=1, iterations=1)
    else:
        result = benchmark(fn, *args, **kwargs)
    load = other_load(start, cpu_snapshot())
    if load is not None:  # what others took meanwhile: the report flags contended timings
        benchmark.extra_info["other_load"] = load["other_processes"] + load["steal"]
    # Per timed call, roughly (calibration calls are not counted): temporaries the allocator
    # maps afresh each call fault in page by page, ~1.5 us a page (fault + zeroing).
    calls = benchmark.stats.stats.rounds * benchmark.stats.iterations + 1  # + the result's call
    if faults is not None:
        benchmark.extra_info["page_faults"] = (minor_faults() - faults) / calls
    return result


def record_rate(benchmark: Any, flops: int, *, nominal: int | None = None) -> None:
    """Store the achieved GFLOP/s (at the median time) in ``extra_info``; nothing when not timed."""
    stats = getattr(benchmark, "stats", None)
    if not stats:
        return
    seconds = stats.stats.median
    benchmark.extra_info["gflops"] = flops / seconds / 1e9
    if nominal is not None:
        benchmark.extra_info["gflops_nominal"] = nominal / seconds / 1e9


def check_batch_gradient(benchmark: Any, case: Case, flat: Any) -> None:
    """A batch gradient (flat) agrees with the reference to rounding; then record GFLOP/s."""
    np.testing.assert_allclose(np.asarray(flat), case.expected.flat(), rtol=1e-9, atol=1e-13)
    info = benchmark.extra_info
    record_rate(benchmark, info["flops"], nominal=info["flops_nominal"])


def max_abs_error(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got) - np.asarray(expected))))


# ------------------------------------------------------------------ peers


def torch_cost(torch: Any, weights: Sequence[Any], biases: Sequence[Any], X: Any, Y: Any) -> Any:
    """`J = mean_i 1/2 ||a^H - y||^2` of sigmoid layers in torch, `W^L` in the (M, N) layout.

    ``A @ W + b`` with `W` of shape (M, N) is ``nn.Linear`` with
    ``weight = W.T`` (one ``addmm`` either way).
    """
    A = X  # A^{-1} = X
    for W, b in zip(weights, biases, strict=True):
        A = torch.sigmoid(torch.addmm(b, A, W))  # A^L = h(A^{L-1} W^L + 1 b^T)
    return 0.5 * ((A - Y) ** 2).sum(dim=1).mean()


def split_flat(theta: Any, sizes: Sequence[int]) -> tuple[list[Any], list[Any]]:
    """``(weights, biases)`` views of a flat vector in NOTATION.md's order (numpy or torch)."""
    weights, biases, start = [], [], 0
    for M, N in pairwise(sizes):
        weights.append(theta[start : start + M * N].reshape(M, N))  # W^L, row-major
        start += M * N
        biases.append(theta[start : start + N])  # b^L
        start += N
    return weights, biases
