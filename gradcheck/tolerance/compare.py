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
from typing import Any

import numpy as np
import numpy.typing as npt

from gradcheck.tolerance.policy import (
    FD_SAFETY,
    LINEAR_ULPS,
    SAFETY,
    SIGNED_OUTPUT_ELEMENTS,
    UNKNOWN_H_SECOND_BOUND,
)
from gradcheck.tolerance.saturation import (
    SATURATED,
    Kinks,
    exact_outputs,
    fused_sensitivity,
    in_zone,
    libm_distance,
    output_distance,
    saturation_loss,
    smallest_normal,
    softmax_rest,
    systematic_bounds,
)
from gradcheck.tolerance.subgradient import delta_intervals, slope_bound
from reference import ForwardPass, Network, backprop, forward_pass, output_delta

__all__ = [
    "Comparison",
    "compare",
    "rounding_scale",
    "rounding_tolerance",
    "scaled_norm",
    "unit_roundoff",
    "SAFETY",
    "FD_SAFETY",
    "SATURATED",
    "saturation_loss",
]

UNDERFLOW_GUARD = 1e-150  # standard deviations below this come from squares that may underflow


def scaled_norm(x: np.ndarray) -> float:
    """||x||, computed as max|x| ||x / max|x||| so that entries past 1e154 do not overflow it."""
    x = np.asarray(x, dtype=np.float64)
    largest = float(np.abs(x).max(initial=0.0))
    if largest == 0.0 or not np.isfinite(largest):
        return largest
    return largest * float(np.linalg.norm(x / largest))


def unit_roundoff(dtype: np.dtype) -> float:
    """`u` of a floating dtype (eps/2); float64's for integers and anything else."""
    dtype = np.dtype(dtype)
    return (
        float(np.finfo(dtype).eps) / 2 if dtype.kind == "f" else float(np.finfo(np.float64).eps) / 2
    )


def rounding_scale(
    net: Network, X: np.ndarray, Y: np.ndarray, *, u: float = 2.0**-53, kinks: Kinks = None
) -> np.ndarray:
    """The standard deviation of rounding error in each gradient entry, in units of `u`.

    A first-order running error analysis: every quantity `x` of backprop
    carries its value and `V(x)`, the variance of its rounding error in
    units of `u^2`. Each operation passes on its inputs' variances (scaled by
    its derivatives) and adds its own rounding, `x^2`; independent errors add
    like a random walk, which is how rounding behaves in long sums:

    - forward: `V(z^L) = V(a^{L-1}) (W^L)^2 + (a^{L-1})^2 (W^L)^2 + (b^L)^2`,
      `V(a^L) = h'^2 V(z^L) + a^2 + c`, starting from `V(x) = x^2` (the
      candidate may round its inputs); `c = 1` for a bounded `h`, which may be
      computed by a cancelling formula (`(1 + tanh(z/2)) / 2` errs by `u`, not `u a`);
    - `V(h') = c^2 h'^2 V(z) + h'^2 + 1`: an error in `z` moves `h'(z)` by
      `|h''(z)|` times it, and `|h''| <= c |h'|` with `c` the activation's
      `h_second_bound` (0 for identity, ReLU and leaky ReLU, whose `h'` is
      piecewise constant and exact, without the 1; 1 for sigmoid, softplus and
      ELU; 2 for tanh; 2 for an activation that does not say); `a (1 - a)`,
      `1 - a^2` or `a + 1` err by `u`, not `u h'`;
    - those cancelling formulas' `u` counts as a random walk or as its linear
      worst case (`gradcheck.tolerance.saturation.zone_bound`), whichever is smaller; and
      once `h'` or `a`'s distance to its bound is below `u / SATURATED`, the
      formula returns 0 and the whole value is lost:
      `gradcheck.tolerance.saturation.saturation_loss`, added whole;
    - backward: each product and sum likewise, softmax's Jacobian included: the
      errors of `g = dJ/da` reach `delta_k = a_k (g_k - s)` through it, so `g_k`'s own
      rounding cancels where `a_k` is 1; in a row saturated to `a_k = 1` exactly
      (`gradcheck.tolerance.saturation.softmax_rest`), `s` loses at most the other terms,
      a linear loss of `saturation_loss`;
    - every sum of `n` terms (a matrix product's `M` or `N`, the batch's `d`)
      also rounds its partial sums: `gamma_{n-1} sum |x_i|` in any order
      (Higham, *Accuracy and Stability of Numerical Algorithms*, 2002, eq. 4.4).
      That error is systematic, not a random walk: a loop adding `d` equal
      terms errs by 0.1 to 0.2 of it, whatever `d`. It enters whole:
      `K u S` is never below it.

    - at a kink of `h'` (ReLU), where rounding in `u` can flip the sign of
      `z` (`|z| <= K u sqrt(V(z))`), `a` is uncertain by the larger slope; the
      jump of `h'` itself is no rounding matter: `gradcheck.tolerance.allowed` holds the
      entries it reaches to the interval every subgradient allows. Where a candidate
      may take the other slope (`kinks`: per layer, the units
      `gradcheck.tolerance.allowed.kink_units` marks), it rounds that side's gradient:
      every `h'` of those units counts at the steeper slope, so the scale holds
      every choice (the soak's seed 12001392: a float32 `z^0 = 3.0e-8` where the
      reference's is -3.2e-8, column 0 of `dJ/dW^0` then 3e-4, not 0, off its
      interval's end by 5.6 ulps of float32, against a tolerance of 3.8e-37).

    The result holds a correct implementation's rounding to what rounding can
    do to entry `j`, however small cancellation makes the entry itself, so
    exact zeros and tiny entries are held to exactly that, and no more. It is
    never below `(H + 2) |dJ/dtheta_j|` (an entry's own rounding, and a guard
    where squares of tiny numbers underflow).
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        # The cancelling formulas' share: a random walk, or their linear worst case
        # (gradcheck.tolerance.saturation), whichever is smaller; their deep loss enters whole.
        deep_loss, zone_worst = systematic_bounds(net, X, Y, u, kinks)
        shared: dict = {}  # the output's Jacobians, one set for every propagation below
        V = _propagate(net, X, Y, u, p=2, zone=False, kinks=kinks, jacobians=shared)
        zone_walk = _propagate(net, X, Y, u, p=2, kinks=kinks, jacobians=shared) - V
        zone_walk = np.maximum(zone_walk, 0.0)
        zone_worst = zone_worst / (u * SAFETY)
        S = (V + np.minimum(zone_walk, zone_worst**2)) ** 0.5
        # Squares of numbers below 1e-154 underflow and above 1e154 overflow (dJ/da = -y/a
        # of a saturated output): there the L1 bound, never smaller than L2, takes over.
        outside = ~((S >= UNDERFLOW_GUARD) & np.isfinite(S))
        if outside.any():
            S = np.where(outside, _propagate(net, X, Y, u, p=1, kinks=kinks, jacobians=shared), S)
        # never above LINEAR_ULPS times the first-order worst case (NaN there: no cap)
        linear = _linear_scale(net, X, Y, u, zone_worst, kinks, shared)
        S = np.fmin(S, LINEAR_ULPS / SAFETY * linear)
        # a worst case, whole, and twice: a correct code's 0 sits exactly that far from the
        # value, and the reference's own rounding of it must not tip the comparison
        S = S + 2 * deep_loss / (u * SAFETY)
    entry_rounding = (net.H + 2) * np.abs(backprop(net, X, Y).flat())
    # Where even the L1 bound overflows nothing can be said of rounding: inf, and the
    # comparisons treat an infinite tolerance as no verdict for that entry, never a pass.
    return np.where(np.isnan(S), np.inf, np.maximum(S, entry_rounding))


def _linear_scale(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    u: float,
    zone_worst: np.ndarray,
    kinks: Kinks,
    jacobians: dict | None = None,
) -> np.ndarray:
    """The first-order worst case, in units of `u`: every rounding `|e| <= u |x|` added with one
    sign (p = 1), every worst case (partial sums, a softmax rounded to 1, the cancelling
    formulas' `ZONE_ULPS u`: `zone_worst`, already in units of `u K`) whole.

    `K u S` with `K` standard deviations is a random walk's tail; where one rounding or a
    few dominate (the soak's seed 9000884: `a_1 = 1 - 1.3e-12` of a softmax, one rounding
    that `g_1 - s` cancels down to 3.8e-13), no walk happens and this bound is the tighter
    of the two: `b^0[0]` there was allowed 1.6e-14, 54 times the largest error of eight
    float64 backprops (3.0e-16), while this bound is 3.9e-15.
    """
    linear = _propagate(
        net, X, Y, u, p=1, zone=False, divisor=1.0, kinks=kinks, jacobians=jacobians
    )
    return linear + SAFETY * zone_worst


def _propagate(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    u: float,
    *,
    p: int,
    zone: bool = True,
    divisor: float = SAFETY,
    kinks: Kinks = None,
    jacobians: dict | None = None,
) -> np.ndarray:
    """The error propagation of `rounding_scale` in the p-norm: p = 2 sums variances (a
    random walk), p = 1 sums absolute bounds (a worst case, immune to underflow). Every
    quantity is the p-th power of a magnitude or of an error (`P(x) = |x|^p`). `zone`:
    with the cancelling formulas' `u` near saturation (off, to measure their share).
    `divisor`: the worst cases (partial sums, a softmax rounded to 1) enter divided by it,
    `SAFETY` for `K u S` (so that it holds them whole), 1 for a linear bound `u S`.
    `kinks`: units whose `h'` counts at its steeper slope (`rounding_scale`). `jacobians`: a
    dict the propagations of one problem share, to compute `_OutputError`'s Jacobians once."""
    forward = _forward_errors(net, X, u, p=p, zone=zone, divisor=divisor, kinks=kinks)
    delta, V = _output_delta_errors(forward, Y)
    return _backward_errors(forward, delta, V, _delta_intervals(forward, Y), jacobians)


@dataclass(frozen=True)
class _ForwardErrors:
    """The forward pass of `net` on `X`, and the p-th power of each `z^L`'s and `a^L`'s error."""

    net: Network
    X: np.ndarray
    u: float
    p: int
    fw: ForwardPass
    z_var: list[np.ndarray]
    a_var: list[np.ndarray]
    zone: bool = True  # the cancelling formulas' u (off: their share is measured apart)
    divisor: float = SAFETY  # the worst cases' divisor (`_propagate`)
    kinks: Kinks = None  # units whose h' counts at its steeper slope (`rounding_scale`)

    def P(self, x: np.ndarray | float) -> np.ndarray:
        return np.abs(x) ** self.p

    def h_prime(self, L: int) -> tuple[np.ndarray, np.ndarray]:
        """P(h'(z^L)) and its error."""
        act = self.net.activations[L]
        h_prime_L = act.h_prime
        assert h_prime_L is not None  # only for element-wise layers, which have h'
        Z, Vz, p = self.fw.Z[L], self.z_var[L], self.p
        hp = self.P(slope_bound(act, Z, None if self.kinks is None else self.kinks[L]))
        bound = act.h_second_bound
        c = UNKNOWN_H_SECOND_BOUND if bound is None else bound  # |h''| <= c |h'|
        # No term for the jump of h' at a kink (ReLU): which slope applies there is not a
        # rounding matter; gradcheck.tolerance.allowed holds such entries to the subgradient interval.
        # a (1 - a), 1 - a^2: an error of u, or of h' itself once it is below u / SATURATED
        # (identity, ReLU and leaky ReLU, with c = 0, have an exact h': no such formula)
        F = _formula_rounding(
            libm_distance(act, Z, np.abs(h_prime_L(Z))), self.u, self.zone and c != 0
        )
        return hp, c**p * hp * Vz + hp + F


def _formula_rounding(distance: np.ndarray, u: float, zone: bool = True) -> np.ndarray:
    """Error (any power: it is 0 or 1), in units of `u`, of a cancelling formula whose true
    result is `distance`.

    `u` from `u / SATURATED` up: the rounding of the `a` it cancels (random in sign
    from entry to entry, so a random walk); below, the formula returns 0, and the
    whole value it stood for is lost: `saturation_loss` holds that, linearly."""
    return np.where(in_zone(distance, u), 1.0, 0.0) if zone else np.zeros_like(distance)


def _forward_errors(
    net: Network,
    X: np.ndarray,
    u: float,
    *,
    p: int,
    zone: bool = True,
    divisor: float = SAFETY,
    kinks: Kinks = None,
) -> _ForwardErrors:
    """Forward: `V(z^L)` from `V(a^{L-1})`, then `V(a^L)` through `h` (softmax's Jacobian too)."""

    def P(x: np.ndarray | float) -> np.ndarray:
        return np.abs(x) ** p

    acts = net.activations
    fw = forward_pass(net.weights, net.biases, acts, X)
    a_var, z_var = [], []
    prev = prev_var = P(X)  # a^{-1} = x, and its error (the candidate may round its inputs)
    for L in range(net.H + 1):
        WP = P(net.weights[L])
        M = net.weights[L].shape[0]
        Vz = prev_var @ WP + prev @ WP + P(net.biases[L])
        # z = sum of M products and b: M + 1 terms
        terms = np.abs(X if L == 0 else fw.A[L - 1]) @ np.abs(net.weights[L])
        largest = _largest_partial(terms + np.abs(net.biases[L]), fw.Z[L])
        Vz = Vz + _partial_sums(largest, M + 1, u, p, divisor)
        A = fw.A[L]
        # A bounded element-wise h may be computed by a cancelling formula: an error of u,
        # not u |a| ((1 + tanh(z/2)) / 2 gives 0, not e^-168), or of a's distance from its
        # bound once that is below u / SATURATED. Softmax's formulas (e / sum e,
        # exp(z - logsumexp)) err relatively, and an a_k that underflows to 0 stays 0 (the
        # soak's seed 87: a tolerance of 5e-16 over a block of 1e-68 let an entry off by
        # 5e-5 of it pass).
        formula_rounding: np.ndarray | float = 0.0
        if np.isfinite(acts[L].upper) and acts[L].elementwise:
            distance = np.minimum(np.abs(fw.A[L] - acts[L].lower), np.abs(acts[L].upper - fw.A[L]))
            # tested as saturation._losses tests it (seed 53003836: a = u/99 was in neither)
            formula_rounding = _formula_rounding(libm_distance(acts[L], fw.Z[L], distance), u, zone)
        if acts[L].elementwise:
            h_prime_L = acts[L].h_prime
            assert h_prime_L is not None  # checked by Network (_check_activations)
            # near a kink the candidate's z may sit on the other side: either slope applies
            slope = np.abs(h_prime_L(fw.Z[L])) + _kink_jump(acts[L], fw.Z[L], Vz, u, p)
            Va = P(slope) * Vz + _own_rounding(net, fw, L, u, p, divisor) + formula_rounding
        else:  # softmax: da_k = a_k [(1 - a_k) dz_k - sum_{n != k} a_n dz_n]
            spread = (P(A) * Vz).sum(axis=1, keepdims=True) - P(A) * Vz
            rest, saturated, others = softmax_rest(A, u)
            Va = P(A) * (P(rest) * Vz + spread) + formula_rounding
            # a_k = e_k / sum e rounds by u a_k, but to exactly 1 where the other a_n add up to
            # less than u / SATURATED: the error is then that sum, whole
            Va = Va + np.where(saturated, P(rest / (u * divisor)), P(A))
            # the normaliser sum_n e^{z_n} (n_H positive terms) errs by gamma_{n_H - 1} of itself,
            # and by no more than the terms added to the largest, sum_{n != max} a_n, of it
            gamma = _partial_sums(np.ones_like(A[:, :1]), A.shape[1], u, 1, divisor)
            normaliser = np.minimum(gamma, others / (u * divisor))
            Va = Va + P(A * normaliser)
        z_var.append(Vz)
        a_var.append(Va)
        prev, prev_var = P(A), Va
    return _ForwardErrors(net, X, u, p, fw, z_var, a_var, zone, divisor, kinks)


def _own_rounding(net: Network, fw: ForwardPass, L: int, u: float, p: int, divisor: float):
    """P-error, in units of `u`, of an element-wise `a^L`'s own rounding: `u |a|`, but `1 - a`
    whole (a worst case) where a fused sigmoid output is exactly 1 in every correct code."""
    A = np.abs(fw.A[L]) ** p
    if L < net.H or net.fused is None:
        return A
    rest = output_distance(net, fw) / (u * divisor)
    return np.where(exact_outputs(net, fw, u), rest**p, A)


def _output_delta_errors(e: _ForwardErrors, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(delta^H) and its error V, for a fused cost, an element-wise `h` or softmax."""
    P, net, H = e.P, e.net, e.net.H
    A_H, VA = e.fw.A[H], e.a_var[H]
    if net.fused is not None:  # a - y, a sum(y) - y, y (a - 1)
        # The size carried down is delta^H itself: |a| + |y| overstated a saturated
        # output's y (a - 1) ~ 1e-8 as 2, and every error downstream with it (the soak's
        # seed 1177: a tolerance of 5e-5 of W^0's entries, where rounding makes 1e-8).
        fused = P(np.nan_to_num(output_delta(e.fw.Z[H], A_H, Y, net.output, net.cost_function)))
        # a's error and own rounding times the form's sensitivity to a, and the rounding of
        # its difference (y's share) and of its last operation (delta's own)
        # Where a is exactly 1 in every correct code (`exact_outputs`), a sum(y) and a - 1 are
        # exact, and y (a - 1) is 0 whatever y rounds to (a - y keeps y's share: a narrower
        # dtype rounds y). The soak's seeds 13003484 and 13010193: a softmax row and a sigmoid
        # at 1 - 1.6e-53 counted 3u of an exact 0, tolerances 100 times any correct rounding.
        exact = exact_outputs(net, e.fw, e.u)
        own = np.where(exact, 0.0, P(A_H))
        y_a_1 = net.output.elementwise and net.cost_function.name == "categorical_cross_entropy"
        share = np.where(exact & y_a_1, 0.0, P(Y))
        V = (VA + own) * P(fused_sensitivity(net, Y)) + share + fused
        return fused, V
    g = net.cost_function.dJ_da(A_H, Y)
    Vg = _dJ_da_error(net.cost_function.name, A_H, Y, VA, g, P)
    if net.activations[H].elementwise:
        hp, Vhp = e.h_prime(H)
        delta = P(g) * hp
        V = Vg * hp + P(g) * Vhp + delta + Vg * Vhp * e.u**e.p  # and their errors' product
    else:  # delta_k = a_k (g_k - s), s = sum_n a_n g_n
        s = (A_H * g).sum(axis=1, keepdims=True)
        rest, saturated, _ = softmax_rest(A_H, e.u)
        # g's errors through the softmax Jacobian: a_k (1 - a_k) dg_k - a_k sum_{n != k} a_n dg_n
        # (g_k's own rounding cancels in g_k - s where a_k is 1: it is in s too)
        AVg = P(A_H) * Vg
        V = P(A_H) * (P(rest) * Vg + AVg.sum(axis=1, keepdims=True) - AVg)
        # a's errors: d delta_k = (g_k - s - a_k g_k) da_k - a_k sum_{n != k} g_n da_n
        gVa = P(g) * VA
        V = V + P(g - s - A_H * g) * VA + P(A_H) * (gVa.sum(axis=1, keepdims=True) - gVa)
        # rounding of s (its products, exact where a_k is exactly 1, and partial sums), of
        # g - s and of a_k (g_k - s)
        # (a saturated row's s rounds to a_k g_k plus at most the rest: that loss, of one
        # sign in every sum after it, is gradcheck.tolerance.saturation's, propagated linearly)
        products = np.where(saturated, 0.0, P(A_H * g)).sum(axis=1, keepdims=True)
        terms = _largest_partial(np.abs(A_H * g).sum(axis=1, keepdims=True), s)
        row_saturated = saturated.any(axis=1, keepdims=True)
        sums = np.where(row_saturated, 0.0, _partial_sums(terms, A_H.shape[1], e.u, e.p, e.divisor))
        delta = P(A_H * (g - s))
        V = V + P(A_H) * (products + sums + P(g - s)) + delta
    return delta, V


def _backward_errors(
    e: _ForwardErrors,
    delta: np.ndarray,
    V: np.ndarray,
    intervals: list[tuple[np.ndarray, np.ndarray]],
    jacobians: dict | None = None,
) -> np.ndarray:
    """Backward from P(delta^H) and its error V: the flat errors of every dJ/dW^L, dJ/db^L.

    `intervals[L]` is `Delta^L` itself as centre and radius (`delta` here is a random-walk
    magnitude): the terms whose partial sums the batch sums and `W^L delta^L` round.

    The error of `delta^H` (one per example and output unit) reaches `delta^L` through the
    signed Jacobian `J = d delta^L / d delta^H`, as the value does: where the value cancels
    down the layers, so does that error (`_OutputError`). Every later rounding is a source of
    its own, carried by `|W|^p` as a random walk.
    """
    P, net, X, u, p, divisor = e.P, e.net, e.X, e.u, e.p, e.divisor
    d = X.shape[0]
    weights, biases = [], []
    output = _OutputError.start(e, V, {} if jacobians is None else jacobians)
    if output is not None:
        V = np.zeros_like(V)  # the rest: roundings after delta^H, as they arise
    for L in range(net.H, -1, -1):
        a, Va = (P(X), P(X)) if L == 0 else (P(e.fw.A[L - 1]), e.a_var[L - 1])
        centre, radius = intervals[L]
        A_prev = X if L == 0 else e.fw.A[L - 1]
        largest = _largest_partial(np.abs(A_prev).T @ np.abs(centre), A_prev.T @ centre)
        batch = _partial_sums(largest + np.abs(A_prev).T @ radius, d, u, p, divisor)
        V_all = V if output is None else V + output.here
        # (1/d) A^T Delta, with the product of a's and delta's errors
        weights.append((Va.T @ (delta + V_all * u**p) + a.T @ (V_all + delta) + batch) / d**p)
        largest = _largest_partial(np.abs(centre).sum(axis=0), centre.sum(axis=0))
        batch = _partial_sums(largest + radius.sum(axis=0), d, u, p, divisor)
        biases.append(((V_all + delta).sum(axis=0) + batch) / d**p)  # (1/d) 1^T Delta
        if L > 0:
            WP = P(net.weights[L]).T
            q = delta @ WP  # W^{L} delta^{L}, before h'
            N = net.weights[L].shape[1]
            W_abs = np.abs(net.weights[L]).T
            largest = _largest_partial(np.abs(centre) @ W_abs, centre @ net.weights[L].T)
            Vq = V @ WP + q + _partial_sums(largest + radius @ W_abs, N, u, p, divisor)
            carried = 0.0 if output is None else output.through(L)
            hp, Vhp = e.h_prime(L - 1)
            # q h' with both wrong: the product of their errors too, `u^p Vq Vh'` (an exact
            # product's variance, not first order: a float32 1 - a^2 may be 7 times h' itself
            # at each of several saturated layers in a row, the soak's seed 14008395)
            delta, V = q * hp, Vq * hp + q * Vhp + q * hp + (Vq + carried) * Vhp * u**p
            if output is not None and not output.down(L - 1, hp, carried):
                V, output = V + carried * hp, None  # a kinked unit: on as magnitudes
    weights.reverse()
    biases.reverse()
    return net.layout.join(weights, biases)


class _OutputError:
    """The error of `delta^H` carried down the layers with signs: at layer `L`, per example
    and unit, `sum_o P(J_{io}) V_o` with `J = d delta^L / d delta^H` of that example and `V_o`
    the P-error of `delta^H_o` (independent across output units and examples).

    `|W|^p` products (a random walk over paths) overstated it by what the paths cancel: the
    soak's seed 50007633, a one-unit layer whose `delta^0` = 1.8e-12 is a sum of 59 terms
    of 1e-4, behind a sigmoid output at `1 - 1.6e-5` whose `y (a - 1)` errs by an ulp of 1.
    That error moves `delta^0` by 1e-7 of it; as magnitudes it made the whole tolerance of
    `W^0[0,0]` (`S` = 1.8 of the entry's 3e-13, against 1.2e-3 of everything else), 11,700
    times the largest error of a correct backprop. Kept only while `J` stays small
    (`SIGNED_OUTPUT_ELEMENTS`): past it, the magnitudes as before.
    """

    def __init__(self, e: _ForwardErrors, V: np.ndarray, jacobians: dict) -> None:
        self.e, self.V, self.jacobians = e, V, jacobians
        self.J = np.broadcast_to(np.eye(V.shape[1]), (V.shape[0], V.shape[1], V.shape[1]))
        self.here = V

    @classmethod
    def start(cls, e: _ForwardErrors, V: np.ndarray, jacobians: dict) -> _OutputError | None:
        """None where the Jacobians would be too large; `jacobians` keeps them by layer for
        the next propagation of the same problem (they depend on neither `p` nor `V`)."""
        net, d = e.net, e.X.shape[0]
        widest = max(W.shape[0] for W in net.weights) if net.H else 0
        if net.H == 0 or d * widest * V.shape[1] > SIGNED_OUTPUT_ELEMENTS:
            return None
        return cls(e, V, jacobians)

    def through(self, L: int) -> np.ndarray:
        """`sum_o P((W^L J)_{io}) V_o`: the error carried to `W^L delta^L`, before `h'`."""
        if L not in self.jacobians:  # (d, M, n_H): d (W delta^L) / d delta^H
            self.jacobians[L] = np.matmul(self.e.net.weights[L], self.J)
        self.K = self.jacobians[L]
        return np.einsum("xmo,xo->xm", self.e.P(self.K), self.V)

    def down(self, L: int, hp: np.ndarray, carried: np.ndarray | float) -> bool:
        """On to `delta^L = (W delta) h'(z^L)`: False where a unit of layer `L` is kinked (its
        slope is not one number, and the magnitudes take over)."""
        kinks = self.e.kinks
        if kinks is not None and kinks[L] is not None and np.any(kinks[L]):
            return False
        act = self.e.net.activations[L]
        assert act.h_prime is not None  # hidden layers are element-wise
        if ("J", L) not in self.jacobians:
            self.jacobians["J", L] = self.K * act.h_prime(self.e.fw.Z[L])[:, :, None]
        self.J = self.jacobians["J", L]
        self.here = carried * hp
        return True


def _largest_partial(magnitudes: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The largest partial sum, in any order, of terms whose magnitudes add to `magnitudes`
    and whose values add to `total`: the positive terms' mass or the negative ones',
    `(sum |x_i| + |sum x_i|) / 2`, half of `sum |x_i|` where the sum cancels."""
    return (magnitudes + np.abs(total)) / 2


def _partial_sums(
    largest: np.ndarray, n: int, u: float, p: int, divisor: float = SAFETY
) -> np.ndarray:
    """P-error of the partial sums of a sum of `n` terms none of whose partial sums, in any
    order, exceeds `largest` in magnitude (`_largest_partial`; at most `sum |x_i|`).

    Each of the `n - 1` additions errs by at most `u` times the partial sum it makes
    (Higham 2002, eq. 4.3), so any order errs by at most `gamma_{n-1} largest`,
    `gamma_k = k u / (1 - k u)`: Higham's eq. 4.4 with `sum |x_i|` where a cancelling sum
    allows half of it (the soak's seed 15007409: a batch of 13 and 22 units, a slip 1.06
    times under the tolerance). A loop over equal terms reaches 0.1 to 0.5 of it (the
    same rounding recurs at every step of a binade): a systematic error, so it enters
    at its worst-case size, in units of `u` and divided by `K` (`divisor`) so that the
    tolerance `K u S` holds it whole. Past `(n - 1) u >= 1` nothing is bounded: inf.
    """
    k = max(n - 1, 0) * u
    gamma = k / (1 - k) if k < 1 else np.inf
    return np.abs(gamma / (u * divisor) * largest) ** p


def _delta_intervals(e: _ForwardErrors, Y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """`Delta^L` for L = 0 .. H as centre and radius over every slope a kinked unit may take
    (rows are examples): the terms the backward sums add up."""
    return delta_intervals(e.net, e.fw, Y, e.kinks, nan_as_zero=True)


def _kink_jump(act: Any, Z: np.ndarray, Vz: np.ndarray, u: float, p: int) -> np.ndarray | float:
    """|jump of h'| where rounding in `u` may put `z` on either side of a kink (ReLU), else 0."""
    if not act.kink:
        return 0.0
    tiny = np.finfo(np.float64).tiny
    jump = abs(float(act.h_prime(np.array(tiny)) - act.h_prime(np.array(-tiny))))
    flushed = np.abs(Z) < smallest_normal(u)  # 0 in code that flushes subnormals (FTZ)
    return jump * ((np.abs(Z) <= SAFETY * u * Vz ** (1 / p)) | flushed)


def _quadratic_error(A, Y, VA, g, P):
    return VA + P(A) + P(Y)  # a - y: a's error, and the rounding of the cancelling difference


def _cross_entropy_error(A, Y, VA, g, P):
    q = A * (1 - A)  # (a - y) / (a (1 - a)): its derivative in a, the difference and the quotient
    return P((q - (A - Y) * (1 - 2 * A)) / q**2) * VA + (P(A) + P(Y)) / P(q) + P(g)


def _categorical_cross_entropy_error(A, Y, VA, g, P):
    return P(Y / A**2) * VA + P(g)  # -y / a: its derivative in a, and the quotient


def _relative_error(A, Y, VA, g, P):
    return P(g) * (VA / P(A) + 1.0)  # a cost of unknown form: its relative sensitivity to a


#: The error model of each built-in cost's `dJ/da^H` formula, by the cost's name (a custom
#: `reference.Cost` may not take a built-in's name): `(A, Y, V(a), dJ/da, P) -> V(dJ/da)`.
#: A table here, not a field of `reference.Cost`: rounding is the checker's model of an
#: implementation, not the article's math, and `reference` knows nothing of it.  A cost
#: without an entry (`mse`, any custom cost) takes `_relative_error`.
DJ_DA_ERRORS = {
    "quadratic": _quadratic_error,
    "cross_entropy": _cross_entropy_error,
    "categorical_cross_entropy": _categorical_cross_entropy_error,
}


def _dJ_da_error(
    cost: str, A: np.ndarray, Y: np.ndarray, VA: np.ndarray, g: np.ndarray, P
) -> np.ndarray:
    """P-error of dJ/da: P(d(dJ/da)/da) V(a), plus the formula's own rounding (a - y cancels)."""
    model = DJ_DA_ERRORS.get(cost, _relative_error)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        V = model(A, Y, VA, g, P)
    return np.nan_to_num(V, nan=0.0, posinf=np.finfo(float).max)


def rounding_tolerance(
    net: Network, X: np.ndarray, Y: np.ndarray, dtype: npt.DTypeLike, *, kinks: Kinks = None
) -> np.ndarray:
    """`tol_j = K u S_j`: what rounding in `dtype` can explain for each entry of the gradient.

    `S_j` (from `rounding_scale`) is a standard deviation in units of `u`;
    `K` standard deviations leave no room for a false alarm from rounding.
    Below the smallest normal number of `dtype`, gradual underflow loses
    relative precision: that much is always allowed. `kinks`: as in `rounding_scale`.
    """
    dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    u = unit_roundoff(dtype)
    floor = SAFETY * float(np.finfo(dtype).tiny)
    scale = rounding_scale(net, X, Y, u=u, kinks=kinks)
    if net.l2:  # the penalty's lam W^L: one product and one sum more per weight
        scale = scale + 2 * net.layout.join(
            [net.l2 * np.abs(W) for W in net.weights], [0 * b for b in net.biases]
        )
    return SAFETY * u * scale + floor


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
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            diff = np.abs(self.candidate - self.expected)
            excess = np.where(diff == 0, 0.0, diff / self.tolerance)
        # NaN anywhere (a non-finite value, or an inf tolerance against an inf difference)
        # is a failure, never a pass; an infinite tolerance of a finite difference gives 0.
        excess = np.where(np.isnan(excess) | ~np.isfinite(self.candidate), np.inf, excess)
        return np.where(self.checked, excess, 0.0)

    @property
    def failing(self) -> np.ndarray:
        """Indices of failing entries, worst first."""
        excess = self.excess
        bad = np.flatnonzero(~(excess <= 1.0))
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
