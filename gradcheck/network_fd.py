"""`network_numerical_gradient`: every entry of a network's gradient by finite differences, fast.

The default takes Richardson extrapolation only as far as each entry needs
(`staged_richardson`): a 4-point stencil for every entry, whose 2-point part
gives the error estimate; a third level where that estimate is above
`GOOD_ENOUGH` of the block's largest entry; `gradcheck.finite_diff`'s full
Richardson where it still is (about 4.2 evaluations an entry instead of
10). ``"central"`` and ``"complex"`` are `finite_diff`'s, unchanged. The
cost at the perturbed points is evaluated fast, exploiting the network's
structure.  Done naively, every evaluation is a full forward pass.
Instead:

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
  chunks that stay in cache (and under a memory cap); with ``executor=`` or
  ``workers=`` the chunks run on other processes (or threads) or a Dask
  cluster (`gradcheck.scatter`), bit-identical to the serial run.

Kinks: an evaluation whose perturbation moves a pre-activation of a
non-smooth layer (ReLU's jump of `h'`, ELU's jump of `h''`) across 0 is
returned to the engine as unusable, so Richardson takes smaller steps until
its stencil fits between the kinks.  Entries where none does are, for a jump
of `h'`, reported unverifiable (no difference measures `h'` there); for a
jump of `h''` a tight centred difference, which converges as O(h), is kept.

`structured=False` takes the naive path (a full forward pass per
evaluation), which the tests hold equal to the fast one to rounding.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference import ACTIVATIONS, Gradients, Network
from reference.network import ForwardPass, example_costs, forward_pass

from .finite_diff import CENTRAL_TRUNCATION_SAFETY, METHODS, differentiate
from .noise import EPS, ROUNDING_ULPS, noise_bound, noise_sigma
from .scatter import Scatter, process_pool
from .steps import RICHARDSON_STEP, power_of_two, within_sign
from .validate import check_executor, check_flag, check_network

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "KINK",
    "ROUGH",
    "KinkAwareGradient",
    "NetworkNumericalGradient",
    "crossings",
    "differentiate_across_kinks",
    "network_numerical_gradient",
    "staged_richardson",
]

DEFAULT_MEMORY_LIMIT = 256 * 2**20  # bytes per chunk of stacked activations: fits any laptop
CHUNKS_PER_TASK = 8  # at least this many chunks a task: ~2 ms, above a thread pool's overhead
TASKS_PER_WORKER = 4  # at most this many tasks a worker per call: a process pool's or Dask's
# per-task cost (pickling, a round trip) is ~0.1-1 ms, so tasks of ~1,000 chunks (784-256-10)
# keep it small, while 4 a worker still balance the load
DEFAULT_WORKERS = 8  # an executor that does not say how many workers it has
CACHE_CHUNK = 2**20  # bytes: chunks this size stay in L2 (measured: 8 MiB ones ran 1.3x slower)
ROUGH, KINK = 1, 2  # an evaluation crossed a jump of h'' (ELU) / of h' (ReLU), as bit flags
KINK_STEP = 2.0**-30  # the last resort for entries near a kink: few z change sign within it
STENCIL_STEP = 2.0**-10  # relative: R1's truncation (h^4) and rounding (1/h) both near 1e-11
SIGMOID_ONE_EXP_LIMIT = 600.0  # |z^H| below which e^z cannot overflow in a difference step
TANH_FORM_RESIDUAL = 2.0**-6  # |a - y| above which the tanh form's absolute u is < 64 u |a - y|
TANH_FORM_TARGET = 2.0**-4  # targets this far from 0 and 1: the exp form errs ~u/8 absolutely too
GOOD_ENOUGH = 1e-7  # an estimate above this x its block's largest entry takes more levels
TABLEAU_ROUNDING = (256 + 68 / 2 + 1 / 4) / 189  # sum_k |w_k| h / h_k of R2's weights
FIRST_STEPS = {  # relative to each entry's natural scale (see _natural_scale)
    "richardson": RICHARDSON_STEP,
    "central": float(np.finfo(np.float64).eps ** (1 / 3)),
    "complex": 1e-20,
}


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
    workers : int, optional
        Evaluate on a pool of this many processes (`gradcheck.scatter.process_pool`,
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
            return network_numerical_gradient(
                net, X, Y, method=method, structured=structured, memory_limit=memory_limit,
                executor=pool,
            )  # fmt: skip
    evaluate = _CostEvaluator(
        net, X, Y, memory_limit=memory_limit, structured=structured, executor=executor
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


@dataclass(frozen=True)
class KinkAwareGradient:
    """`differentiate_across_kinks`' result: flat arrays over the entries."""

    gradient: np.ndarray
    error: np.ndarray
    unverifiable: np.ndarray  # bool: every stencil crossed a jump of h'
    step: np.ndarray  # the step of each entry's final difference


def differentiate_across_kinks(
    evaluate: Any,
    theta: np.ndarray,
    *,
    method: str,
    scale: np.ndarray,
    f0: float,
    f_scale: float = 0.0,
) -> KinkAwareGradient:
    """`finite_diff.differentiate` for a function with kinks, on an evaluator that reports them.

    `evaluate` is as `differentiate` wants it, and also has ``mark_crossings``
    (return NaN for a move that crossed a kink, so Richardson shrinks its
    steps) and ``last_crossed`` (ROUGH/KINK flags of its last call). Entries
    left without a usable step get a tight centred difference at `h` and
    `2h`: across a jump of `h''` (ELU) it converges as O(h), which
    `|D(h) - D(2h)|` bounds; across a jump of `h'` (ReLU) the entry is
    unverifiable. `f_scale`: the size of the terms `f` is computed from
    (its rounding can exceed `eps |f|` when `f` is small).
    """
    first = power_of_two(FIRST_STEPS[method] * scale)
    result = differentiate(evaluate, theta, method=method, step=first, f0=f0, f_scale=f_scale)
    gradient, error, step = result.gradient.copy(), result.error.copy(), result.step.copy()
    unverifiable = np.zeros(theta.size, dtype=bool)
    stuck = np.flatnonzero(~np.isfinite(gradient))
    if stuck.size:
        h = power_of_two(KINK_STEP * scale[stuck])
        evaluate.mark_crossings = False
        values, taken = evaluate.along(np.tile(stuck, 4), np.concatenate([h, -h, 2 * h, -2 * h]))
        evaluate.mark_crossings = True
        v, t = values.reshape(4, -1), taken.reshape(4, -1)
        D1 = (v[0] - v[1]) / (t[0] - t[1])
        D2 = (v[2] - v[3]) / (t[2] - t[3])
        size = np.maximum(max(abs(f0), f_scale), np.abs(v).max(axis=0))
        gradient[stuck] = D1
        error[stuck] = np.abs(D1 - D2) + ROUNDING_ULPS * EPS * size / h
        step[stuck] = h
        crossed = np.bitwise_or.reduce(evaluate.last_crossed.reshape(4, -1), axis=0)
        unverifiable[stuck] = (crossed & KINK) > 0
    return KinkAwareGradient(gradient, error, unverifiable, step)


def staged_richardson(
    evaluate: Any,
    theta: np.ndarray,
    *,
    scale: np.ndarray,
    f0: float,
    f_scale: float,
    blocks: list[tuple[str, slice, tuple[int, ...]]],
) -> KinkAwareGradient:
    """Richardson extrapolation, taken only as far as each entry needs: ~4 evaluations an entry.

    1. Every entry: the 4-point stencil `f(theta +- h e_j)`, `f(theta +- 2h e_j)`
       at `h = STENCIL_STEP` (relative), i.e. `R1 = D(h) + (D(h) - D(2h)) / 3`
       (truncation O(h^4)). Its error estimate is the 2-point part's:
       `|D(h) - D(2h)|`, which bounds the `h^2` term `R1` cancels, so it
       overstates `R1`'s error, plus the rounding of `R1`'s weights.
    2. Entries whose estimate is above `GOOD_ENOUGH` of their block's largest
       entry: `D(4h)` too (2 more evaluations), and the 3-level tableau `R2`
       (truncation O(h^6)), estimated by its distance to the 2-level values.
    3. Entries still above it (or without a usable value: a kink within
       the stencil, NaN): the full Richardson of `differentiate_across_kinks`.

    Each entry keeps the value with the smallest estimate. The noise of `f`
    is measured once, as `finite_diff` does (ECnoise).
    """
    sigma = max(noise_sigma(evaluate, theta, f0), EPS * f_scale)
    everything = np.arange(theta.size)
    h = within_sign(theta, 4 * power_of_two(STENCIL_STEP * scale)) / 4  # 4h stays on its side of 0
    D1, h1, F1 = _centred(evaluate, everything, h)
    D2, _, F2 = _centred(evaluate, everything, 2 * h)
    noise = noise_bound(np.maximum(np.maximum(F1, F2), abs(f0)), sigma)
    gradient = D1 + (D1 - D2) / 3  # R1 = (4 D(h) - D(2h)) / 3
    # R1's rounding: weights 4/3 and 1/3 on differences that err by noise/h and noise/2h
    error = CENTRAL_TRUNCATION_SAFETY * np.abs(D2 - D1) / 3 + 1.5 * noise / h1
    good_enough = GOOD_ENOUGH * _block_max(np.abs(gradient), blocks)
    more = np.flatnonzero(~(error <= good_enough))  # NaN (a kink crossed) included
    if more.size:
        D4, _, F4 = _centred(evaluate, more, 4 * h[more])
        R1 = gradient[more]
        R1_wide = D2[more] + (D2[more] - D4) / 3  # R1 from D(2h), D(4h)
        R2 = R1 + (R1 - R1_wide) / 15
        noise_more = np.maximum(noise[more], noise_bound(F4, sigma))
        # R2 = (256 D(h) - 68 D(2h) + D(4h)) / 189: rounding sum_k |w_k| noise / h_k
        error_R2 = np.maximum(np.abs(R2 - R1), np.abs(R2 - R1_wide)) + (
            TABLEAU_ROUNDING * noise_more / h1[more]
        )
        better = error_R2 < error[more]
        gradient[more[better]], error[more[better]] = R2[better], error_R2[better]
    step = h1.copy()
    unverifiable = np.zeros(theta.size, dtype=bool)
    rest = np.flatnonzero(~(error <= good_enough))
    if rest.size:
        full = differentiate_across_kinks(
            _Entries(evaluate, rest),
            theta[rest],
            method="richardson",
            scale=scale[rest],
            f0=f0,
            f_scale=f_scale,
        )
        take = ~(error[rest] <= full.error) | ~np.isfinite(gradient[rest])
        chosen = rest[take]
        gradient[chosen], error[chosen] = full.gradient[take], full.error[take]
        step[chosen] = full.step[take]
        unverifiable[chosen] = full.unverifiable[take]
    error = np.where(np.isfinite(gradient) & np.isfinite(error), error, np.inf)
    return KinkAwareGradient(gradient, error, unverifiable, step)


def _centred(evaluate: Any, index: np.ndarray, h: np.ndarray):
    """`D = (f(theta + h1 e_j) - f(theta - h2 e_j)) / (h1 + h2)` with the steps taken;
    also the mean step and `max |f|` of the two values."""
    m = index.size
    values, taken = evaluate.along(np.concatenate([index, index]), np.concatenate([h, -h]))
    f_plus, f_minus, h_plus, h_minus = values[:m], values[m:], taken[:m], -taken[m:]
    D = (f_plus - f_minus) / (h_plus + h_minus)
    return D, (h_plus + h_minus) / 2, np.maximum(np.abs(f_plus), np.abs(f_minus))


def _block_max(values: np.ndarray, blocks: list[tuple[str, slice, tuple[int, ...]]]) -> np.ndarray:
    """Per entry, the largest finite value of its block (`W^L` or `b^L`)."""
    out = np.zeros_like(values)
    for _, block, _ in blocks:
        part = values[block]
        finite = part[np.isfinite(part)]
        out[block] = finite.max() if finite.size else 0.0
    return out


class _Entries:
    """An evaluator restricted to some entries of theta: `differentiate` on a subset."""

    def __init__(self, evaluate: Any, index: np.ndarray):
        self.parent, self.index = evaluate, index

    @property
    def count(self) -> int:
        return int(self.parent.count)

    @property
    def last_crossed(self) -> np.ndarray:
        return self.parent.last_crossed

    @property
    def mark_crossings(self) -> bool:
        return bool(self.parent.mark_crossings)

    @mark_crossings.setter
    def mark_crossings(self, value: bool) -> None:
        self.parent.mark_crossings = value

    def at(self, points: np.ndarray) -> np.ndarray:
        full = np.repeat(self.parent.theta[None, :], len(points), axis=0)
        full[:, self.index] = points
        return self.parent.at(full)

    def along(self, index: np.ndarray, h: np.ndarray, *, imaginary: bool = False):
        return self.parent.along(self.index[index], h, imaginary=imaginary)


def _cost_size(net: Network, fw: ForwardPass, Y: np.ndarray) -> float:
    """The size of the terms `J` is summed from: `(1/d) sum_i (|J_i| + sum_n |a^H_n| + |y_n|)`."""
    J_i = example_costs(fw.Z[-1], fw.output, Y, net.output, net.cost_function)
    return float(np.mean(np.abs(J_i) + (np.abs(fw.output) + np.abs(Y)).sum(axis=1)))


# ------------------------------------------------------------- evaluation


class _CostEvaluator:
    """The cost `J` of `net` at perturbed parameters, for `finite_diff.differentiate`.

    ``along(index, h)`` gives `J(theta + h_i e_{index_i})` for every i (fast
    path or naive), NaN where the move crossed a kink (while
    ``mark_crossings``), and the steps actually taken; ``last_crossed`` holds
    the ROUGH/KINK flags of the last call.
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
    ):
        self.net, self.X, self.Y = net, X, Y
        self.theta = net.flat()
        self.layout = net.layout
        self.memory_limit = memory_limit
        self.structured = structured
        self.base = _Base.of(net, X, Y)
        self.fw = self.base.fw
        self.count = 0
        self.mark_crossings = True
        self.last_crossed = np.zeros(0, dtype=np.int8)
        self.workspace = _Workspace()
        self._is_weight = np.zeros(self.theta.size, dtype=bool)  # where the L2 penalty acts
        for name, block, _ in self.layout.blocks:
            self._is_weight[block] = name[0] == "W"
        # the naive path is the yardstick: it stays serial
        parallel = executor is not None and structured
        self.scatter = Scatter(executor, self.base) if parallel else None

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

    def along(self, index: np.ndarray, h: np.ndarray, *, imaginary: bool = False):
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
        if (
            self.mark_crossings and not imaginary
        ):  # the complex step is one-sided in i h: no crossing
            values = np.where(crossed > 0, np.nan, values)
        return values, taken

    def _cost(self, weights, biases) -> Any:
        out = forward_pass(weights, biases, self.net.activations, self.X)
        J = example_costs(out.Z[-1], out.output, self.Y, self.net.output, self.net.cost_function)
        return J.mean() + self.net.penalty(weights)  # + (lam/2) sum_L ||W^L||^2

    def _structured(self, index: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        net, d = self.net, self.X.shape[0]
        values = np.empty(index.size, dtype=t.dtype)
        crossed = np.zeros(index.size, dtype=np.int8)
        chunks, places = [], []  # (L, m, n, t) of each chunk; where its results go
        for name, block, shape in self.layout.blocks:
            rows = np.flatnonzero((index >= block.start) & (index < block.stop))
            if rows.size == 0:
                continue
            L = int(name[2:])
            local = index[rows] - block.start
            m, n = np.unravel_index(local, shape) if name[0] == "W" else (None, local)
            chunk = _chunk_size(net.sizes, L, d, self.memory_limit, np.iscomplexobj(t))
            for start in range(0, rows.size, chunk):
                piece = slice(start, start + chunk)
                part = rows[piece]
                chunks.append((L, None if m is None else m[piece], n[piece], t[part]))
                places.append(part)
        if self.scatter is None:
            space = self.workspace
            results = [_perturbed_costs(self.base, L, m, n, t_, space) for L, m, n, t_ in chunks]
        else:  # tasks of consecutive chunks, each chunk computed as in the serial run
            workers = getattr(self.scatter.executor, "_max_workers", DEFAULT_WORKERS)
            size = max(CHUNKS_PER_TASK, -(-len(chunks) // (TASKS_PER_WORKER * workers)))
            tasks = [chunks[k : k + size] for k in range(0, len(chunks), size)]
            results = [r for rs in self.scatter.map(_costs_of_chunks, tasks) for r in rs]
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


def _chunk_size(sizes: tuple[int, ...], L: int, d: int, memory_limit: int, complex_: bool) -> int:
    """Perturbations per chunk: their stacked arrays (layers after L) fit in `CACHE_CHUNK`."""
    widest = max(sizes[L + 1 :]) if L + 2 == len(sizes) else max(sizes[L + 2 :])
    per_point = d * widest * 8 * (4 if complex_ else 3)
    return max(1, min(memory_limit, CACHE_CHUNK) // per_point)


@dataclass(frozen=True, eq=False)
class _Base:
    """The network at theta, and what the fast paths reuse from it, computed once.

    ``J_i``: the cost of each example; ``R = A^H - Y`` (quadratic cost).
    For a sigmoid output with the quadratic cost, ``sigmoid_terms`` =
    ``(Z^H, -Y, 1 - Y)``, transposed to (n_H, d): with `e = exp(z)`,
    `sigma(z) - y = ((1 - y) e - y) / (1 + e)`, one exp per entry and exact
    to a few ulps wherever `e` does not overflow (the base `|z^H|` is
    checked below `SIGMOID_ONE_EXP_LIMIT`; a step that still overflows gives
    NaN, an unusable value, never a wrong one). Where no residual is both
    small and next to a target of 0 or 1 (`_tanh_form_is_exact_enough`),
    ``tanh_terms`` = ``(Z^H / 2, 1 - 2Y)`` too: `sigma(z) - y = (tanh(z/2) +
    1 - 2y) / 2`, three passes over the stacked outputs fewer.
    """

    net: Network
    fw: ForwardPass
    X: np.ndarray
    Y: np.ndarray
    J_i: np.ndarray  # (d,)
    R: np.ndarray | None  # (d, n_H): A^H - Y, quadratic cost only
    sigmoid_terms: tuple[np.ndarray, ...] | None  # (Z^H, -Y, 1 - Y), each (n_H, d)
    tanh_terms: tuple[np.ndarray, np.ndarray] | None = None  # (Z^H / 2, 1 - 2Y), each (n_H, d)

    @classmethod
    def of(cls, net: Network, X: np.ndarray, Y: np.ndarray) -> _Base:
        fw = forward_pass(net.weights, net.biases, net.activations, X)
        J_i = example_costs(fw.Z[-1], fw.output, Y, net.output, net.cost_function)
        quadratic = net.fused is None and net.cost_function.name == "quadratic"
        R = fw.output - Y if quadratic and net.output.elementwise else None
        terms = None
        Z_H = fw.Z[-1]
        if (
            quadratic
            and _builtin(net.output, "sigmoid")
            and np.abs(Z_H).max() < SIGMOID_ONE_EXP_LIMIT
        ):
            # Transposed: the stacked arrays are (P, n_H, d), so that numpy's inner
            # loops run over the d examples rather than over a few output units.
            terms = tuple(np.ascontiguousarray(T) for T in (Z_H.T, -Y.T, 1.0 - Y.T))
            if R is not None and _tanh_form_is_exact_enough(R, Y):
                halves = (np.ascontiguousarray(0.5 * Z_H.T), np.ascontiguousarray(1.0 - 2.0 * Y.T))
                return cls(net, fw, X, Y, J_i, R, terms, halves)
        return cls(net, fw, X, Y, J_i, R, terms)


def _tanh_form_is_exact_enough(R: np.ndarray, Y: np.ndarray) -> bool:
    """May `sigma(z) - y` be taken as `(tanh(z/2) + 1 - 2y) / 2` without more noise in `J`?

    That form errs by about `u` absolutely; `((1 - y) e - y) / (1 + e)` by
    about `u y (1 - y)` (the same where `y` is mid-range), and only relatively
    where `y` is 0 or 1. So: every residual either at least `TANH_FORM_RESIDUAL`
    or next to a target at least `TANH_FORM_TARGET` from 0 and 1.
    """
    mid = np.minimum(Y, 1.0 - Y) >= TANH_FORM_TARGET
    return bool(np.all((np.abs(R) >= TANH_FORM_RESIDUAL) | mid))


def _perturbed_costs(
    base: _Base,
    L: int,
    m: np.ndarray | None,
    n: np.ndarray,
    t: np.ndarray,
    workspace: _Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cost of P networks, the p-th with `W^L[m_p, n_p]` (or `b^L[n_p]` if m is None) moved by t_p.

    The stacked `(P, d, N)` arrays go into `workspace` buffers, reused from
    chunk to chunk: fresh arrays of that size cost a page fault per 4 KiB,
    which measured more than the arithmetic itself.
    """
    net, fw = base.net, base.fw
    h, H = net.activations, net.H
    space = workspace if workspace is not None else _Workspace()
    a_prev = base.X if L == 0 else fw.A[L - 1]  # A^{L-1}, with A^{-1} = X
    # Column n_p of Z^L moves by t_p a^{L-1}_{m_p} (a weight) or by t_p (a bias).
    shift = t[:, None] * (a_prev[:, m].T if m is not None else 1.0)  # (P, d)
    z_old = fw.Z[L][:, n].T  # (P, d)
    z_col = z_old + shift
    crossed = crossings(h[L], z_col, z_old)
    real = not np.iscomplexobj(z_col)

    if L == H and base.R is not None and real:
        # Only column n of a^H changes: J_i moves by 1/2 [(a_n - y_n)^2 - (a0_n - y_n)^2].
        r_old = base.R[:, n].T  # (P, d)
        r_new = h[L].h(z_col) - base.Y[:, n].T
        J_i = base.J_i + 0.5 * (r_new - r_old) * (r_new + r_old)
        return J_i.mean(axis=-1), crossed
    if L == H or not h[L].elementwise:
        Z = space.get("Z", (t.size,) + fw.Z[L].shape, z_col.dtype)  # (P, d, N_H)
        Z[...] = fw.Z[L]
        Z[np.arange(t.size), :, n] = z_col
        A = _activate(h[L], Z, space)
        return _mean_cost(base, Z, A, space), crossed
    # a^L changes in column n only, so z^{L+1} by that change times row n of W^{L+1}.
    a_col = z_col if h[L].is_identity else h[L].h(z_col)
    dA = a_col - fw.A[L][:, n].T  # (P, d)
    rows = net.weights[L + 1][n]  # (P, N): row n_p of W^{L+1}
    if L + 1 == H and base.sigmoid_terms is not None and real:
        return _sigmoid_quadratic_costs(base, dA, rows, space), crossed
    Z = space.get("Z", (t.size,) + fw.Z[L + 1].shape, np.result_type(dA, rows))
    np.multiply(dA[:, :, None], rows[:, None, :], out=Z)
    Z += fw.Z[L + 1]  # z^{L+1} + (change of a^L_n) w^{L+1}_{n.}
    for K in range(L + 1, H + 1):
        if K > L + 1:  # A^{K-1} W^K + b^K for all P networks as one matrix product
            P, d, M = A.shape
            Z = (A.reshape(P * d, M) @ net.weights[K]).reshape(P, d, -1)
            Z += net.biases[K]
        crossed |= crossings(h[K], Z, fw.Z[K][None])
        if K == H and base.sigmoid_terms is not None and real:
            U = space.get("U", (t.size,) + base.sigmoid_terms[0].shape, np.float64)
            U[...] = Z.transpose(0, 2, 1)
            return _sigmoid_residual_costs(base, U, space), crossed
        A = _activate(h[K], Z, space)
    return _mean_cost(base, Z, A, space), crossed


_workspaces = threading.local()  # one workspace per thread (executor workers included)


def _costs_of_chunks(base: _Base, chunks: list[tuple]) -> list[tuple[np.ndarray, np.ndarray]]:
    """On a worker: `_perturbed_costs` of each chunk ``(L, m, n, t)``, in its thread's workspace."""
    space = getattr(_workspaces, "space", None)
    if space is None:
        space = _workspaces.space = _Workspace()
    return [_perturbed_costs(base, L, m, n, t, space) for L, m, n, t in chunks]


def _sigmoid_quadratic_costs(
    base: _Base, dA: np.ndarray, rows: np.ndarray, space: _Workspace
) -> np.ndarray:
    """`J` of P networks whose last hidden layer moved by `dA` (P, d) along `rows` (P, n_H)."""
    Z_H = base.sigmoid_terms[0]  # type: ignore[index]
    U = space.get("U", (dA.shape[0],) + Z_H.shape, np.float64)  # (P, n_H, d)
    if base.tanh_terms is not None:  # U = z^H / 2: the halves are exact
        half_Z, C = base.tanh_terms
        np.einsum("pk,pi->pki", 0.5 * rows, dA, out=U)
        U += half_Z
        np.tanh(U, out=U)
        U += C  # 2 (sigma(z) - y) = tanh(z/2) + 1 - 2y
        return 0.125 * np.einsum("pki,pki->pi", U, U).mean(axis=-1)
    np.einsum("pk,pi->pki", rows, dA, out=U)  # the change of z^H (einsum: 3x np.multiply's speed)
    U += Z_H
    return _sigmoid_residual_costs(base, U, space)


def _sigmoid_residual_costs(base: _Base, U: np.ndarray, space: _Workspace) -> np.ndarray:
    """`mean_i 1/2 ||sigma(z_i) - y_i||^2` per network from `z^H` (P, n_H, d), in place."""
    _, C0, C1 = base.sigmoid_terms  # type: ignore[misc]
    np.exp(U, out=U)  # e = exp(z), the only transcendental
    residual = space.get("A", U.shape, np.float64)
    np.multiply(U, C1, out=residual)
    residual += C0
    U += 1.0
    residual /= U  # sigma(z) - y = ((1 - y) e - y) / (1 + e)
    # J_i per example, then their mean (pairwise), as in _mean_cost.
    return 0.5 * np.einsum("pki,pki->pi", residual, residual).mean(axis=-1)


class _Workspace:
    """Buffers for the stacked arrays of `_perturbed_costs`, kept from one chunk to the next."""

    def __init__(self) -> None:
        self.buffers: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A (P, ...) array for `name`: a view of a kept buffer with at least P rows."""
        key = (name, shape[1:], np.dtype(dtype))
        buffer = self.buffers.get(key)
        if buffer is None or buffer.shape[0] < shape[0]:
            buffer = self.buffers[key] = np.empty(shape, dtype=dtype)
        return buffer[: shape[0]]

    def owns(self, array: np.ndarray) -> bool:
        return any(np.shares_memory(array, b) for b in self.buffers.values())


def _sigmoid_into(Z: np.ndarray, space: _Workspace) -> np.ndarray:
    """sigma(z) = e^{min(z,0)} / (1 + e^{-|z|}) into workspace buffers: both exponents <= 0
    (no overflow), relative accuracy of a few ulps like scipy's `expit`, and two
    vectorised exps run 1.7x faster than expit's scalar loop."""
    out, scratch = space.get("A", Z.shape, Z.dtype), space.get("A2", Z.shape, Z.dtype)
    np.minimum(Z, 0.0, out=out)
    np.exp(out, out=out)
    np.abs(Z, out=scratch)
    np.negative(scratch, out=scratch)
    np.exp(scratch, out=scratch)
    scratch += 1.0
    out /= scratch
    return out


def _tanh_into(Z: np.ndarray, space: _Workspace) -> np.ndarray:
    return np.tanh(Z, out=space.get("A", Z.shape, Z.dtype))


# Built-in activations computed into workspace buffers (real input; the same function as
# the reference's h to a few ulps: tanh is the same ufunc, sigmoid a faster exact formula).
_INTO = {"sigmoid": _sigmoid_into, "tanh": _tanh_into}


def _builtin(act: Any, name: str) -> bool:
    """Is `act` the built-in activation `name` (not a user's of the same name)?"""
    return act.name == name and ACTIVATIONS.get(name) is act


def _activate(act: Any, Z: np.ndarray, space: _Workspace) -> np.ndarray:
    """`h(Z)`, into workspace buffers where the activation allows it."""
    if act.is_identity:
        return Z
    into = _INTO.get(act.name)
    if into is not None and _builtin(act, act.name) and not np.iscomplexobj(Z):
        return into(Z, space)
    return act.h(Z)


def _mean_cost(base: _Base, Z: np.ndarray, A: np.ndarray, space: _Workspace):
    """`J = mean_i J_i` of each of the P networks; the quadratic cost in place in A's buffer."""
    net = base.net
    if net.fused is None and net.cost_function.name == "quadratic" and space.owns(A):
        A -= base.Y  # a - y, in the buffer (Z is not needed any more: the cost is not fused)
        # J_i per example, then their mean (pairwise): one long einsum over (i, k) adds
        # rounding noise that made the differences 3-6x less accurate.
        return 0.5 * np.einsum("pik,pik->pi", A, A).mean(axis=-1)
    return example_costs(Z, A, base.Y, net.output, net.cost_function).mean(axis=-1)


def crossings(act: Any, Z_new: np.ndarray, Z_old: np.ndarray) -> np.ndarray:
    """Per perturbation (first axis): 0 if no pre-activation crossed a non-smooth point of
    `h`, KINK if one crossed a jump of h' (ReLU), ROUGH if one crossed a jump of h'' (ELU)."""
    if act.smooth:
        return np.zeros(Z_new.shape[0], dtype=np.int8)
    crossed = (Z_new.real > 0) != (Z_old > 0)
    if crossed.ndim > 1:
        crossed = crossed.any(axis=tuple(range(1, crossed.ndim)))
    return crossed.astype(np.int8) * np.int8(KINK if act.kink else ROUGH)


def _natural_scale(net: Network, X: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Per-entry step scale: `max(|theta_j|, 1)`, divided for `W^L[m,n]` by `max_i |a^{L-1}_{im}|`.

    Moving `W^L[m,n]` by `t` moves `z^L_n` by `t a^{L-1}_m`: with inputs of
    size 1e5, a step fit for the weight alone would move `z` by hundreds.
    """
    scale = np.maximum(np.abs(theta), 1.0)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    for name, block, shape in net.layout.blocks:
        if name[0] == "W":
            L = int(name[2:])
            a_prev = X if L == 0 else fw.A[L - 1]
            reach = np.maximum(np.abs(a_prev).max(axis=0), 1.0)  # (M,)
            scale[block] /= np.repeat(reach, shape[1])
    return scale


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
    return net.check_data(X, Y)


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
