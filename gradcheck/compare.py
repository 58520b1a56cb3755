"""Tolerances and per-entry verdicts: how far a gradient may be from another and still be right.

A fixed `atol/rtol` is the main source of flaky or toothless gradient checks.
Here every allowed difference is derived:

- **rounding scale** `s_j`: the gradient recomputed with every quantity
  replaced by its absolute value (`|W|`, `|h'|`, `|dJ/da|`, `|a|`). A
  correct implementation in a floating-point type with unit roundoff `u`
  computes entry `j` with an error of order `u * s_j * (number of operations
  on the path)`, whatever cancellation makes the entry itself small, so exact
  zeros and tiny entries are held to what rounding can explain, no more;
- **candidate vs reference**: `|c_j - r_j| <= tol_j = K u_c g s_j`, with `u_c`
  the candidate's dtype (float16/32/64), `g` the growth of rounding with depth,
  width and batch size, and `K` a safety factor;
- **candidate vs finite differences**: the difference's own error estimate
  (times a safety factor) plus the same rounding tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import Network
from reference.network import forward_pass

__all__ = [
    "Comparison",
    "compare",
    "rounding_scale",
    "rounding_tolerance",
    "unit_roundoff",
    "SAFETY",
    "FD_SAFETY",
]

SAFETY = 8.0  # K: rounding bounds are estimates, not worst cases; 8x keeps correct float16-64 silent
FD_SAFETY = 10.0  # the finite difference's own estimate is honest on >99% of entries; 10x covers the rest


def unit_roundoff(dtype: np.dtype) -> float:
    """`u` of a floating dtype (eps/2); float64's for integers and anything else."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) / 2 if dtype.kind == "f" else float(np.finfo(np.float64).eps) / 2


def rounding_scale(net: Network, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The flat gradient of `net` recomputed with absolute values: `s_j >= |dJ/dtheta_j|`.

    Backward pass: `S^H = |dJ/da^H| ⊙ (|h'(z^H)| + 1)` (Jacobian form for softmax),
    `S^L = (S^{L+1} |W^{L+1}|^T) ⊙ (|h'(z^L)| + 1)`, `s(W^L) = (1/d) |A^{L-1}|^T S^L`,
    `s(b^L) = (1/d) 1^T S^L`. The `+ 1` allows for an `h'` computed another
    correct way (`a (1 - a)` has an absolute error of `u`, not a relative one).
    """
    h = net.activations
    fw = forward_pass(net.weights, net.biases, h, X)
    d, H = X.shape[0], net.H
    A_H = fw.A[H]
    fused = net.fused
    if fused is not None:
        S = (np.abs(A_H) + np.abs(Y)) * (1.0 + np.abs(Y).sum(axis=1, keepdims=True))
    else:
        G = np.abs(net.cost_function.dJ_da(A_H, Y))
        if h[H].elementwise:
            S = G * (np.abs(h[H].h_prime(fw.Z[H])) + 1.0)
        else:  # |J_h|^T |g| with |J[k, n]| <= a_k (delta_kn + a_n)
            S = np.abs(A_H) * (G + (np.abs(A_H) * G).sum(axis=1, keepdims=True))
    S = S / d
    weights, biases = [], []
    for L in range(H, -1, -1):
        a_prev = X if L == 0 else fw.A[L - 1]
        weights.append(np.abs(a_prev).T @ S)
        biases.append(S.sum(axis=0))
        if L > 0:
            S = (S @ np.abs(net.weights[L]).T) * (np.abs(h[L - 1].h_prime(fw.Z[L - 1])) + 1.0)
    weights.reverse()
    biases.reverse()
    return net.layout.join(weights, biases)


def rounding_tolerance(
    scale: np.ndarray, sizes: tuple[int, ...], d: int, dtype: np.dtype
) -> np.ndarray:
    """`tol_j = K u g s_j`: what rounding in `dtype` can explain for each entry.

    `g = (H + 2) sqrt(max width + d)`: errors grow with the number of layers a
    path crosses and, like a random walk, with the length of the sums.
    """
    growth = (len(sizes) + 1) * np.sqrt(max(sizes) + d)
    return SAFETY * unit_roundoff(dtype) * growth * scale


@dataclass(frozen=True)
class Comparison:
    """Entry-by-entry comparison of `candidate` with `expected` under per-entry tolerances."""

    candidate: np.ndarray
    expected: np.ndarray
    tolerance: np.ndarray
    checked: np.ndarray  # bool: entries that take part (False: unverifiable)

    @property
    def excess(self) -> np.ndarray:
        """|candidate - expected| / tolerance (inf where the tolerance is 0 and they differ)."""
        diff = np.abs(self.candidate - self.expected)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / self.tolerance)
        ratio[~np.isfinite(self.candidate)] = np.inf
        return np.where(self.checked, ratio, 0.0)

    @property
    def failing(self) -> np.ndarray:
        """Indices of failing entries, worst first."""
        excess = self.excess
        bad = np.flatnonzero(excess > 1.0)
        return bad[np.argsort(-excess[bad], kind="stable")]

    @property
    def passed(self) -> bool:
        return self.failing.size == 0


def compare(
    candidate: np.ndarray,
    expected: np.ndarray,
    tolerance: np.ndarray,
    *,
    checked: np.ndarray | None = None,
) -> Comparison:
    """Compare two flat gradients entry by entry."""
    checked = np.ones(candidate.shape, dtype=bool) if checked is None else checked
    return Comparison(candidate, expected, tolerance, checked)
