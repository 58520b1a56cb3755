"""Finite-difference steps: relative to each entry's scale, powers of two, never across zero.

A step is relative to the entry's typical size `max(|θ_j|, 1)` (Dennis &
Schnabel), rounded to a power of two (exact to halve, and most often exact to
add to `θ_j`), and shortened to `|θ_j| / 2` where it would carry `θ_j` across
zero, so a parameter that must stay positive stays positive (unless `|θ_j|`
is under 1/1000 of the step: zero, in effect).  The first steps of the three
methods of `finite_diff` live here, with the reason for each.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CENTRAL_STEP",
    "COMPLEX_STEP",
    "RICHARDSON_STEP",
    "default_step",
    "entry_scale",
    "power_of_two",
    "within_sign",
]

TYPICAL_SCALE = 1.0  # Dennis & Schnabel's default typical size: steps scale with max(|θ_j|, 1)
MAX_STEP_FRACTION = 0.5  # no step exceeds |θ_j| / 2, so θ_j never changes sign...
MAX_SHORTENING = 1e-3  # ...unless that shortens the step 1000-fold: θ_j is then zero, in effect
# the classical step: balances truncation s^2 |f'''| / 6 against rounding eps |f| / s
CENTRAL_STEP = float(np.finfo(np.float64).eps) ** (1 / 3)
RICHARDSON_STEP = 2.0**-4  # first step, relative: measured best for 4-difference windows
COMPLEX_STEP = 1e-20  # far below eps: the truncation s^2 |f'''| / 6 vanishes, nothing cancels


def entry_scale(theta: np.ndarray) -> np.ndarray:
    """The typical size of each parameter: max(|θ_j|, 1)."""
    return np.maximum(np.abs(theta), TYPICAL_SCALE)


def power_of_two(x: np.ndarray) -> np.ndarray:
    """The power of two nearest |x|: exact to halve, and most often exact to add to θ_j."""
    return 2.0 ** np.round(np.log2(np.abs(x)))


def default_step(theta: np.ndarray, method: str) -> np.ndarray:
    """The (first) step per entry of `method`: a fraction of the entry's scale."""
    relative = {"central": CENTRAL_STEP, "richardson": RICHARDSON_STEP, "complex": COMPLEX_STEP}
    return power_of_two(relative[method] * entry_scale(theta))


def within_sign(theta: np.ndarray, step: np.ndarray) -> np.ndarray:
    """`step`, shortened to |θ_j| / 2 where it would carry θ_j across zero.

    Not where that would shorten it more than 1000-fold: such a θ_j is zero
    at the resolution of the step, and so short a step would drown in rounding.
    """
    limit = MAX_STEP_FRACTION * np.abs(theta)
    return np.where((step > limit) & (limit >= MAX_SHORTENING * step), limit, step)
