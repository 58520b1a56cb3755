"""Finite differences in `z^L`: `delta^L = dJ_i/dz^L` measured without any backprop equation.

`delta^L` is defined as `dJ/dz^L`, so it can be measured directly: perturb
one pre-activation `z^L_n` of one example, run the rest of the forward pass
from layer `L`, and difference that example's cost `J_i`. This sits beside
`network_fd` (differences in `W^L`, `b^L`) and uses its engine; the
equation check (`gradcheck.oracle.equations`) compares the article's deltas with
these.

Batch arrays hold per-example deltas: `Delta[L][i, n]` is `delta^L_n` of
example `i`, that is `dJ_i/dz^L_n`; the batch gradient is
`dJ/dZ^L[i, n] = Delta[L][i, n] / d`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gradcheck.fd.kinks import differentiate_across_kinks
from gradcheck.fd.network import DEFAULT_MEMORY_LIMIT, check_memory_limit
from gradcheck.fd.noise import EPS, ROUNDING_ULPS
from gradcheck.fd.numerical import METHODS
from gradcheck.fd.perturbed import CACHE_CHUNK, crossings
from gradcheck.validate import check_method, checked_data
from reference import ForwardPass, Network, example_costs, forward_pass

__all__ = [
    "DeltaEvaluator",
    "NumericalDeltas",
    "cost_rounding_scale",
    "measured_deltas",
    "numerical_deltas",
    "perturbed_example_costs",
    "unit_rounding",
    "z_size",
]


class NumericalDeltas(NamedTuple):
    """`numerical_deltas`' result; unpacks as ``deltas, error, unverifiable``."""

    deltas: list[np.ndarray]  # Delta[L], (d, N_L): dJ_i/dz^L_n by finite differences
    error: list[np.ndarray]  # the estimated |error| of each entry, same shapes
    unverifiable: list[np.ndarray]  # True where the stencil straddles a ReLU kink


def numerical_deltas(
    net: Network,
    X: Any,
    Y: Any,
    *,
    method: str = "richardson",
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> NumericalDeltas:
    """`delta^L = dJ_i/dz^L` of every example and layer by finite differences in `z^L` itself.

    For each entry `Z^L[i, n]` and each offset `t` of the stencil, the
    pre-activation `z^L_n` of example `i` moves by `t`, the rest of the
    forward pass runs from layer `L` (`a^L = h(z^L)`, then layers
    `L+1 .. H`) for that example only, and its cost `J_i` is differenced.
    No backprop equation is used. All perturbations of a layer run as one
    stacked array computation, in chunks under `memory_limit`.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    method : {"richardson", "central", "complex"}
        As in `network_numerical_gradient`; steps are relative to
        ``max(|z|, 1)``.
    memory_limit : int
        Bytes one chunk of stacked perturbed activations may take.

    Returns
    -------
    NumericalDeltas
        ``(deltas, error, unverifiable)``: three lists over ``L = 0 .. H`` of
        arrays of shape (d, N_L). The error estimate is `combine`'s
        (truncation + rounding) plus rounding relative to the size of the
        terms `J_i` is computed from, not only `|J_i|` (a cost near zero is
        computed from larger terms). Where a stencil crossed a ReLU kink (in
        layer `L` or a later one) even at the smallest retry step, the entry
        is unverifiable by differences.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> deltas, error, unverifiable = numerical_deltas(net, X, Y)
    >>> from gradcheck.tolerance.independent import equation_deltas
    >>> expected = equation_deltas(net, X, Y)
    >>> all(np.allclose(D, E, rtol=1e-9, atol=1e-12) for D, E in zip(deltas, expected))
    True
    """
    X, Y = checked_data(net, X, Y)
    check_method(method, METHODS)
    memory_limit = check_memory_limit(memory_limit)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    return measured_deltas(net, X, fw, Y, method=method, memory_limit=memory_limit)[0]


def measured_deltas(
    net: Network,
    X: np.ndarray,
    fw: ForwardPass,
    Y: np.ndarray,
    *,
    method: str,
    memory_limit: int,
) -> tuple[NumericalDeltas, np.ndarray]:
    """The deltas by differences, and the rounding scale of each example's `J_i`.

    For layer `L` the function differenced is `F(Z^L) = sum_i J_i - sum_i J_i(Z^L)`
    measured from the unperturbed pass, whose partial derivative in
    `Z^L[i, n]` is exactly `delta^L_n` of example `i`; `finite_diff`'s engine
    does the rest, with kinks handled as in `network_fd`.
    """
    result = NumericalDeltas([], [], [])
    steps = []
    for L in range(net.H + 1):
        evaluate = DeltaEvaluator(net, fw, Y, L, memory_limit=memory_limit)
        theta = fw.Z[L].ravel()
        fd = differentiate_across_kinks(
            evaluate, theta, method=method, scale=np.maximum(np.abs(theta), 1.0), f0=0.0
        )
        shape = fw.Z[L].shape
        result.deltas.append(fd.gradient.reshape(shape))
        result.error.append(fd.error.reshape(shape))
        result.unverifiable.append(fd.unverifiable.reshape(shape))
        steps.append(fd.step.reshape(shape))
    # Each example's J_i is computed from terms that may be far larger than
    # itself (a cost near 0): allow for their rounding too.
    J_size = cost_rounding_scale(net, X, fw, Y, result.deltas)
    for error, step in zip(result.error, steps, strict=True):
        error += unit_rounding(step, method) * J_size[:, None]
    return result, J_size


def cost_rounding_scale(
    net: Network, X: np.ndarray, fw: ForwardPass, Y: np.ndarray, Delta: list[np.ndarray]
) -> np.ndarray:
    """Per example, the size of the terms `J_i` is computed from: the scale of its rounding error.

    `combine` takes the rounding of `f` as relative to `|f|`; but a cost near
    zero (cross-entropy of a confident right answer, or a sum of terms of both
    signs) is computed from terms far larger than itself. Rounding each
    `z^K_n` by `eps` times its terms' size `|a^{K-1}| |W^K| + |b^K|` moves
    `J_i` by `|delta^K_n|` times that; the cost adds terms of the size of
    `|a^H| + |y|`. `Delta` are measured deltas (no backprop equation is used).
    """
    size = np.abs(example_costs(fw.Z[-1], fw.A[-1], Y, net.output, net.cost_function))
    size += (np.abs(fw.A[-1]) + np.abs(Y)).sum(axis=1)
    for K, D in enumerate(Delta):
        size += (np.abs(D) * z_size(net, X, fw, K)).sum(axis=1)
    return size


def z_size(net: Network, X: np.ndarray, fw: ForwardPass, L: int) -> np.ndarray:
    """`|A^{L-1}| |W^L| + |b^L|`: the size of the terms each `z^L_n` is summed from, (d, N_L)."""
    a_prev = X if L == 0 else fw.A[L - 1]  # A^{L-1}, with A^{-1} = X (never stored at index -1)
    return np.abs(a_prev) @ np.abs(net.weights[L]) + np.abs(net.biases[L])


def unit_rounding(step: np.ndarray, method: str) -> np.ndarray:
    """The rounding error of a derivative at `step` per unit of rounding in `f`'s values."""
    if method == "complex":
        return np.zeros_like(step)  # no subtraction, no cancellation
    # two values, each off by ROUNDING_ULPS eps, over twice the step
    return 2 * ROUNDING_ULPS * EPS / step


class DeltaEvaluator:
    """`F(Z^L) = sum_i [J_i(Z^L) - J_i]` at moved pre-activations, for `differentiate_across_kinks`.

    ``along(index, step)`` moves `Z^L[i, n]` (flat index ``i * N_L + n``) by each
    `step` and runs that example alone through layers `L .. H`; moves that cross
    a kink come back NaN unless ``mark_crossings=False``, their flags in ``last_crossed``.
    """

    def __init__(self, net: Network, fw: ForwardPass, Y: np.ndarray, L: int, *, memory_limit: int):
        self.net, self.fw, self.Y, self.L = net, fw, Y, L
        self.memory_limit = memory_limit
        self.theta = fw.Z[L].ravel()
        self.J = example_costs(fw.Z[-1], fw.output, Y, net.output, net.cost_function)
        self.count = 0
        self.last_crossed = np.zeros(0, dtype=np.int8)

    def at(self, points: np.ndarray) -> np.ndarray:
        """F at whole moved `Z^L` matrices (the engine's noise probe)."""
        net, L = self.net, self.L
        values = []
        for point in points:
            Z = point.reshape(self.fw.Z[L].shape)
            A = Z if net.activations[L].is_identity else net.activations[L].h(Z)
            for K in range(L + 1, net.H + 1):
                Z = A @ net.weights[K] + net.biases[K]  # z^K = (W^K)^T a^{K-1} + b^K
                A = Z if net.activations[K].is_identity else net.activations[K].h(Z)
            J = example_costs(Z, A, self.Y, net.output, net.cost_function)
            values.append((J - self.J).sum())
        self.count += len(points)
        return np.array(values)

    def along(
        self,
        index: np.ndarray,
        step: np.ndarray,
        *,
        imaginary: bool = False,
        mark_crossings: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """F with `Z^L` moved along each flat `index` by its `step`, and the steps taken."""
        if imaginary:
            taken = np.asarray(step, dtype=np.float64)
            t = 1j * taken
        else:
            taken = (self.theta[index] + step) - self.theta[index]  # the steps actually taken
            t = taken
        N = self.fw.Z[self.L].shape[1]
        i, n = index // N, index % N
        per_point = max(self.net.sizes[self.L + 1 :]) * 8 * (6 if imaginary else 3)
        chunk = max(1, min(self.memory_limit, CACHE_CHUNK) // per_point)
        values = np.empty(index.size, dtype=t.dtype)
        crossed = np.empty(index.size, dtype=np.int8)
        for start in range(0, index.size, chunk):
            part = slice(start, start + chunk)
            J, crossed[part] = perturbed_example_costs(
                self.net, self.fw, self.Y, self.L, i[part], n[part], t[part]
            )
            values[part] = J - self.J[i[part]]
        self.count += index.size
        self.last_crossed = crossed
        if mark_crossings and not imaginary:
            values = np.where(crossed > 0, np.nan, values)
        return values, taken


def perturbed_example_costs(
    net: Network,
    fw: ForwardPass,
    Y: np.ndarray,
    L: int,
    i: np.ndarray,
    n: np.ndarray,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The cost `J_i` of P single examples, the p-th with `z^L_{n_p}` of example `i_p` moved by t_p.

    Every array has a row per perturbation (P, N_K): each row is one
    example's forward pass from layer `L` on.
    """
    acts, H = net.activations, net.H
    z_old = fw.Z[L][i, n]  # z^L_n of example i, one per perturbation
    z_new = z_old + t
    crossed = crossings(acts[L], z_new, z_old)
    if L == H or not acts[L].elementwise:
        Z = fw.Z[L][i].astype(z_new.dtype)  # z^L of each perturbed example, (P, N_H)
        Z[np.arange(t.size), n] = z_new
        A = Z if acts[L].is_identity else acts[L].h(Z)  # a^H = h(z^H)
    else:
        a_old = z_old if acts[L].is_identity else acts[L].h(z_old)
        a_new = z_new if acts[L].is_identity else acts[L].h(z_new)  # a^L_n = h(z^L_n)
        # a^L changes in entry n only, so z^{L+1} = (W^{L+1})^T a^L + b^{L+1}
        # changes by that change times row n of W^{L+1}.
        Z = fw.Z[L + 1][i] + (a_new - a_old)[:, None] * net.weights[L + 1][n]
        for K in range(L + 1, H + 1):
            if K > L + 1:
                Z = A @ net.weights[K] + net.biases[K]  # z^K = (W^K)^T a^{K-1} + b^K, a row each
            crossed |= crossings(acts[K], Z, fw.Z[K][i])
            A = Z if acts[K].is_identity else acts[K].h(Z)  # a^K = h(z^K)
    J = example_costs(Z, A, Y[i], net.output, net.cost_function)  # J_i of each perturbed example
    return J, crossed
