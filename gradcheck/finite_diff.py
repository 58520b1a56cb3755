"""Numerical gradients of any scalar function of a flat vector, each entry with an error estimate.

`numerical_gradient(f, theta)` differentiates `f` one coordinate at a time
and reports, next to every entry, an estimate of its error (truncation plus
rounding) that bounds the true error, so a check built on it needs no tuned
tolerance.  `check_gradient(f, grad, theta)` compares a candidate gradient
with it entry by entry; `compare_gradient` is that comparison alone.

Three methods, `e_j` being the j-th unit vector:

- ``"richardson"`` (default): centred differences `D(h) = (f(θ + h e_j) -
  f(θ - h e_j)) / 2h` at steps `h0, h0/2, h0/4, ...`, extrapolated to
  `h = 0` four at a time (Neville's tableau in `h^2` cancels the `h^2, h^4,
  h^6` terms of `D`).  The steps keep halving while truncation rather than
  rounding dominates, and each entry keeps its best window (Ridders'
  method), so a first step too large for the function costs evaluations,
  not accuracy.  Real evaluations only.
- ``"central"``: one centred difference at the classical step
  `eps^(1/3)` (relative), its truncation error estimated from a second one
  at twice the step.
- ``"complex"``: `Im f(θ + i h e_j) / h` with `h = 1e-20` (relative).
  Nothing cancels, so it is exact to a few ulps, for an `f` that is
  analytic and written to accept complex input.

Rounding: the real-step estimates count the error of the values of `f`,
taken as the larger of a few ulps of `|f|` and the noise of `f` measured
near θ (Moré & Wild's ECnoise, 8 or 16 extra evaluations): an `f` that
loses digits to cancellation, or is noisy, gets honest (large) estimates.

Limits: the estimates see how `f`'s values scatter, not a rounding error
that stays put near θ.  At an exact zero of an inner residual (a sum of
squares at a perfect fit) `f` is ill-conditioned: there every method, and
backprop itself, may be off by ~eps x (size of the residual's terms), more
than any estimate from values of `f` shows.  Check gradients away from a
perfect fit.

Steps: relative to the entry's scale `max(|θ_j|, 1)`, powers of two, the
ones actually taken (`(θ_j + h) - θ_j`, divided by exactly), and never
across zero (at most `|θ_j| / 2`), so a parameter that must stay positive
stays positive (unless |θ_j| is under 1/1000 of the step: zero, in effect).

This module is generic: it knows nothing of networks (see `network_fd`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .validate import (
    as_grad,
    as_step,
    as_theta,
    check_callable,
    check_flag,
    is_real_number,
)

__all__ = [
    "METHODS",
    "GradientCheck",
    "NumericalGradient",
    "check_gradient",
    "compare_gradient",
    "numerical_gradient",
]

EPS = float(np.finfo(np.float64).eps)
METHODS = ("richardson", "central", "complex")
TYPICAL_SCALE = 1.0  # Dennis & Schnabel's default typical size: steps scale with max(|θ_j|, 1)
MAX_STEP_FRACTION = 0.5  # no step exceeds |θ_j| / 2, so θ_j never changes sign...
MAX_SHORTENING = 1e-3  # ...unless that shortens the step 1000-fold: θ_j is then zero, in effect
CENTRAL_STEP = EPS ** (1 / 3)  # balances truncation h^2 |f'''| / 6 against rounding eps |f| / h
CENTRAL_TRUNCATION_SAFETY = 2.0  # D(2h) - D(h) measures the h^2 term only; the h^4 term may add
RICHARDSON_STEP = 2.0**-4  # first step, relative: measured best for 4-difference windows
RICHARDSON_WINDOW = 4  # differences per extrapolation: cancels h^2, h^4, h^6 (error O(h^8))
RICHARDSON_MAX_LEVELS = 24  # halvings per entry at most: down to 1e-7 of the first step
RICHARDSON_GROWTH = 4.0  # stop once the estimate is this far above the best: past the optimum
RICHARDSON_GAIN = 1e-2  # a window is asymptotic if it shrinks its differences' spread 100-fold
CROSS_CHECK_MARGIN = 4.0  # a centred difference may be off by a few times its rounding bound
COMPLEX_STEP_TRUNCATION = 1e-8  # relative steps above this may carry truncation: estimate it
COMPLEX_STEP = 1e-20  # far below eps: the truncation h^2 |f'''| / 6 vanishes, nothing cancels
COMPLEX_ULPS = 32.0  # its error in ulps of the entry: Re-part roundings reach Im (seen: 20)
ROUNDING_ULPS = 4.0  # least error of one value of f, in units of eps |f|
NOISE_POINTS = 9  # values of f along a line for the noise estimate (Moré & Wild use 7 to 9)
NOISE_SPACINGS = (1e-6, 1e-9)  # relative: differences of order >= 3 of smooth f fall below eps
NOISE_AGREEMENT = 4.0  # ECnoise accepts a level when three orders agree within this factor
NOISE_SIGMAS = 4.0  # error bound of one value of f, in standard deviations of its noise
NOISE_SEED = 0  # the noise-sampling direction is fixed: results are reproducible
CHUNK_BYTES = 256 * 2**20  # vectorized mode: memory of one batch of perturbed vectors, at most
CHECK_SAFETY = 10.0  # tolerance = safety x error estimate: estimates may be a few times low
CANDIDATE_ULPS = 8.0  # the candidate's own rounding, in ulps of |grad_j| + ||grad||
REPORT_ROWS = 10  # failing entries listed in a report: a screenful at most


# ----------------------------------------------------------------------------- results


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
    """

    gradient: np.ndarray
    error: np.ndarray
    method: str
    step: np.ndarray
    n_evaluations: int


def _default_name(j: int) -> str:
    return f"theta[{j}]"


@dataclass(frozen=True)
class GradientCheck:
    """The verdict of `check_gradient`: a candidate gradient against a numerical one.

    Attributes
    ----------
    passed : bool
        True when every verifiable entry is within its tolerance.
    gradient : ndarray, shape (n,)
        The candidate, as given (a float64 copy).
    numerical : NumericalGradient
        The finite-difference gradient it was compared with.
    tolerance : ndarray, shape (n,)
        Allowed ``|gradient - numerical.gradient|`` per entry.
    error : ndarray, shape (n,)
        ``|gradient - numerical.gradient|``.
    failures : ndarray of int
        Indices of the entries beyond tolerance (NaN/Inf candidates
        included), worst (largest error/tolerance) first.
    unverifiable : ndarray of int
        Indices whose numerical value or error is not finite (`f` undefined
        nearby): no verdict is possible there, and they do not fail the check.
    safety, rtol : float
        The tolerance rule's parameters, for the report.
    names : callable
        Index -> entry name, for the report.
    """

    passed: bool
    gradient: np.ndarray
    numerical: NumericalGradient
    tolerance: np.ndarray
    error: np.ndarray
    failures: np.ndarray
    unverifiable: np.ndarray
    safety: float = CHECK_SAFETY
    rtol: float = 0.0
    names: Callable[[int], str] = field(default=_default_name, repr=False)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return _format_check(self)


# ----------------------------------------------------------------------------- public API


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
    evaluate = _Evaluator(f, theta, vectorized=vectorized, max_batch=max_batch)
    f0 = evaluate.at_theta() if f0 is None else f0
    step = _default_step(theta, method) if step is None else step
    return differentiate(evaluate, theta, method=method, step=step, f0=f0)


def differentiate(
    evaluate: Any,
    theta: np.ndarray,
    *,
    method: str,
    step: np.ndarray,
    f0: float,
    f_scale: float = 0.0,
) -> NumericalGradient:
    """The engine of `numerical_gradient`, on any evaluator of `f` near `theta`.

    `evaluate` provides ``along(index, h, imaginary=False) -> (values, steps
    taken)``, ``at(points) -> values`` and ``count`` (see `_Evaluator`);
    `gradcheck.network_fd` passes one that exploits a network's structure.
    A value it returns as NaN makes that step unusable: Richardson then
    takes smaller steps. `f_scale` is the size of the terms `f` is computed
    from, when the caller knows it exceeds `|f|` (a sum of large terms that
    nearly cancel): each value of `f` then errs by at least `eps f_scale`.
    """
    with np.errstate(all="ignore"):
        if method == "complex":  # needs no noise level: nothing cancels
            gradient, error, taken = _complex_step(evaluate, theta, step)
        else:
            sigma = max(_noise_sigma(evaluate, theta, f0), EPS * f_scale)
            method_of = _richardson if method == "richardson" else _central
            gradient, error, taken = method_of(evaluate, theta, step, f0, sigma)
            if method == "richardson":
                error = _cross_checked(evaluate, theta, step, f0, sigma, gradient, error)
    error = np.where(np.isfinite(gradient) & np.isfinite(error), error, np.inf)
    return NumericalGradient(gradient, error, method, taken, evaluate.count)


def check_gradient(
    f: Callable[[np.ndarray], Any],
    grad: Any,
    theta: Any,
    *,
    method: str = "richardson",
    names: Callable[[int], str] | None = None,
    vectorized: bool = False,
    rtol: float | None = None,
    safety: float = CHECK_SAFETY,
) -> GradientCheck:
    """Check a candidate gradient of `f` at `theta` against finite differences.

    Entry `j` passes when ``|grad_j - numerical_j| <= safety * error_j +
    rtol * |numerical_j| + floor_j``: ``error_j`` is the numerical
    gradient's own error estimate, ``floor_j`` 8 ulps (in `grad`'s dtype)
    of ``|grad_j| + ||grad||``, so exact zeros and tiny entries never cause
    false alarms.  No tolerance needs tuning.

    Parameters
    ----------
    f : callable
        As in `numerical_gradient`.
    grad : array_like, shape (n,)
        The candidate gradient (float32 is welcome: the floor follows its
        dtype).  NaN or Inf entries fail, by name.
    theta : array_like, shape (n,)
        The point.  Never modified.
    method : {"richardson", "central", "complex"}
        The finite-difference method.
    names : callable, optional
        ``names(j) -> str`` names entry `j` in the report (e.g.
        ``"W^1[3,0]"``); default ``"theta[j]"``.
    vectorized : bool
        As in `numerical_gradient`.
    rtol : float, optional
        Extra relative tolerance, to loosen the check (e.g. ``1e-5`` for a
        float32 candidate built from long sums).  Default 0.
    safety : float
        Multiple of the error estimate allowed.  Default 10.

    Returns
    -------
    GradientCheck
        ``.passed``, per-entry ``.tolerance`` and ``.error``, ``.failures``
        worst first; ``str()`` of it is a readable report.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: np.sum(x**3)
    >>> check_gradient(f, [3.0, 12.0], [1.0, 2.0]).passed
    True
    >>> check_gradient(f, [3.0, 12.1], [1.0, 2.0]).passed
    False
    """
    grad, theta = _validate_check_gradient(grad, theta, names, rtol, safety)
    numerical = numerical_gradient(f, theta, method=method, vectorized=vectorized)
    return compare_gradient(grad, numerical, names=names, rtol=rtol, safety=safety)


def compare_gradient(
    grad: Any,
    numerical: NumericalGradient,
    *,
    names: Callable[[int], str] | None = None,
    rtol: float | None = None,
    safety: float = CHECK_SAFETY,
) -> GradientCheck:
    """Compare a candidate gradient with a `NumericalGradient`, entry by entry.

    The comparison step of `check_gradient` (same rule, same options), for a
    numerical gradient computed elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> ng = numerical_gradient(lambda x: float(x @ x), [1.0, -2.0])
    >>> compare_gradient([2.0, -4.0], ng).passed
    True
    """
    grad, names, rtol, safety = _validate_compare_gradient(grad, numerical, names, rtol, safety)
    eps_candidate = float(np.finfo(grad.dtype).eps)
    grad = grad.astype(np.float64)  # a copy: the caller's array is never aliased
    tolerance = _tolerance(grad, numerical, eps_candidate, rtol, safety)
    with np.errstate(invalid="ignore"):
        error = np.abs(grad - numerical.gradient)
    verifiable = np.isfinite(numerical.gradient) & np.isfinite(numerical.error)
    failing = verifiable & ~(error <= tolerance)  # NaN/Inf candidates fail too
    return GradientCheck(
        passed=not failing.any(),
        gradient=grad,
        numerical=numerical,
        tolerance=tolerance,
        error=error,
        failures=_worst_first(np.flatnonzero(failing), error, tolerance),
        unverifiable=np.flatnonzero(~verifiable),
        safety=safety,
        rtol=rtol,
        names=names,
    )


# ----------------------------------------------------------------------------- steps and noise


def _scale(theta: np.ndarray) -> np.ndarray:
    """The typical size of each parameter: max(|θ_j|, 1)."""
    return np.maximum(np.abs(theta), TYPICAL_SCALE)


def power_of_two(x: np.ndarray) -> np.ndarray:
    """The power of two nearest |x|: exact to halve, and most often exact to add to θ_j."""
    return 2.0 ** np.round(np.log2(np.abs(x)))


def _default_step(theta: np.ndarray, method: str) -> np.ndarray:
    """The (first) step per entry: a fraction of the entry's scale."""
    relative = {"central": CENTRAL_STEP, "richardson": RICHARDSON_STEP, "complex": COMPLEX_STEP}
    return power_of_two(relative[method] * _scale(theta))


def _within_sign(theta: np.ndarray, h: np.ndarray) -> np.ndarray:
    """`h`, shortened to |θ_j| / 2 where it would carry θ_j across zero.

    Not where that would shorten it more than 1000-fold: such a θ_j is zero
    at the resolution of the step, and so short a step would drown in rounding.
    """
    limit = MAX_STEP_FRACTION * np.abs(theta)
    return np.where((h > limit) & (limit >= MAX_SHORTENING * h), limit, h)


def _noise_sigma(evaluate: _Evaluator, theta: np.ndarray, f0: float) -> float:
    """The noise of f near θ (std of its rounding errors) by ECnoise; 0 if too small to see.

    f is sampled at equally spaced points along a fixed random direction,
    in steps that are powers of two (so the points are exact), at a spacing
    of 1e-6 of the entries' scale, then 1e-9 if f's curvature still shows.
    """
    half = NOISE_POINTS // 2
    offsets = np.delete(np.arange(-half, half + 1), half)[:, None]  # the middle point is θ: f0
    sign = np.random.default_rng(NOISE_SEED).choice([-1.0, 1.0], theta.size)
    for spacing in NOISE_SPACINGS:
        delta = sign * power_of_two(spacing * _scale(theta))
        values = np.insert(evaluate.at(theta + offsets * delta), half, f0)
        sigma = _ecnoise(values)
        if sigma is not None:
            return sigma
    return 0.0


def _ecnoise(values: np.ndarray) -> float | None:
    """Moré & Wild (2011): the noise level from the difference table of equally spaced values.

    The k-th differences of noise of std σ have mean square σ^2 / γ_k, with
    γ_k = (k!)^2 / (2k)!.  The level of order k is accepted when it and the
    next two agree within a factor 4 and the k-th differences change sign
    (noise, not curvature).  None when no order qualifies.
    """
    d = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        return None
    if np.all(d == d[0]):
        return 0.0
    levels, sign_change, gamma = [], [], 1.0
    for k in range(1, d.size):
        d = np.diff(d)
        gamma *= 0.5 * k / (2 * k - 1)  # γ_k from γ_{k-1}
        levels.append(float(np.sqrt(gamma * np.mean(d**2))))
        sign_change.append(bool(d.min() < 0 < d.max()))
    for k in range(len(levels) - 2):
        three = levels[k : k + 3]
        if max(three) <= NOISE_AGREEMENT * min(three) and sign_change[k]:
            return levels[k]
    return None


def _noise_bound(f_size: np.ndarray | float, sigma: float) -> np.ndarray:
    """Bound on the error of one value of f of size `f_size`: rounding, or the measured noise."""
    return np.maximum(ROUNDING_ULPS * EPS * np.asarray(f_size), NOISE_SIGMAS * sigma)


# ----------------------------------------------------------------------------- the methods


def _centred(evaluate: _Evaluator, index: np.ndarray, h: np.ndarray):
    """D = (f(θ + h1 e_j) - f(θ - h2 e_j)) / (h1 + h2), with the steps actually taken.

    Returns D, the mean step (h1 + h2) / 2 and max(|f(θ + h1 e_j)|, |f(θ - h2 e_j)|).
    """
    m = index.size
    values, taken = evaluate.along(np.concatenate([index, index]), np.concatenate([h, -h]))
    f_plus, f_minus, h1, h2 = values[:m], values[m:], taken[:m], -taken[m:]
    D = (f_plus - f_minus) / (h1 + h2)
    return D, (h1 + h2) / 2, np.maximum(np.abs(f_plus), np.abs(f_minus))


def _central(evaluate, theta, step, f0, sigma):
    """D(h), its truncation from D(2h) - D(h) = 3 c h^2 + O(h^4), its rounding 2 noise / 2h."""
    index = np.arange(theta.size)
    h = _within_sign(theta, 2 * step) / 2  # 2h, too, stays on θ_j's side of zero
    D1, h1, f1 = _centred(evaluate, index, h)
    D2, _, f2 = _centred(evaluate, index, 2 * h)
    truncation = CENTRAL_TRUNCATION_SAFETY * np.abs(D2 - D1) / 3
    rounding = _noise_bound(np.maximum(np.maximum(f1, f2), abs(f0)), sigma) / h1
    return D1, truncation + rounding, h1


def _complex_step(evaluate, theta, step):
    """Im f(θ + i h e_j) / h: nothing cancels, so a few ulps of the result are lost."""
    values, h = evaluate.along(np.arange(theta.size), step, imaginary=True)
    gradient = values.imag / h
    error = COMPLEX_ULPS * EPS * np.abs(gradient) + EPS * np.max(np.abs(gradient))
    large = np.flatnonzero(h > COMPLEX_STEP_TRUNCATION * _scale(theta))
    if large.size:  # a step the caller chose large: the truncation (h^2/6) f''' is not nil
        half, _ = evaluate.along(large, h[large] / 2, imaginary=True)
        # D(h) - D(h/2) = (3/4) c h^2, so D(h) is off by about 4/3 of it
        error[large] += 4.0 / 3.0 * np.abs(gradient[large] - half.imag / (h[large] / 2))
    return gradient, error, h


def _richardson(evaluate, theta, step, f0, sigma):
    """Ridders' method: extrapolate windows of centred differences at halving steps.

    At level k every still-active entry gets D(h0 / 2^k).  Each window of
    `RICHARDSON_WINDOW` consecutive levels is extrapolated to h = 0 with an
    error estimate (truncation from the tableau + rounding through its
    weights); an entry keeps its best window and stops once rounding
    dominates, or once the estimate has grown well past a best window that
    was in the asymptotic range (before it, estimates may jump about).
    """
    n, K, levels = theta.size, RICHARDSON_WINDOW, RICHARDSON_MAX_LEVELS
    D, H, F = (np.full((n, levels), np.nan) for _ in range(3))  # differences, steps, max |f|
    best, best_error, best_step = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.nan)
    converged = np.zeros(n, dtype=bool)  # is the best window in the asymptotic range?
    active = np.arange(n)
    h0 = _within_sign(theta, step)
    for k in range(levels):
        D[active, k], H[active, k], F[active, k] = _centred(evaluate, active, h0[active] / 2**k)
        if k < K - 1:
            continue
        window = slice(k - K + 1, k + 1)
        noise = _noise_bound(np.maximum(F[active, window].max(axis=1), abs(f0)), sigma)
        value, truncation, rounding = _extrapolate(D[active, window], H[active, window], noise)
        error = np.where(np.isfinite(value), truncation + rounding, np.inf)
        better = error < best_error[active]
        improved = active[better]
        best[improved] = value[better]
        best_error[improved] = error[better]
        best_step[improved] = H[improved, k]
        spread = np.abs(D[active, k] - D[active, k - K + 1])
        converged[improved] = truncation[better] <= RICHARDSON_GAIN * spread[better]
        past_best = converged[active] & (error > RICHARDSON_GROWTH * best_error[active])
        active = active[~((truncation <= rounding) | past_best)]
        if active.size == 0:
            break
    return best, best_error, np.where(np.isnan(best_step), H[:, K - 1], best_step)


def _cross_checked(evaluate, theta, step, f0, sigma, gradient, error):
    """Richardson's estimate, raised where a plain centred difference contradicts it.

    A tableau can look converged by accident on a function whose structure
    lives at a scale far below the first step (a network deep in a steep
    region). One centred difference `D` at the classical step (two
    evaluations) exposes it: where `|R - D|` exceeds Richardson's estimate
    plus a few times `D`'s rounding, one of the two is wrong by about that
    much, and that is the honest estimate.
    """
    h = _within_sign(theta, power_of_two(step * (CENTRAL_STEP / RICHARDSON_STEP)))
    D, taken, f_size = _centred(evaluate, np.arange(theta.size), h)
    rounding = _noise_bound(np.maximum(f_size, abs(f0)), sigma) / taken
    disagree = np.abs(gradient - D)
    contradicted = np.isfinite(D) & (disagree > error + CROSS_CHECK_MARGIN * rounding)
    return np.where(contradicted, disagree + rounding, error)


def _extrapolate(D: np.ndarray, h: np.ndarray, noise: np.ndarray):
    """Neville's tableau in h^2 over the columns of `D` (steps `h`, decreasing).

    Returns the extrapolated value; its truncation estimate, the larger
    distance to the two values of the level before; and its rounding bound,
    `noise / h_i` per difference weighted by the tableau's coefficients.
    """
    m, K = D.shape
    x = h**2
    T = [D[:, i] for i in range(K)]  # after level l, T[i] extrapolates D[:, i-l .. i]
    W = [np.tile(np.eye(K)[i], (m, 1)) for i in range(K)]  # the same tableau on unit vectors
    for level in range(1, K):
        before = (T[K - 1], T[K - 2])  # after the loop: the level before the last
        for i in range(K - 1, level - 1, -1):
            ratio = x[:, i] / (x[:, i - level] - x[:, i])  # 1 / (4^level - 1) for halved steps
            T[i] = T[i] + (T[i] - T[i - 1]) * ratio
            W[i] = W[i] + (W[i] - W[i - 1]) * ratio[:, None]
    value = T[K - 1]
    truncation = np.maximum(np.abs(value - before[0]), np.abs(value - before[1]))
    rounding = noise * np.sum(np.abs(W[K - 1]) / h, axis=1)
    return value, truncation, rounding


# ----------------------------------------------------------------------------- the comparison


def _tolerance(grad, numerical, eps_candidate, rtol, safety):
    """safety x error estimate + rtol |numerical| + 8 ulps of |grad_j| + ||grad||."""
    size = np.where(np.isfinite(grad), np.abs(grad), 0.0)  # a NaN candidate fails regardless
    largest = size.max(initial=0.0)
    norm = (
        largest * np.linalg.norm(size / largest) if largest > 0 else 0.0
    )  # no overflow past 1e154
    floor = (
        CANDIDATE_ULPS * eps_candidate * size + CANDIDATE_ULPS * eps_candidate * norm
    )  # no overflow
    return safety * numerical.error + rtol * np.abs(numerical.gradient) + floor


def _worst_first(indices: np.ndarray, error: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """`indices` by decreasing error / tolerance, NaN (worst of all) first."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = error[indices] / tolerance[indices]
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return indices[np.argsort(-ratio, kind="stable")]


# ----------------------------------------------------------------------------- evaluation


class _Evaluator:
    """Evaluates `f` at perturbations of θ, in batches when vectorized, and counts them.

    ``along(index, h)`` returns ``f(θ + h_i e_{index_i})`` for every i and
    the steps actually taken, ``(θ_j + h_i) - θ_j``; with ``imaginary=True``
    the move is ``i h_i e_{index_i}`` and the values complex.  ``at(points)``
    evaluates f at the rows of `points`.
    """

    def __init__(self, f, theta: np.ndarray, *, vectorized: bool, max_batch: int | None):
        self.f, self.theta, self.vectorized = f, theta, vectorized
        self.max_batch = max_batch or max(1, CHUNK_BYTES // (16 * theta.size))
        self.count = 0

    def at_theta(self) -> float:
        """f(θ), checked: a finite real number."""
        value = self.at(self.theta[None, :])[0]
        if not np.isfinite(value):
            raise ValueError(f"`f` returned {value} at `theta`: the gradient is not defined there")
        return float(value)

    def at(self, points: np.ndarray) -> np.ndarray:
        return self._evaluate(len(points), lambda part: points[part].copy(), complex_input=False)

    def along(self, index: np.ndarray, h: np.ndarray, *, imaginary: bool = False):
        theta = self.theta
        if imaginary:
            moved, taken = theta[index] + 1j * h, np.array(h, dtype=np.float64)
        else:
            moved = theta[index] + h
            taken = moved - theta[index]

        def rows(part: slice) -> np.ndarray:  # θ, with entry index[i] set to moved[i] in row i
            X = np.repeat(theta[None, :].astype(moved.dtype), len(moved[part]), axis=0)
            X[np.arange(len(X)), index[part]] = moved[part]
            return X

        return self._evaluate(index.size, rows, complex_input=imaginary), taken

    def _evaluate(self, k: int, rows: Callable[[slice], np.ndarray], *, complex_input: bool):
        values = np.empty(k, dtype=np.complex128 if complex_input else np.float64)
        for start in range(0, k, self.max_batch):
            part = slice(start, min(start + self.max_batch, k))
            X = rows(part)  # fresh: f may keep or alter it
            if self.vectorized:
                values[part] = self._batch(X, complex_input)
            else:
                values[part] = [_scalar(_call(self.f, x, complex_input), complex_input) for x in X]
        self.count += k
        return values

    def _batch(self, X: np.ndarray, complex_input: bool) -> np.ndarray:
        values = np.asarray(_call(self.f, X, complex_input))
        if values.shape != (len(X),):
            raise ValueError(
                f"`f` (vectorized) must return one value per row, shape ({len(X)},) for input "
                f"of shape {X.shape}, got shape {values.shape}"
            )
        return _check_kind(values, complex_input)


_ComplexWarning = getattr(np, "exceptions", np).ComplexWarning


def _call(f, x: np.ndarray, complex_input: bool) -> Any:
    """f(x); for complex x, any failure is the complex input's (f(θ) worked)."""
    if not complex_input:
        return f(x)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _ComplexWarning)  # f casting to real drops Im
            return f(x)
    except Exception as exc:
        raise TypeError(
            f"`f` does not support complex input (it raised {type(exc).__name__}: {exc}); "
            "use method='richardson'"
        ) from exc


def _scalar(value: Any, complex_input: bool) -> Any:
    """One value of f, checked: a number (a size-1 array will do), real unless complex input."""
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f"`f` must return a scalar, got shape {array.shape}")
    return _check_kind(array.reshape(()), complex_input)[()]


def _check_kind(values: np.ndarray, complex_input: bool) -> np.ndarray:
    kind = values.dtype.kind
    if kind not in "biufc":
        raise TypeError(f"`f` must return a number, got dtype {values.dtype}")
    if complex_input and kind != "c":
        raise TypeError(
            "`f` does not support complex input: it returned a real value for complex "
            "input (it drops the imaginary part); use method='richardson'"
        )
    if not complex_input and kind == "c":
        raise TypeError(f"`f` must return a real value for real input, got dtype {values.dtype}")
    return values.astype(np.complex128 if complex_input else np.float64)


# ----------------------------------------------------------------------------- validation


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


def _check_comparison_options(names, rtol, safety) -> None:
    if names is not None:
        check_callable(names, "names")
    if rtol is not None and not (is_real_number(rtol) and 0 <= rtol < np.inf):
        raise ValueError(f"`rtol` must be a non-negative number, got {rtol!r}")
    if not (is_real_number(safety) and 0 < safety < np.inf):
        raise ValueError(f"`safety` must be a positive number, got {safety!r}")


def _validate_check_gradient(grad, theta, names, rtol, safety):
    theta = as_theta(theta)
    grad = as_grad(grad, theta.size)
    _check_comparison_options(names, rtol, safety)
    return grad, theta


def _validate_compare_gradient(grad, numerical, names, rtol, safety):
    if not isinstance(numerical, NumericalGradient):
        raise TypeError(f"`numerical` must be a NumericalGradient, got {type(numerical).__name__}")
    grad = as_grad(grad, numerical.gradient.size)
    _check_comparison_options(names, rtol, safety)
    return grad, names or _default_name, float(rtol or 0.0), float(safety)


# ----------------------------------------------------------------------------- the report


def _format_check(check: GradientCheck) -> str:
    """A numpy-assert_allclose-like report: the rule, the count, the worst entries."""
    n, k = check.gradient.size, check.failures.size
    numerical = check.numerical
    rule = f"|grad - numerical| <= {check.safety:g} x error estimate"
    if check.rtol:
        rule += f" + {check.rtol:g} x |numerical|"
    rule += f" + {CANDIDATE_ULPS:g} ulp x (|grad_j| + ||grad||)"
    lines = [
        f"Gradient check {'passed' if check.passed else 'FAILED'} "
        f"({numerical.method}, {numerical.n_evaluations} evaluations of f)",
        f"rule: {rule}",
        f"{k} of {n} entries mismatch ({100 * k / n:.3g}%)",
    ]
    finite = np.isfinite(check.error)
    if finite.any():
        size = np.maximum(np.abs(numerical.gradient[finite]), np.finfo(np.float64).tiny)
        lines.append(f"max absolute difference: {np.max(check.error[finite]):.3e}")
        lines.append(f"max relative difference: {np.max(check.error[finite] / size):.3e}")
    if k:
        lines.append(_table(check, check.failures[:REPORT_ROWS]))
        if k > REPORT_ROWS:
            lines.append(f"  ... and {k - REPORT_ROWS} more")
    if check.unverifiable.size:
        shown = ", ".join(check.names(int(j)) for j in check.unverifiable[:REPORT_ROWS])
        more = ", ..." if check.unverifiable.size > REPORT_ROWS else ""
        lines.append(
            f"{check.unverifiable.size} entries unverifiable (f not finite near theta): "
            f"{shown}{more}"
        )
    return "\n".join(lines)


def _table(check: GradientCheck, rows: np.ndarray) -> str:
    header = ("entry", "candidate", "numerical", "|diff|", "allowed")
    body = [
        (
            check.names(int(j)),
            f"{check.gradient[j]:.9g}",
            f"{check.numerical.gradient[j]:.9g}",
            f"{check.error[j]:.3e}",
            f"{check.tolerance[j]:.3e}",
        )
        for j in rows
    ]
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]
    return "\n".join(
        "  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *body]
    )
