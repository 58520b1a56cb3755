"""Step 2 of the oracle: the candidate (and the reference) against finite differences.

Entry by entry (`network_numerical_gradient`, on any executor) while the
network and batch fit `FD_BUDGET`; beyond it, along random and per-block
directions, whose derivatives are the partial derivatives of one small
function `F(s) = J(theta + V^T s)`.  Each comparison's tolerance is the
differences' own error estimate times `FD_SAFETY`, plus the rounding the
compared gradient may carry.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from gradcheck.fd.network import network_numerical_gradient
from gradcheck.fd.numerical import numerical_gradient
from gradcheck.tolerance.compare import Comparison, compare
from gradcheck.tolerance.policy import FD_SAFETY
from reference import Network

__all__ = ["FD_BUDGET", "DIRECTIONS", "FiniteDifferences", "vs_finite_differences"]

FD_BUDGET = 2_000_000  # parameters x examples above which differences go by direction, not entry
DIRECTIONS = 4  # random directions for the directional check (plus one per block)


@dataclass(frozen=True)
class FiniteDifferences:
    """Candidate and reference vs finite differences (step 2), and how they were taken."""

    candidate: Comparison
    reference: Comparison
    values: np.ndarray | None  # entry by entry; None along directions
    method: str
    unverifiable: int  # entries no difference can verify (ReLU kinks)


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
        vs_candidate, vs_reference = _directional(
            net,
            X,
            Y,
            candidate=candidate,
            reference=reference,
            tolerance=tolerance,
            reference_tolerance=reference_tolerance,
        )
        method = "richardson, along random and per-block directions"
        return FiniteDifferences(vs_candidate, vs_reference, None, method, unverifiable=0)
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
) -> tuple[Comparison, Comparison]:
    """Directional derivatives `grad . v` by Richardson differences of `J(theta + t v)`.

    Random Rademacher directions see every entry; one direction per block
    `W^L`, `b^L` keeps a bug in a small block from drowning in a large one.
    Returns the candidate's and the reference's comparisons, in that order.
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
    return (
        compare(V @ candidate, numerical.gradient, fd_tolerance + np.abs(V) @ tolerance),
        compare(V @ reference, numerical.gradient, fd_tolerance + np.abs(V) @ reference_tolerance),
    )
