"""The worst faithful code: float64 backprops whose libm errs as badly as a faithful one may.

A libm function is *faithful* when it returns one of the two float64 numbers around the
true value: an error below one ulp, what numpy's and glibc's `tanh`, `exp`, `expm1`
promise or nearly (measured on numpy 2.4 float64: 1.16 ulps for `tanh`, 0.8 for `expm1`).
A correct backprop on such a libm may therefore err wherever a result is not exact, and
where the formulas cancel (`(1 + tanh(z / 2)) / 2` of a saturated sigmoid, `1 - a^2`,
`a (1 - a)`) one ulp of a result can be a large part of a gradient entry. Sampled
roundings (`gradcheck.tolerance.independent.stochastic_backprop`) average those errors
out; the tolerance must pass the code in which they do not, so the soak's floor of what
no checker can catch must count it too. Two such codes live here, apart from the
tolerance they test:

- `directed_backprop` (`directed_candidate`): every libm result rounded the same way,
  up or down, and every sum a loop over its terms sorted by value: one real code, cheap,
  run by the soak as a correct candidate and in its floor for every case;
- `worst_faithful_errors`: for chosen gradient entries, the libm that picks for each
  result the neighbour that moves that entry furthest one way: the worst faithful code
  for that entry, found from each result's measured effect, then run whole. It costs a
  backprop per libm result, so the soak asks it only of a broken candidate the oracle
  passed (seed 29002442: the slip is 3.2 times the sampled floor and within this);
- `flushed_backprop` (`flushed_candidate`): arithmetic that flushes subnormal numbers to
  zero (FTZ and DAZ: what gcc's `-ffast-math` sets on x86 for the whole process, and
  CUDA's `--use_fast_math`). Below the dtype's smallest normal number every tolerance
  allows `SAFETY` times that number (`gradcheck.tolerance.compare.rounding_tolerance`),
  so such code passes; a slip within its error is one no checker that passes it can catch
  (the soak's seed 53002454: a gradient of 1e-317 everywhere, off by 3% in one entry).

Both use `gradcheck.tolerance.independent.FORMULAS`' float64 formulas, on a libm
evaluated in `np.longdouble` and rounded to float64 as chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcheck.tolerance.independent import (
    EXACT_NEAR,
    FORMULAS,
    Derivative,
    Formula,
    SequentialSums,
    independent_backprop,
)
from reference import Network

__all__ = [
    "OTHER_FORMULAS",
    "WORST_RUNS",
    "directed_backprop",
    "directed_candidate",
    "flushed_backprop",
    "flushed_candidate",
    "worst_faithful_codes",
    "worst_faithful_errors",
]

#: `worst_faithful_errors` measures each libm result's effect with one small backprop per
#: result and example; past this many it gives up (None): the soak then counts a miss.
WORST_RUNS = 20_000


# ----------------------------------------------------- other formulas


def _sigmoid_by_quotient(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1 - 1 / (1 + np.exp(z))  # an ulp of 1 absolute near 0, where a cancels


#: `FORMULAS` with the other sigmoid common code writes, `1 - 1 / (1 + e^z)` (and softplus'
#: `h'` alike): correct, but erring by an ulp of 1 absolutely where the value is small, 1.5u
#: near 0, where `(1 + tanh(z / 2)) / 2` errs by half of it. The tolerance allows for it
#: (`gradcheck.tolerance.saturation.zone_ulps`), so the soak's floor counts it, and a tenth of
#: its plain correct candidates use it. (Its tanh, `1 - 2 / (e^{2z} + 1)`, errs by an ulp of 1
#: where tanh is 1e-3: 8 of 258 such candidates failed, and are left out: see robustness.md.)
OTHER_FORMULAS: dict[str, tuple[Formula, Derivative]] = {
    **FORMULAS,
    "sigmoid": (_sigmoid_by_quotient, FORMULAS["sigmoid"][1]),
    "softplus": (FORMULAS["softplus"][0], lambda z, a: _sigmoid_by_quotient(z)),
}


# ----------------------------------------------------- one libm, one way


def directed_backprop(
    net: Network, X: np.ndarray, Y: np.ndarray, *, upward: bool, ulps: float = 1.0
) -> np.ndarray:
    """A float64 backprop whose libm rounds every result one way: the gradient, flat, longdouble.

    It is `independent_backprop` in float64 (the cancelling formulas of `FORMULAS`:
    sigmoid as `(1 + tanh(z / 2)) / 2`, `a (1 - a)`, `1 - a^2`, ...), except that each
    `tanh`, `exp`, `expm1` and `log(1 + e^z)` returns the float64 furthest above the true
    value (`upward`) or below it within `ulps` spacings: with 1, the neighbour, a faithful
    result; with `gradcheck.tolerance.policy.LIBM_ULPS` (1.5), as far as the accuracy the
    tolerance promises to pass allows. All are aligned, so that
    where the gradient's sensitivity to them has one sign their errors add rather than
    average out. A true value within `1 / EXACT_NEAR` of a spacing from -1 or 1 is that
    bound, as numpy's tanh returns it there. Every sum is a float64 loop over its terms
    sorted by value (descending upward, ascending downward), so each partial sum is as
    large as any order makes it.
    """
    candidate = directed_candidate(
        net.hidden.name, net.output.name, net.cost_function.name, upward=upward, ulps=ulps
    )
    with np.errstate(all="ignore"):
        dJ_dW, dJ_db = candidate(net.weights, net.biases, X, Y)
    return net.layout.join(dJ_dW, dJ_db).astype(np.longdouble)


def directed_candidate(
    hidden: str, output: str, cost: str, *, upward: bool, ulps: float = 1.0
) -> Callable[..., Any]:
    """`directed_backprop` as a candidate ``(weights, biases, X, Y) -> (dJ_dW, dJ_db)``."""
    libm = _Libm(lambda true, call: _directed_round(true, upward, ulps))
    return independent_backprop(
        hidden,
        output,
        cost,
        np.float64,
        formulas=libm.formulas,
        exp=libm.exp,
        sums=SequentialSums(0, order="descending" if upward else "ascending"),
    )


def _directed_round(x: np.ndarray, upward: bool, ulps: float = 1.0) -> np.ndarray:
    """`x` (longdouble) rounded to the float64 furthest above it (`upward`) or below it within
    `ulps` spacings (1: the neighbour), unless it lies within `1 / EXACT_NEAR` of a spacing from
    -1 or 1 (then that bound, as numpy's tanh returns it). Elsewhere a 1-ulp libm may return
    either neighbour however near one is (the soak's seed 38004132: `tanh(-16.998)` lies
    1/102 of a spacing from a float64)."""
    with np.errstate(all="ignore"):
        nearest = x.astype(np.float64)
        other = np.nextafter(nearest, np.inf if upward else -np.inf)
        spacing = np.abs(other.astype(np.longdouble) - nearest)
        beyond = (nearest < x) if upward else (nearest > x)  # the true value past `nearest`
        far = beyond & ~_held_at_bound(x, nearest, spacing)
        rounded = np.where(far, other, nearest)
        if ulps > 1:  # further on, while within `ulps` spacings of the true value
            step = np.nextafter(rounded, np.inf if upward else -np.inf)
            within = np.abs(step.astype(np.longdouble) - x) <= ulps * spacing
            rounded = np.where(within & (np.abs(rounded) != 1) & np.isfinite(step), step, rounded)
    return np.where(np.isfinite(nearest) & np.isfinite(other), rounded, nearest)


# ----------------------------------------------------- flushing subnormals


def flushed_candidate(
    hidden: str,
    output: str,
    cost: str,
    dtype: Any,
    *,
    formulas: Mapping[str, tuple[Formula, Derivative]] = FORMULAS,
) -> Callable[..., Any]:
    """`independent_backprop` in `dtype` with subnormal numbers flushed to zero: every input
    (`W`, `b`, `X`), stored `z`, `a` and `delta`, and every gradient entry whose magnitude is
    below `dtype`'s smallest normal number is 0, as under FTZ and DAZ."""
    tiny = float(np.finfo(dtype).tiny)

    def flush(x: np.ndarray) -> np.ndarray:
        return np.where(np.abs(x) < tiny, np.zeros_like(x), x)

    inner = independent_backprop(hidden, output, cost, dtype, formulas=formulas, jitter=flush)

    def candidate(weights, biases, X, Y):
        with np.errstate(all="ignore"):
            dJ_dW, dJ_db = inner(
                [flush(np.asarray(W, dtype=dtype)) for W in weights],
                [flush(np.asarray(b, dtype=dtype)) for b in biases],
                flush(np.asarray(X, dtype=dtype)),
                np.asarray(Y, dtype=dtype),
            )
        return [flush(g) for g in dJ_dW], [flush(g) for g in dJ_db]

    return candidate


def flushed_backprop(net: Network, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The float64 `flushed_candidate`'s gradient of `net` on `(X, Y)`: flat, longdouble."""
    candidate = flushed_candidate(
        net.hidden.name, net.output.name, net.cost_function.name, np.float64
    )
    dJ_dW, dJ_db = candidate(net.weights, net.biases, X, Y)
    return net.layout.join(dJ_dW, dJ_db).astype(np.longdouble)


# ----------------------------------------------------- a libm that chooses


class _Libm:
    """`FORMULAS` and softmax's `exp` on a libm evaluated in longdouble and rounded by `round`.

    ``round(true, call)`` maps the longdouble results of the `call`-th libm call (counted
    from 0 in the order the backprop makes them) to float64; the shapes of the calls made
    are kept in `shapes`.
    """

    def __init__(self, round: Callable[[np.ndarray, int], np.ndarray]) -> None:
        self.round = round
        self.shapes: list[tuple[int, ...]] = []
        tanh, expm1 = self._function(np.tanh), self._function(np.expm1)
        softplus = self._function(lambda z: np.logaddexp(np.longdouble(0), z))
        self.exp = self._function(np.exp)
        self.formulas: dict[str, tuple[Formula, Derivative]] = dict(FORMULAS)
        self.formulas["sigmoid"] = (lambda z: 0.5 * (1 + tanh(0.5 * z)), FORMULAS["sigmoid"][1])
        self.formulas["tanh"] = (tanh, FORMULAS["tanh"][1])
        self.formulas["softplus"] = (softplus, lambda z, a: 0.5 * (1 + tanh(0.5 * z)))
        self.formulas["elu"] = (
            lambda z: np.where(z > 0, z, expm1(np.minimum(z, 0))),
            FORMULAS["elu"][1],
        )

    def _function(self, f: Formula) -> Formula:
        def libm(z: np.ndarray) -> np.ndarray:
            call = len(self.shapes)
            self.shapes.append(np.shape(z))
            with np.errstate(all="ignore"):
                true = f(np.asarray(z, dtype=np.longdouble))
                return np.asarray(self.round(true, call), dtype=np.float64)

        return libm


def _held_at_bound(true: np.ndarray, nearest: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Where a libm the tolerance passes returns -1 or 1 exactly: the nearest float64 is that
    bound and the true value lies within `1 / EXACT_NEAR` of a spacing from it (numpy's tanh).
    Every libm of this module keeps that rule; elsewhere either neighbour is faithful."""
    return (np.abs(nearest) == 1) & (np.abs(true - nearest) * EXACT_NEAR < spacing)


def _flipped(flips: dict[int, np.ndarray]) -> Callable[[np.ndarray, int], np.ndarray]:
    """Round to nearest, except the results `flips[call]` marks: those to the other
    neighbour of the true value (a faithful result; none where the result is exact, nor where
    it is -1 or 1 and the true value within `1 / EXACT_NEAR` of a spacing from it, which
    numpy's tanh returns exactly, as `_directed_round` keeps too: the soak's probe seed
    951000741, a sigmoid `tanh(z / 2)` of `1 - 2e-20` returned as `1 - u`, an `h'` of `u`
    where the true one is 1e-20, failed by 800 times its tolerance)."""

    def round(true: np.ndarray, call: int) -> np.ndarray:
        nearest = true.astype(np.float64)
        mask = flips.get(call)
        if mask is None:
            return nearest
        other = np.nextafter(nearest, np.where(nearest > true, -np.inf, np.inf))
        spacing = np.abs(other.astype(np.longdouble) - nearest)
        held = _held_at_bound(true, nearest, spacing)
        usable = mask & (nearest != true) & ~held & np.isfinite(nearest) & np.isfinite(other)
        return np.where(usable, other, nearest)

    return round


def _run(
    net: Network, X: np.ndarray, Y: np.ndarray, flips: dict[int, np.ndarray]
) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The flat float64 gradient on the libm `_flipped(flips)`, and the shapes of its calls."""
    libm = _Libm(_flipped(flips))
    candidate = independent_backprop(
        net.hidden.name,
        net.output.name,
        net.cost_function.name,
        np.float64,
        formulas=libm.formulas,
        exp=libm.exp,
    )
    with np.errstate(all="ignore"):
        dJ_dW, dJ_db = candidate(net.weights, net.biases, X, Y)
    return net.layout.join(dJ_dW, dJ_db), libm.shapes


def worst_faithful_codes(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    entries: Sequence[int],
    *,
    runs: int = WORST_RUNS,
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per entry of `entries`, the gradients of the two worst faithful codes for that entry.

    Parameters
    ----------
    net, X, Y : the problem (float64).
    entries : sequence of int
        Flat indices of the gradient entries (NOTATION.md's order).
    runs : int
        The most single-example backprops to spend measuring effects (`WORST_RUNS`).

    Returns
    -------
    list of (ndarray, ndarray), or None
        For entry `j`, the flat float64 gradients of two backprops whose libm returns,
        for every result, the neighbour of the true value that moves `g_j` up (the
        first) or down (the second). The effect of each result's other neighbour is
        measured on its own example (one backprop of that example each: a result
        reaches the gradient only through its example's share), and the code that takes
        every one that helps is then run on the whole batch: a real code, not an
        estimate. None where measuring would take more than `runs` backprops.
    """
    index = np.asarray(entries, dtype=int)
    d = X.shape[0]
    _, shapes = _run(net, X[:1], Y[:1], {})
    widths = [int(np.prod(shape[1:], dtype=int)) for shape in shapes]  # results per example
    if d * sum(widths) > runs:
        return None
    # effects[k][i, n, e]: what the other neighbour of call k's result (i, n) does to entry e
    effects = [np.zeros((d, width, index.size)) for width in widths]
    for i in range(d):
        x, y = X[i : i + 1], Y[i : i + 1]
        base = _run(net, x, y, {})[0][index]
        for k, width in enumerate(widths):
            for n in range(width):
                mask = np.zeros((1, width), dtype=bool)
                mask[0, n] = True
                effects[k][i, n] = _run(net, x, y, {k: mask})[0][index] - base
    codes = []
    for e in range(index.size):
        up, down = (
            _run(net, X, Y, {k: sign * effect[:, :, e] > 0 for k, effect in enumerate(effects)})[0]
            for sign in (1.0, -1.0)
        )
        codes.append((up, down))
    return codes


def worst_faithful_errors(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    g_true: np.ndarray,
    entries: Sequence[int],
    *,
    runs: int = WORST_RUNS,
) -> np.ndarray | None:
    """Per entry of `entries`, the error of the worst faithful code for it (`worst_faithful_codes`):
    the larger of `|g_j - g*_j|` of its two codes, float64; None where that costs over `runs`.

    Examples
    --------
    >>> import numpy as np
    >>> from gradcheck.tolerance.independent import extended_backprop
    >>> net = Network([np.array([[1.0]])], [np.array([0.0])], hidden="sigmoid")
    >>> X, Y = np.array([[-33.0], [-32.0]]), np.array([[0.5], [0.5]])
    >>> worst = worst_faithful_errors(net, X, Y, extended_backprop(net, X, Y), [1])
    >>> bool(worst[0] > 1e-17)  # a ~ 1e-14 via 1 + tanh(z / 2): an ulp of 1 is 1e-2 of it
    True
    """
    codes = worst_faithful_codes(net, X, Y, entries, runs=runs)
    if codes is None:
        return None
    return np.array(
        [
            max(abs(float(np.longdouble(g[j]) - g_true[j])) for g in pair)
            for j, pair in zip(np.asarray(entries, dtype=int), codes)
        ]
    )
