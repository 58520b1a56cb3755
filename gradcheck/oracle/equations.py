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

Its parts live beside it: the article's deltas in `gradcheck.tolerance.independent`,
the differences in `z^L` in `gradcheck.fd.delta`, the result types in
`gradcheck.results.equation_report`, the words in `gradcheck.diagnosis.localize`, and the main
job's table over every configuration in `gradcheck.jobs.selfcheck`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.diagnosis.localize import explain_equations
from gradcheck.fd.delta import NumericalDeltas, measured_deltas, unit_rounding, z_size
from gradcheck.fd.network import DEFAULT_MEMORY_LIMIT, network_numerical_gradient
from gradcheck.fd.numerical import METHODS
from gradcheck.results.equation_report import (
    BIASES,
    FAIL,
    OK,
    OUTPUT,
    RECURSION,
    UNVERIFIABLE,
    UPSTREAM,
    WEIGHTS,
    EquationComparison,
    EquationReport,
    EquationRow,
)
from gradcheck.tolerance.independent import delta_magnitudes, deltas_from_equations, h_prime_of

# a finite difference may be off by FD_SAFETY times its error estimate
from gradcheck.tolerance.policy import FD_SAFETY, ROUNDING_UNITS
from gradcheck.validate import (
    EPS64,
    check_method,
    checked_data,
    delta_arrays,
    gradient_arrays,
    gradient_lists,
)
from reference import ForwardPass, Network, forward_pass

__all__ = [
    "EquationComparison",
    "EquationReport",
    "EquationRow",
    "check_equations",
]


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
    Tolerances are derived: against finite differences, ``FD_SAFETY`` (30) times their error
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
    >>> from gradcheck.tolerance.independent import equation_deltas
    >>> deltas = equation_deltas(net, X, Y)
    >>> deltas[0] = deltas[0] * 2.0                     # a wrong recursion into layer 0
    >>> check_equations(net, X, Y, deltas=deltas).explanation.split(":")[0]
    'delta^1 matches, delta^0 does not'
    """
    X, Y = checked_data(net, X, Y)
    check_method(method, METHODS)
    candidate_deltas, eps_deltas = (
        (None, EPS64) if deltas is None else delta_arrays(deltas, net.sizes, X.shape[0])
    )
    candidate_gradients, eps_gradients = _candidate_gradients(gradients, net)
    setup = _setup(net, X, Y, candidate_deltas, eps_deltas, eps_gradients, method)
    rows, delta_wrong = _delta_rows(setup)
    rows += _gradient_rows(setup, candidate_gradients, delta_wrong)
    broken_equation = None
    if candidate_deltas is not None or candidate_gradients is not None:
        broken_equation = _first_broken_equation(setup)
    gradients_only = candidate_gradients is not None and candidate_deltas is None
    return EquationReport(
        rows=rows,
        sizes=net.sizes,
        d=X.shape[0],
        configuration=f"{_names(net.hidden_name)}/{net.output.name}/{net.cost_function.name}",
        checked=_checked_words(deltas, gradients),
        gradients_only=gradients_only,
        explanation=explain_equations(
            rows, H=net.H, gradients_only=gradients_only, broken_equation=broken_equation
        ),
        broken_equation=broken_equation,
    )


def _candidate_gradients(
    gradients: Any, net: Network
) -> tuple[tuple[list[np.ndarray], list[np.ndarray]] | None, float]:
    """A candidate's gradients as float64 lists ``(dJ_dW, dJ_db)`` and their coarsest eps."""
    if gradients is None:
        return None, EPS64
    weights, biases, eps = gradient_arrays(gradients, "gradients", sizes=net.sizes)
    return (weights, biases), eps


def _setup(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    candidate_deltas: list[np.ndarray] | None,
    eps_deltas: float,
    eps_gradients: float,
    method: str,
) -> _Setup:
    """Everything the rows are judged from: the equations, both differences, the tolerances."""
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    numerical, J_size = measured_deltas(
        net, X, fw, Y, method=method, memory_limit=DEFAULT_MEMORY_LIMIT
    )
    fd = network_numerical_gradient(net, X, Y, method=method)
    # J = (1/d) sum_i J_i is computed from terms of the size of J_size, which can be
    # far larger than J (a cost near 0): allow for their rounding too.
    unit = unit_rounding(fd.steps, method) * float(J_size.mean())
    weights_rounding, biases_rounding = net.layout.split(unit)
    equation = deltas_from_equations(net, fw, Y)
    eps = max(eps_deltas, eps_gradients)  # a gradient built from float32 deltas is float32
    ambiguous = _ambiguous(net, X, fw, eps)
    return _Setup(
        net=net,
        X=X,
        fw=fw,
        equation=equation,
        size=delta_magnitudes(net, fw, Y, equation),
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
        """|delta^L - dJ_i/dz^L by differences| allowed: FD_SAFETY x the estimate + rounding."""
        scale = max(_max(self.size[L]), _max(self.equation[L]))
        return FD_SAFETY * self.numerical.error[L] + ROUNDING_UNITS * eps * scale

    def delta_unverifiable(self, L: int) -> np.ndarray:
        return self.numerical.unverifiable[L] | self.tainted[L]


def _delta_name(L: int) -> Callable[[tuple[int, ...]], str]:
    return lambda index: f"Delta^{L}[{index[0]},{index[1]}]"


def _delta_rows(s: _Setup) -> tuple[list[EquationRow], list[bool]]:
    """The output equation and every recursion step, `delta^H` down to `delta^0`."""
    net, H, acts = s.net, s.net.H, s.net.activations
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
                slope = h_prime_of(acts[L], s.fw.Z[L])  # h'(z^L)
                W, delta_next = net.weights[L + 1], s.tested[L + 1]
                # (W^{L+1} delta^{L+1}) ⊙ h'(z^L), a row each
                expected = (delta_next @ W.T) * slope
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
        # A^{L-1}, with A^{-1} = X (never stored at index -1)
        a_prev = X if L == 0 else s.fw.A[L - 1]
        Delta = s.tested[L]
        from_deltas = (
            # dJ/dW^L = (1/d) (A^{L-1})^T Delta^L, + lam W^L with an L2 penalty
            a_prev.T @ Delta / d + net.l2 * net.weights[L],
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


def _names(hidden: str | list[str]) -> str:
    return hidden if isinstance(hidden, str) else ",".join(hidden)


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
) -> EquationComparison:
    tolerance = tolerance + np.finfo(np.float64).tiny  # a tolerance is never exactly zero
    error = np.abs(value - expected)
    checked = ~unverifiable
    excess = np.where(checked, error / tolerance, -1.0)
    n_checked = int(checked.sum())
    if n_checked == 0:
        return EquationComparison(against, None, 0.0, 0.0, 0.0, 0.0, 0, 0, int(unverifiable.sum()))
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    index = tuple(int(k) for k in worst)
    return EquationComparison(
        against=against,
        entry=name(index),
        value=float(value[worst]),
        expected=float(expected[worst]),
        error=float(error[worst]),
        tolerance=float(tolerance[worst]),
        n_failed=int((excess > 1.0).sum()),
        n_checked=n_checked,
        n_unverifiable=int(unverifiable.sum()),
    )


def _verdict(step: EquationComparison | None, numerical: EquationComparison, upstream: bool) -> str:
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
        ambiguous.append(np.abs(fw.Z[L]) <= ROUNDING_UNITS * eps * z_size(net, X, fw, L))
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


def _checked_words(deltas: Any, gradients: Any) -> str:
    """What was under test, in words, with the candidate's own dtypes (inputs already checked)."""

    def dtype_of(arrays: Any) -> str:
        return "/".join(sorted({str(np.asarray(a).dtype) for a in arrays}))

    if deltas is None and gradients is None:
        return "the equations (reference, float64)"
    parts = []
    if deltas is not None:
        parts.append(f"candidate deltas ({dtype_of(deltas)})")
    if gradients is not None:
        weights, biases = gradient_lists(gradients)
        parts.append(f"candidate gradients ({dtype_of([*weights, *biases])})")
    return " and ".join(parts)
