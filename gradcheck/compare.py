"""Tolerances and per-entry verdicts: how far a gradient may be from another and still be right.

A fixed `atol/rtol` is the main source of flaky or toothless gradient checks.
Here every allowed difference is derived:

- **rounding scale** `S_j`: a first-order running error analysis of backprop
  (values and error variances propagated through the forward and backward
  pass). A correct implementation in a floating-point type with unit
  roundoff `u` computes entry `j` with an error of order `u S_j`, whatever
  cancellation makes the entry itself small, so exact zeros and tiny entries
  are held to what rounding can explain, no more;
- **candidate vs reference**: `|c_j - r_j| <= tol_j = K u_c S_j`, with `u_c`
  the candidate's dtype (float16/32/64) and `K` a number of standard deviations;
- **candidate vs finite differences**: the difference's own error estimate
  (times a safety factor) plus the same rounding tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import Network, backprop
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

SAFETY = 32.0  # K: standard deviations of rounding allowed; soaked at 32 (correct float16-64 silent)
FD_SAFETY = 10.0  # the finite difference's own estimate is honest on >99% of entries; 10x covers the rest


def unit_roundoff(dtype: np.dtype) -> float:
    """`u` of a floating dtype (eps/2); float64's for integers and anything else."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) / 2 if dtype.kind == "f" else float(np.finfo(np.float64).eps) / 2


def rounding_scale(net: Network, X: np.ndarray, Y: np.ndarray, *, u: float = 2.0**-53) -> np.ndarray:
    """The standard deviation of rounding error in each gradient entry, in units of `u`.

    A first-order running error analysis: every quantity `x` of backprop
    carries its value and `V(x)`, the variance of its rounding error in
    units of `u^2`. Each operation passes on its inputs' variances (scaled by
    its derivatives) and adds its own rounding, `x^2`; independent errors add
    like a random walk, which is how rounding behaves in long sums:

    - forward: `V(z^L) = V(a^{L-1}) (W^L)^2 + (a^{L-1})^2 (W^L)^2 + (b^L)^2`,
      `V(a^L) = h'^2 V(z^L) + a^2 + c`, starting from `V(x) = x^2` (the
      candidate may round its inputs); `c = 1` for a bounded `h`, which may be
      computed by a cancelling formula (`(1 + tanh(z/2)) / 2` gives 0, not e^-168);
    - `V(h') = 4 h'^2 V(z) + h'^2 + 1`, since `|h''| <= 2 |h'|` for every
      built-in activation, and `a (1 - a)` or `1 - a^2` err by `u`, not `u h'`;
    - backward: each product and sum likewise (softmax's Jacobian included).

    - at a kink of `h'` (ReLU), where rounding in `u` can flip the sign of
      `z` (`|z| <= K u sqrt(V(z))`), `h'` itself is uncertain by the jump.

    The result holds a correct implementation's rounding to what rounding can
    do to entry `j`, however small cancellation makes the entry itself, so
    exact zeros and tiny entries are held to exactly that, and no more. It is
    never below `(H + 2) |dJ/dtheta_j|` (an entry's own rounding, and a guard
    where squares of tiny numbers underflow).
    """
    h = net.activations
    fw = forward_pass(net.weights, net.biases, h, X)
    d, H = X.shape[0], net.H
    X2 = X * X
    a_var, z_var = [], []
    prev, prev_var = X2, X2  # a^{-1} = x, squared, and its variance
    for L in range(H + 1):
        W2 = net.weights[L] ** 2
        Vz = prev_var @ W2 + prev @ W2 + net.biases[L] ** 2
        A = fw.A[L]
        A2 = A * A
        own = 1.0 if np.isfinite(h[L].upper) else 0.0
        if h[L].elementwise:
            Va = h[L].h_prime(fw.Z[L]) ** 2 * Vz + A2 + own
        else:  # softmax: da_k = a_k [(1 - a_k) dz_k - sum_{n != k} a_n dz_n]
            spread = (A2 * Vz).sum(axis=1, keepdims=True) - A2 * Vz
            Va = A2 * ((1 - A) ** 2 * Vz + spread) + A2 + own
        z_var.append(Vz)
        a_var.append(Va)
        prev, prev_var = A2, Va

    def h_prime(L: int) -> tuple[np.ndarray, np.ndarray]:
        hp2 = h[L].h_prime(fw.Z[L]) ** 2
        V = 4 * hp2 * z_var[L] + hp2 + 1.0
        if h[L].kink:  # the sign of z, and so the slope, is uncertain within rounding
            tiny = np.finfo(np.float64).tiny
            jump = float(h[L].h_prime(np.array(tiny)) - h[L].h_prime(np.array(-tiny)))
            uncertain = np.abs(fw.Z[L]) <= SAFETY * u * np.sqrt(z_var[L])
            V = V + uncertain * (jump / u) ** 2
        return hp2, V

    # output delta: its square and its variance
    A_H, VA = fw.A[H], a_var[H]
    Y2 = Y * Y
    if net.fused is not None:  # a - y, a sum(y) - y, y (a - 1): all within this
        factor = (1 + np.abs(Y).sum(axis=1, keepdims=True)) ** 2
        V = (VA + A_H**2) * factor + Y2
        delta2 = (A_H**2 + Y2) * factor
    else:
        g = net.cost_function.dJ_da(A_H, Y)
        Vg = _dJ_da_variance(net.cost_function.name, A_H, Y, VA, g)
        if h[H].elementwise:
            hp2, Vhp = h_prime(H)
            delta2 = g * g * hp2
            V = Vg * hp2 + g * g * Vhp + delta2
        else:  # delta_k = a_k (g_k - s), s = sum_n a_n g_n
            s = (A_H * g).sum(axis=1, keepdims=True)
            Vs = (VA * g * g + A_H**2 * Vg + (A_H * g) ** 2).sum(axis=1, keepdims=True)
            delta2 = (A_H * (g - s)) ** 2
            V = VA * (g - s) ** 2 + A_H**2 * (Vg + Vs + g * g + s * s)
    weights, biases = [], []
    for L in range(H, -1, -1):
        a2, Va = (X2, X2) if L == 0 else (fw.A[L - 1] ** 2, a_var[L - 1])
        weights.append((Va.T @ delta2 + a2.T @ (V + delta2)) / d**2)  # (1/d) A^T Delta
        biases.append((V + delta2).sum(axis=0) / d**2)  # (1/d) 1^T Delta
        if L > 0:
            W2 = (net.weights[L] ** 2).T
            p2 = delta2 @ W2
            Vp = V @ W2 + p2
            hp2, Vhp = h_prime(L - 1)
            delta2, V = p2 * hp2, Vp * hp2 + p2 * Vhp + p2 * hp2
    weights.reverse()
    biases.reverse()
    own = (H + 2) * np.abs(backprop(net, X, Y).flat())
    return np.maximum(np.sqrt(net.layout.join(weights, biases)), own)


def _dJ_da_variance(cost: str, A: np.ndarray, Y: np.ndarray, VA: np.ndarray, g: np.ndarray) -> np.ndarray:
    """V(dJ/da): (d(dJ/da)/da)^2 V(a) plus the formula's own rounding (cancellation in a - y)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if cost == "quadratic":  # a - y
            V = VA + A * A + Y * Y
        elif cost == "cross_entropy":  # (a - y) / (a (1 - a))
            q = A * (1 - A)
            slope = (q - (A - Y) * (1 - 2 * A)) / q**2
            V = slope**2 * VA + (A * A + Y * Y) / q**2 + g * g
        elif cost == "categorical_cross_entropy":  # -y / a
            V = (Y / A**2) ** 2 * VA + g * g
        else:  # an unknown cost: its relative sensitivity to a
            V = g * g * (VA / (A * A) + 1.0)
    return np.nan_to_num(V, nan=0.0, posinf=np.finfo(float).max)


def rounding_tolerance(net: Network, X: np.ndarray, Y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`tol_j = K u S_j`: what rounding in `dtype` can explain for each entry of the gradient.

    `S_j` (from `rounding_scale`) is a standard deviation in units of `u`;
    `K` standard deviations leave no room for a false alarm from rounding.
    Below the smallest normal number of `dtype`, gradual underflow loses
    relative precision: that much is always allowed.
    """
    dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    u = unit_roundoff(dtype)
    floor = SAFETY * float(np.finfo(dtype).tiny)
    return SAFETY * u * rounding_scale(net, X, Y, u=u) + floor


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
