"""Step 2 of the oracle: the candidate (and the reference) against finite differences.

Entry by entry (`network_numerical_gradient`, on any executor) while the
network and batch fit `FD_BUDGET`; beyond it, along random and per-block
directions, whose derivatives are the partial derivatives of one small
function `F(s) = J(theta + V^T s)`.  Each comparison's tolerance is the
differences' own error estimate times `FD_SAFETY`, plus the rounding the
compared gradient may carry.

Where the reference itself disagrees with the differences, `escalated` tries
harder before anyone is blamed: two more Richardson runs on the disputed
entries (or directions), from a larger and a smaller first step (kept where
they agree with each other), then the true gradient in extended precision
(`gradcheck.tolerance.independent.extended_backprop`) where the network is one
it can compute.  A disagreement that survives both is the oracle's own: the
trial is *inconclusive*, never a failure of a candidate that agrees with
the reference.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from gradcheck.fd.network import network_numerical_gradient
from gradcheck.fd.numerical import numerical_gradient
from gradcheck.fd.steps import default_step
from gradcheck.tolerance.compare import Comparison, compare
from gradcheck.tolerance.independent import FORMULAS, extended_backprop
from gradcheck.tolerance.policy import FD_SAFETY
from reference import FUSED_FORMS, Network

__all__ = [
    "FD_BUDGET",
    "DIRECTIONS",
    "ESCALATION_ENTRIES",
    "ESCALATION_STEPS",
    "FiniteDifferences",
    "escalated",
    "vs_finite_differences",
]

FD_BUDGET = 2_000_000  # parameters x examples above which differences go by direction, not entry
DIRECTIONS = 4  # random directions for the directional check (plus one per block)
# first steps of the escalation's two Richardson runs, relative to the default (2^-4 of the
# entry's scale): 4x larger (a rounding-bound entry) and 64x smaller (structure below the stencil)
ESCALATION_STEPS = (4.0, 1 / 64)
# disputed entries differenced again at most (the worst first): each costs ~100 full forward
# passes; more than this disputed is a fault no better difference explains away
ESCALATION_ENTRIES = 64


@dataclass(frozen=True)
class FiniteDifferences:
    """Candidate and reference vs finite differences (step 2), and how they were taken."""

    candidate: Comparison
    reference: Comparison
    values: np.ndarray  # the differences: entry by entry, or one per row of `directions`
    method: str
    unverifiable: int  # entries no difference can verify (ReLU kinks)
    escalation: str = ""  # what `escalated` did, if anything
    directions: np.ndarray | None = None  # along directions: V, the values are V @ gradient

    @property
    def entry_values(self) -> np.ndarray | None:
        """The differences entry by entry; None where they were taken along directions."""
        return self.values if self.directions is None else None

    def projected(self, gradient: np.ndarray, *, bound: bool = False) -> np.ndarray:
        """`gradient` (or, with `bound`, a tolerance) as the differences see it: itself entry
        by entry, `V @ gradient` (a bound: `|V| @ bound`) along directions."""
        if self.directions is None:
            return gradient
        return (np.abs(self.directions) if bound else self.directions) @ gradient


def vs_finite_differences(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    tolerance: np.ndarray,
    reference_tolerance: np.ndarray,
    executor: Executor | None = None,
) -> FiniteDifferences:
    """Entry by entry within `FD_BUDGET` (chunks on `executor`, if given), along directions beyond it."""
    if net.layout.size * X.shape[0] > FD_BUDGET:
        return _directional(
            net,
            X,
            Y,
            candidate=candidate,
            reference=reference,
            tolerance=tolerance,
            reference_tolerance=reference_tolerance,
        )
    fd = network_numerical_gradient(net, X, Y, executor=executor)
    values = fd.flat()
    checked = ~fd.unverifiable.flat()
    fd_tolerance = FD_SAFETY * fd.error.flat()
    return FiniteDifferences(
        candidate=compare(candidate, values, fd_tolerance + tolerance, checked=checked),
        reference=compare(reference, values, fd_tolerance + reference_tolerance, checked=checked),
        values=values,
        method=f"{fd.method}, entry by entry",
        unverifiable=fd.n_unverifiable,
    )


def _directional(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    tolerance: np.ndarray,
    reference_tolerance: np.ndarray,
) -> FiniteDifferences:
    """Directional derivatives `grad . v` by Richardson differences of `J(theta + t v)`.

    Random Rademacher directions see every entry; one direction per block
    `W^L`, `b^L` keeps a bug in a small block from drowning in a large one.
    """
    theta = net.flat()
    rng = np.random.default_rng(0)
    directions = [rng.choice([-1.0, 1.0], size=theta.size) for _ in range(DIRECTIONS)]
    for _, block, _ in net.layout.blocks:
        v = np.zeros(theta.size)
        v[block] = rng.choice([-1.0, 1.0], size=block.stop - block.start)
        directions.append(v)
    V = np.array(directions)
    # The directional derivatives grad . v_k are the partial derivatives of
    # F(s) = J(theta + V^T s) at s = 0: one numerical gradient of size k.
    numerical = numerical_gradient(
        lambda s: net.cost(X, Y, theta=theta + V.T @ s), np.zeros(len(V))
    )
    fd_tolerance = FD_SAFETY * numerical.error
    return FiniteDifferences(
        candidate=compare(V @ candidate, numerical.gradient, fd_tolerance + np.abs(V) @ tolerance),
        reference=compare(
            V @ reference, numerical.gradient, fd_tolerance + np.abs(V) @ reference_tolerance
        ),
        values=numerical.gradient,
        method="richardson, along random and per-block directions",
        unverifiable=0,
        directions=V,
    )


def escalated(
    fd: FiniteDifferences,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    tolerance: np.ndarray,
    reference_tolerance: np.ndarray,
) -> FiniteDifferences:
    """`fd` settled further where the reference disagrees with it (unchanged where it agrees).

    1. The disputed entries (the worst `ESCALATION_ENTRIES`) by two Richardson
       runs from other first steps (`ESCALATION_STEPS`); where the two agree within their estimates, the
       one with the smaller estimate replaces the difference, its error at
       least their distance.
    2. Entries still disputed: the true gradient in extended precision, where
       `extended_backprop` computes this network (`_extended_applies`), with
       no error of its own (~1e-19 relative).

    The comparisons are rebuilt with the new values; `escalation` says what was done.
    A disagreement that survives is the oracle's: `run_trial` calls the trial inconclusive.
    """
    if fd.reference.passed:
        return fd
    candidate, tolerance = fd.projected(candidate), fd.projected(tolerance, bound=True)
    reference = fd.projected(reference)
    reference_tolerance = fd.projected(reference_tolerance, bound=True)
    values, checked = fd.values.copy(), fd.reference.checked
    fd_tolerance = fd.reference.tolerance - reference_tolerance  # FD_SAFETY x the estimates
    disputed = fd.reference.failing[:ESCALATION_ENTRIES]  # worst first
    steps = []
    better = _richardson_again(net, X, Y, disputed, fd.directions)
    if better is not None:
        settled, value, error = better
        values[disputed[settled]] = value[settled]
        fd_tolerance[disputed[settled]] = FD_SAFETY * error[settled]
        steps.append(
            f"{int(settled.sum())} of {fd.reference.failing.size} disputed "
            f"{'entries' if fd.directions is None else 'directions'} by Richardson again"
        )
    reference_vs = compare(reference, values, fd_tolerance + reference_tolerance, checked=checked)
    still = reference_vs.failing
    if still.size and _extended_applies(net):
        try:
            truth = fd.projected(extended_backprop(net, X, Y)).astype(np.float64)
        except (RuntimeError, ValueError):  # no wider longdouble here, or no formula
            truth = None
        if truth is not None:
            values[still], fd_tolerance[still] = truth[still], 0.0
            steps.append(f"{still.size} by the true gradient in extended precision")
    return FiniteDifferences(
        candidate=compare(candidate, values, fd_tolerance + tolerance, checked=checked),
        reference=compare(reference, values, fd_tolerance + reference_tolerance, checked=checked),
        values=values,
        method=fd.method,
        unverifiable=fd.unverifiable,
        escalation="; ".join(steps) or "nothing more to try",
        directions=fd.directions,
    )


def _richardson_again(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    index: np.ndarray,
    directions: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Entries `index` (rows `index` of `directions`, if given) by Richardson from the
    `ESCALATION_STEPS` first steps: where the two runs agree (within the sum of their
    estimates), which did, the better value, and its error."""
    theta = net.flat()
    if directions is None:
        start = theta[index]

        def cost(t: np.ndarray) -> float:
            moved = theta.copy()
            moved[index] = t
            return float(np.real(net.cost(X, Y, theta=moved)))

    else:
        start, along = np.zeros(index.size), directions[index]

        def cost(t: np.ndarray) -> float:
            return float(np.real(net.cost(X, Y, theta=theta + along.T @ t)))

    runs = []
    with np.errstate(all="ignore"):
        for factor in ESCALATION_STEPS:
            step = default_step(start, "richardson") * factor
            runs.append(numerical_gradient(cost, start, step=step))
    (g1, e1), (g2, e2) = ((r.gradient, r.error) for r in runs)
    agree = np.isfinite(g1) & np.isfinite(g2) & (np.abs(g1 - g2) <= e1 + e2)
    if not agree.any():
        return None
    value = np.where(e1 <= e2, g1, g2)
    error = np.maximum(np.minimum(e1, e2), np.abs(g1 - g2))
    return agree, value, error


def _extended_applies(net: Network) -> bool:
    """Is `extended_backprop` this network's gradient? One built-in hidden activation (with an
    independent formula), a built-in output, a cost it writes (quadratic, categorical
    cross-entropy, or a fused pair), and no L2 penalty."""
    names = {act.name for act in net.activations[:-1]}
    output, cost = net.output.name, net.cost_function.name
    return (
        not net.l2
        and len(names) <= 1
        and names <= set(FORMULAS)
        and (output in FORMULAS or output == "softmax")
        and (cost in ("quadratic", "categorical_cross_entropy") or (output, cost) in FUSED_FORMS)
    )
