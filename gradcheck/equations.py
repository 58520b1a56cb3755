"""Backpropagation checked equation by equation: each step of the proof against finite differences.

A gradient checker usually compares only the final `dJ/dW^L`. This module
checks the derivation itself, so that a wrong result is pinned to the step
that went wrong (NOTATION.md):

    delta^H = dJ/da^H ⊙ h'(z^H)                (softmax: J_h(z^H)^T dJ/da^H)
    delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)   for L = H-1 .. 0
    dJ/dW^L = a^{L-1} (delta^L)^T               (averaged over the batch)
    dJ/db^L = delta^L                           (averaged over the batch)

`delta^L` is defined as `dJ/dz^L`, so it can be measured directly: perturb
one pre-activation `z^L_n` of one example, run the rest of the forward pass
from layer `L`, and difference that example's cost `J_i`
(`numerical_deltas`). Batch arrays hold per-example deltas: `Delta[L][i, n]`
is `delta^L_n` of example `i`, that is `dJ_i/dz^L_n`; the batch gradient is
`dJ/dZ^L[i, n] = Delta[L][i, n] / d`.

`check_equations` gives one row per equation and layer, each compared with
finite differences (and, for a candidate's own numbers, with the equation
applied to its inputs), and says in words which step first goes wrong.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from reference import Activation, Gradients, Network
from reference.network import ForwardPass, example_costs, forward_pass

from .compare import FD_SAFETY  # a finite difference may be off by this times its estimate
from .data import random_targets
from .finite_diff import EPS, METHODS, ROUNDING_ULPS
from .network_fd import (
    DEFAULT_MEMORY_LIMIT,
    check_memory_limit,
    crossings,
    differentiate_across_kinks,
    network_numerical_gradient,
)
from .validate import check_int, check_network

__all__ = [
    "EQUATION_BATCH",
    "EQUATION_SIZES",
    "Comparison",
    "EquationReport",
    "EquationRow",
    "NumericalDeltas",
    "check_equations",
    "equation_deltas",
    "format_equation_table",
    "localize_from_gradients",
    "numerical_deltas",
    "run_equation_checks",
]

ROUNDING_UNITS = 64.0  # a backprop's own rounding: 64 eps of its dtype times the layer's scale
EPS64 = float(np.finfo(np.float64).eps)
CACHE_CHUNK = 8 * 2**20  # bytes: stacked perturbations in chunks this size stay in cache
#: the main job's net: two hidden layers, so the recursion appears twice
EQUATION_SIZES = (4, 8, 8, 3)
EQUATION_BATCH = 8  # its batch size d
MAX_TABLE_ROWS = 36  # a report prints at most this many rows (a screenful)

OUTPUT, RECURSION, WEIGHTS, BIASES = "output", "recursion", "weights", "biases"
OK, FAIL, UPSTREAM, UNVERIFIABLE = "ok", "FAIL", "upstream", "unverifiable"


# ------------------------------------------------------------ the equations


def equation_deltas(net: Network, X: Any, Y: Any) -> list[np.ndarray]:
    """The per-example deltas from the article's equations.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
        The examples, one per row.
    Y : array_like, shape (d, n_H)
        Their targets.

    Returns
    -------
    list of ndarray, ``Delta[L]`` of shape (d, N_L) for ``L = 0 .. H``
        ``Delta[L][i, n]`` is `delta^L_n = dJ_i/dz^L_n` of example `i`:
        `delta^H = dJ/da^H ⊙ h'(z^H)` (`J_h(z^H)^T dJ/da^H` for softmax; the
        fused form, e.g. `a^H - y`, where the output and cost have one), then
        `delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)`. Not divided by `d`.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([3, 5, 2], seed=0)
    >>> [D.shape for D in equation_deltas(net, np.ones((4, 3)), np.zeros((4, 2)))]
    [(4, 5), (4, 2)]
    """
    X, Y = _checked_data(net, X, Y)
    return _equation_deltas(net, forward_pass(net.weights, net.biases, net.activations, X), Y)


def _equation_deltas(net: Network, fw: ForwardPass, Y: np.ndarray) -> list[np.ndarray]:
    H, h = net.H, net.activations
    Delta: list[np.ndarray] = [np.empty(0)] * (H + 1)
    Delta[H] = _output_delta(net, fw, Y)
    for L in range(H - 1, -1, -1):
        # A row per example, so W^{L+1} delta^{L+1} is the row Delta^{L+1} (W^{L+1})^T.
        Delta[L] = (Delta[L + 1] @ net.weights[L + 1].T) * _h_prime(h[L], fw.Z[L])  # delta^L
    return Delta


def _output_delta(net: Network, fw: ForwardPass, Y: np.ndarray) -> np.ndarray:
    Z, A = fw.Z[net.H], fw.A[net.H]
    fused = net.fused
    if fused is not None:
        return fused.delta(Z, A, Y)  # the fused form, e.g. delta^H = a^H - y
    G = net.cost_function.dJ_da(A, Y)  # dJ/da^H
    if not net.output.elementwise:
        return np.einsum("ikn,ik->in", _jacobian(net.output, Z), G)  # J_h(z^H)^T dJ/da^H
    return G * _h_prime(net.output, Z)  # dJ/da^H ⊙ h'(z^H)


def _h_prime(act: Activation, Z: np.ndarray) -> np.ndarray:
    """`h'(z)` of an element-wise activation (a Network never holds one without `h'`)."""
    assert act.h_prime is not None
    return act.h_prime(Z)


def _jacobian(act: Activation, Z: np.ndarray) -> np.ndarray:
    """`J_h(z)` of a vector-valued activation, a (N, N) matrix per row of `Z`."""
    if act.jacobian is None:
        raise ValueError(f"output activation {act.name!r} is not element-wise and has no Jacobian")
    return act.jacobian(Z)


def _magnitudes(
    net: Network, fw: ForwardPass, Y: np.ndarray, Delta: list[np.ndarray]
) -> list[np.ndarray]:
    """Per entry, the size of the terms `delta^L_n` is built from: the scale of its rounding error.

    At the output, `a - y` (inside every built-in `dJ/da^H`) loses
    `eps (|a| + |y|)`, not `eps |a - y|`; below, the recursion with every term
    in absolute value, `(|W^{L+1}| |delta^{L+1}|) ⊙ |h'(z^L)|`.
    """
    H, h = net.H, net.activations
    A = fw.A[H]
    if net.fused is not None or not net.output.elementwise:
        slope: np.ndarray | float = 1.0 if net.fused is not None else np.abs(A)
    else:
        slope = np.abs(_h_prime(net.output, fw.Z[H]))
    size: list[np.ndarray] = [np.empty(0)] * (H + 1)
    size[H] = np.abs(Delta[H]) + (np.abs(A) + np.abs(Y)) * slope
    for L in range(H - 1, -1, -1):
        size[L] = (size[L + 1] @ np.abs(net.weights[L + 1]).T) * np.abs(_h_prime(h[L], fw.Z[L]))
    return size


# --------------------------------------------------- finite differences in z


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
    >>> expected = equation_deltas(net, X, Y)
    >>> all(np.allclose(D, E, rtol=1e-9, atol=1e-12) for D, E in zip(deltas, expected))
    True
    """
    X, Y = _checked_data(net, X, Y, method=method)
    memory_limit = check_memory_limit(memory_limit)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    return _numerical_deltas(net, X, fw, Y, method, memory_limit)[0]


def _numerical_deltas(
    net: Network, X: np.ndarray, fw: ForwardPass, Y: np.ndarray, method: str, memory_limit: int
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
        evaluate = _DeltaEvaluator(net, fw, Y, L, memory_limit=memory_limit)
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
    J_size = _cost_rounding_scale(net, X, fw, Y, result.deltas)
    for error, step in zip(result.error, steps, strict=True):
        error += _unit_rounding(step, method) * J_size[:, None]
    return result, J_size


def _cost_rounding_scale(
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
        size += (np.abs(D) * _z_size(net, X, fw, K)).sum(axis=1)
    return size


def _z_size(net: Network, X: np.ndarray, fw: ForwardPass, L: int) -> np.ndarray:
    """`|A^{L-1}| |W^L| + |b^L|`: the size of the terms each `z^L_n` is summed from, (d, N_L)."""
    a_prev = X if L == 0 else fw.A[L - 1]  # A^{L-1}, with A^{-1} = X (never stored at index -1)
    return np.abs(a_prev) @ np.abs(net.weights[L]) + np.abs(net.biases[L])


def _unit_rounding(step: np.ndarray, method: str) -> np.ndarray:
    """The rounding error of a derivative at `step` per unit of rounding in `f`'s values."""
    if method == "complex":
        return np.zeros_like(step)  # no subtraction, no cancellation
    return 2 * ROUNDING_ULPS * EPS / step  # two values, each off by ROUNDING_ULPS eps, over 2h


class _DeltaEvaluator:
    """`F(Z^L) = sum_i [J_i(Z^L) - J_i]` at moved pre-activations, for `differentiate_across_kinks`.

    ``along(index, h)`` moves `Z^L[i, n]` (flat index ``i * N_L + n``) by each
    `h` and runs that example alone through layers `L .. H`; moves that cross
    a kink come back NaN while ``mark_crossings``, their flags in ``last_crossed``.
    """

    def __init__(self, net: Network, fw: ForwardPass, Y: np.ndarray, L: int, *, memory_limit: int):
        self.net, self.fw, self.Y, self.L = net, fw, Y, L
        self.memory_limit = memory_limit
        self.theta = fw.Z[L].ravel()
        self.J = example_costs(fw.Z[-1], fw.output, Y, net.output, net.cost_function)
        self.count = 0
        self.mark_crossings = True
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

    def along(self, index: np.ndarray, h: np.ndarray, *, imaginary: bool = False):
        if imaginary:
            t, taken = 1j * np.asarray(h, dtype=np.float64), np.asarray(h, dtype=np.float64)
        else:
            taken = (self.theta[index] + h) - self.theta[index]  # the steps actually taken
            t = taken
        N = self.fw.Z[self.L].shape[1]
        i, n = index // N, index % N
        per_point = max(self.net.sizes[self.L + 1 :]) * 8 * (6 if imaginary else 3)
        chunk = max(1, min(self.memory_limit, CACHE_CHUNK) // per_point)
        values = np.empty(index.size, dtype=t.dtype)
        crossed = np.empty(index.size, dtype=np.int8)
        for start in range(0, index.size, chunk):
            part = slice(start, start + chunk)
            J, crossed[part] = _perturbed_example_costs(
                self.net, self.fw, self.Y, self.L, i[part], n[part], t[part]
            )
            values[part] = J - self.J[i[part]]
        self.count += index.size
        self.last_crossed = crossed
        if self.mark_crossings and not imaginary:
            values = np.where(crossed > 0, np.nan, values)
        return values, taken


def _perturbed_example_costs(
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
    h, H = net.activations, net.H
    z_old = fw.Z[L][i, n]  # z^L_n of example i, one per perturbation
    z_new = z_old + t
    crossed = crossings(h[L], z_new, z_old)
    if L == H or not h[L].elementwise:
        Z = fw.Z[L][i].astype(z_new.dtype)  # z^L of each perturbed example, (P, N_H)
        Z[np.arange(t.size), n] = z_new
        A = Z if h[L].is_identity else h[L].h(Z)  # a^H = h(z^H)
    else:
        a_old = z_old if h[L].is_identity else h[L].h(z_old)
        a_new = z_new if h[L].is_identity else h[L].h(z_new)  # a^L_n = h(z^L_n)
        # a^L changes in entry n only, so z^{L+1} = (W^{L+1})^T a^L + b^{L+1}
        # changes by that change times row n of W^{L+1}.
        Z = fw.Z[L + 1][i] + (a_new - a_old)[:, None] * net.weights[L + 1][n]
        for K in range(L + 1, H + 1):
            if K > L + 1:
                Z = A @ net.weights[K] + net.biases[K]  # z^K = (W^K)^T a^{K-1} + b^K, a row each
            crossed |= crossings(h[K], Z, fw.Z[K][i])
            A = Z if h[K].is_identity else h[K].h(Z)  # a^K = h(z^K)
    J = example_costs(Z, A, Y[i], net.output, net.cost_function)  # J_i of each perturbed example
    return J, crossed


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Comparison:
    """A quantity against what it should be, entry by entry, under a derived tolerance.

    ``entry`` names the worst entry (largest error/tolerance ratio), e.g.
    ``"Delta^1[3,2]"`` (example 3, neuron 2) or ``"W^0[1,4]"``; ``value``
    and ``expected`` are the two numbers there, ``error`` their distance and
    ``tolerance`` its bound.
    """

    against: str  # "FD" (finite differences) or "eq" (the equation applied to the same inputs)
    entry: str | None
    value: float
    expected: float
    error: float
    tolerance: float
    n_failed: int
    n_checked: int
    n_unverifiable: int

    @property
    def passed(self) -> bool:
        """No entry exceeds its tolerance."""
        return self.n_failed == 0

    @property
    def ratio(self) -> float:
        """``error / tolerance`` at the worst entry: at most 1 passes."""
        return self.error / self.tolerance if self.tolerance > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "against": self.against,
            "entry": self.entry,
            "value": self.value,
            "expected": self.expected,
            "error": self.error,
            "tolerance": self.tolerance,
            "ratio": self.ratio,
            "passed": self.passed,
            "n_failed": self.n_failed,
            "n_checked": self.n_checked,
            "n_unverifiable": self.n_unverifiable,
        }


@dataclass(frozen=True)
class EquationRow:
    """One equation at one layer.

    ``numerical`` compares the quantity under test with finite differences;
    ``step`` (only for a candidate's own numbers) compares it with the
    equation applied to the candidate's inputs, e.g. its `delta^L` with
    `(W^{L+1} delta^{L+1}_cand) ⊙ h'(z^L)`. ``verdict`` is ``"ok"``,
    ``"FAIL"``, ``"upstream"`` (the step holds on the candidate's numbers, but
    they inherit an error from an earlier step) or ``"unverifiable"`` (every
    entry straddles a ReLU kink).
    """

    kind: str  # "output", "recursion", "weights", "biases"
    layer: int  # L; for the recursion, the layer it computes (from L+1)
    equation: str
    numerical: Comparison
    step: Comparison | None
    verdict: str

    @property
    def layer_label(self) -> str:
        """``"2"``, or ``"2 -> 1"`` for the recursion from layer 2 to layer 1."""
        return f"{self.layer + 1} -> {self.layer}" if self.kind == RECURSION else str(self.layer)

    @property
    def governing(self) -> Comparison:
        """The comparison that decides the verdict: the worse of the two (by ratio)."""
        candidates = [c for c in (self.step, self.numerical) if c is not None]
        failing = [c for c in candidates if not c.passed]
        return max(failing or candidates, key=lambda c: c.ratio)

    @property
    def error(self) -> float:
        """The worst entry's error (of the governing comparison)."""
        return self.governing.error

    @property
    def tolerance(self) -> float:
        """The worst entry's tolerance (of the governing comparison)."""
        return self.governing.tolerance

    @property
    def ratio(self) -> float:
        """``error / tolerance``: at most 1 passes."""
        return self.governing.ratio

    @property
    def n_unverifiable(self) -> int:
        """Entries no finite difference can verify (ReLU kinks)."""
        return self.numerical.n_unverifiable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "kind": self.kind,
            "layer": self.layer,
            "layer_label": self.layer_label,
            "equation": self.equation,
            "verdict": self.verdict,
            "error": self.error,
            "tolerance": self.tolerance,
            "ratio": self.ratio,
            "entry": self.governing.entry,
            "numerical": self.numerical.to_dict(),
            "step": None if self.step is None else self.step.to_dict(),
        }


@dataclass(frozen=True)
class EquationReport:
    """`check_equations`' verdict: one row per equation and layer, in the order of the derivation.

    Rows: `delta^H`; the recursion `L+1 -> L` for ``L = H-1 .. 0``; then
    `dJ/dW^L` and `dJ/db^L` for ``L = H .. 0``.
    """

    rows: list[EquationRow]
    sizes: tuple[int, ...]
    d: int
    configuration: str  # "hidden/output/cost"
    checked: str  # what was under test, in words
    gradients_only: bool  # a candidate's gradients without its deltas
    #: with a candidate: where the network's own equations fail (a wrong custom h'), else None
    broken_equation: str | None = None

    @property
    def passed(self) -> bool:
        """Every row is ok (or unverifiable at kinks), and the equations themselves hold."""
        return self.broken_equation is None and all(
            row.verdict in (OK, UNVERIFIABLE) for row in self.rows
        )

    @property
    def first_failure(self) -> EquationRow | None:
        """The first row, in the order of the derivation, whose verdict is FAIL."""
        return next((row for row in self.rows if row.verdict == FAIL), None)

    @property
    def n_unverifiable(self) -> int:
        """Entries no finite difference can verify (ReLU kinks), over all rows."""
        return sum(row.n_unverifiable for row in self.rows)

    @property
    def explanation(self) -> str:
        """Which equation first goes wrong, and at which layer, in words."""
        return _explain(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        failure = self.first_failure
        return {
            "sizes": list(self.sizes),
            "d": self.d,
            "configuration": self.configuration,
            "checked": self.checked,
            "passed": self.passed,
            "explanation": self.explanation,
            "first_failure": None if failure is None else failure.to_dict(),
            "broken_equation": self.broken_equation,
            "n_unverifiable": self.n_unverifiable,
            "rows": [row.to_dict() for row in self.rows],
        }

    def __str__(self) -> str:
        return _format_report(self)


# ----------------------------------------------------------------- the check


def check_equations(
    net: Network,
    X: Any,
    Y: Any,
    *,
    deltas: Sequence[Any] | None = None,
    gradients: Any = None,
    method: str = "richardson",
) -> EquationReport:
    """Check backpropagation equation by equation against finite differences.

    Without `deltas` and `gradients`, this confirms the article's equations
    themselves on `net`: every `delta^L` from the equations against
    `dJ_i/dz^L` by finite differences in `z^L` (`numerical_deltas`), and
    every `dJ/dW^L = (1/d) (A^{L-1})^T Delta^L`, `dJ/db^L = (1/d) 1^T Delta^L`
    against finite differences in `W^L`, `b^L`
    (`network_numerical_gradient`). With a candidate's `deltas` and/or
    `gradients`, it checks those instead, each step also as the candidate's
    own step (`delta^L_cand` against `(W^{L+1} delta^{L+1}_cand) ⊙ h'(z^L)`,
    `dJ/dW^L_cand` against `(1/d) (A^{L-1})^T Delta^L_cand`), so that a wrong
    step is pinned where it happens even though everything computed from it
    is then wrong too.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    deltas : list of array_like, ``deltas[L]`` of shape (d, N_L), optional
        A candidate's per-example deltas, `delta^L_n` of example `i` at
        ``[i, n]`` (not divided by `d`); any real dtype (float32 welcome:
        tolerances scale with its eps).
    gradients : Gradients, (dJ_dW, dJ_db) pair or dict, optional
        A candidate's batch-averaged gradients (``weights[L]`` of shape
        (M, N), ``biases[L]`` of shape (N,)); ``{"weights": ..., "biases": ...}``
        works too.
    method : {"richardson", "central", "complex"}
        The finite differences.

    Returns
    -------
    EquationReport
        ``.rows`` (equation, layer, worst error, tolerance, verdict),
        ``.passed``, ``.first_failure``, ``.explanation``, ``.to_dict()``;
        ``str(report)`` is a compact table.

    Notes
    -----
    Tolerances are derived: against finite differences, ``10 x`` their error
    estimate (with rounding relative to the size of the cost's terms, not only
    `|J|`) plus the rounding of the quantity under test,
    ``64 eps_dtype`` times the layer's scale (the largest entry of that
    equation's terms taken in absolute value), with ``eps_dtype`` the eps of
    the candidate's dtype; a candidate's own step, the rounding term alone.
    Exact zeros and tiny entries are judged on the layer's scale, never their
    own. Entries whose difference straddles a ReLU kink (or whose `z` lies
    within rounding of one, where `h'` is ambiguous) are unverifiable, not
    failed.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([3, 4, 4, 2], hidden="tanh", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> check_equations(net, X, Y).passed
    True
    >>> deltas = equation_deltas(net, X, Y)
    >>> deltas[0] = deltas[0] * 2.0                     # a wrong recursion into layer 0
    >>> check_equations(net, X, Y, deltas=deltas).explanation.split(":")[0]
    'delta^1 matches, delta^0 does not'
    """
    X, Y = _checked_data(net, X, Y, method=method)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    candidate_deltas, eps_deltas = _checked_deltas(deltas, net, X.shape[0])
    candidate_gradients, eps_gradients = _checked_gradients(gradients, net)
    numerical, J_size = _numerical_deltas(net, X, fw, Y, method, DEFAULT_MEMORY_LIMIT)
    fd = network_numerical_gradient(net, X, Y, method=method)
    # J = (1/d) sum_i J_i is computed from terms of the size of J_size, which can be
    # far larger than J (a cost near 0): allow for their rounding too.
    unit = _unit_rounding(fd.steps, method) * float(J_size.mean())
    weights_rounding, biases_rounding = net.layout.split(unit)
    equation = _equation_deltas(net, fw, Y)
    eps = max(eps_deltas, eps_gradients)  # a gradient built from float32 deltas is float32
    ambiguous = _ambiguous(net, X, fw, eps)
    setup = _Setup(
        net=net,
        X=X,
        fw=fw,
        equation=equation,
        size=_magnitudes(net, fw, Y, equation),
        tested=candidate_deltas if candidate_deltas is not None else equation,
        candidate_deltas=candidate_deltas is not None,
        eps_deltas=eps_deltas,
        eps=eps,
        numerical=numerical,
        fd_value=(fd.weights, fd.biases),
        fd_error=(
            [e + r for e, r in zip(fd.error.weights, weights_rounding, strict=True)],
            [e + r for e, r in zip(fd.error.biases, biases_rounding, strict=True)],
        ),
        fd_unverifiable=(fd.unverifiable.weights, fd.unverifiable.biases),
        ambiguous=ambiguous,
        tainted=_tainted(ambiguous),
    )
    rows, delta_wrong = _delta_rows(setup)
    rows += _gradient_rows(setup, candidate_gradients, delta_wrong)
    broken_equation = None
    if candidate_deltas is not None or candidate_gradients is not None:
        broken_equation = _first_broken_equation(setup)
    return EquationReport(
        rows=rows,
        sizes=net.sizes,
        d=X.shape[0],
        configuration=f"{net.hidden.name}/{net.output.name}/{net.cost_function.name}",
        checked=_checked_words(deltas, gradients),
        gradients_only=candidate_gradients is not None and candidate_deltas is None,
        broken_equation=broken_equation,
    )


@dataclass(frozen=True)
class _Setup:
    """Everything the rows are judged from (one network, one batch)."""

    net: Network
    X: np.ndarray
    fw: ForwardPass
    equation: list[np.ndarray]  # Delta^L from the equations (float64)
    size: list[np.ndarray]  # the size of the terms of each delta^L_n (rounding scale)
    tested: list[np.ndarray]  # the deltas under test: the candidate's, or the equations'
    candidate_deltas: bool
    eps_deltas: float  # eps of the deltas' dtype
    eps: float  # eps of the coarsest dtype under test
    numerical: NumericalDeltas
    fd_value: tuple[list[np.ndarray], list[np.ndarray]]  # dJ/dW^L, dJ/db^L by differences
    fd_error: tuple[list[np.ndarray], list[np.ndarray]]
    fd_unverifiable: tuple[list[np.ndarray], list[np.ndarray]]
    ambiguous: list[np.ndarray]  # where a ReLU-like h'(z^L) hangs on rounding
    tainted: list[np.ndarray]  # deltas an ambiguous h' may rightly change

    def delta_tolerance(self, L: int, eps: float) -> np.ndarray:
        """|delta^L - dJ_i/dz^L by differences| allowed: 10x the estimate + rounding at `eps`."""
        scale = max(_max(self.size[L]), _max(self.equation[L]))
        return FD_SAFETY * self.numerical.error[L] + ROUNDING_UNITS * eps * scale

    def delta_unverifiable(self, L: int) -> np.ndarray:
        return self.numerical.unverifiable[L] | self.tainted[L]


def _delta_name(L: int) -> Callable[[tuple[int, ...]], str]:
    return lambda index: f"Delta^{L}[{index[0]},{index[1]}]"


def _delta_rows(s: _Setup) -> tuple[list[EquationRow], list[bool]]:
    """The output equation and every recursion step, `delta^H` down to `delta^0`."""
    net, H, h = s.net, s.net.H, s.net.activations
    rows: list[EquationRow] = []
    wrong = [False] * (H + 1)  # the deltas under test disagree with dJ_i/dz^L
    for L in range(H, -1, -1):
        tested = s.tested[L]
        against_fd = _compare(
            tested,
            s.numerical.deltas[L],
            s.delta_tolerance(L, s.eps_deltas),
            s.delta_unverifiable(L),
            _delta_name(L),
            "FD",
        )
        step = None
        if s.candidate_deltas:  # the candidate's own step, from its own delta^{L+1}
            if L == H:
                expected = s.equation[H]  # delta^H from the output equation
                scale = max(_max(s.size[H]), _max(expected))
            else:
                slope = _h_prime(h[L], s.fw.Z[L])  # h'(z^L)
                W, delta_next = net.weights[L + 1], s.tested[L + 1]
                expected = (delta_next @ W.T) * slope  # (W^{L+1} delta^{L+1}) ⊙ h'(z^L), a row each
                scale = _max((np.abs(delta_next) @ np.abs(W).T) * np.abs(slope))
            rounding = np.full(expected.shape, ROUNDING_UNITS * s.eps_deltas * scale)
            step = _compare(tested, expected, rounding, s.ambiguous[L], _delta_name(L), "eq")
        kind = OUTPUT if L == H else RECURSION
        upstream = L < H and wrong[L + 1]
        verdict = _verdict(step, against_fd, upstream)
        rows.append(EquationRow(kind, L, _equation_text(net, kind, L), against_fd, step, verdict))
        wrong[L] = not against_fd.passed
    return rows, wrong


def _gradient_rows(
    s: _Setup,
    candidate: tuple[list[np.ndarray], list[np.ndarray]] | None,
    delta_wrong: list[bool],
) -> list[EquationRow]:
    """`dJ/dW^L = a^{L-1} (delta^L)^T` and `dJ/db^L = delta^L`, averaged, for L = H .. 0."""
    net, X, d = s.net, s.X, s.X.shape[0]
    rows = []
    for L in range(net.H, -1, -1):
        a_prev = X if L == 0 else s.fw.A[L - 1]  # A^{L-1}, with A^{-1} = X (never at index -1)
        Delta = s.tested[L]
        from_deltas = (
            a_prev.T @ Delta / d,  # dJ/dW^L = (1/d) (A^{L-1})^T Delta^L
            Delta.sum(axis=0) / d,  # dJ/db^L = (1/d) 1^T Delta^L
        )
        candidate_size = (np.abs(a_prev).T @ np.abs(Delta) / d, np.abs(Delta).sum(axis=0) / d)
        true_size = (np.abs(a_prev).T @ s.size[L] / d, s.size[L].sum(axis=0) / d)
        # neurons n at which some example's delta^L_n hangs on an ambiguous h'
        column_tainted = np.asarray(s.tainted[L].any(axis=0))
        for k, kind in enumerate((WEIGHTS, BIASES)):
            name = _gradient_name("W" if kind == WEIGHTS else "b", L)
            step = None
            if candidate is not None:  # the candidate's dJ/dW^L against its own deltas
                value = candidate[k][L]
                rounding = ROUNDING_UNITS * s.eps * _max(candidate_size[k])
                no_kinks = np.zeros(value.shape, dtype=bool)
                step = _compare(
                    value, from_deltas[k], np.full(value.shape, rounding), no_kinks, name, "eq"
                )
            else:
                value = from_deltas[k]
            fd_value = s.fd_value[k][L]
            rounding = ROUNDING_UNITS * s.eps * max(_max(true_size[k]), _max(fd_value))
            against_fd = _compare(
                value,
                fd_value,
                FD_SAFETY * s.fd_error[k][L] + rounding,
                s.fd_unverifiable[k][L] | column_tainted,
                name,
                "FD",
            )
            verdict = _verdict(step, against_fd, delta_wrong[L])
            rows.append(
                EquationRow(kind, L, _equation_text(net, kind, L), against_fd, step, verdict)
            )
    return rows


def _gradient_name(symbol: str, L: int) -> Callable[[tuple[int, ...]], str]:
    return lambda index: f"{symbol}^{L}[{','.join(map(str, index))}]"


def _first_broken_equation(s: _Setup) -> str | None:
    """In words, where the network's own equations disagree with differences (a wrong custom h').

    A candidate's step is judged against the equations with the network's
    `h'` and `dJ/da^H`; if those are wrong (an activation registered with a
    wrong derivative), the candidate cannot be judged, and the report says so.
    """
    net = s.net
    for L in range(net.H, -1, -1):
        c = _compare(
            s.equation[L],
            s.numerical.deltas[L],
            s.delta_tolerance(L, EPS64),
            s.delta_unverifiable(L),
            _delta_name(L),
            "FD",
        )
        if not c.passed:
            act = net.activations[L]
            what = (
                f"h' of the output activation {act.name!r} or dJ/da of the cost "
                f"{net.cost_function.name!r}"
                if L == net.H
                else f"h' of the hidden activation {act.name!r}"
            )
            return (
                f"the network's own equations fail at layer {L}: delta^{L} from them does not "
                f"match finite differences of J_i in z^{L} (worst {c.entry}); check {what}"
            )
    return None


def _compare(
    value: np.ndarray,
    expected: np.ndarray,
    tolerance: np.ndarray,
    unverifiable: np.ndarray,
    name: Callable[[tuple[int, ...]], str],
    against: str,
) -> Comparison:
    tolerance = tolerance + np.finfo(np.float64).tiny  # a tolerance is never exactly zero
    error = np.abs(value - expected)
    checked = ~unverifiable
    ratio = np.where(checked, error / tolerance, -1.0)
    n_checked = int(checked.sum())
    if n_checked == 0:
        return Comparison(against, None, 0.0, 0.0, 0.0, 0.0, 0, 0, int(unverifiable.sum()))
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    index = tuple(int(k) for k in worst)
    return Comparison(
        against=against,
        entry=name(index),
        value=float(value[worst]),
        expected=float(expected[worst]),
        error=float(error[worst]),
        tolerance=float(tolerance[worst]),
        n_failed=int((ratio > 1.0).sum()),
        n_checked=n_checked,
        n_unverifiable=int(unverifiable.sum()),
    )


def _verdict(step: Comparison | None, numerical: Comparison, upstream: bool) -> str:
    if step is not None and not step.passed:
        return FAIL  # the equation does not hold on the candidate's own numbers: this step is wrong
    if not numerical.passed:
        return UPSTREAM if upstream else FAIL
    if numerical.n_checked == 0 and (step is None or step.n_checked == 0):
        return UNVERIFIABLE
    return OK


def _ambiguous(net: Network, X: np.ndarray, fw: ForwardPass, eps: float) -> list[np.ndarray]:
    """Where a ReLU-like `h'(z^L)` hangs on rounding: `|z| <= 64 eps (|A^{L-1}||W^L| + |b^L|)`.

    A candidate computing in a dtype with this `eps` may take either branch
    there (and the convention for `h'(0)` differs between libraries).
    """
    ambiguous = []
    for L, act in enumerate(net.activations):
        if not act.kink:
            ambiguous.append(np.zeros(fw.Z[L].shape, dtype=bool))
            continue
        ambiguous.append(np.abs(fw.Z[L]) <= ROUNDING_UNITS * eps * _z_size(net, X, fw, L))
    return ambiguous


def _tainted(ambiguous: list[np.ndarray]) -> list[np.ndarray]:
    """Deltas an ambiguous `h'` may rightly change: that entry and, below it, the whole example."""
    tainted: list[np.ndarray] = [np.empty(0)] * len(ambiguous)
    above = np.zeros(ambiguous[-1].shape[0], dtype=bool)  # examples ambiguous in a later layer
    for L in range(len(ambiguous) - 1, -1, -1):
        tainted[L] = ambiguous[L] | above[:, None]
        above = above | ambiguous[L].any(axis=1)
    return tainted


def _max(array: np.ndarray) -> float:
    return float(np.abs(array).max()) if array.size else 0.0


# ------------------------------------------------------------ in plain words


def _equation_text(net: Network, kind: str, L: int) -> str:
    a_prev = "a^{-1}" if L == 0 else f"a^{L - 1}"
    if kind == OUTPUT:
        if not net.output.elementwise:
            return f"delta^{L} = J_h(z^{L})^T dJ/da^{L}"
        return f"delta^{L} = dJ/da^{L} ⊙ h'(z^{L})"
    if kind == RECURSION:
        return f"delta^{L} = (W^{L + 1} delta^{L + 1}) ⊙ h'(z^{L})"
    if kind == WEIGHTS:
        return f"dJ/dW^{L} = {a_prev} (delta^{L})^T"
    return f"dJ/db^{L} = delta^{L}"


def _explain(report: EquationReport) -> str:
    if report.broken_equation is not None:
        return report.broken_equation + "; no candidate can be judged against them"
    row = report.first_failure
    if row is None:
        if not report.passed:  # only "upstream" rows: cannot happen without a FAIL before them
            return "some rows inherit an error, but no step is wrong on its own"
        kinks = report.n_unverifiable
        return (
            "every equation holds: delta^H, the recursion into every layer, and dJ/dW^L, "
            "dJ/db^L at every layer match finite differences"
            + (f" ({kinks} entries unverifiable at ReLU kinks)" if kinks else "")
        )
    H = len(report.sizes) - 2
    L = row.layer
    if row.kind in (WEIGHTS, BIASES) and report.gradients_only:
        layer_ok = [
            all(
                r.verdict != FAIL
                for r in report.rows
                if r.layer == K and r.kind in (WEIGHTS, BIASES)
            )
            for K in range(H + 1)
        ]
        sentence = localize_from_gradients(layer_ok)
    elif row.kind == OUTPUT:
        form = "J_h(z^H)^T dJ/da^H" if "J_h" in row.equation else "dJ/da^H ⊙ h'(z^H)"
        sentence = f"delta^H is wrong (H = {H}): check {form}"
    elif row.kind == RECURSION:
        sentence = (
            f"delta^{L + 1} matches, delta^{L} does not: the recursion from layer {L + 1} to "
            f"layer {L} is wrong (delta^{L} = (W^{L + 1} delta^{L + 1}) ⊙ h'(z^{L}))"
        )
    elif row.kind == WEIGHTS:
        a_prev, A_prev = ("a^{-1} (= x)", "X") if L == 0 else (f"a^{L - 1}", f"A^{L - 1}")
        sentence = (
            f"the deltas are right but dJ/dW^{L} is not {a_prev} (delta^{L})^T "
            f"averaged over the batch, (1/d) ({A_prev})^T Delta^{L}"
        )
    else:
        sentence = (
            f"the deltas are right but dJ/db^{L} is not delta^{L} averaged over the batch, "
            f"(1/d) 1^T Delta^{L}"
        )
    c = row.governing
    source = "finite differences" if c.against == "FD" else "the equation on the same inputs"
    return (
        f"{sentence}. Worst entry {c.entry}: {c.value:.6g} where {source} gives "
        f"{c.expected:.6g} (error {c.error:.1e} > tolerance {c.tolerance:.1e}; "
        f"{c.n_failed} of {c.n_checked} entries off)"
    )


def localize_from_gradients(layer_ok: Sequence[bool]) -> str:
    """What a pattern of right and wrong layer gradients says about where backprop went wrong.

    When a candidate returns only gradients, its deltas cannot be checked;
    but a wrong `delta^L` spoils every layer's gradient at and below `L`
    (through the recursion), while a wrong outer product or bias equation
    spoils only its own layer.

    Parameters
    ----------
    layer_ok : sequence of bool, one per layer ``L = 0 .. H``
        Whether `dJ/dW^L` and `dJ/db^L` of layer `L` are right.

    Returns
    -------
    str
        A plain-words sentence naming the likely wrong equation and layer.

    Examples
    --------
    >>> "the recursion from layer 2 to layer 1" in localize_from_gradients([False, False, True])
    True
    """
    ok = _checked_layer_ok(layer_ok)
    H = len(ok) - 1
    wrong = [L for L in range(H + 1) if not ok[L]]
    if not wrong:
        return "every layer's dJ/dW^L and dJ/db^L is right: nothing to localize"
    top = max(wrong)
    if H == 0:
        return (
            "the only layer's gradient (layer 0, the output layer) is wrong: delta^H "
            "(dJ/da^H ⊙ h'(z^H)) or its outer product dJ/dW^0 = a^{-1} (delta^0)^T, "
            "dJ/db^0 = delta^0; with no layer below, gradients alone cannot tell them apart"
        )
    if len(wrong) == H + 1:
        return (
            "every layer's gradient is wrong: the likely culprit is delta^H itself "
            "(dJ/da^H ⊙ h'(z^H)), which every delta below inherits through the recursion; "
            "or a mistake common to every layer's dJ/dW^L and dJ/db^L, such as the "
            "averaging over the batch (1/d)"
        )
    if wrong == [H]:
        return (
            f"only the output layer's gradient is wrong (layer H = {H}), the layers below are "
            f"right: the error is in the output layer's outer product dJ/dW^{H} = "
            f"a^{H - 1} (delta^{H})^T or bias equation dJ/db^{H} = delta^{H}, or in the delta^{H} "
            f"used only there (a wrong delta^{H} that entered the recursion would have spoiled "
            "the layers below)"
        )
    if wrong == list(range(top + 1)):  # every layer at and below `top` wrong, the rest right
        if top == 0:
            return (
                "only layer 0's gradient is wrong, layers 1 and above are right: the recursion "
                "from layer 1 to layer 0 (delta^0 = (W^1 delta^1) ⊙ h'(z^0)) or layer 0's own "
                "dJ/dW^0 = a^{-1} (delta^0)^T or dJ/db^0 = delta^0; with no layer below, "
                "gradients alone cannot tell them apart"
            )
        return (
            f"layers {top + 1}..{H} are right and every layer from {top} down to 0 is wrong: "
            f"the recursion from layer {top + 1} to layer {top} is the likely culprit "
            f"(delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top})); the layers below "
            "inherit its error"
        )
    if len(wrong) == 1:
        return (
            f"only layer {top}'s gradient is wrong, the layers below it are right: the outer "
            f"product dJ/dW^{top} = a^{top - 1} (delta^{top})^T or the bias equation "
            f"dJ/db^{top} = delta^{top} of layer {top}, not the recursion (a wrong delta^{top} "
            "would have spoiled every layer below)"
        )
    right = [L for L in range(H + 1) if ok[L]]
    if ok[
        top - 1
    ]:  # the layer below the highest wrong one is right: a wrong delta^top would not be
        first = (
            f"layer {top - 1} below it is right, so look at its outer product dJ/dW^{top} = "
            f"a^{top - 1} (delta^{top})^T or bias equation dJ/db^{top} = delta^{top}"
        )
    elif top == H:
        first = "delta^H (dJ/da^H ⊙ h'(z^H)), which the layer below inherits"
    else:
        first = (
            f"the recursion into it from layer {top + 1} "
            f"(delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top}))"
        )
    return (
        f"layers {_listing(wrong)} are wrong and {_listing(right)} right: no single step "
        "explains this, so more than one equation is wrong. Start with the highest wrong "
        f"layer, {top}: {first}"
    )


def _listing(layers: list[int]) -> str:
    return ", ".join(map(str, layers))


# ------------------------------------------------------------ the tables


def _format_report(report: EquationReport) -> str:
    sizes = "-".join(map(str, report.sizes))
    lines = [
        f"Backprop equation by equation: {sizes} ({report.configuration}), d = {report.d}, "
        f"H = {len(report.sizes) - 2}",
        f"checked: {report.checked}",
    ]
    header = (
        f"{'equation':<36}{'layer':<8}{'worst error':>12}{'tolerance':>11}  "
        f"{'vs':<3}{'worst entry':<16}verdict"
    )
    lines += [header, "-" * len(header)]
    rows = report.rows
    shown = rows if len(rows) <= MAX_TABLE_ROWS else [r for r in rows if r.verdict != OK]
    shown = shown[:MAX_TABLE_ROWS]
    for row in shown:
        c = row.governing
        lines.append(
            f"{row.equation:<36}{row.layer_label:<8}{c.error:>12.1e}{c.tolerance:>11.1e}  "
            f"{c.against:<3}{c.entry or '-':<16}{row.verdict}"
        )
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more rows not shown ({len(rows)} in all)")
    verdict = ("ok: " if report.passed else "FAIL: ") + report.explanation
    lines += textwrap.wrap(
        verdict, width=len(header), break_long_words=False, break_on_hyphens=False
    )
    return "\n".join(lines)


def _cell(row: EquationRow | None) -> str:
    if row is None:
        return "-"
    if row.verdict == FAIL:
        return "FAIL"
    if row.verdict == UPSTREAM:
        return "up"
    if row.verdict == UNVERIFIABLE:
        return "kink"
    ratio = row.ratio
    if ratio < 1e-9:
        return "0"
    mantissa, exponent = f"{ratio:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def format_equation_table(
    reports: Sequence[tuple[str, EquationReport]], *, width: int = 100
) -> str:
    """The article's proof confirmed line by line on real numbers: one row per equation and layer.

    Columns are configurations (numbered, with a legend below); each cell is
    the worst error over the tolerance (FD_SAFETY x the finite difference's error
    estimate plus rounding), so a cell at most 1 confirms that equation at
    that layer; ``FAIL`` marks one that does not, ``up`` one that inherits an
    earlier error, ``kink`` one whose every entry straddles a ReLU kink. The
    last column says whether the row holds in every configuration. Columns
    wrap into blocks to keep lines within `width`.

    Parameters
    ----------
    reports : sequence of (label, EquationReport)
        One per configuration, on networks of the same depth (as
        `run_equation_checks` gives).
    width : int
        The longest line to print.

    Returns
    -------
    str
        The table, with a title, a legend and a summary line.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([2, 3, 1], hidden="tanh", seed=0)
    >>> report = check_equations(net, np.ones((2, 2)), np.zeros((2, 1)))
    >>> table = format_equation_table([("tanh/tanh/quadratic", report)])
    >>> table.splitlines()[-1]
    '1 of 1 configurations confirm every equation'
    """
    reports = _checked_reports(reports)
    width = check_int(width, "width", low=1)
    keys: list[tuple[str, int]] = []
    labels: dict[tuple[str, int], str] = {}
    softmax = False
    for _, report in reports:
        for row in report.rows:
            key = (row.kind, row.layer)
            if key not in labels:
                keys.append(key)
                labels[key] = row.equation
            if row.kind == OUTPUT:
                labels[key] = f"delta^{row.layer} = dJ/da^{row.layer} ⊙ h'(z^{row.layer}) *"
                softmax = softmax or "J_h" in row.equation
    rows_by_key = [{(r.kind, r.layer): r for r in report.rows} for _, report in reports]
    label_width = max(len(label) for label in labels.values()) + 2
    cell, verdict_width = 5, 8
    per_block = max(1, (width - label_width - verdict_width) // cell)
    sizes = sorted({"-".join(map(str, r.sizes)) + f" d={r.d}" for _, r in reports})

    lines = [
        "The article's equations, line by line on real numbers: each delta^L against finite",
        "differences of J_i in z^L, each dJ/dW^L, dJ/db^L against finite differences in W^L, b^L",
        f"(net {', '.join(sizes)}). Cell: worst error / tolerance ({FD_SAFETY:g}x the finite difference's",
        "error estimate + rounding); at most 1 confirms the equation at that layer.",
    ]
    for start in range(0, len(reports), per_block):
        block = range(start, min(start + per_block, len(reports)))
        header = f"{'equation':<{label_width}}" + "".join(f"{k + 1:>{cell}}" for k in block)
        lines += ["", header + f"{'verdict':>{verdict_width}}", "-" * (len(header) + verdict_width)]
        for key in keys:
            cells = "".join(f"{_cell(rows_by_key[k].get(key)):>{cell}}" for k in block)
            failed = sum(
                rows_by_key[k][key].verdict in (FAIL, UPSTREAM)
                for k in block
                if key in rows_by_key[k]
            )
            lines.append(
                f"{labels[key]:<{label_width}}{cells}"
                f"{'ok' if not failed else f'FAIL {failed}':>{verdict_width}}"
            )
    footnote = "* fused output/cost pairs (e.g. sigmoid + cross-entropy): delta^H = a^H - y" + (
        "; softmax: delta^H = J_h(z^H)^T dJ/da^H" if softmax else ""
    )
    lines += [""] + textwrap.wrap(footnote, width=width, subsequent_indent="  ")
    legend = [f"{k + 1:>3} {label}" for k, (label, _) in enumerate(reports)]
    column = max(len(entry) for entry in legend) + 2
    per_line = max(1, width // column)
    for start in range(0, len(legend), per_line):
        lines.append(
            "".join(f"{entry:<{column}}" for entry in legend[start : start + per_line]).rstrip()
        )
    n_passed = sum(report.passed for _, report in reports)
    kinks = sum(report.n_unverifiable for _, report in reports)
    lines.append(
        f"{n_passed} of {len(reports)} configurations confirm every equation"
        + (f" ({kinks} entries unverifiable at ReLU kinks)" if kinks else "")
    )
    return "\n".join(lines)


def run_equation_checks(
    *,
    configurations: Sequence[tuple[str, str | None, str]] | None = None,
    sizes: Sequence[int] = EQUATION_SIZES,
    d: int = EQUATION_BATCH,
    seed: int = 0,
    method: str = "richardson",
) -> list[tuple[str, EquationReport]]:
    """`check_equations` on a seeded random network per configuration (the main job's first table).

    Parameters
    ----------
    configurations : sequence of (hidden, output, cost), optional
        Default: `gradcheck.selfcheck.CONFIGURATIONS`, every built-in
        activation and cost.
    sizes : sequence of int
        ``[n_in, n_0, ..., n_H]``; default `EQUATION_SIZES`, two hidden layers.
    d : int
        The batch size.
    seed : int
        Seeds the networks and data (configuration `k` uses ``[seed, k]``).
    method : {"richardson", "central", "complex"}

    Returns
    -------
    list of (label, EquationReport)
        Labels ``"hidden/output/cost"``; pass the list to `format_equation_table`.

    Examples
    --------
    >>> reports = run_equation_checks(configurations=[("tanh", None, "quadratic")], d=3)
    >>> [(label, report.passed) for label, report in reports]
    [('tanh/tanh/quadratic', True)]
    """
    d = check_int(d, "d", low=1)
    seed = check_int(seed, "seed", low=0)
    if configurations is None:
        from .selfcheck import CONFIGURATIONS

        configurations = CONFIGURATIONS
    configurations = _checked_configurations(configurations)
    out = []
    for k, (hidden, output, cost) in enumerate(configurations):
        rng = np.random.default_rng([seed, k])
        net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
        X = rng.normal(size=(d, net.sizes[0]))
        Y = random_targets(net, d, rng)
        out.append(
            (f"{hidden}/{output or hidden}/{cost}", check_equations(net, X, Y, method=method))
        )
    return out


# ---------------------------------------------------------------- plumbing


def _checked_data(
    net: Any, X: Any, Y: Any, *, method: str = "richardson"
) -> tuple[np.ndarray, np.ndarray]:
    check_network(net)
    if method not in METHODS:
        raise ValueError(f"unknown `method` {method!r}; known methods: {', '.join(METHODS)}")
    return net.check_data(X, Y)


def _checked_array(
    value: Any, *, label: str, shape: tuple[int, ...], expected: str
) -> tuple[np.ndarray, float]:
    """`value` as float64 (an exact copy of any real float dtype) and the eps of its own dtype.

    `label` names the argument and layer, e.g. "`deltas[1]` (Delta^1)".
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{label} must be a numeric array, got a string {value!r:.40}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"{label} must be a numeric array; numpy could not convert it: {exc}"
        ) from None
    if array.dtype.kind == "c":
        raise TypeError(f"{label} must be real, got complex dtype {array.dtype}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{label} must be a numeric array, got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{label} has shape {array.shape} but must be {expected} = {shape}")
    eps = float(np.finfo(array.dtype).eps) if array.dtype.kind == "f" else EPS64
    array = np.array(array, dtype=np.float64)
    if not np.isfinite(array).all():
        bad = tuple(int(k) for k in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{label} must be finite; entry {bad} is {array[bad]} (shape {shape})")
    return array, max(eps, EPS64)


def _checked_deltas(deltas: Any, net: Network, d: int) -> tuple[list[np.ndarray] | None, float]:
    if deltas is None:
        return None, EPS64
    H = net.H
    if isinstance(deltas, (np.ndarray, str, bytes)) or not isinstance(deltas, Sequence):
        raise TypeError(
            f"`deltas` must be a list of arrays, one Delta^L of shape (d, N_L) per layer "
            f"L = 0 .. H, got {type(deltas).__name__}"
        )
    if len(deltas) != H + 1:
        raise ValueError(
            f"`deltas` must hold one Delta^L per layer L = 0 .. H, that is {H + 1} arrays for "
            f"sizes {list(net.sizes)}, got {len(deltas)}"
        )
    out, eps = [], EPS64
    for L, value in enumerate(deltas):
        N = net.sizes[L + 1]
        array, e = _checked_array(
            value,
            label=f"`deltas[{L}]` (Delta^{L})",
            shape=(d, N),
            expected=f"(d, N_{L}) (one row per example, one column per neuron of layer {L})",
        )
        out.append(array)
        eps = max(eps, e)
    return out, eps


def _checked_gradients(
    gradients: Any, net: Network
) -> tuple[tuple[list[np.ndarray], list[np.ndarray]] | None, float]:
    if gradients is None:
        return None, EPS64
    if isinstance(gradients, Gradients):
        weights, biases = gradients.weights, gradients.biases
    elif isinstance(gradients, dict) and {"weights", "biases"} <= set(gradients):
        weights, biases = gradients["weights"], gradients["biases"]
    elif isinstance(gradients, (tuple, list)) and len(gradients) == 2:
        weights, biases = gradients
    else:
        raise TypeError(
            "`gradients` must be a Gradients, a (dJ_dW, dJ_db) pair of lists or a dict with "
            f"'weights' and 'biases', got {type(gradients).__name__}"
        )
    H, eps = net.H, EPS64
    checked: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for k, (arrays, symbol, label) in enumerate(
        ((weights, "W", "weights"), (biases, "b", "biases"))
    ):
        if isinstance(arrays, (np.ndarray, str, bytes)) or not isinstance(arrays, Sequence):
            raise TypeError(
                f"`gradients.{label}` must be a list of arrays, one dJ/d{symbol}^L per layer, "
                f"got {type(arrays).__name__}"
            )
        if len(arrays) != H + 1:
            raise ValueError(
                f"`gradients.{label}` must hold one dJ/d{symbol}^L per layer L = 0 .. H, that is "
                f"{H + 1} arrays for sizes {list(net.sizes)}, got {len(arrays)}"
            )
        for L, value in enumerate(arrays):
            M, N = net.sizes[L], net.sizes[L + 1]
            shape, expected = (
                ((M, N), f"(M, N) like W^{L}") if symbol == "W" else ((N,), f"(N,) like b^{L}")
            )
            array, e = _checked_array(
                value,
                label=f"`gradients.{label}[{L}]` (dJ/d{symbol}^{L})",
                shape=shape,
                expected=expected,
            )
            checked[k].append(array)
            eps = max(eps, e)
    return checked, eps


def _checked_reports(reports: Any) -> list[tuple[str, EquationReport]]:
    if isinstance(reports, (str, bytes)) or not isinstance(reports, Sequence):
        raise TypeError(
            "`reports` must be a list of (label, EquationReport) pairs, "
            f"got {type(reports).__name__}"
        )
    if not reports:
        raise ValueError("`reports` is empty; give at least one (label, EquationReport) pair")
    for k, item in enumerate(reports):
        if not (
            isinstance(item, (tuple, list))
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], EquationReport)
        ):
            raise TypeError(
                "each of `reports` must be a (label, EquationReport) pair as run_equation_checks "
                f"gives; entry {k} is {item!r:.80}"
            )
    return [(label, report) for label, report in reports]


def _checked_configurations(configurations: Any) -> list[tuple[Any, Any, Any]]:
    if isinstance(configurations, (str, bytes)) or not isinstance(configurations, Sequence):
        raise TypeError(
            "`configurations` must be a list of (hidden, output, cost) triples, "
            f"got {type(configurations).__name__}"
        )
    for k, item in enumerate(configurations):
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise TypeError(
                "each of `configurations` must be a (hidden, output, cost) triple such as "
                f"('tanh', None, 'quadratic'); entry {k} is {item!r:.80}"
            )
    return [tuple(item) for item in configurations]


def _checked_layer_ok(layer_ok: Any) -> list[bool]:
    if isinstance(layer_ok, (str, bytes)) or not isinstance(layer_ok, (Sequence, np.ndarray)):
        raise TypeError(
            "`layer_ok` must be a list of bools, one per layer L = 0 .. H, "
            f"got {type(layer_ok).__name__}"
        )
    if len(layer_ok) == 0:
        raise ValueError("`layer_ok` is empty; give one bool per layer L = 0 .. H")
    out = []
    for L, value in enumerate(layer_ok):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"`layer_ok[{L}]` must be a bool, got {value!r}")
        out.append(bool(value))
    return out


def _checked_words(deltas: Any, gradients: Any) -> str:
    def dtype_of(arrays: Any) -> str:
        kinds = sorted({str(np.asarray(a).dtype) for a in arrays})
        return "/".join(kinds)

    if deltas is None and gradients is None:
        return "the equations (reference, float64)"
    parts = []
    if deltas is not None:
        parts.append(f"candidate deltas ({dtype_of(deltas)})")
    if gradients is not None:
        if isinstance(gradients, Gradients):
            arrays = list(gradients.weights) + list(gradients.biases)
        elif isinstance(gradients, dict):
            arrays = list(gradients["weights"]) + list(gradients["biases"])
        else:
            arrays = list(gradients[0]) + list(gradients[1])
        parts.append(f"candidate gradients ({dtype_of(arrays)})")
    return " and ".join(parts)
