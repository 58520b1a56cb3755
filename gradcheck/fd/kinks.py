"""Finite differences of a function with kinks: `differentiate_across_kinks` and `staged_richardson`.

Both run on a `gradcheck.fd.evaluation.KinkEvaluator`, which returns NaN for
a move that crossed a kink (a pre-activation of a ReLU-like layer changing
sign), so Richardson takes smaller steps until its stencil fits between the
kinks.  Entries where none does get a tight centred difference: for a jump of
`h'` (ReLU) they are reported unverifiable (no difference measures `h'`
there); for a jump of `h''` (ELU) the tight difference, which converges as
O(h), is kept.  `gradcheck.fd.network` differentiates a network's cost in its
parameters with them, `gradcheck.fd.delta` the cost in the pre-activations.

`staged_richardson` takes Richardson extrapolation only as far as each entry
needs: a 4-point stencil for every entry, whose 2-point part gives the error
estimate; a third level where that estimate is above `GOOD_ENOUGH` of the
block's largest entry; the full Richardson of `gradcheck.fd.numerical` where
it still is (about 4.2 evaluations an entry instead of 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck.fd.evaluation import KinkEvaluator
from gradcheck.fd.noise import EPS, ROUNDING_ULPS, noise_bound, noise_sigma
from gradcheck.fd.numerical import CENTRAL_TRUNCATION_SAFETY, cross_checked, differentiate
from gradcheck.fd.perturbed import KINK
from gradcheck.fd.steps import RICHARDSON_STEP, power_of_two, within_sign

__all__ = [
    "FIRST_STEPS",
    "STENCIL_STEP",
    "KinkAwareGradient",
    "differentiate_across_kinks",
    "staged_richardson",
]

KINK_STEP = 2.0**-30  # the last resort for entries near a kink: few z change sign within it
STENCIL_STEP = 2.0**-10  # relative: R1's truncation (h^4) and rounding (1/h) both near 1e-11
GOOD_ENOUGH = 1e-7  # an estimate above this x its block's largest entry takes more levels
TABLEAU_ROUNDING = (256 + 68 / 2 + 1 / 4) / 189  # sum_k |w_k| h / h_k of R2's weights
FIRST_STEPS = {  # relative to each entry's natural scale (see _natural_scale)
    "richardson": RICHARDSON_STEP,
    "central": float(np.finfo(np.float64).eps ** (1 / 3)),
    "complex": 1e-20,
}


@dataclass(frozen=True)
class KinkAwareGradient:
    """`differentiate_across_kinks`' result: flat arrays over the entries."""

    gradient: np.ndarray
    error: np.ndarray
    unverifiable: np.ndarray  # bool: every stencil crossed a jump of h'
    step: np.ndarray  # the step of each entry's final difference


def differentiate_across_kinks(
    evaluate: KinkEvaluator,
    theta: np.ndarray,
    *,
    method: str,
    scale: np.ndarray,
    f0: float,
    f_scale: float = 0.0,
) -> KinkAwareGradient:
    """`finite_diff.differentiate` for a function with kinks, on an evaluator that reports them.

    `evaluate` is as `differentiate` wants it, and reports kinks: its
    ``along`` returns NaN for a move that crossed one (so Richardson shrinks
    its steps) unless called with ``mark_crossings=False``, and its
    ``last_crossed`` holds the ROUGH/KINK flags of its last call. Entries
    left without a usable step get a tight centred difference at `h` and
    `2h`: across a jump of `h''` (ELU) it converges as O(h), which
    `|D(h) - D(2h)|` bounds; across a jump of `h'` (ReLU) the entry is
    unverifiable. `f_scale`: the size of the terms `f` is computed from
    (its rounding can exceed `eps |f|` when `f` is small).
    """
    first = power_of_two(FIRST_STEPS[method] * scale)
    result = differentiate(evaluate, theta, method=method, step=first, f0=f0, f_scale=f_scale)
    gradient, error, step = result.gradient.copy(), result.error.copy(), result.step.copy()
    unverifiable = np.zeros(theta.size, dtype=bool)
    stuck = np.flatnonzero(~np.isfinite(gradient))
    if stuck.size:
        h = power_of_two(KINK_STEP * scale[stuck])
        values, taken = evaluate.along(
            np.tile(stuck, 4), np.concatenate([h, -h, 2 * h, -2 * h]), mark_crossings=False
        )
        v, t = values.reshape(4, -1), taken.reshape(4, -1)
        D1 = (v[0] - v[1]) / (t[0] - t[1])
        D2 = (v[2] - v[3]) / (t[2] - t[3])
        size = np.maximum(max(abs(f0), f_scale), np.abs(v).max(axis=0))
        gradient[stuck] = D1
        error[stuck] = np.abs(D1 - D2) + ROUNDING_ULPS * EPS * size / h
        step[stuck] = h
        crossed = np.bitwise_or.reduce(evaluate.last_crossed.reshape(4, -1), axis=0)
        unverifiable[stuck] = (crossed & KINK) > 0
    return KinkAwareGradient(gradient, error, unverifiable, step)


def staged_richardson(
    evaluate: KinkEvaluator,
    theta: np.ndarray,
    *,
    scale: np.ndarray,
    f0: float,
    f_scale: float,
    blocks: list[tuple[str, slice, tuple[int, ...]]],
) -> KinkAwareGradient:
    """Richardson extrapolation, taken only as far as each entry needs: ~4 evaluations an entry.

    1. Every entry: the 4-point stencil `f(theta +- h e_j)`, `f(theta +- 2h e_j)`
       at `h = STENCIL_STEP` (relative), i.e. `R1 = D(h) + (D(h) - D(2h)) / 3`
       (truncation O(h^4)). Its error estimate is the 2-point part's:
       `|D(h) - D(2h)|`, which bounds the `h^2` term `R1` cancels, so it
       overstates `R1`'s error, plus the rounding of `R1`'s weights.
    2. Entries whose estimate is above `GOOD_ENOUGH` of their block's largest
       entry: `D(4h)` too (2 more evaluations), and the 3-level tableau `R2`
       (truncation O(h^6)), estimated by its distance to the 2-level values.
    3. Entries still above it (or without a usable value: a kink within
       the stencil, NaN): the full Richardson of `differentiate_across_kinks`.

    Each entry keeps the value with the smallest estimate. The noise of `f`
    is measured once, as `finite_diff` does (ECnoise).
    """
    sigma = max(noise_sigma(evaluate, theta, f0), EPS * f_scale)
    everything = np.arange(theta.size)
    h = within_sign(theta, 4 * power_of_two(STENCIL_STEP * scale)) / 4  # 4h stays on its side of 0
    D1, h1, F1 = _centred(evaluate, everything, h)
    D2, _, F2 = _centred(evaluate, everything, 2 * h)
    noise = noise_bound(np.maximum(np.maximum(F1, F2), abs(f0)), sigma)
    gradient = D1 + (D1 - D2) / 3  # R1 = (4 D(h) - D(2h)) / 3
    # R1's rounding: weights 4/3 and 1/3 on differences that err by noise/h and noise/2h
    error = CENTRAL_TRUNCATION_SAFETY * np.abs(D2 - D1) / 3 + 1.5 * noise / h1
    good_enough = GOOD_ENOUGH * _block_max(np.abs(gradient), blocks)
    more = np.flatnonzero(~(error <= good_enough))  # NaN (a kink crossed) included
    if more.size:
        D4, _, F4 = _centred(evaluate, more, 4 * h[more])
        R1 = gradient[more]
        R1_wide = D2[more] + (D2[more] - D4) / 3  # R1 from D(2h), D(4h)
        R2 = R1 + (R1 - R1_wide) / 15
        noise_more = np.maximum(noise[more], noise_bound(F4, sigma))
        # R2 = (256 D(h) - 68 D(2h) + D(4h)) / 189: rounding sum_k |w_k| noise / h_k
        error_R2 = np.maximum(np.abs(R2 - R1), np.abs(R2 - R1_wide)) + (
            TABLEAU_ROUNDING * noise_more / h1[more]
        )
        better = error_R2 < error[more]
        gradient[more[better]], error[more[better]] = R2[better], error_R2[better]
        took = more[better]
        error[took] = _cross_checked_R2(evaluate, theta, took, scale, f0, sigma, gradient, error)
    step = h1.copy()
    unverifiable = np.zeros(theta.size, dtype=bool)
    rest = np.flatnonzero(~(error <= good_enough))
    if rest.size:
        full = differentiate_across_kinks(
            _Entries(evaluate, rest),
            theta[rest],
            method="richardson",
            scale=scale[rest],
            f0=f0,
            f_scale=f_scale,
        )
        take = ~(error[rest] <= full.error) | ~np.isfinite(gradient[rest])
        chosen = rest[take]
        gradient[chosen], error[chosen] = full.gradient[take], full.error[take]
        step[chosen] = full.step[take]
        unverifiable[chosen] = full.unverifiable[take]
    error = np.where(np.isfinite(gradient) & np.isfinite(error), error, np.inf)
    return KinkAwareGradient(gradient, error, unverifiable, step)


def _cross_checked_R2(
    evaluate: KinkEvaluator,
    theta: np.ndarray,
    took: np.ndarray,
    scale: np.ndarray,
    f0: float,
    sigma: float,
    gradient: np.ndarray,
    error: np.ndarray,
) -> np.ndarray:
    """The estimates of the entries at `took` (which took `R2`), raised where a classical
    centred difference contradicts them (`gradcheck.fd.numerical.cross_checked`).

    Three differences are one tableau: `R1` and `R1_wide` can agree by accident while
    both are far off, on a steep function whose structure lives below the stencil (the
    soak's seed 9000879: a 5-layer tanh net at weight scale 7.8, where `R2` of
    `W^0[8,2]` was off by 5.1e-4 with an estimate of 6.6e-7, 773 times too low).
    """
    if took.size == 0:
        return error[took]
    first = power_of_two(RICHARDSON_STEP * scale[took])
    return cross_checked(
        _Entries(evaluate, took), theta[took], first, f0, sigma, gradient[took], error[took]
    )


def _centred(evaluate: KinkEvaluator, index: np.ndarray, h: np.ndarray):
    """`D = (f(theta + h1 e_j) - f(theta - h2 e_j)) / (h1 + h2)` with the steps taken;
    also the mean step and `max |f|` of the two values."""
    m = index.size
    values, taken = evaluate.along(np.concatenate([index, index]), np.concatenate([h, -h]))
    f_plus, f_minus, h_plus, h_minus = values[:m], values[m:], taken[:m], -taken[m:]
    D = (f_plus - f_minus) / (h_plus + h_minus)
    return D, (h_plus + h_minus) / 2, np.maximum(np.abs(f_plus), np.abs(f_minus))


def _block_max(values: np.ndarray, blocks: list[tuple[str, slice, tuple[int, ...]]]) -> np.ndarray:
    """Per entry, the largest finite value of its block (`W^L` or `b^L`)."""
    out = np.zeros_like(values)
    for _, block, _ in blocks:
        part = values[block]
        finite = part[np.isfinite(part)]
        out[block] = finite.max() if finite.size else 0.0
    return out


class _Entries:
    """An evaluator restricted to some entries of theta: `differentiate` on a subset."""

    def __init__(self, evaluate: KinkEvaluator, index: np.ndarray):
        self.parent, self.index = evaluate, index

    @property
    def theta(self) -> np.ndarray:
        return self.parent.theta[self.index]

    @property
    def count(self) -> int:
        return int(self.parent.count)

    @property
    def last_crossed(self) -> np.ndarray:
        return self.parent.last_crossed

    def at(self, points: np.ndarray) -> np.ndarray:
        full = np.repeat(self.parent.theta[None, :], len(points), axis=0)
        full[:, self.index] = points
        return self.parent.at(full)

    def along(
        self,
        index: np.ndarray,
        h: np.ndarray,
        *,
        imaginary: bool = False,
        mark_crossings: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.parent.along(
            self.index[index], h, imaginary=imaginary, mark_crossings=mark_crossings
        )
