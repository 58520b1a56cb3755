"""Grouped differences: every entry of a vector-Jacobian product at once, entries whose footprints
do not overlap moved together and read apart, each group verified from `f` itself.

For a vector-valued ``f: R^n -> R^m`` and cotangents `c`, the check of entry `j` needs
``c . df/dx_j``.  A difference of the *vector* `f` along a direction serves every cotangent at
once, and when the entries of a group reach disjoint sets of outputs (their *footprints*,
`gradcheck.fd.footprints`), one difference along all of them together holds each member's
column on its own outputs: output `o`, claimed by member `j`, changes by ``J_oj`` times `j`'s step
alone.  Entries are grouped greedily, the first group whose outputs they do not touch
(Curtis, Powell & Reid 1974; scipy's `optimize._numdiff.group_columns`).  A convolution's 9,360
entries then take ~150 groups.

Footprints are hypothesised from a few probes (`footprints.hypothesise`); every group is verified
from `f` before its numbers are used, so the hypothesis only sets the speed:

1. NaN probe: every member set to NaN at once; an output turned NaN that no member claims means a
   member reaches it (`footprints.nan_reach`; skipped for an `f` that refuses NaN).
2. Outputs no member claims must not move under the group's steps (beyond
   `GROUPED_AGREEMENT` times their rounding): catches a reach an `f` hides from NaN.
3. Two differences with two independent random weightings of the members (magnitudes in [1, 2),
   random signs) must give every claimed output the same derivative along its owner, within
   `GROUPED_AGREEMENT` times their summed error estimates: a second contributor `k` to an output
   of `j` adds ``J_ok t_k / t_j`` under one weighting and ``J_ok t'_k / t'_j`` under the other.
   Whatever gap remains joins the output's error estimate.

A group failing any of them is split in halves, down to single entries, which read every output
(the dense footprint) and need no verification.

Each direction is differenced like `numerical.numerical_gradient`, output by output: centred
differences at the first step `s` and at `s/2`; where they agree to rounding for every claimed
output, `f` is linear along the direction to rounding, the first (large) step's difference is
kept, its truncation bounded by ``(8/3)(|D(s) - D(s/2)| + both roundings)`` (the `s^2` term, twice
for the `s^4` one), so its error is ~``eps |f| / s`` where torch's fixed 1e-6 step gives
``eps |f| / 1e-6``.  Elsewhere the steps keep halving and windows of four are extrapolated
(Neville, `numerical.extrapolate`), each output keeping its best.  The rounding of a value of `f`
is its own, per output: a few ulps of it, or its noise measured along a line (ECnoise,
`noise.output_noise`), so an output that sums terms that cancel is not trusted to its ulps.

Entry `j`'s estimate under cotangent `c` is ``sum_o c_o D_o`` over its outputs, its error
``sum_o |c_o| e_o``.  `grouped_check` compares a candidate with those (`check.compare_gradient`:
the same bound, safety x error + the candidate's rounding), then checks again entry by entry
(`check.check_gradient`) every entry whose estimate is not finite or whose bound is looser than
`GROUPED_RECHECK` of it: a kink or noise widens only its own entries, and no entry's verdict rests
on a grouped estimate that could not be trusted.  An entry beyond a tight bound is not differenced
again: its estimate was verified, so it fails, unless the caller's kink test (`check_vjp`'s, on
every failing entry, as on the per-entry path) finds `f` not smooth there (ReLU at exactly 0:
every centred difference there is the mean of the two slopes, tight and consistent, and the
kink test sees the jump).

Each group draws its weightings from its own generator (the seed, its first member, its size)
and needs only its own points, so with `f_many` (an executor's workers) the points of `ACTIVE`
groups go out as one batch per round and the estimates are the serial run's, bit for bit.

When the footprints leave nothing to group (`GROUPED_MAX_FRACTION`), `grouped_differences` returns
None: the per-entry path is cheaper.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from gradcheck.fd.check import GradientCheck, check_gradient, compare_gradient
from gradcheck.fd.footprints import hypothesise
from gradcheck.fd.noise import noise_bound, output_noise
from gradcheck.fd.numerical import NumericalGradient, extrapolate
from gradcheck.fd.steps import default_step, within_sign
from gradcheck.tolerance.policy import CHECK_SAFETY, GROUPED_AGREEMENT, GROUPED_RECHECK

__all__ = ["GroupedDifferences", "colour", "grouped_check", "grouped_differences"]

VectorF = Callable[[np.ndarray], np.ndarray]
ManyF = Callable[[list[np.ndarray]], list]  # f at each point; an exception where f raised

GROUPED_MAX_FRACTION = 0.5  # more groups than this fraction of the entries: per entry is cheaper
LEVELS = 6  # steps per direction at most: s, s/2, ..., s/32 (three windows of four)
WINDOW = 4  # differences per extrapolation, as `numerical`'s Richardson
ACTIVE = 16  # groups differenced side by side with `f_many`: one batch per round (memory: ~18 m floats each)
ROUNDED = 4.0  # D(s) and D(s/2) within this many roundings everywhere: linear, stop at two steps


@dataclass(frozen=True)
class GroupedDifferences:
    """``c_i . df/dx_j`` for every cotangent `i` and entry `j`, with error estimates.

    Attributes
    ----------
    estimates, errors : ndarray, shape (cotangents, n)
        The estimates (NaN where `f` was not finite near theta) and their error bounds.
    groups : int
        Groups differenced, single entries included.
    splits : int
        Groups that failed verification and were split.
    """

    estimates: np.ndarray
    errors: np.ndarray
    groups: int
    splits: int


def grouped_differences(
    f_vec: VectorF,
    theta: np.ndarray,
    cotangents: np.ndarray,
    shapes: Sequence[tuple[int, ...]],
    out_shape: tuple[int, ...],
    *,
    seed: int = 0,
    f_many: ManyF | None = None,
) -> GroupedDifferences | None:
    """The grouped differences of ``f_vec(theta) -> values, shape (m,)`` under `cotangents`
    (shape (k, m)); `theta` is the inputs of `shapes`, flattened and joined.  None when the
    footprints leave too little to group (see the module docstring).

    `f_many`: ``f_many(points) -> values``, `f_vec` at every point of a list (an exception in
    place of a value that raised), e.g. on an executor's workers; the groups' points are then
    evaluated `ACTIVE` groups at a time.  Default: `f_vec` one point after another.  The
    footprint probes and the noise stay with `f_vec` (a few dozen points, each chosen after
    the last).  The estimates are the same bit for bit either way.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> f = lambda t: (t.reshape(3, 2) @ W).ravel()
    >>> d = grouped_differences(f, np.arange(6.0), np.ones((1, 6)), [(3, 2)], (3, 2))
    >>> np.round(d.estimates, 12).tolist()
    [[3.0, 7.0, 3.0, 7.0, 3.0, 7.0]]
    """
    f0 = np.asarray(f_vec(theta), dtype=float)
    footprints = hypothesise(f_vec, theta, f0, shapes, out_shape)
    if footprints.dense():
        return None
    reach = footprints.each()
    groups = colour(reach, f0.size)
    if len(groups) > GROUPED_MAX_FRACTION * theta.size:
        return None
    run = _Run(f_vec, theta, f0, output_noise(f_vec, theta, f0), cotangents)
    many = f_many if f_many is not None else _one_by_one(f_vec)
    count, splits = _drive(run, reach, groups, seed, many, 1 if f_many is None else ACTIVE)
    return GroupedDifferences(run.estimates, run.errors, count, splits)


def _one_by_one(f_vec: VectorF) -> ManyF:
    """`f_vec` at each point in turn, an exception in place of a value that raised."""

    def many(points: list[np.ndarray]) -> list:
        values: list = []
        for point in points:
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    values.append(f_vec(point))
            except Exception as exc:  # the NaN probe's to judge; a difference's raises it again
                values.append(exc)
        return values

    return many


def _drive(run, reach, groups, seed: int, many: ManyF, active: int) -> tuple[int, int]:
    """Difference the groups, `active` of them side by side: the points they all need next are
    evaluated as one batch (`many`).  A group needs only its own points and draws its weights
    from its own generator (seeded by `seed` and its members), so the estimates do not depend
    on `active` or on the order of evaluation: bit-identical on any executor."""
    pending: list[np.ndarray] = list(groups[::-1])
    running: list[tuple[np.ndarray, Generator[list, list, bool], list]] = []
    count = splits = 0
    while pending or running:
        while pending and len(running) < active:
            members = pending.pop()
            count += 1
            work = _group(run, reach, members, seed)
            running.append((members, work, next(work)))
        points = [p for _, _, wanted in running for p in wanted]
        values, start, still = many(points), 0, []
        for members, work, wanted in running:
            got, start = values[start : start + len(wanted)], start + len(wanted)
            try:
                still.append((members, work, work.send(got)))
            except StopIteration as done:
                if not done.value:  # refuted: split in halves, first half first
                    splits += 1
                    half = members.size // 2
                    pending.extend([members[half:], members[:half]])
        running = still
    return count, splits


def _group(run, reach, members: np.ndarray, seed: int) -> Generator[list, list, bool]:
    """One group's differences, added to `run`: yields the points it needs, receives f there;
    returns False when `f` refutes its footprints (to be split)."""
    if members.size == 1:
        owner = np.full(run.f0.size, members[0])
        value, error, _, _, _ = yield from run.along(members, np.ones(1), owner)
    else:
        owner = _owners(reach, members, run.f0.size)
        rng = np.random.default_rng([seed, int(members[0]), int(members.size)])
        verified = yield from run.verified(members, owner, rng)
        if verified is None:
            return False
        value, error = verified
    run.add(members, owner, value, error)
    return True


def colour(reach: list[np.ndarray | None], m: int) -> list[np.ndarray]:
    """Curtis-Powell-Reid: each entry joins the first group none of whose members reaches any of
    its outputs (`reach[j]`, from `Footprints.each`); entries with the dense footprint (None) stay
    alone.  Groups in order of first entry.

    Which groups reach each output is kept as a bit set (one bit per group, in 64-bit words), so
    an entry finds its group in one pass over its own outputs.
    """
    bits = np.zeros((m, 1), dtype=np.uint64)
    members: list[list[int]] = []
    alone = []
    for j, outputs in enumerate(reach):
        if outputs is None:
            alone.append(j)
            continue
        used = np.bitwise_or.reduce(bits[outputs], axis=0) if outputs.size else bits[0] * 0
        g = _first_free(used)
        if g == len(members):
            members.append([])
            if g == 64 * bits.shape[1]:
                bits = np.concatenate([bits, np.zeros((m, 1), dtype=np.uint64)], axis=1)
        bits[outputs, g // 64] |= np.uint64(1 << (g % 64))
        members[g].append(j)
    return [np.array(g, dtype=int) for g in members] + [np.array([j]) for j in alone]


def _first_free(used: np.ndarray) -> int:
    """The lowest bit not set in the words of `used` (the first group free to join)."""
    for w, word in enumerate(used):
        free = ~int(word) & (2**64 - 1)
        if free:
            return 64 * w + (free & -free).bit_length() - 1
    return 64 * used.size


def _owners(reach: list[np.ndarray | None], members: np.ndarray, m: int) -> np.ndarray:
    """Per output, the member whose hypothesised footprint holds it, or -1."""
    owner = np.full(m, -1)
    for j in members:
        owner[reach[int(j)]] = j
    return owner


class _Run:
    """One grouped run: `f`, the point, each output's noise, and the estimates summed so far."""

    def __init__(self, f_vec, theta, f0, sigma, cotangents) -> None:
        self.f_vec, self.theta, self.f0, self.sigma = f_vec, theta, f0, sigma
        self.c = np.asarray(cotangents, dtype=float).reshape(len(cotangents), f0.size)
        self.estimates = np.zeros((self.c.shape[0], theta.size))
        self.errors = np.zeros_like(self.estimates)

    def add(self, members, owner: np.ndarray, value: np.ndarray, error: np.ndarray) -> None:
        """Each member's sum over its outputs, under every cotangent: c . D and |c| . e."""
        claimed = owner >= 0
        local, k = np.searchsorted(members, owner[claimed]), members.size
        for i, c in enumerate(self.c[:, claimed]):
            self.estimates[i, members] = np.bincount(local, weights=c * value[claimed], minlength=k)
            self.errors[i, members] = np.bincount(local, np.abs(c) * error[claimed], minlength=k)

    def verified(
        self, members, owner, rng
    ) -> Generator[list, list, tuple[np.ndarray, np.ndarray] | None]:
        """The group's per-output derivatives and errors, or None if `f` refutes its footprints
        (a generator of the points it needs, as `_group`)."""
        claimed = owner >= 0
        point = self.theta.copy()
        point[members] = np.nan
        (probed,) = yield [point]  # the NaN probe (`footprints.nan_reach`)
        reach = _nan_mask(probed, self.f0.size)
        if reach is not None and (reach & ~claimed).any():
            return None
        looks, levels = [], LEVELS
        for _ in range(2):
            weights = rng.uniform(1.0, 2.0, members.size) * rng.choice([-1.0, 1.0], members.size)
            value, error, moved, rounding, linear = yield from self.along(
                members, weights, owner, levels
            )
            if not np.all(moved[~claimed] <= GROUPED_AGREEMENT * rounding[~claimed]):
                return None
            looks.append((value, error))
            # linear along the first weighting: one step tells whether the second agrees
            levels = 1 if linear else LEVELS
        (value, error), (other, other_error) = looks
        with np.errstate(invalid="ignore"):
            gap = np.abs(value - other)
        both = claimed & np.isfinite(gap)
        if np.any(gap[both] > GROUPED_AGREEMENT * (error[both] + other_error[both])):
            return None
        return value, np.where(np.isfinite(gap), error + gap, np.inf)

    def along(self, members, weights, owner, levels=LEVELS):
        """Per output: the derivative along its owner entry and its error; and, at the first
        step, how far each output moved, |f(x+u) - f(x-u)|, with that difference's rounding; and
        whether two steps agreed to rounding on every claimed output (linear).
        ``levels=1``: the first step's difference alone, its error its rounding (to compare with
        a direction found linear)."""
        theta, m = self.theta, self.f0.size
        step = default_step(theta[members], "richardson") * np.abs(weights)
        step = within_sign(theta[members], step) * np.sign(weights)
        claimed = owner >= 0
        where = np.searchsorted(members, owner[claimed])
        D, S, N = (np.full((m, LEVELS), np.nan) for _ in range(3))
        best, best_error = np.full(m, np.nan), np.full(m, np.inf)
        for k in range(levels):
            up, down, taken = yield from self._pair(members, step / 2**k)
            with np.errstate(all="ignore"):
                span = np.full(m, 2.0 ** (1 - k))  # outputs no member claims: the nominal step
                span[claimed] = taken[where]
                D[:, k], S[:, k] = (up - down) / span, np.abs(span) / 2
                N[:, k] = noise_bound(
                    np.maximum(np.maximum(abs(up), abs(down)), abs(self.f0)), self.sigma
                )
                if k == 0:
                    moved, rounding = np.abs(up - down), 2 * N[:, 0]
                if levels == 1:
                    _keep(best, best_error, D[:, 0], N[:, 0] / S[:, 0])
                    break
                if _improve(D, S, N, k, best, best_error, claimed):
                    break
        moved = np.where(np.isnan(moved), np.inf, moved)
        return best, best_error, moved, rounding, levels > 1 and k == 1

    def _pair(self, members, step):
        plus, minus = self.theta.copy(), self.theta.copy()
        plus[members] += step
        minus[members] -= step
        taken = (plus[members] - self.theta[members]) + (self.theta[members] - minus[members])
        up, down = yield [plus, minus]
        for value in (up, down):
            if isinstance(value, BaseException):
                raise value  # f failed at a difference's point: the caller's error, as serially
        return np.asarray(up, dtype=float), np.asarray(down, dtype=float), taken


def _nan_mask(value, m: int) -> np.ndarray | None:
    """`footprints.nan_reach` from f's value at the NaN point (an exception: f refuses NaN)."""
    if isinstance(value, BaseException):
        return None
    values = np.asarray(value, dtype=float)
    return ~np.isfinite(values) if values.shape == (m,) else None


def _improve(D, S, N, k, best, best_error, claimed) -> bool:
    """Level `k` is in: update each output's best estimate; whether the claimed ones are done."""
    if k == 1:
        r0, r1 = N[:, 0] / S[:, 0], N[:, 1] / S[:, 1]
        spread = np.abs(D[:, 0] - D[:, 1])
        error = r0 + (8.0 / 3.0) * (spread + r0 + r1)
        _keep(best, best_error, D[:, 0], error)
        return bool(np.all(spread[claimed] <= ROUNDED * (r0 + r1)[claimed]))
    if k < WINDOW - 1:
        return False
    window = slice(k - WINDOW + 1, k + 1)
    value, truncation, rounding = extrapolate(D[:, window], S[:, window], N[:, window].max(axis=1))
    _keep(best, best_error, value, truncation + rounding)
    return bool(np.all((truncation <= rounding)[claimed]))


def _keep(best, best_error, value, error) -> None:
    error = np.where(np.isfinite(value) & np.isfinite(error), error, np.inf)
    better = error < best_error
    best[better], best_error[better] = value[better], error[better]


def grouped_check(
    differences: GroupedDifferences,
    index: int,
    g: Callable[[np.ndarray], float],
    candidate: np.ndarray,
    theta: np.ndarray,
    names: Callable[[int], str],
) -> GradientCheck:
    """The candidate under cotangent `index` (of scalar ``g = c . f``) against the grouped
    estimates, its doubtful entries checked again entry by entry (see the module docstring)."""
    step = default_step(theta, "richardson")
    estimates, errors = differences.estimates[index], differences.errors[index]
    numerical = NumericalGradient(estimates, errors, "grouped", step, 0)
    first = compare_gradient(candidate, numerical, names=names)
    size = np.maximum(np.abs(estimates), np.mean(np.abs(estimates)))
    with np.errstate(invalid="ignore"):
        loose = np.flatnonzero(~(CHECK_SAFETY * errors <= GROUPED_RECHECK * size))
    doubtful = np.union1d(first.unverifiable, loose).astype(int)
    if not doubtful.size:
        return first

    def g_doubtful(y: np.ndarray) -> float:
        point = theta.copy()
        point[doubtful] = y
        return g(point)

    again = check_gradient(g_doubtful, candidate[doubtful], theta[doubtful]).numerical
    estimates, errors = estimates.copy(), errors.copy()
    estimates[doubtful], errors[doubtful], step[doubtful] = again.gradient, again.error, again.step
    merged = NumericalGradient(
        estimates, errors, "grouped", step, 0, noise=again.noise, rounding=again.rounding
    )
    return compare_gradient(candidate, merged, names=names)
