"""Checking a candidate gradient against finite differences, entry by entry, and the report.

`check_gradient(f, grad, theta)` computes `finite_diff.numerical_gradient`
and compares; `compare_gradient` is that comparison alone, for a numerical
gradient computed elsewhere.  Entry `j` passes when

    |grad_j - numerical_j| <= safety x error_j + rtol |numerical_j| + floor_j

with `error_j` the numerical gradient's own error estimate and `floor_j` 8
ulps (in `grad`'s dtype) of `|grad_j| + ||grad||`: no tolerance needs tuning.
The verdict, `GradientCheck`, prints like numpy's `assert_allclose`: the
rule, the count, the worst entries by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.fd.numerical import NumericalGradient, numerical_gradient
from gradcheck.tolerance.policy import (
    CANDIDATE_ULPS,
    CHECK_SAFETY,
    NOISE_WORTH_SAYING,
    NOISY_CHECK_RESOLUTION,
)
from gradcheck.validate import as_grad, as_theta, check_callable, evaluated_grad, is_real_number

__all__ = [
    "CANDIDATE_ULPS",
    "CHECK_SAFETY",
    "GradientCheck",
    "aligned_columns",
    "candidate_floor",
    "check_gradient",
    "compare_gradient",
]

REPORT_ROWS = 10  # failing entries listed in a report: a screenful at most


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
    resolution : float
        The smallest error the check can see by its own bounds (`rtol` aside),
        relative to an entry: the median over entries of ``tolerance /
        |numerical|`` (0 when no entry is nonzero).
    inconclusive : bool
        No entry is beyond its tolerance, but the noise of `f`
        (``numerical.noise``) widened the bounds beyond `NOISY_CHECK_RESOLUTION`
        of an entry (and beyond `rtol`): a small error would pass unseen, so
        the check has not passed.
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
    resolution: float = 0.0
    inconclusive: bool = False

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return _format_check(self)


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
    grad : array_like, shape (n,), or callable
        The candidate gradient (float32 is welcome: the floor follows its
        dtype).  NaN or Inf entries fail, by name.  A callable is called as
        ``grad(theta)`` (on a copy), as in `scipy.optimize.check_grad`.
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
        Multiple of the error estimate allowed.  Default 10 (`CHECK_SAFETY`);
        `check_backprop` uses 30 (`policy.FD_SAFETY`), as estimates of
        Richardson's method were seen 13x low deep in saturated networks:
        pass ``safety=30`` for functions like those.

    Returns
    -------
    GradientCheck
        ``.passed``, per-entry ``.tolerance`` and ``.error``, ``.failures``
        worst first; ``str()`` of it is a readable report.

    Notes
    -----
    A noisy `f` (one computed by a simulation, with random sampling, or in
    low precision) is measured first (ECnoise, `gradcheck.fd.noise`), and its
    noise widens the error estimates.  The report then says so: the noise,
    how many times it widened the rounding bound, and ``.resolution``, the
    error relative to an entry below which a wrong entry passes unseen.  It
    grows in proportion to the noise: for an `f` of size ~1 with entries ~2
    (tests/fd/test_check.py), noise 1e-9 hides errors below ~1e-3 % of an
    entry, 1e-7 below ~0.08%, 1e-6 below ~0.8%, 1e-5 below ~9%.  Where that
    exceeds `NOISY_CHECK_RESOLUTION` (0.1%) and `rtol`, a check with no entry
    beyond its bound is ``.inconclusive``, prints INCONCLUSIVE and has not
    passed: reduce the noise, or state the precision you need with `rtol`.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: np.sum(x**3)
    >>> check_gradient(f, [3.0, 12.0], [1.0, 2.0]).passed
    True
    >>> check_gradient(f, [3.0, 12.1], [1.0, 2.0]).passed
    False
    >>> check_gradient(f, lambda x: 3 * x**2, [1.0, 2.0]).passed  # scipy's habit
    True
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
    resolution = _resolution(numerical, tolerance - rtol * np.abs(numerical.gradient), verifiable)
    inconclusive = bool(
        not failing.any()
        and numerical.noise_widening > 1.0
        and resolution > max(NOISY_CHECK_RESOLUTION, rtol)
    )
    return GradientCheck(
        passed=not failing.any() and not inconclusive,
        gradient=grad,
        numerical=numerical,
        tolerance=tolerance,
        error=error,
        failures=_worst_first(np.flatnonzero(failing), error, tolerance),
        unverifiable=np.flatnonzero(~verifiable),
        safety=safety,
        rtol=rtol,
        names=names,
        resolution=resolution,
        inconclusive=inconclusive,
    )


def _resolution(numerical: NumericalGradient, tolerance: np.ndarray, verifiable) -> float:
    """The median over nonzero verifiable entries of tolerance / |numerical| (`tolerance`
    without the caller's `rtol`): the relative error below which a wrong entry passes unseen."""
    size = np.abs(numerical.gradient)
    seen = verifiable & (size > 0) & np.isfinite(tolerance)
    if not seen.any():
        return 0.0
    return float(np.median(tolerance[seen] / size[seen]))


def _tolerance(grad, numerical, eps_candidate, rtol, safety):
    """safety x error estimate + rtol |numerical| + 8 ulps of |grad_j| + ||grad||."""
    floor = candidate_floor(grad, eps_candidate)
    return safety * numerical.error + rtol * np.abs(numerical.gradient) + floor


def candidate_floor(grad: np.ndarray, eps_candidate: float) -> np.ndarray:
    """The candidate's own rounding per entry: `CANDIDATE_ULPS` ulps (`eps_candidate`, of its
    dtype) of ``|grad_j| + ||grad||``; also what `gradcheck.fd.screen` allows a dot product of it."""
    size = np.where(np.isfinite(grad), np.abs(grad), 0.0)  # a NaN candidate fails regardless
    largest = size.max(initial=0.0)
    # ||grad|| scaled by its largest entry: squares of entries past 1e154 would overflow
    norm = largest * np.linalg.norm(size / largest) if largest > 0 else 0.0
    # two products, not ulps x (size + norm): that sum could overflow
    return CANDIDATE_ULPS * eps_candidate * size + CANDIDATE_ULPS * eps_candidate * norm


def _worst_first(indices: np.ndarray, error: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """`indices` by decreasing error / tolerance, NaN (worst of all) first."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = error[indices] / tolerance[indices]
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return indices[np.argsort(-ratio, kind="stable")]


def _check_comparison_options(names, rtol, safety) -> None:
    if names is not None:
        check_callable(names, "names")
    if rtol is not None and not (is_real_number(rtol) and 0 <= rtol < np.inf):
        raise ValueError(f"`rtol` must be a non-negative number, got {rtol!r}")
    if not (is_real_number(safety) and 0 < safety < np.inf):
        raise ValueError(f"`safety` must be a positive number, got {safety!r}")


def _validate_check_gradient(grad, theta, names, rtol, safety):
    theta = as_theta(theta)
    grad = as_grad(evaluated_grad(grad, theta), theta.size)
    _check_comparison_options(names, rtol, safety)
    return grad, theta


def _validate_compare_gradient(grad, numerical, names, rtol, safety):
    if not isinstance(numerical, NumericalGradient):
        raise TypeError(f"`numerical` must be a NumericalGradient, got {type(numerical).__name__}")
    grad = as_grad(grad, numerical.gradient.size)
    _check_comparison_options(names, rtol, safety)
    return grad, names or _default_name, float(rtol or 0.0), float(safety)


def _format_check(check: GradientCheck) -> str:
    """A numpy-assert_allclose-like report: the rule, the count, the worst entries."""
    n, k = check.gradient.size, check.failures.size
    numerical = check.numerical
    rule = f"|grad - numerical| <= {check.safety:g} x error estimate"
    if check.rtol:
        rule += f" + {check.rtol:g} x |numerical|"
    rule += f" + {CANDIDATE_ULPS:g} ulp x (|grad_j| + ||grad||)"
    verdict = "INCONCLUSIVE" if check.inconclusive else "passed" if check.passed else "FAILED"
    lines = [
        f"Gradient check {verdict} ({numerical.method}, {numerical.n_evaluations} evaluations of f)",
        f"rule: {rule}",
        f"{k} of {n} entries mismatch ({100 * k / n:.3g}%)",
        *_noise_lines(check),
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


def _noise_lines(check: GradientCheck) -> list[str]:
    """What the noise of f did to the bounds, and what the check can still see: never silent."""
    numerical = check.numerical
    widening = numerical.noise_widening
    if widening <= 1.0 or check.resolution <= NOISE_WORTH_SAYING:
        return []
    lines = [
        f"f is noisy: its values scatter by {numerical.noise:.3g} near theta (ECnoise), "
        f"{widening:.3g}x its rounding; that widened the bounds: an entry wrong by less than "
        f"~{_percent(check.resolution)} of itself (median over entries) passes unseen"
    ]
    if check.inconclusive:
        lines.append(
            "no entry is beyond its bound, but at this noise a right gradient cannot be told from "
            f"one {_percent(check.resolution)} off (the least a pass must see: "
            f"{_percent(NOISY_CHECK_RESOLUTION)}): reduce the noise of f, or pass "
            f"an rtol of at least {check.resolution:.2g} to accept errors of that size"
        )
    return lines


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}%"


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
    return aligned_columns(header, body, indent="  ")


def aligned_columns(header: Sequence[str], body: Sequence[Sequence[str]], *, indent: str) -> str:
    """`header` over `body`, each column right-aligned to its widest cell, two spaces apart."""
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]
    return "\n".join(
        indent + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *body]
    )
