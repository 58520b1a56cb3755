"""How far one value of `f` may be off: its rounding, or its noise measured near θ (ECnoise).

The real-step finite differences of `finite_diff` divide a difference of two
values of `f` by a step, so the error of those values sets their rounding
error.  It is taken as the larger of a few ulps of `|f|` and the noise of `f`
measured near θ by Moré & Wild's ECnoise (8 or 16 extra evaluations): an `f`
that loses digits to cancellation, or is noisy, gets honest (large) bounds.
`taylor` bounds the rounding floor of its remainders the same way.

Limits: this sees how `f`'s values scatter, not a rounding error that stays
put near θ (see `finite_diff`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradcheck.fd.evaluation import FunctionEvaluator
from gradcheck.fd.steps import entry_scale, power_of_two
from gradcheck.tolerance.policy import NOISE_SIGMAS, ROUNDING_ULPS

__all__ = [
    "EPS",
    "ROUNDING_ULPS",
    "ecnoise",
    "ecnoise_columns",
    "noise_bound",
    "noise_sigma",
    "output_noise",
]

EPS = float(np.finfo(np.float64).eps)
NOISE_POINTS = 9  # values of f along a line for the noise estimate (Moré & Wild use 7 to 9)
NOISE_SPACINGS = (1e-6, 1e-9)  # relative: differences of order >= 3 of smooth f fall below eps
NOISE_AGREEMENT = 4.0  # ECnoise accepts a level when three orders agree within this factor
NOISE_SEED = 0  # the noise-sampling direction is fixed: results are reproducible


def noise_sigma(evaluate: FunctionEvaluator, theta: np.ndarray, f0: float) -> float:
    """The noise of f near θ (std of its rounding errors) by ECnoise; 0 if too small to see.

    f is sampled at equally spaced points along a fixed random direction,
    in steps that are powers of two (so the points are exact), at a spacing
    of 1e-6 of the entries' scale, then 1e-9 if f's curvature still shows.
    `evaluate` is an evaluator of f near θ (`evaluation.FunctionEvaluator`).
    """
    half = NOISE_POINTS // 2
    offsets = np.delete(np.arange(-half, half + 1), half)[:, None]  # the middle point is θ: f0
    sign = np.random.default_rng(NOISE_SEED).choice([-1.0, 1.0], theta.size)
    for spacing in NOISE_SPACINGS:
        delta = sign * power_of_two(spacing * entry_scale(theta))
        values = np.insert(evaluate.at(theta + offsets * delta), half, f0)
        sigma = ecnoise(values)
        if sigma is not None:
            return sigma
    return 0.0


def output_noise(
    f_vec: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, f0: np.ndarray
) -> np.ndarray:
    """The noise of each output of a vector-valued f near θ (ECnoise per output; 0 where too small).

    As `noise_sigma`, on ``f_vec(theta) -> values, shape (m,)``: the same points along the same
    fixed direction, every output's difference table read on its own, so an output that sums
    terms which cancel gets the scatter of its terms, not a few ulps of its small value.
    """
    half = NOISE_POINTS // 2
    offsets = np.delete(np.arange(-half, half + 1), half)
    sign = np.random.default_rng(NOISE_SEED).choice([-1.0, 1.0], theta.size)
    sigma = np.full(f0.size, np.nan)
    for spacing in NOISE_SPACINGS:
        delta = sign * power_of_two(spacing * entry_scale(theta))
        rows = [f_vec(theta + k * delta) for k in offsets]
        found = ecnoise_columns(np.insert(np.array(rows), half, f0, axis=0))
        open_ = np.isnan(sigma)
        sigma[open_] = found[open_]
        if not np.isnan(sigma).any():
            break
    return np.where(np.isnan(sigma), 0.0, sigma)


def ecnoise_columns(values: np.ndarray) -> np.ndarray:
    """`ecnoise` of every column of `values` (shape (points, m)) at once; NaN where none qualifies.

    Examples
    --------
    >>> ecnoise_columns(np.ones((4, 2))).tolist()
    [0.0, 0.0]
    """
    d = np.asarray(values, dtype=np.float64)
    points, m = d.shape
    sigma = np.full(m, np.nan)
    finite = np.all(np.isfinite(d), axis=0)
    sigma[finite & np.all(d == d[0], axis=0)] = 0.0
    levels, sign_change, gamma = [], [], 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(1, points):
            d = np.diff(d, axis=0)
            gamma *= 0.5 * k / (2 * k - 1)  # γ_k from γ_{k-1}
            levels.append(np.sqrt(gamma * np.mean(d**2, axis=0)))
            sign_change.append((d.min(axis=0) < 0) & (0 < d.max(axis=0)))
    for k in range(len(levels) - 2):
        three = np.array(levels[k : k + 3])
        accept = finite & np.isnan(sigma) & sign_change[k]
        accept &= three.max(axis=0) <= NOISE_AGREEMENT * three.min(axis=0)
        sigma[accept] = levels[k][accept]
    return sigma


def ecnoise(values: np.ndarray) -> float | None:
    """Moré & Wild (2011): the noise level from the difference table of equally spaced values.

    The k-th differences of noise of std σ have mean square σ^2 / γ_k, with
    γ_k = (k!)^2 / (2k)!.  The level of order k is accepted when it and the
    next two agree within a factor 4 and the k-th differences change sign
    (noise, not curvature).  None when no order qualifies.

    Examples
    --------
    >>> ecnoise([1.0, 1.0, 1.0, 1.0])
    0.0
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


def noise_bound(f_size: np.ndarray | float, sigma: float) -> np.ndarray:
    """Bound on the error of one value of f of size `f_size`: rounding, or the measured noise."""
    return np.maximum(ROUNDING_ULPS * EPS * np.asarray(f_size), NOISE_SIGMAS * sigma)
