"""Finite-difference stencils: which points to evaluate, and how to combine the values.

Shared by the network engine (`network_fd`), which evaluates the points its
own fast way.  A `Plan` lists, per entry `j`, the signed offsets `t` at which
`f(theta + t e_j)` is needed; `combine` turns those values into a derivative
and an error estimate (truncation + rounding).

- ``central``: `D(h) = (f(x+h) - f(x-h)) / 2h`, its truncation error
  estimated from `D(2h)` (`D(2h) - D(h) ≈ 3 c h^2`), plus rounding `eps_f / h`.
- ``richardson``: centred differences at `h, h/2, ..., h/2^{K-1}` combined
  in a Neville tableau that cancels the `h^2, h^4, ...` terms; error from the
  last two levels plus the rounding amplified by the tableau's weights.
- ``complex``: `Im f(x + i h) / h` with a tiny `h`: no subtraction, exact to
  a few ulps (for `f` analytic in the perturbed parameter).

Every step is relative to the entry's scale `max(|theta_j|, 1)` and is the
representable one: `t = (theta_j + h) - theta_j`, divided by exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["METHODS", "Plan", "Combined", "plan", "combine", "KINK_STEP", "RETRY_STEPS"]

METHODS = ("richardson", "central", "complex")

EPS = np.finfo(np.float64).eps
RICHARDSON_LEVELS = 2  # h and h/2: truncation O(h^4) at 4 evaluations per entry (3 levels: no gain measured)
RICHARDSON_STEP = 2.0**-9  # ~eps^(1/5): balances h^4 truncation against eps/h rounding (measured best of 1e-2..5e-4)
CENTRAL_STEP = EPS ** (1 / 3)  # the classical optimum for centred differences
COMPLEX_STEP = 1e-20  # any tiny step works: no subtraction, so no cancellation
RETRY_STEPS = (2.0**-13, 2.0**-17, 2.0**-21)  # smaller stencils for entries near a kink
KINK_STEP = 1e-7  # the last resort: few pre-activations change sign within it
ROUNDING_FACTOR = 16.0  # f's own rounding error, in units of eps |f|: a safe multiple


@dataclass(frozen=True)
class Plan:
    """Where to evaluate: ``offsets[j, s]`` is the s-th signed step of entry j."""

    method: str
    offsets: np.ndarray  # (n, S); complex (i h) for the complex step
    steps: np.ndarray  # (n, K) the step `h_k` of each centred difference (real)


@dataclass(frozen=True)
class Combined:
    gradient: np.ndarray  # (n,)
    error: np.ndarray  # (n,) estimated |gradient - true|


def _scale(theta: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(theta), 1.0)


def plan(
    theta: np.ndarray,
    *,
    method: str = "richardson",
    step: float | None = None,
    entries: np.ndarray | None = None,
) -> Plan:
    """The offsets to evaluate for `entries` of `theta` (default: all)."""
    x = theta if entries is None else theta[entries]
    scale = _scale(x)
    if method == "complex":
        h = (COMPLEX_STEP if step is None else step) * scale
        return Plan(method, 1j * h[:, None], h[:, None])
    if method == "central":
        nominal = (CENTRAL_STEP if step is None else step) * scale[:, None] * np.array([1.0, 2.0])
    elif method == "richardson":
        levels = 2.0 ** -np.arange(RICHARDSON_LEVELS)
        nominal = (RICHARDSON_STEP if step is None else step) * scale[:, None] * levels
    else:
        raise ValueError(f"unknown `method` {method!r}; known methods: {', '.join(METHODS)}")
    forward = (x[:, None] + nominal) - x[:, None]  # the steps actually taken
    backward = x[:, None] - (x[:, None] - nominal)
    offsets = np.empty((x.size, 2 * nominal.shape[1]))
    offsets[:, 0::2] = forward
    offsets[:, 1::2] = -backward
    return Plan(method, offsets, (forward + backward) / 2)


def combine(p: Plan, values: np.ndarray, f0: float, *, first_order: bool = False) -> Combined:
    """The derivative and its error estimate from `values[j, s] = f(theta + offsets[j, s] e_j)`.

    ``first_order=True`` (central only) allows for a truncation error that
    falls as `h` rather than `h^2` (a stencil across a jump of the third derivative).
    """
    if p.method == "complex":
        h = p.steps[:, 0]
        gradient = values[:, 0].imag / h
        # No cancellation: a few ulps of the result, and of the value's own size.
        error = 4 * EPS * np.abs(gradient) + EPS * np.abs(values[:, 0].real) / h * 0
        return Combined(gradient, error + np.finfo(np.float64).tiny)
    values = np.asarray(values, dtype=np.float64)
    h = p.steps
    D = (values[:, 0::2] - values[:, 1::2]) / (2 * h)  # centred differences, (n, K)
    f_scale = np.maximum(np.abs(values).max(axis=1), abs(f0))
    noise = ROUNDING_FACTOR * EPS * f_scale  # |error| of one value of f
    if p.method == "central":
        # D(2h) - D(h) = 3 c h^2 for smooth f, but only c h when f'' jumps in between.
        truncation = np.abs(D[:, 0] - D[:, 1]) / (1.0 if first_order else 3.0)
        rounding = noise / h[:, 0]
        return Combined(D[:, 0], truncation + rounding)
    best, previous, weights = _neville(D)
    rounding = noise * (np.abs(weights)[None, :] / h).sum(axis=1)
    return Combined(best, np.abs(best - previous) + rounding)


def _neville(D: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Richardson tableau for step ratio 2 and even powers of h.

    Returns the most extrapolated value, the one from the level before (for
    the error estimate) and the weights of the final value on each column of
    `D` (how much each difference's rounding error counts).
    """
    K = D.shape[1]
    rows = [D[:, k] for k in range(K)]
    unit = [np.eye(K)[k] for k in range(K)]  # the same tableau on unit vectors gives the weights
    previous = rows[-1]
    for level in range(1, K):
        factor = 4.0**level - 1.0
        previous = rows[-1]
        rows = [rows[k] + (rows[k] - rows[k - 1]) / factor for k in range(1, len(rows))]
        unit = [unit[k] + (unit[k] - unit[k - 1]) / factor for k in range(1, len(unit))]
    return rows[-1], previous, unit[-1]
