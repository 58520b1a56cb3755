"""The screen: differences along random directions held against a candidate's dot products, and
bisection of the sets that fail down to single entries (group testing).

For cotangents `c_k` and ``phi_k(x) = c_k . f(x)``, a candidate gradient `g_k` of `phi_k`, and
a direction `u` supported on a set `S` of entries, Richardson's centred differences of
``s -> phi_k(x + s u_S)`` (`numerical.differentiate`, with its error estimate) give
``grad(phi_k) . u_S``; the set passes when

    |D_k - g_k . u_S| <= safety x error estimate + the candidate's rounding of the dot product

(`SetTest`).  One evaluation of `f` at a point serves every cotangent (`SharedValues`).

Directions: ``u_j = sign_j w_j P_j``, seeded: a random sign, a weight `w_j` drawn uniformly from
[1, 2) in steps of 2^-20, and `P_j`, the power of two nearest the entry's scale ``max(|x_j|, 1)``.
So ``|u_j| >= 1``: a single wrong entry shows in full, it cannot cancel; several wrong entries
cancel only if the weights conspire, which the continuous-like `w_j` makes unlikely (see
`cancel_probability`); and `s u_j` has 21 significant bits, so for the small power-of-two steps
``x_j + s u_j`` is exact, the step taken along `u` the step asked for (at the first, large steps
a sum that crosses a power of two may drop the last bit of `x_j`: an error of an ulp of `x_j`
against a move of `s |u_j|`, below what the rounding of `phi` already costs there).

Bisection (`locate`): a set that fails is halved; the left half is measured and the right one
inferred, ``d_R = d_S - d_L`` with bound ``B_S + B_L`` (the differences are linear in `u`), so
one wrong entry among `n` costs ``log2 n`` measured sets.  When neither half fails the inferred
one is measured too; when that passes as well the error is spread too thin to pin down and the
set is returned unlocalized.  Named entries are candidates only: `gradcheck.oracle.screening`
confirms each with the per-entry check (`entry_difference`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradcheck.fd.check import candidate_floor
from gradcheck.fd.evaluation import Evaluator
from gradcheck.fd.noise import EPS, noise_sigma
from gradcheck.fd.numerical import differentiate
from gradcheck.fd.steps import RICHARDSON_STEP, default_step, entry_scale, power_of_two
from gradcheck.tolerance.policy import (
    CANDIDATE_ULPS,
    CHECK_SAFETY,
    SCREEN_CAUGHT_FACTOR,
    SCREEN_ROUNDING_SIGMAS,
)

__all__ = [
    "Candidates",
    "SetTest",
    "SharedValues",
    "cancel_probability",
    "caught_above",
    "directions",
    "entry_difference",
    "locate",
    "miss_probability",
    "screen_noise",
    "set_test",
]

WEIGHT_BITS = 20  # w_j = 1 + m / 2^20: x_j + s u_j exact for steps down to 2^-28 of the scale
MOST_NAMED = 12  # entries the bisection names at most: two screenfuls; the rest stay unlocalized
NAMED_POINTS = 64  # moves of at most this many entries are keyed by their entries, not hashed


class SharedValues:
    """``phi_k = c_k . f`` at the points of the screen, for every cotangent from one value of `f`.

    `f_flat(x) -> array` evaluates `f` at a flat vector `x` of the differentiated entries;
    `cotangents` are the `c_k`, of `f`'s shape.  Points are keyed by what moved: a set along the
    direction by a step, a few entries to new values, or (anything else) a hash of the vector.
    """

    def __init__(self, f_flat: Callable[[np.ndarray], np.ndarray], cotangents, theta: np.ndarray):
        self.f_flat, self.cotangents, self.theta = f_flat, list(cotangents), theta
        self.values: dict[object, np.ndarray] = {}
        self.scale = np.zeros(len(self.cotangents))  # sum |c_k f(theta)|: the terms of phi_k
        self.at_theta = self.key(("theta",), lambda: theta.copy())

    def key(self, key: object, point: Callable[[], np.ndarray]) -> np.ndarray:
        """phi_k at the point `point()` for every k, evaluated once per `key`."""
        known = self.values.get(key)
        if known is None:
            value = np.asarray(self.f_flat(point()), dtype=float)
            known = np.array([float(np.sum(c * value)) for c in self.cotangents])
            if key == ("theta",):
                self.scale = np.array([float(np.sum(np.abs(c * value))) for c in self.cotangents])
            self.values[key] = known
        return known

    def along(self, u: np.ndarray, lo: int, hi: int, s: float) -> np.ndarray:
        """phi_k(x + s u on entries lo..hi-1)."""

        def point() -> np.ndarray:
            x = self.theta.copy()
            x[lo:hi] += s * u[lo:hi]
            return x

        return self.key(("along", lo, hi, s), point)

    def at(self, x: np.ndarray) -> np.ndarray:
        """phi_k at any flat vector `x`, keyed by its entries that differ from theta."""
        moved = np.flatnonzero(x != self.theta)
        if moved.size == 0:
            return self.at_theta
        if moved.size <= NAMED_POINTS:
            key: object = ("moved", moved.tobytes(), x[moved].tobytes())
        else:
            key = ("hash", hashlib.blake2b(x.tobytes(), digest_size=20).digest())
        return self.key(key, lambda: x.copy())


@dataclass(frozen=True)
class SetTest:
    """The screen on entries `lo..hi-1` under every cotangent: ``D_k - g_k . u_S`` and its bound."""

    lo: int
    hi: int
    difference: np.ndarray  # (K,): the finite difference along u_S minus the candidate's g_k . u_S
    bound: np.ndarray  # (K,): safety x error estimate + the candidate's rounding of g_k . u_S
    measured: bool = True  # False: inferred from its parent and its measured sibling
    # (K,): how many times the noise of f widened the differences' rounding (1: not; see
    # `NumericalGradient.noise_widening`); 1 for an inferred set
    widening: np.ndarray = field(default_factory=lambda: np.ones(1))

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def fails(self) -> bool:
        return bool(np.any(~(np.abs(self.difference) <= self.bound)))


def directions(theta: np.ndarray, seed: int | tuple[int, ...]) -> np.ndarray:
    """u_j = sign_j w_j P_j (see the module docstring), seeded (`seed` as numpy's `default_rng`)."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], theta.size)
    weight = 1.0 + rng.integers(0, 2**WEIGHT_BITS, theta.size) / 2.0**WEIGHT_BITS
    return sign * weight * power_of_two(entry_scale(theta))


def screen_noise(values: SharedValues) -> np.ndarray:
    """The noise of each phi_k near theta, measured as the per-entry check measures it (ECnoise)."""
    theta, sigma = values.theta, np.empty(len(values.cotangents))
    for k, f0 in enumerate(values.at_theta):

        def phi(x: np.ndarray, k: int = k) -> float:
            return float(values.at(x)[k])

        sigma[k] = noise_sigma(_evaluator(phi, theta), theta, float(f0))
    return sigma


class Candidates:
    """The candidate gradients `g_k` (flat, in their own dtype), one per cotangent, with each
    entry's rounding floor (`candidate_floor`, as the per-entry check allows it)."""

    def __init__(self, grads) -> None:
        self.grads = [np.asarray(g) for g in grads]
        self.floors = [candidate_floor(g, float(np.finfo(g.dtype).eps)) for g in self.grads]

    def __len__(self) -> int:
        return len(self.grads)

    def dot(self, k: int, u: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
        """g_k . u_S in float64, and what the candidate's rounding may move it by.

        Each entry's rounding is at most its floor; under the random signs of `u` their sum stays
        within `SCREEN_ROUNDING_SIGMAS` times its root mean square but with probability
        `miss_probability` (Hoeffding); float64's own rounding of the sum adds `CANDIDATE_ULPS`
        ulps of sum |g_j u_j|.
        """
        part, weights = self.grads[k][lo:hi].astype(np.float64), u[lo:hi]
        spread = SCREEN_ROUNDING_SIGMAS * float(np.linalg.norm(self.floors[k][lo:hi] * weights))
        own = CANDIDATE_ULPS * EPS * float(np.sum(np.abs(part * weights)))
        return float(part @ weights), spread + own


def set_test(
    values: SharedValues, u: np.ndarray, lo: int, hi: int, grads: Candidates, sigma: np.ndarray
) -> SetTest:
    """Measure the screen on entries lo..hi-1 along `u` against the candidates, under every k."""
    difference, bound, widening = (np.empty(len(grads)) for _ in range(3))
    origin, first = np.zeros(1), np.array([RICHARDSON_STEP])  # u carries each entry's scale
    for k in range(len(grads)):

        def psi(s: np.ndarray, k: int = k) -> float:
            return float(values.along(u, lo, hi, float(s[0]))[k])

        numerical = differentiate(
            _evaluator(psi, origin),
            origin,
            method="richardson",
            step=first,
            f0=float(values.at_theta[k]),
            f_scale=float(values.scale[k]),
            sigma=float(sigma[k]),
        )
        dot, rounding = grads.dot(k, u, lo, hi)
        difference[k] = numerical.gradient[0] - dot
        bound[k] = CHECK_SAFETY * numerical.error[0] + rounding
        widening[k] = numerical.noise_widening
    return SetTest(lo, hi, difference, bound, widening=widening)


def miss_probability() -> float:
    """The chance that the candidate's rounding exceeds its allowance in a dot product (Hoeffding:
    2 exp(-z^2 / 2) at z = `SCREEN_ROUNDING_SIGMAS`): a single entry beyond `caught_above` then
    might be missed; nothing else about a single entry is left to chance."""
    return float(2.0 * np.exp(-(SCREEN_ROUNDING_SIGMAS**2) / 2))


def caught_above(test: SetTest) -> np.ndarray:
    """Per cotangent: a single entry of the set wrong by more than this (absolute) fails the test.

    Its error shows as e_j u_j with |u_j| >= 1, and the rest (the differences' error, the
    candidate's rounding) takes at most one bound: `SCREEN_CAUGHT_FACTOR` bounds suffice.
    """
    return SCREEN_CAUGHT_FACTOR * test.bound


def cancel_probability(caught: float, largest: float) -> float:
    """The chance that wrong entries whose largest error is `largest` cancel along the direction
    below what a single entry beyond `caught` shows: at most 2 caught / largest (the weight of the
    largest entry, uniform over [1, 2), must fall in an interval that short), plus 2^-20."""
    if largest <= 0:
        return 1.0
    return min(1.0, 2.0 * caught / largest + 2.0**-WEIGHT_BITS)


def locate(measure: Callable[[int, int], SetTest], failing: SetTest):
    """Bisect a failing set down to single entries.

    `measure(lo, hi)` measures a set.  Returns the named entries (at most `MOST_NAMED`, each to
    be confirmed), the failing sets left unlocalized (spread too thin, or past `MOST_NAMED`), and
    how many sets were measured.
    """
    named: list[int] = []
    unlocalized: list[SetTest] = []
    stack, measured = [failing], 0
    while stack:
        test = stack.pop()
        if test.size == 1:
            named.append(test.lo)
            continue
        if len(named) >= MOST_NAMED:
            unlocalized.append(test)
            continue
        mid = (test.lo + test.hi) // 2
        left = measure(test.lo, mid)
        measured += 1
        right = SetTest(
            mid, test.hi, test.difference - left.difference, test.bound + left.bound, False
        )
        if not left.fails and not right.fails:  # the inferred bound may be too wide: measure it
            right = measure(mid, test.hi)
            measured += 1
            if not right.fails:
                unlocalized.append(test)
        stack.extend(t for t in (right, left) if t.fails)  # the left half first
    return named, unlocalized, measured


def entry_difference(
    values: SharedValues, j: int, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entry `j`'s derivative of every phi_k and its error estimate, exactly as the per-entry check
    computes it (`numerical_gradient`'s steps, the same noise): only the entry's own moves."""
    theta = values.theta
    here = theta[j : j + 1].copy()
    gradient, error = np.empty(len(sigma)), np.empty(len(sigma))
    for k in range(len(sigma)):

        def g(y: np.ndarray, k: int = k) -> float:
            x = theta.copy()
            x[j] = y[0]
            return float(values.at(x)[k])

        numerical = differentiate(
            _evaluator(g, here),
            here,
            method="richardson",
            step=default_step(here, "richardson"),
            f0=float(values.at_theta[k]),
            sigma=float(sigma[k]),
        )
        gradient[k], error[k] = numerical.gradient[0], numerical.error[0]
    return gradient, error


def _evaluator(fn: Callable[[np.ndarray], float], theta: np.ndarray) -> Evaluator:
    return Evaluator(fn, theta, vectorized=False, max_batch=None)
