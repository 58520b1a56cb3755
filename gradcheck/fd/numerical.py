"""Numerical gradients of any scalar function of a flat vector, each entry with an error estimate.

`numerical_gradient(f, theta)` differentiates `f` one coordinate at a time
and reports, next to every entry, an estimate of its error (truncation plus
rounding) that bounds the true error, so a check built on it needs no tuned
tolerance (`gradcheck.fd.check.check_gradient` is that check).

Three methods, `e_j` being the j-th unit vector and `s` a step:

- ``"richardson"`` (default): centred differences `D(s) = (f(θ + s e_j) -
  f(θ - s e_j)) / 2s` at steps `s0, s0/2, s0/4, ...`, extrapolated to
  `s = 0` four at a time (Neville's tableau in `s^2` cancels the `s^2, s^4,
  s^6` terms of `D`).  The steps keep halving while truncation rather than
  rounding dominates, and each entry keeps its best window (Ridders'
  method), so a first step too large for the function costs evaluations,
  not accuracy.  Real evaluations only.
- ``"central"``: one centred difference at the classical step
  `eps^(1/3)` (relative), its truncation error estimated from a second one
  at twice the step.
- ``"complex"``: `Im f(θ + i s e_j) / s` with `s = 1e-20` (relative).
  Nothing cancels, so it is exact to a few ulps, for an `f` that is
  analytic and written to accept complex input.

Rounding: the real-step estimates count the error of the values of `f`,
taken as the larger of a few ulps of `|f|` and the noise of `f` measured
near θ (`noise`: Moré & Wild's ECnoise, 8 or 16 extra evaluations): an `f`
that loses digits to cancellation, or is noisy, gets honest (large) estimates.

Limits: the estimates see how `f`'s values scatter, not a rounding error
that stays put near θ.  At an exact zero of an inner residual (a sum of
squares at a perfect fit) `f` is ill-conditioned: there every method, and
backprop itself, may be off by ~eps x (size of the residual's terms), more
than any estimate from values of `f` shows.  Check gradients away from a
perfect fit.

Steps (`steps`): relative to the entry's scale `max(|θ_j|, 1)`, powers of
two, the ones actually taken (`(θ_j + s) - θ_j`, divided by exactly), and
never across zero.  Values of `f` come through an `evaluation.FunctionEvaluator`.

This module is generic: it knows nothing of networks (see `gradcheck.fd.network`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.fd.evaluation import Evaluator, FunctionEvaluator
from gradcheck.fd.noise import EPS, noise_bound, noise_sigma
from gradcheck.fd.steps import (
    CENTRAL_STEP,
    RICHARDSON_STEP,
    default_step,
    entry_scale,
    power_of_two,
    within_sign,
)
from gradcheck.tolerance.policy import (  # noqa: F401 (CENTRAL_TRUNCATION_SAFETY: re-exported)
    CENTRAL_TRUNCATION_SAFETY,
    COMPLEX_ULPS,
    CROSS_CHECK_MARGIN,
    NOISE_SIGMAS,
)
from gradcheck.validate import as_step, as_theta, check_callable, check_flag, is_real_number

__all__ = [
    "METHODS",
    "NumericalGradient",
    "cross_checked",
    "differentiate",
    "extrapolate",
    "numerical_gradient",
]

METHODS = ("richardson", "central", "complex")
RICHARDSON_WINDOW = 4  # differences per extrapolation: cancels s^2, s^4, s^6 (error O(s^8))
RICHARDSON_MAX_LEVELS = 24  # halvings per entry at most: down to 1e-7 of the first step
RICHARDSON_GROWTH = 4.0  # stop once the estimate is this far above the best: past the optimum
RICHARDSON_GAIN = 1e-2  # a window is asymptotic if it shrinks its differences' spread 100-fold
COMPLEX_STEP_TRUNCATION = 1e-8  # relative steps above this may carry truncation: estimate it


@dataclass(frozen=True)
class NumericalGradient:
    """A gradient by finite differences, with a per-entry error estimate.

    Attributes
    ----------
    gradient : ndarray, shape (n,)
        The numerical gradient.  NaN where `f` was not finite near `theta`.
    error : ndarray, shape (n,)
        Estimated bound on ``|gradient - true gradient|`` per entry
        (truncation + rounding).  Infinite where no estimate was possible.
    method : str
        ``"richardson"``, ``"central"`` or ``"complex"``.
    step : ndarray, shape (n,)
        The step actually taken per entry: the step of the difference
        (central), the smallest step of the chosen extrapolation window
        (richardson), or the imaginary step (complex).
    n_evaluations : int
        How many parameter vectors `f` was evaluated at (including `theta`
        and, for the real-step methods, the 8 or 16 of the noise estimate).
    noise : float
        The noise of `f` near `theta` as measured (ECnoise: the standard
        deviation of its values' scatter); 0 for the complex step, which
        needs none.
    rounding : float
        The error bound one value of `f` would get from rounding alone (a few
        ulps of ``|f|``): where ``NOISE_SIGMAS * noise`` exceeds it, the
        noise widened the error estimates, by that ratio.
    """

    gradient: np.ndarray
    error: np.ndarray
    method: str
    step: np.ndarray
    n_evaluations: int
    noise: float = 0.0
    rounding: float = 0.0

    @property
    def noise_widening(self) -> float:
        """How many times the noise of `f` widened the rounding part of the bounds (1: not)."""
        if self.rounding <= 0.0:
            return 1.0
        return max(1.0, NOISE_SIGMAS * self.noise / self.rounding)


def numerical_gradient(
    f: Callable[[np.ndarray], Any],
    theta: Any,
    *,
    method: str = "richardson",
    step: Any = None,
    vectorized: bool = False,
    max_batch: int | None = None,
    f0: float | None = None,
) -> NumericalGradient:
    """The gradient of a scalar function by finite differences, with error estimates.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float`` for ``theta`` of shape (n,).  With
        ``vectorized=True``, ``f(rows) -> values`` for ``rows`` of shape
        (k, n), one parameter vector per row, and ``values`` of shape (k,).
        ``method="complex"`` needs an `f` that computes with complex input.
    theta : array_like, shape (n,)
        The point: real and finite.  Never modified.
    method : {"richardson", "central", "complex"}
        See the module docstring.  Richardson is the accurate default
        (~1e-12 relative, ~10 evaluations per entry); central the textbook
        one (~1e-9, 4 per entry); complex the most accurate (a few ulps,
        1 per entry) where `f` allows it.
    step : float or array_like, shape (n,), optional
        The step (Richardson: the first step; complex: the imaginary step,
        keep it tiny), in the units of `theta`, one for all entries or one
        per entry.  Default: relative to
        ``max(|theta_j|, 1)``.  Shortened to ``|theta_j|/2`` where it would
        cross zero (unless that is under 1/1000 of it).
    vectorized : bool
        Whether `f` takes a stack of parameter vectors (see `f`).
    max_batch : int, optional
        At most this many parameter vectors per call of a vectorized `f`.
        Default: as many as fit in 256 MiB.
    f0 : float, optional
        ``f(theta)``, if already known (saves one evaluation).

    Returns
    -------
    NumericalGradient
        ``.gradient`` and ``.error``, an estimated bound on its error per
        entry, both of shape (n,).

    Notes
    -----
    Floating-point warnings inside `f` at perturbed points are silenced: a
    non-finite value there only makes the steps that reach it unusable
    (Richardson then takes smaller ones).  An entry left without any usable
    step gets gradient NaN and error inf.

    The complex step is silently wrong for an `f` that is not analytic in
    its input (``abs``, ``conj``, ``np.real``, ``max``...).  An `f` that
    rejects complex input or drops its imaginary part raises `TypeError`.

    Examples
    --------
    >>> import numpy as np
    >>> ng = numerical_gradient(lambda x: np.sum(np.sin(x)), [0.0, 1.0])
    >>> bool(np.all(np.abs(ng.gradient - np.cos([0.0, 1.0])) <= ng.error))
    True
    """
    theta, step, max_batch, f0 = _validate_numerical_gradient(
        f, theta, method, step, vectorized, max_batch, f0
    )
    evaluate = Evaluator(f, theta, vectorized=vectorized, max_batch=max_batch)
    f0 = evaluate.at_theta() if f0 is None else f0
    step = default_step(theta, method) if step is None else step
    return differentiate(evaluate, theta, method=method, step=step, f0=f0)


def differentiate(
    evaluate: FunctionEvaluator,
    theta: np.ndarray,
    *,
    method: str,
    step: np.ndarray,
    f0: float,
    f_scale: float = 0.0,
    sigma: float | None = None,
) -> NumericalGradient:
    """The engine of `numerical_gradient`, on any evaluator of `f` near `theta`.

    `evaluate` provides ``along(index, step, imaginary=False) -> (values, steps
    taken)``, ``at(points) -> values`` and ``count`` (`evaluation.FunctionEvaluator`);
    `gradcheck.fd.network` passes one that exploits a network's structure.
    A value it returns as NaN makes that step unusable: Richardson then
    takes smaller steps. `f_scale` is the size of the terms `f` is computed
    from, when the caller knows it exceeds `|f|` (a sum of large terms that
    nearly cancel): each value of `f` then errs by at least `eps f_scale`.  `sigma` is the
    noise of `f` near `theta` when already measured (`noise.noise_sigma`): not measured again.
    """
    measured = 0.0
    with np.errstate(all="ignore"):
        if method == "complex":  # needs no noise level: nothing cancels
            gradient, error, taken = _complex_step(evaluate, theta, step)
        else:
            measured = noise_sigma(evaluate, theta, f0) if sigma is None else sigma
            sigma = max(measured, EPS * f_scale)
            method_of = _richardson if method == "richardson" else _central
            gradient, error, taken = method_of(evaluate, theta, step, f0, sigma)
            if method == "richardson":
                error = cross_checked(evaluate, theta, step, f0, sigma, gradient, error)
    error = np.where(np.isfinite(gradient) & np.isfinite(error), error, np.inf)
    rounding = float(noise_bound(max(abs(f0), f_scale), 0.0))
    return NumericalGradient(
        gradient, error, method, taken, evaluate.count, noise=measured, rounding=rounding
    )


def _centred(evaluate: FunctionEvaluator, index: np.ndarray, step: np.ndarray):
    """D = (f(θ + s1 e_j) - f(θ - s2 e_j)) / (s1 + s2), with the steps s1, s2 actually taken.

    Returns D, the mean step (s1 + s2) / 2 and max(|f(θ + s1 e_j)|, |f(θ - s2 e_j)|).
    """
    m = index.size
    values, taken = evaluate.along(np.concatenate([index, index]), np.concatenate([step, -step]))
    f_plus, f_minus, s1, s2 = values[:m], values[m:], taken[:m], -taken[m:]
    D = (f_plus - f_minus) / (s1 + s2)
    return D, (s1 + s2) / 2, np.maximum(np.abs(f_plus), np.abs(f_minus))


def _central(evaluate, theta, step, f0, sigma):
    """D(s), its truncation from D(2s) - D(s) = 3 c s^2 + O(s^4), its rounding 2 noise / 2s."""
    index = np.arange(theta.size)
    step = within_sign(theta, 2 * step) / 2  # 2s, too, stays on θ_j's side of zero
    D1, s1, f1 = _centred(evaluate, index, step)
    D2, _, f2 = _centred(evaluate, index, 2 * step)
    truncation = CENTRAL_TRUNCATION_SAFETY * np.abs(D2 - D1) / 3
    rounding = noise_bound(np.maximum(np.maximum(f1, f2), abs(f0)), sigma) / s1
    return D1, truncation + rounding, s1


def _complex_step(evaluate, theta, step):
    """Im f(θ + i s e_j) / s: nothing cancels, so a few ulps of the result are lost."""
    values, taken = evaluate.along(np.arange(theta.size), step, imaginary=True)
    gradient = values.imag / taken
    error = COMPLEX_ULPS * EPS * np.abs(gradient) + EPS * np.max(np.abs(gradient))
    large = np.flatnonzero(taken > COMPLEX_STEP_TRUNCATION * entry_scale(theta))
    if large.size:  # a step the caller chose large: the truncation (s^2/6) f''' is not nil
        half, _ = evaluate.along(large, taken[large] / 2, imaginary=True)
        # D(s) - D(s/2) = (3/4) c s^2, so D(s) is off by about 4/3 of it
        error[large] += 4.0 / 3.0 * np.abs(gradient[large] - half.imag / (taken[large] / 2))
    return gradient, error, taken


def _richardson(evaluate, theta, step, f0, sigma):
    """Ridders' method: extrapolate windows of centred differences at halving steps.

    At level k every still-active entry gets D(s0 / 2^k).  Each window of
    `RICHARDSON_WINDOW` consecutive levels is extrapolated to s = 0 with an
    error estimate (truncation from the tableau + rounding through its
    weights); an entry keeps its best window and stops once rounding
    dominates, or once the estimate has grown well past a best window that
    was in the asymptotic range (before it, estimates may jump about).
    """
    n, K, levels = theta.size, RICHARDSON_WINDOW, RICHARDSON_MAX_LEVELS
    # per entry and level: the difference D, its step S, and max |f| of its two values F
    D, S, F = (np.full((n, levels), np.nan) for _ in range(3))
    best, best_error, best_step = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.nan)
    converged = np.zeros(n, dtype=bool)  # is the best window in the asymptotic range?
    active = np.arange(n)
    first = within_sign(theta, step)
    for k in range(levels):
        D[active, k], S[active, k], F[active, k] = _centred(evaluate, active, first[active] / 2**k)
        if k < K - 1:
            continue
        window = slice(k - K + 1, k + 1)
        noise = noise_bound(np.maximum(F[active, window].max(axis=1), abs(f0)), sigma)
        value, truncation, rounding = extrapolate(D[active, window], S[active, window], noise)
        error = np.where(np.isfinite(value), truncation + rounding, np.inf)
        better = error < best_error[active]
        improved = active[better]
        best[improved] = value[better]
        best_error[improved] = error[better]
        best_step[improved] = S[improved, k]
        spread = np.abs(D[active, k] - D[active, k - K + 1])
        converged[improved] = truncation[better] <= RICHARDSON_GAIN * spread[better]
        past_best = converged[active] & (error > RICHARDSON_GROWTH * best_error[active])
        active = active[~((truncation <= rounding) | past_best)]
        if active.size == 0:
            break
    return best, best_error, np.where(np.isnan(best_step), S[:, K - 1], best_step)


def cross_checked(evaluate, theta, step, f0, sigma, gradient, error):
    """Richardson's estimate, raised where a plain centred difference contradicts it.

    A tableau can look converged by accident on a function whose structure
    lives at a scale far below the first step (a network deep in a steep
    region). One centred difference `D` at the classical step (two
    evaluations) exposes it: where `|R - D|` exceeds Richardson's estimate
    plus a few times `D`'s rounding, one of the two is wrong by about that
    much, and that is the honest estimate.
    """
    classical = within_sign(theta, power_of_two(step * (CENTRAL_STEP / RICHARDSON_STEP)))
    D, taken, f_size = _centred(evaluate, np.arange(theta.size), classical)
    rounding = noise_bound(np.maximum(f_size, abs(f0)), sigma) / taken
    disagree = np.abs(gradient - D)
    contradicted = np.isfinite(D) & (disagree > error + CROSS_CHECK_MARGIN * rounding)
    return np.where(contradicted, disagree + rounding, error)


def extrapolate(D: np.ndarray, S: np.ndarray, noise: np.ndarray):
    """Neville's tableau in s^2 over the columns of `D` (steps `S`, decreasing).

    Returns the extrapolated value; its truncation estimate, the larger
    distance to the two values of the level before; and its rounding bound,
    `noise / s_i` per difference weighted by the tableau's coefficients.
    """
    m, K = D.shape
    x = S**2
    T = [D[:, i] for i in range(K)]  # after level l, T[i] extrapolates D[:, i-l .. i]
    # C[i]: the same tableau on unit vectors, the coefficients of the D's in T[i]
    C = [np.tile(np.eye(K)[i], (m, 1)) for i in range(K)]
    for level in range(1, K):
        before = (T[K - 1], T[K - 2])  # after the loop: the level before the last
        for i in range(K - 1, level - 1, -1):
            ratio = x[:, i] / (x[:, i - level] - x[:, i])  # 1 / (4^level - 1) for halved steps
            T[i] = T[i] + (T[i] - T[i - 1]) * ratio
            C[i] = C[i] + (C[i] - C[i - 1]) * ratio[:, None]
    value = T[K - 1]
    truncation = np.maximum(np.abs(value - before[0]), np.abs(value - before[1]))
    rounding = noise * np.sum(np.abs(C[K - 1]) / S, axis=1)
    return value, truncation, rounding


def _validate_numerical_gradient(f, theta, method, step, vectorized, max_batch, f0):
    check_callable(f, "f")
    theta = as_theta(theta)
    if method not in METHODS:
        known = ", ".join(repr(m) for m in METHODS)
        raise ValueError(f"`method` must be one of {known}, got {method!r}")
    check_flag(vectorized, "vectorized")
    if max_batch is not None and not (
        isinstance(max_batch, (int, np.integer))
        and not isinstance(max_batch, bool)
        and max_batch >= 1
    ):
        raise ValueError(f"`max_batch` must be a positive integer, got {max_batch!r}")
    if f0 is not None and not (is_real_number(f0) and np.isfinite(f0)):
        raise ValueError(f"`f0` must be a finite real number, f(theta), got {f0!r}")
    return theta, as_step(step, theta.size), max_batch, None if f0 is None else float(f0)
