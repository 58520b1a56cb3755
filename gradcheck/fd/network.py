"""`network_numerical_gradient`: every entry of a network's gradient by finite differences, fast.

The default takes Richardson extrapolation only as far as each entry needs
(`gradcheck.fd.kinks.staged_richardson`: about 4.2 evaluations an entry
instead of 10); ``"central"`` and ``"complex"`` are `gradcheck.fd.numerical`'s,
through `gradcheck.fd.kinks.differentiate_across_kinks`. The
cost at the perturbed points is evaluated fast, exploiting the network's
structure (`gradcheck.fd.perturbed`).  Done naively, every evaluation is a full
forward pass.  Instead:

- moving `W^L[m,n]` or `b^L[n]` leaves layers `0 .. L-1` unchanged, so their
  cached forward pass is reused;
- it changes `z^L` in column `n` only, by `t a^{L-1}_m` (or `t`): a rank-1
  change, and for an element-wise `h`, `a^L` changes in column `n` only, so
  `z^{L+1}` changes by the outer product of that column with row `n` of
  `W^{L+1}`: no matrix product until layer `L+2`;
- a move of `W^H[m,n]` or `b^H[n]` changes column n of `a^H` only: with the
  quadratic cost, `J_i` moves by that column's terms alone;
- a sigmoid output with the quadratic cost takes one exp per entry,
  `sigma(z) - y = ((1 - y) e^z - y) / (1 + e^z)`, exact to a few ulps;
- many perturbations run as one stacked array computation `(P, d, N)`, in
  chunks that stay in cache (and under a memory cap); moves of one unit of
  `W^{H-1}` into a sigmoid output share their row of `W^H`, and run as one
  outer product over unit-major arrays; with ``executor=`` or
  ``workers=`` the chunks run on other processes (or threads) or a Dask
  cluster (`gradcheck.fd.scatter`), bit-identical to the serial run.

Kinks: an evaluation whose perturbation moves a pre-activation of a
non-smooth layer (ReLU's jump of `h'`, ELU's jump of `h''`) across 0 is
returned to the engine as unusable (`gradcheck.fd.kinks` says what follows).

`structured=False` takes the naive path (a full forward pass per
evaluation), which the tests hold equal to the fast one to rounding.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.fd.kinks import (
    FIRST_STEPS,
    STENCIL_STEP,
    differentiate_across_kinks,
    staged_richardson,
)
from gradcheck.fd.numerical import METHODS
from gradcheck.fd.perturbed import (
    CACHE_CHUNK,
    KINK,
    ROUGH,
    Base,
    Workspace,
    costs_of_chunks,
    crossings,
    perturbed_costs,
    plan_chunks,
)
from gradcheck.fd.scatter import Scatter, process_pool
from gradcheck.validate import (
    check_bytes,
    check_executor,
    check_fits_in_memory,
    check_flag,
    check_network,
)
from reference import Gradients, Network
from reference.network import ForwardPass, example_costs, forward_pass

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "KINK",
    "ROUGH",
    "NetworkNumericalGradient",
    "crossings",
    "network_numerical_gradient",
]

DEFAULT_MEMORY_LIMIT = 256 * 2**20  # bytes per chunk of stacked activations: fits any laptop
CHUNKS_PER_TASK = 8  # at least this many chunks a task: ~2 ms, above a thread pool's overhead
TASKS_PER_WORKER = 4  # at most this many tasks a worker per call: a process pool's or Dask's
# per-task cost (pickling, a round trip) is ~0.1-1 ms, so tasks of ~1,000 chunks (784-256-10)
# keep it small, while 4 a worker still balance the load
# A caller's executor does not say how many workers it runs (concurrent.futures has no public
# way to ask): tasks are sized for one a core of this machine, a default ProcessPoolExecutor's
# count, and about a LocalCluster's. Only the speed depends on it, never the result.
EXECUTOR_WORKERS = os.cpu_count() or 1
MIN_STEP_ULPS = 64  # a first step is at least this many spacings of its entry (_natural_scale)


@dataclass(frozen=True, eq=False)
class NetworkNumericalGradient(Gradients):
    """A network's gradient by finite differences, in the `Gradients` layout.

    ``weights``/``biases`` hold the numerical `dJ/dW^L`, `dJ/db^L`;
    ``error`` the per-entry error estimates in the same layout;
    ``unverifiable`` boolean masks of the entries whose every difference
    straddles a kink (a pre-activation of a ReLU-like layer changes sign
    within the stencil), where no finite difference measures `h'`.
    """

    error: Gradients
    unverifiable: Gradients
    method: str
    n_evaluations: int
    steps: np.ndarray  # flat: the step of each entry's final difference (for rounding estimates)

    @property
    def n_unverifiable(self) -> int:
        """How many entries differences cannot verify (kinks)."""
        return int(self.unverifiable.flat().sum())

    def __repr__(self) -> str:
        return (
            f"NetworkNumericalGradient(sizes={list(self.sizes)}, method={self.method!r}, "
            f"n_unverifiable={self.n_unverifiable})"
        )


def network_numerical_gradient(
    net: Network,
    X: Any,
    Y: Any,
    *,
    method: str = "richardson",
    structured: bool = True,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    executor: Executor | None = None,
    workers: int | None = None,
) -> NetworkNumericalGradient:
    """Every entry of the batch-averaged gradient of `net` on `(X, Y)` by finite differences.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    method : {"richardson", "central", "complex"}
        As in `gradcheck.numerical_gradient`: Richardson extrapolation of
        centred differences (default, ~1e-10 relative or better), plain
        centred differences, or the complex step (exact to rounding; it
        passes through the reference's complex-safe forward pass and cost).
    structured : bool
        Exploit the network's structure (default). False evaluates every
        point with a full forward pass (for testing the fast path).
    memory_limit : int
        Bytes one chunk of stacked perturbed activations may take.
    executor : concurrent.futures.Executor, optional
        Evaluate the chunks of perturbations on this executor's workers: a
        ``ThreadPoolExecutor``, a ``ProcessPoolExecutor``, or a Dask
        cluster's ``distributed.Client.get_executor()``. The network and data
        travel once per worker process, not with every chunk; chunks whose
        worker dies are rerun. The result is bit-identical to the serial one.
        Tasks are sized for `EXECUTOR_WORKERS` workers (one per core of this
        machine): an executor does not say how many it runs.
    workers : int, optional
        Evaluate on a pool of this many processes (`gradcheck.fd.scatter.process_pool`,
        each with one OpenBLAS thread), started and shut down here: worth it for
        networks that take seconds (784-256-10: 1.4x on 2 cores), not for those
        that take a fraction of one. Default: serial.

    Returns
    -------
    NetworkNumericalGradient
        The gradient in the `Gradients` layout, with ``.error`` and
        ``.unverifiable`` in the same layout.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> fd = network_numerical_gradient(net, X, Y)
    >>> bool(np.allclose(fd.flat(), backprop(net, X, Y).flat(), rtol=1e-9, atol=1e-12))
    True
    """
    X, Y = _validate(net, X, Y, method, memory_limit, structured)
    _check_executor(executor, workers)
    if workers is not None and workers > 1:
        with process_pool(workers) as pool:
            return _on_executor(net, X, Y, method, structured, memory_limit, pool, workers)
    return _on_executor(net, X, Y, method, structured, memory_limit, executor, None)


def _on_executor(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    method: str,
    structured: bool,
    memory_limit: int,
    executor: Executor | None,
    workers: int | None,
) -> NetworkNumericalGradient:
    """`network_numerical_gradient` on `executor` (None: here), which runs `workers` if known."""
    evaluate = _CostEvaluator(
        net,
        X,
        Y,
        memory_limit=memory_limit,
        structured=structured,
        executor=executor,
        workers=workers,
    )
    try:
        return _differentiate(evaluate, net, X, Y, method)
    finally:
        evaluate.close()


def _differentiate(
    evaluate: _CostEvaluator, net: Network, X: np.ndarray, Y: np.ndarray, method: str
) -> NetworkNumericalGradient:
    theta = evaluate.theta
    f0 = evaluate.at_theta()
    scale = _natural_scale(net, X, theta)
    f_scale = _cost_size(net, evaluate.fw, Y)
    if method == "richardson":
        result = staged_richardson(
            evaluate, theta, scale=scale, f0=f0, f_scale=f_scale, blocks=net.layout.blocks
        )
    else:
        result = differentiate_across_kinks(
            evaluate, theta, method=method, scale=scale, f0=f0, f_scale=f_scale
        )
    sizes = net.sizes
    gradient = Gradients.from_flat(result.gradient, sizes)
    return NetworkNumericalGradient(
        weights=gradient.weights,
        biases=gradient.biases,
        error=Gradients.from_flat(result.error, sizes),
        unverifiable=_mask_gradients(result.unverifiable, net),
        method=method,
        n_evaluations=int(evaluate.count),
        steps=result.step,
    )


def _cost_size(net: Network, fw: ForwardPass, Y: np.ndarray) -> float:
    """The size of the terms `J` is summed from: `(1/d) sum_i (|J_i| + sum_n |a^H_n| + |y_n|)`."""
    J_i = example_costs(fw.Z[-1], fw.output, Y, net.output, net.cost_function)
    return float(np.mean(np.abs(J_i) + (np.abs(fw.output) + np.abs(Y)).sum(axis=1)))


# ------------------------------------------------------------- evaluation


class _CostEvaluator:
    """The cost `J` of `net` at perturbed parameters, for `finite_diff.differentiate`.

    ``along(index, h)`` gives `J(theta + h_i e_{index_i})` for every i (fast
    path or naive), NaN where the move crossed a kink (unless
    ``mark_crossings=False``), and the steps actually taken; ``last_crossed``
    holds the ROUGH/KINK flags of the last call.
    """

    def __init__(
        self,
        net: Network,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        memory_limit: int,
        structured: bool,
        executor: Executor | None = None,
        workers: int | None = None,
    ):
        self.net, self.X, self.Y = net, X, Y
        self.theta = net.flat()
        self.layout = net.layout
        self.memory_limit = memory_limit
        self.structured = structured
        self.base = Base.of(net, X, Y)
        self.fw = self.base.fw
        self.count = 0
        self.last_crossed = np.zeros(0, dtype=np.int8)
        self.workspace = Workspace()
        self._is_weight = np.zeros(self.theta.size, dtype=bool)  # where the L2 penalty acts
        for kind, _, block, _ in self.layout.layer_blocks:
            self._is_weight[block] = kind == "W"
        # the naive path is the yardstick: it stays serial
        parallel = executor is not None and structured
        self.scatter = Scatter(executor, self.base, workers=workers) if parallel else None
        self.workers = workers or EXECUTOR_WORKERS  # sizes the tasks (EXECUTOR_WORKERS)

    def close(self) -> None:
        """Let the workers' copies of the network go."""
        if self.scatter is not None:
            self.scatter.close()

    def at_theta(self) -> float:
        self.count += 1
        return float(self._cost(self.net.weights, self.net.biases))

    def at(self, points: np.ndarray) -> np.ndarray:
        """J at full parameter vectors (the engine's noise probe)."""
        self.count += len(points)
        return np.array([self._cost(*self.layout.split(p)) for p in points])

    def along(
        self,
        index: np.ndarray,
        h: np.ndarray,
        *,
        imaginary: bool = False,
        mark_crossings: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        theta = self.theta
        if imaginary:
            t = 1j * np.asarray(h, dtype=np.float64)
            taken = np.asarray(h, dtype=np.float64)
        else:
            taken = (theta[index] + h) - theta[index]  # the steps actually taken
            t = taken
        evaluate = self._structured if self.structured else self._naive
        values, crossed = evaluate(index, t)
        if self.net.l2:  # the L2 penalty, exactly: lam/2 ((w + t)^2 - w^2) for a moved weight
            is_W = self._is_weight[index]
            w = np.where(is_W, theta[index], 0.0)
            values = values + self.net.penalty() + self.net.l2 * is_W * (w * t + 0.5 * t * t)
        self.count += index.size
        self.last_crossed = crossed
        # the complex step is one-sided in i h: no crossing
        if mark_crossings and not imaginary:
            values = np.where(crossed > 0, np.nan, values)
        return values, taken

    def _cost(self, weights, biases) -> Any:
        out = forward_pass(weights, biases, self.net.activations, self.X)
        J = example_costs(out.Z[-1], out.output, self.Y, self.net.output, self.net.cost_function)
        return J.mean() + self.net.penalty(weights)  # + (lam/2) sum_L ||W^L||^2

    def _structured(self, index: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.empty(index.size, dtype=t.dtype)
        crossed = np.zeros(index.size, dtype=np.int8)
        chunks, places = [], []  # (L, m, n, t) of each chunk; where its results go
        for kind, L, block, shape in self.layout.layer_blocks:
            rows = np.flatnonzero((index >= block.start) & (index < block.stop))
            if rows.size == 0:
                continue
            if kind == "W":  # sorted by unit n: moves of one n share a row of W^{L+1}
                rows = rows[np.argsort((index[rows] - block.start) % shape[1], kind="stable")]
                m, n = np.unravel_index(index[rows] - block.start, shape)
            else:
                m, n = None, index[rows] - block.start
            complex_ = np.iscomplexobj(t)
            plan = plan_chunks(
                self.base, L, n, self.memory_limit, weights=m is not None, complex_=complex_
            )
            for piece in plan:
                part = rows[piece]
                chunks.append((L, None if m is None else m[piece], n[piece], t[part]))
                places.append(part)
        if self.scatter is None:
            space = self.workspace
            results = [perturbed_costs(self.base, L, m, n, t_, space) for L, m, n, t_ in chunks]
        else:  # tasks of consecutive chunks, each chunk computed as in the serial run
            size = max(CHUNKS_PER_TASK, -(-len(chunks) // (TASKS_PER_WORKER * self.workers)))
            tasks = [chunks[k : k + size] for k in range(0, len(chunks), size)]
            results = [r for rs in self.scatter.map(costs_of_chunks, tasks) for r in rs]
        for part, (v, c) in zip(places, results, strict=True):
            values[part], crossed[part] = v, c
        return values, crossed

    def _naive(self, index: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same values by a full forward pass per evaluation: the yardstick."""
        h = self.net.activations
        values = np.empty(index.size, dtype=t.dtype)
        crossed = np.zeros(index.size, dtype=np.int8)
        for k, (j, step) in enumerate(zip(index, t)):
            moved = self.theta.astype(t.dtype)
            moved[j] += step
            out = forward_pass(*self.layout.split(moved), h, self.X)
            J = example_costs(
                out.Z[-1], out.output, self.Y, self.net.output, self.net.cost_function
            )
            values[k] = J.mean()
            for act, Z, Z0 in zip(h, out.Z, self.fw.Z):
                crossed[k] |= crossings(act, Z[None], Z0[None])[0]
        return values, crossed


def _natural_scale(net: Network, X: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Per-entry step scale: `max(|theta_j|, 1)`, divided for `W^L[m,n]` by `max_i |a^{L-1}_{im}|`.

    Moving `W^L[m,n]` by `t` moves `z^L_n` by `t a^{L-1}_m`: with inputs of
    size 1e5, a step fit for the weight alone would move `z` by hundreds.
    Never so small that a first step falls below `MIN_STEP_ULPS` spacings of
    `theta_j` (inputs of 1e200): a step `theta_j` cannot take measures nothing.
    """
    scale = np.maximum(np.abs(theta), 1.0)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    for kind, L, block, shape in net.layout.layer_blocks:
        if kind == "W":
            a_prev = X if L == 0 else fw.A[L - 1]
            reach = np.maximum(np.abs(a_prev).max(axis=0), 1.0)  # (M,)
            scale[block] /= np.repeat(reach, shape[1])
    smallest = min(FIRST_STEPS["central"], STENCIL_STEP)  # the real methods' first steps
    return np.maximum(scale, MIN_STEP_ULPS * np.spacing(np.abs(theta)) / smallest)


# -------------------------------------------------------------- plumbing


def _mask_gradients(mask: np.ndarray, net: Network) -> Gradients:
    weights, biases = net.layout.split(mask.copy())
    return Gradients(weights, biases)


def _validate(
    net: Any, X: Any, Y: Any, method: Any, memory_limit: Any, structured: Any = True
) -> tuple[np.ndarray, np.ndarray]:
    check_network(net)
    if method not in METHODS:
        raise ValueError(f"unknown `method` {method!r}; known methods: {', '.join(METHODS)}")
    check_memory_limit(memory_limit)
    check_flag(structured, "structured")
    X, Y = net.check_data(X, Y)
    d = X.shape[0]
    n_bytes = check_bytes(net.sizes, d, trials=0, fd_chunk=min(memory_limit, CACHE_CHUNK))
    check_fits_in_memory(n_bytes, f"differentiating a {list(net.sizes)} network at d={d}")
    return X, Y


def _check_executor(executor: Any, workers: Any) -> None:
    check_executor(executor)
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(
            f"`workers` must be a positive integer number of processes, got {workers!r}"
        )
    if workers < 1:
        raise ValueError(f"`workers` must be a positive integer number of processes, got {workers}")
    if executor is not None:
        raise ValueError("give `executor` or `workers`, not both (`workers` makes a process pool)")


def check_memory_limit(memory_limit: Any) -> int:
    """`memory_limit` as a positive number of bytes, or a clear error (shared with `equations`)."""
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer)):
        raise TypeError(f"`memory_limit` must be an integer number of bytes, got {memory_limit!r}")
    if memory_limit <= 0:
        raise ValueError(f"`memory_limit` must be positive, got {memory_limit}")
    return int(memory_limit)
