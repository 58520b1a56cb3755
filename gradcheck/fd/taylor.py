"""The Taylor remainder test: does a gradient make `f` second-order accurate along directions?

For a direction `v` and a small `e`, Taylor's theorem says

    R(e) = |f(θ + e v) - f(θ) - e grad·v| = O(e^2)

when `grad` is the gradient of `f` at θ, and `R(e) ~ e |(grad - true)·v|`
(first order) when it is not.  `taylor_test` sweeps `e` over many decades,
fits the observed order of `R` in log-log, and passes a direction whose
order is about 2 (the test of dolfin-adjoint/pyadjoint's `taylor_test`).

Which points enter the fit:

- a point whose remainder is within `TAYLOR_SAFETY` times the rounding
  floor (the rounding of the two values of f, measured as in
  `noise`, and of the product `e grad·v`) is dropped: there `R` is
  noise, not Taylor;
- so is a point with `e > 1/16` (a move of over 6% of each entry): at large
  `e` higher-order terms, or a saturating `f`, may dominate;
- of the rest, the fit takes the `TAYLOR_WINDOW` smallest `e`, the most
  asymptotic, after dropping any at the small end whose remainder no longer
  falls with `e` (noise the floor missed: no gradient error does that);
- a direction with fewer than 3 points left is "exact to rounding" (f is
  linear along it to the last bits, or varies too little for its rounding
  to tell): it passes, with rate NaN.

A random direction sees every entry's error: its entries have random signs
and magnitudes in [1/2, 3/2] (never near zero, so no entry hides; continuous,
so errors in several entries cannot cancel exactly).  Even-numbered random
directions scale each entry like θ_j (fair to mixed scales), odd-numbered
ones use one typical scale for all (fair to tiny entries); one more per
`block`, supported on that block alone and scaled to its typical size, so a
bug in a small block is not drowned by the rest.

This module is generic: any scalar function of a flat float vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.fd.evaluation import Evaluator
from gradcheck.fd.noise import noise_bound, noise_sigma
from gradcheck.tolerance.policy import CANDIDATE_ULPS, PASS_RATE
from gradcheck.validate import (
    as_theta,
    as_vector,
    check_callable,
    check_flag,
    evaluated_grad,
    real_float_copy,
)

__all__ = ["TaylorResult", "taylor_test"]

EPSILONS = 2.0 ** -np.arange(34)  # 1 down to 6e-11 by halves: many points in every regime
N_RANDOM = 4  # random directions: two scaled like θ, two flat
TAYLOR_SAFETY = 30.0  # keep remainders this far above the rounding floor: < 4% noise in each
TAYLOR_WINDOW = 5  # points per fit: a factor 16 in e, enough to average out what noise is left
MAX_FIT_EPSILON = 2.0**-4  # larger moves (> 6% of each entry) are for the plot, not the fit
MIN_FIT_POINTS = 3  # fewer usable points than this: no rate (exact to rounding)
NOISE_SLOPE = 0.5  # a remainder falling slower than e^(1/2) at the small end is noise
MAGNITUDES = (0.5, 1.5)  # random direction entries: |v_j| / scale_j uniform in this range


@dataclass(frozen=True)
class TaylorResult:
    """The outcome of `taylor_test`, per direction.

    Attributes
    ----------
    passed : bool
        True when every direction converges at second order (or is exact
        to rounding).
    rates : ndarray, shape (n_directions,)
        Observed order of the remainder: about 2 for a correct gradient, 1
        for a wrong one; NaN where the direction is exact to rounding.
    epsilons : ndarray, shape (n_eps,)
        The `e` swept, decreasing.
    remainders : ndarray, shape (n_directions, n_eps)
        ``|f(θ + e v) - f(θ) - e grad·v|``.
    first_order : ndarray, shape (n_directions, n_eps)
        ``|f(θ + e v) - f(θ)|`` (with `remainders`, the two lines of the
        V-plot: slopes 1 and 2).
    used : ndarray of bool, shape (n_directions, n_eps)
        The points the rate was fitted on.
    direction_names : list of str
        ``"random 0"``, ..., the block names, ``"direction 0"``, ...
    verdicts : list of str
        Per direction: ``"second order"``, ``"exact to rounding"`` or
        ``"FIRST ORDER: gradient wrong along this direction"`` (rate < 1.8).
    """

    passed: bool
    rates: np.ndarray
    epsilons: np.ndarray
    remainders: np.ndarray
    first_order: np.ndarray
    used: np.ndarray
    direction_names: list[str]
    verdicts: list[str]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return _format_result(self)


def taylor_test(
    f: Callable[[np.ndarray], Any],
    grad: Any,
    theta: Any,
    *,
    directions: Any = None,
    n_random: int = N_RANDOM,
    blocks: Sequence[tuple[str, slice]] | None = None,
    epsilons: Any = None,
    seed: int | np.random.Generator = 0,
    vectorized: bool = False,
) -> TaylorResult:
    """Check a gradient by the order of the Taylor remainder along directions.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float`` for ``theta`` of shape (n,); with
        ``vectorized=True``, ``f(rows) -> values``, rows (k, n), values (k,).
    grad : array_like, shape (n,), or callable
        The candidate gradient of `f` at `theta`.  Must be finite.  A
        callable is called as ``grad(theta)`` (on a copy), as in
        `scipy.optimize.check_grad`.
    theta : array_like, shape (n,)
        The point.  Never modified.
    directions : array_like, shape (k, n) or (n,), optional
        Explicit directions, tested in addition to the random ones.
    n_random : int
        Number of seeded random directions (see the module docstring).
        Default 4.
    blocks : list of (str, slice), optional
        Named parameter blocks, e.g. ``[("W^0", slice(0, 12)), ("b^0",
        slice(12, 16))]``; one random direction supported on each.  A block
        may also be an array of indices.
    epsilons : array_like, optional
        The `e` to sweep (positive); default ``2**-k`` for k = 0 .. 33.
        Directions are scaled to the entries' size, so `e = 1` moves θ by
        about its own size; only `e <= 1/16` enter the fit (larger moves
        are far from asymptotic), the rest are for the plot.
    seed : int or numpy.random.Generator
        Randomness of the directions.
    vectorized : bool
        Whether `f` takes a stack of parameter vectors; the whole sweep is
        then one call.

    Returns
    -------
    TaylorResult
        ``.passed``, ``.rates`` per direction; ``str()`` prints a table.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: np.sum(np.exp(x))
    >>> theta = np.array([0.1, -0.3, 0.5])
    >>> taylor_test(f, np.exp(theta), theta).passed
    True
    >>> taylor_test(f, np.exp(theta) * [1, 1.01, 1], theta).passed
    False
    >>> taylor_test(f, np.exp, theta).passed  # grad as a callable, scipy's habit
    True
    """
    grad, theta, V, names, eps_values, rng_seed = _validate_taylor_test(
        f, grad, theta, directions, n_random, blocks, epsilons, seed, vectorized
    )
    rng = np.random.default_rng(rng_seed)
    V, names = _directions(theta, V, names, n_random, blocks, rng)
    evaluate = Evaluator(f, theta, vectorized=vectorized, max_batch=None)
    f0 = evaluate.at_theta()
    with np.errstate(all="ignore"):
        sigma = noise_sigma(evaluate, theta, f0)
        points = theta + eps_values[None, :, None] * V[:, None, :]  # (directions, eps, n)
        values = evaluate.at(points.reshape(-1, theta.size)).reshape(points.shape[:2])
        moves = np.subtract(points, theta, out=points)  # the moves made: e v, up to rounding
        first_order = np.abs(values - f0)
        remainders = np.abs(values - f0 - moves @ grad)  # |f(θ + e v) - f(θ) - e grad·v|
        floor = _rounding_floor(values, f0, sigma, np.abs(moves) @ np.abs(grad), grad.dtype)
        fits = [_fit_rate(eps_values, R, F) for R, F in zip(remainders, floor, strict=True)]
    rates = np.array([rate for rate, _ in fits])
    used = np.array([mask for _, mask in fits]).reshape(remainders.shape)
    # f not finite anywhere along a direction (only at theta) proves nothing: no pass
    undefined = ~np.isfinite(remainders).any(axis=1)
    verdicts = [VERDICT_UNDEFINED if u else _verdict(rate) for rate, u in zip(rates, undefined)]
    return TaylorResult(
        passed=all(v not in (VERDICT_FAILED, VERDICT_UNDEFINED) for v in verdicts),
        rates=rates,
        epsilons=eps_values,
        remainders=remainders,
        first_order=first_order,
        used=used,
        direction_names=names,
        verdicts=verdicts,
    )


# ----------------------------------------------------------------------------- the math


def _rounding_floor(values, f0, sigma, abs_products, dtype):
    """What the remainder can be from rounding alone, per point (directions, eps).

    The two values of f each err by up to `noise.noise_bound` (their rounding,
    or the measured noise), and `grad·(e v)` by a few ulps of
    `sum_j |grad_j e v_j|` in the candidate's own precision.
    """
    values_error = noise_bound(np.abs(values), sigma) + noise_bound(abs(f0), sigma)
    return values_error + CANDIDATE_ULPS * float(np.finfo(dtype).eps) * abs_products


def _fit_rate(epsilons: np.ndarray, R: np.ndarray, floor: np.ndarray):
    """The order of R(e) by least squares in log-log over the smallest-e usable points.

    Returns the rate (NaN when fewer than `MIN_FIT_POINTS` points stand
    above the floor) and the mask of the points used.
    """
    e = epsilons  # decreasing
    asymptotic = e <= MAX_FIT_EPSILON
    usable = np.flatnonzero(asymptotic & np.isfinite(R) & (R > TAYLOR_SAFETY * floor))
    window = _trim_noise(e, R, usable)[-TAYLOR_WINDOW:]
    used = np.zeros(e.size, dtype=bool)
    if window.size < MIN_FIT_POINTS:
        return np.nan, used
    used[window] = True
    rate = np.polyfit(np.log(e[window]), np.log(R[window]), 1)[0]  # R ~ e^rate
    return float(rate), used


def _trim_noise(e: np.ndarray, R: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Drop usable points at the small-e end where R stops falling with e (noise)."""
    while usable.size >= 2:
        small, larger = usable[-1], usable[-2]
        local_rate = np.log(R[larger] / R[small]) / np.log(e[larger] / e[small])
        if local_rate >= NOISE_SLOPE:
            break
        usable = usable[:-1]
    return usable


VERDICT_PASSED = "second order"
VERDICT_EXACT = "exact to rounding"
VERDICT_FAILED = "FIRST ORDER: gradient wrong along this direction"
VERDICT_UNDEFINED = "f NOT FINITE along this direction: nothing verified"


def _verdict(rate: float) -> str:
    if np.isnan(rate):
        return VERDICT_EXACT
    return VERDICT_PASSED if rate >= PASS_RATE else VERDICT_FAILED


def _directions(theta, V, names, n_random, blocks, rng):
    """All directions, (k, n), and their names: random, then blocks, then explicit."""
    # At least unit scale, as finite differences take max(|theta_j|, 1): directions as
    # tiny as a theta of 1e-20 would move f by less than its rounding.
    typical = max(_typical(theta), 1.0)
    relative = np.where(theta != 0, np.abs(theta), typical)
    rows, labels = [], []
    for i in range(n_random):
        scale = relative if i % 2 == 0 else np.full(theta.size, typical)
        rows.append(_random_direction(scale, rng))
        labels.append(f"random {i}")
    for name, index in blocks or ():
        scale = np.zeros(theta.size)
        scale[index] = _typical(theta[index], default=typical)
        rows.append(_random_direction(scale, rng))
        labels.append(str(name))
    return np.vstack([*rows, V]) if rows else V, labels + names


def _typical(x: np.ndarray, default: float = 1.0) -> float:
    """The root mean square of x, or `default` where x is all zeros."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not peak > 0:
        return default
    return peak * float(np.sqrt(np.mean((x / peak) ** 2)))  # scaled: x**2 overflows at 1e200


def _random_direction(scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random signs times magnitudes uniform in [1/2, 3/2], times `scale`."""
    sign = rng.choice([-1.0, 1.0], scale.size)
    return sign * rng.uniform(*MAGNITUDES, scale.size) * scale


# ----------------------------------------------------------------------------- validation


def _validate_taylor_test(f, grad, theta, directions, n_random, blocks, epsilons, seed, vectorized):
    check_callable(f, "f")
    theta = as_theta(theta)
    n = theta.size
    grad = as_vector(evaluated_grad(grad, theta), "grad")
    if grad.shape != (n,):
        raise ValueError(
            f"`grad` has shape {grad.shape} but `theta` has shape ({n},); they must match"
        )
    bad = np.flatnonzero(~np.isfinite(grad))
    if bad.size:
        raise ValueError(
            f"`grad` must be finite, got {grad[bad[0]]} at index {bad[0]} "
            "(check_gradient reports such entries by name)"
        )
    V, names = _as_directions(directions, n)
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 0:
        raise ValueError(f"`n_random` must be a non-negative integer, got {n_random!r}")
    _check_blocks(blocks, n)
    if n_random == 0 and not blocks and V.shape[0] == 0:
        raise ValueError(
            "nothing to test: `n_random` is 0 and no `blocks` or `directions` were given"
        )
    check_flag(vectorized, "vectorized")
    if not isinstance(seed, (int, np.integer, np.random.Generator)) or isinstance(seed, bool):
        raise TypeError(f"`seed` must be an integer or a numpy Generator, got {seed!r}")
    if not isinstance(seed, np.random.Generator) and seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer or a numpy Generator, got {seed}")
    return grad, theta, V, names, _as_epsilons(epsilons), seed


def _as_directions(directions: Any, n: int) -> tuple[np.ndarray, list[str]]:
    if directions is None:
        return np.empty((0, n)), []
    expected = (
        f"`directions` must be an array of real numbers, shape (k, {n}), got {directions!r:.60}"
    )
    V = real_float_copy(directions, "directions", expected=expected)
    if V.ndim == 1:
        V = V[None, :]
    if V.ndim != 2 or V.shape[1] != n:
        raise ValueError(
            f"`directions` must have shape (k, {n}) (or ({n},) for one), got shape "
            f"{np.shape(directions)}"
        )
    if not np.all(np.isfinite(V)):
        raise ValueError("`directions` must be finite")
    zero = np.flatnonzero(~np.any(V != 0, axis=1))
    if zero.size:
        raise ValueError(f"`directions` row {zero[0]} is zero; a direction must move theta")
    return V, [f"direction {i}" for i in range(V.shape[0])]


def _check_blocks(blocks: Any, n: int) -> None:
    if blocks is None:
        return
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence):
        raise TypeError(
            f"`blocks` must be a list of (name, slice) pairs, got {type(blocks).__name__}"
        )
    for item in blocks:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"each of `blocks` must be a (name, slice) pair, got {item!r}")
        name, index = item
        if not isinstance(index, (slice, list, np.ndarray, range)):
            raise TypeError(
                f"block {name!r}: the index must be a slice or an array of indices, "
                f"got {type(index).__name__}"
            )
        # an index out of range, a slice with step 0, a float index: the block does not fit
        try:
            size = np.arange(n)[index].size
        except (IndexError, ValueError, TypeError) as exc:
            raise ValueError(
                f"`blocks`: block {name!r} does not fit `theta` of shape ({n},): {exc}"
            ) from None
        if size == 0:
            raise ValueError(
                f"block {name!r} is empty (index {index!r} in `theta` of shape ({n},))"
            )


def _as_epsilons(epsilons: Any) -> np.ndarray:
    if epsilons is None:
        return EPSILONS.copy()
    e = as_vector(epsilons, "epsilons").astype(np.float64)
    if not np.all(np.isfinite(e) & (e > 0)):
        raise ValueError(f"`epsilons` must be positive and finite, got {e}")
    e = np.unique(e)[::-1]  # decreasing, distinct
    if e.size < MIN_FIT_POINTS:
        raise ValueError(
            f"`epsilons` must hold at least {MIN_FIT_POINTS} distinct values, got {e.size}"
        )
    return e


# ----------------------------------------------------------------------------- the report


def _format_result(result: TaylorResult) -> str:
    k = len(result.verdicts)
    failed = sum(v == VERDICT_FAILED for v in result.verdicts)
    head = "passed" if result.passed else "FAILED"
    lines = [
        f"Taylor test {head}: {k - failed} of {k} directions converge at second order "
        f"(remainder ~ e^rate, rate >= {PASS_RATE} passes)",
    ]
    width = max(len("direction"), *(len(name) for name in result.direction_names))
    lines.append(f"  {'direction'.ljust(width)}  {'rate':>5}  verdict")
    for name, rate, verdict in zip(
        result.direction_names, result.rates, result.verdicts, strict=True
    ):
        shown = "  -  " if np.isnan(rate) else f"{rate:5.2f}"
        lines.append(f"  {name.ljust(width)}  {shown}  {verdict}")
    return "\n".join(lines)
