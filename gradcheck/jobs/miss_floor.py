"""The soak's miss floor: how far from the true gradient correct float64 code may be, found
without the oracle's tolerance (which would then vouch for itself).

A broken candidate no checker could tell from a correct float64 one is
counted as undetectable (`undetectable`), not run: `miss_floor` computes the true
gradient `g*` in extended precision (`gradcheck.tolerance.independent.extended_backprop`)
and what rounding actually did to two float64 backprops of the same problem
(the reference's and the independent one), to two that round every stored
quantity at random (`perturbed_backprop`) and to four that round it to either
neighbouring float64, take `h'` by cancelling formulas evaluated in float64, and add
every sum in a float64 loop in a random order, as C or a course's loops do
(`stochastic_backprop`); a candidate is undetectable only
when every entry lies within `FLOOR_FACTOR` times that actual error of `g*`
(never less than `FLOOR_ULPS` ulps of `|g*|`, nor than `FLOOR_SIGMAS` times its
root-mean-square: the `SAFETY` standard deviations any tolerance must allow), e.g. a
softmax saturated so hard that its gradient is pure cancellation, or within the actual error of the worst
code the oracle promises to pass: a libm erring every result one way, up or down, by up to
`LIBM_ULPS` (numpy's own tanh errs by 1.16), and loops adding in sorted order
(`directed_backprop`), where errors a typical code averages out add up, or
within the actual error of code that flushes subnormal numbers to zero (`flushed_backprop`).
"""

from __future__ import annotations

import numpy as np

from gradcheck.tolerance.faithful import OTHER_FORMULAS, directed_backprop, flushed_backprop
from gradcheck.tolerance.independent import (
    extended_backprop,
    independent_backprop,
    perturbed_backprop,
    stochastic_backprop,
)
from gradcheck.tolerance.policy import FLOOR_FACTOR, FLOOR_SIGMAS, FLOOR_ULPS, LIBM_ULPS
from reference import Gradients, Network, backprop

__all__ = ["miss_floor", "undetectable"]


def miss_floor(net: Network, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true gradient `g*` and, per entry, how far from it a correct float64 backprop may be.

    Returns
    -------
    g_true : ndarray of np.longdouble, shape (P,)
        `extended_backprop`: the gradient of the float64 problem to ~1e-19.
    floor : ndarray of float64, shape (P,)
        `FLOOR_FACTOR` times the largest actual error `|g64 - g*|` of the
        reference, the independent float64 backprop, two
        `perturbed_backprop` runs (a formula may be exact by luck where
        another correct one is not) and four `stochastic_backprop` runs (the
        cancelling formulas `a (1 - a)`, `1 - a^2`, `a + 1` on faithfully
        rounded values, as 1-ulp libm functions give), and at least `FLOOR_ULPS` ulps of
        `|g*|` and float64's smallest subnormal; and never below `FLOOR_SIGMAS` times
        their root-mean-square error, the standard deviations a tolerance must allow
        even if it knew their spread exactly; and never below the actual error of two
        `directed_backprop` runs, a libm erring every result up or down by up to `LIBM_ULPS`
        (the accuracy the tolerance promises to pass; numpy's tanh errs by 1.16) and loops in
        sorted order: the worst faithful code, which the oracle must pass (no factor:
        it is no sample of a spread, and a slip beyond its error is one a tighter
        tolerance could catch); nor below the actual error of `flushed_backprop`, code that
        flushes subnormal numbers to zero, which the oracle passes too (no factor: one real
        code). Nothing here comes from `gradcheck.tolerance.compare`.
    """
    g_true = extended_backprop(net, X, Y)
    independent = independent_backprop(
        net.hidden.name, net.output.name, net.cost_function.name, np.float64
    )
    with np.errstate(all="ignore"):
        dJ_dW, dJ_db = independent(net.weights, net.biases, X, Y)
        dJ_dW_other, dJ_db_other = independent_backprop(
            net.hidden.name, net.output.name, net.cost_function.name, np.float64,
            formulas=OTHER_FORMULAS,
        )(net.weights, net.biases, X, Y)  # fmt: skip
        float64 = [  # the reference, the independent code, and the other sigmoid formula (2)
            backprop(net, X, Y).flat(),
            net.layout.join(dJ_dW, dJ_db),
            net.layout.join(dJ_dW_other, dJ_db_other),
        ]
        perturbed = [perturbed_backprop(net, X, Y, seed=seed) for seed in (1, 2)]
        perturbed += [stochastic_backprop(net, X, Y, seed=seed) for seed in range(3, 7)]
        errors = np.array([np.abs(g - g_true) for g in float64 + perturbed]).astype(np.float64)
        # the spread of the codes that differ only in how they round, not in their formulas
        sampled = np.delete(errors, 2, axis=0)
        spread = FLOOR_SIGMAS * np.sqrt(np.mean(sampled**2, axis=0))
        ulps = FLOOR_ULPS * float(np.finfo(np.float64).eps) * np.abs(g_true).astype(np.float64)
        worst = [  # a libm as far off, one way, as the accuracy the tolerance passes allows
            directed_backprop(net, X, Y, upward=upward, ulps=LIBM_ULPS) for upward in (True, False)
        ]
        worst.append(flushed_backprop(net, X, Y))  # FTZ: below float64's smallest normal
        aligned = np.max([np.abs(g - g_true) for g in worst], axis=0).astype(np.float64)
    # A true entry below float64's range (g* ~ 1e-4446 in longdouble, 0 in every float64
    # backprop) is one no float64 candidate can get closer to than its smallest subnormal.
    subnormal = float(np.finfo(np.float64).smallest_subnormal)
    largest = FLOOR_FACTOR * np.maximum(np.maximum(errors.max(axis=0), ulps), subnormal)
    # the worst faithful code is no sample of a spread: its own error, with no factor
    return g_true, np.maximum(np.maximum(largest, spread), aligned)


def undetectable(wrong: Gradients, net: Network, X: np.ndarray, Y: np.ndarray) -> bool:
    """Every entry of `wrong` within `miss_floor` of the true gradient (NaN: detectable)."""
    shapes = [np.shape(a) for a in (*wrong.weights, *wrong.biases)]
    if shapes != [np.shape(a) for a in (*net.weights, *net.biases)]:
        return False  # another layout (transposed, per example, swapped): plain to see
    g_true, floor = miss_floor(net, X, Y)
    with np.errstate(all="ignore"):
        # in float64, as the floor is: an error equal to it must not exceed it by its rounding
        error = np.abs(wrong.flat() - g_true).astype(np.float64)
        return bool(np.all(error <= floor))
