"""`check_vjp`'s screen mode: a million inputs checked in a few hundred evaluations of `f`.

Every entry by its own differences costs ~10-20 evaluations of `f` per entry.  Above
`SCREEN_ABOVE` differentiated entries (or with ``mode="screen"``) `check_vjp` screens instead
(`gradcheck.fd.screen`): one difference along a seeded random direction per input, held against
``vjp(c) . u`` under every cotangent, then bisection of the inputs that fail down to single
entries.  Each entry the bisection names is then judged by the per-entry check itself (its own
differences, the same steps and noise as ``mode="entries"``, and the kink test): a screen never
fails an entry that the per-entry check passes.

What a screen cannot miss is computed from its own bounds, per input: any single entry wrong by
more than `caught_above` (relative to the input's largest gradient) fails its input's set, but
with probability `miss_probability` (the candidate's rounding); several wrong entries can cancel
along the direction, with the probability `cancel_probability` bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from gradcheck.fd.screen import (
    Candidates,
    SetTest,
    SharedValues,
    caught_above,
    directions,
    entry_difference,
    locate,
    miss_probability,
    screen_noise,
    set_test,
)
from gradcheck.results.vjp_report import (
    VJP_ROWS,
    EntryRow,
    InputSummary,
    ScreenSummary,
    VJPReport,
)
from gradcheck.tolerance.policy import CHECK_SAFETY, NOISY_CHECK_RESOLUTION, SCREEN_ABOVE

__all__ = ["MODES", "screen_vjp", "screens"]

MODES = ("auto", "entries", "screen")
DIRECTION_STREAM = 20  # the directions' random stream, apart from the cotangents' (issue 20)


class Layout(Protocol):
    """What the screen needs of `check_vjp`'s inputs (`layers._Inputs` is one)."""

    names: list[str]
    arrays: list[np.ndarray]
    differentiated: list[int]
    offsets: np.ndarray
    mutated: set[str]

    def entry(self, j: int) -> str: ...


def screens(mode: Any, size: int) -> bool:
    """Whether `check_vjp` screens `size` differentiated entries in `mode` (validated)."""
    if not isinstance(mode, str) or mode not in MODES:
        known = ", ".join(repr(m) for m in MODES)
        raise ValueError(f"`mode` must be one of {known}, got {mode!r}")
    return mode == "screen" or (mode == "auto" and size > SCREEN_ABOVE)


def screen_vjp(
    f_at: Callable[[np.ndarray], np.ndarray],
    cotangents: list[np.ndarray],
    grads: list[list[Any]],
    theta: np.ndarray,
    given: Layout,
    *,
    seed: int,
    shape: tuple[int, ...],
    on_kink: Callable[..., bool],
) -> VJPReport:
    """The screen of `check_vjp`: `grads[k]` is the vjp's gradients (None: not differentiated)
    under `cotangents[k]`; `f_at(theta)` is `f` at a flat vector of the differentiated entries;
    `on_kink(g, theta, j, g0)` is `check_vjp`'s kink test.  ``n_evaluations`` counts `f_at`'s."""
    candidates = Candidates(
        [np.concatenate([np.ravel(g) for g in grad if g is not None]) for grad in grads]
    )
    values = SharedValues(f_at, cotangents, theta)
    sigma = screen_noise(values)
    u = directions(theta, (seed, DIRECTION_STREAM))

    def measure(lo: int, hi: int) -> SetTest:
        return set_test(values, u, lo, hi, candidates, sigma)

    roots = [measure(int(lo), int(hi)) for lo, hi in zip(given.offsets[:-1], given.offsets[1:])]
    named, unlocalized, sets = _bisected(measure, roots)
    rows, kinks = {}, []
    for j in named:
        verdict = _judge(values, candidates, sigma, j, given, on_kink)
        if verdict == "kink":
            kinks.append(j)
        elif verdict is not None:
            rows[j] = verdict
    summary = ScreenSummary(
        sets=sets,
        miss_probability=miss_probability(),
        named=len(named),
        cleared=len(named) - len(rows) - len(kinks),
        unlocalized=sum(t.size for t in unlocalized),
    )
    inputs = _summaries(given, roots, candidates, rows, kinks)
    # as `check_gradient` rules for noise: bounds that hide errors a pass must see (noise, or a
    # low-precision candidate's rounding summed over a whole input), and no set beyond its bound
    # (a set that failed was judged entry by entry), leave the check inconclusive
    hidden = max(s.caught_above for s in inputs) > NOISY_CHECK_RESOLUTION
    unsure = bool(summary.unlocalized) or (hidden and not any(r.fails for r in roots))
    return VJPReport(
        passed=not rows and not unsure,
        seed=seed,
        cotangents=len(cotangents),
        output_shape=tuple(shape),
        inputs=_with_undifferentiated(given, inputs),
        n_evaluations=0,  # check_vjp counts them
        mutated=tuple(n for n in given.names if n in given.mutated),
        inconclusive=not rows and unsure,
        method="screen",
        screen=summary,
    )


def _bisected(measure: Callable[[int, int], SetTest], roots: list[SetTest]):
    """The entries named by bisecting every failing input, the sets left unlocalized, and how
    many sets were measured in all (the inputs' own included)."""
    named: list[int] = []
    unlocalized: list[SetTest] = []
    sets = len(roots)
    for root in roots:
        if root.fails:
            found, left, measured = locate(measure, root)
            named, unlocalized, sets = named + found, unlocalized + left, sets + measured
    return named, unlocalized, sets


def _judge(values, candidates, sigma, j, given, on_kink) -> EntryRow | str | None:
    """Entry `j` by the per-entry check under every cotangent: its worst row beyond the bound,
    "kink" when its differences are not finite or the kink test finds one, None when it passes."""
    numerical, error = entry_difference(values, j, sigma)
    worst: EntryRow | None = None
    for k in range(len(candidates)):
        if not (np.isfinite(numerical[k]) and np.isfinite(error[k])):
            return "kink"
        candidate = float(candidates.grads[k][j])
        bound = CHECK_SAFETY * error[k] + float(candidates.floors[k][j])
        difference = abs(candidate - numerical[k])
        if difference <= bound:
            continue
        if on_kink(
            lambda x, k=k: float(values.at(x)[k]), values.theta, j, float(values.at_theta[k])
        ):
            return "kink"
        row = EntryRow(given.entry(j), k, candidate, float(numerical[k]), difference, bound)
        if worst is None or _excess(row) > _excess(worst):
            worst = row
    return worst


def _excess(row: EntryRow) -> float:
    ratio = row.difference / row.bound if row.bound > 0 else np.inf
    return np.inf if np.isnan(ratio) else float(ratio)


def _summaries(given: Layout, roots: list[SetTest], candidates: Candidates, rows, kinks):
    summaries = []
    for k, (i, root) in enumerate(zip(given.differentiated, roots, strict=True)):
        lo, hi = int(given.offsets[k]), int(given.offsets[k + 1])
        mine = sorted((r for j, r in rows.items() if lo <= j < hi), key=_excess, reverse=True)
        kink_here = [j for j in kinks if lo <= j < hi]
        largest = [_largest(g[lo:hi]) for g in candidates.grads]
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(np.array(largest) > 0, caught_above(root) / largest, np.inf)
        summaries.append(
            InputSummary(
                name=given.names[i],
                shape=given.arrays[i].shape,
                differentiated=True,
                entries=hi - lo,
                failing=len(mine),
                kinks=len(kink_here),
                worst=tuple(mine[:VJP_ROWS]),
                kink_entries=tuple(given.entry(j) for j in kink_here[:VJP_ROWS]),
                caught_above=float(np.max(relative)),
                largest=float(max(largest)),
            )
        )
    return summaries


def _largest(part: np.ndarray) -> float:
    size = np.abs(part.astype(np.float64))
    return float(np.max(np.where(np.isfinite(size), size, 0.0)))


def _with_undifferentiated(given: Layout, screened: list[InputSummary]) -> tuple:
    """Every input in order: the screened ones, and those the vjp returned None for."""
    by_index = dict(zip(given.differentiated, screened, strict=True))
    return tuple(
        by_index.get(i) or InputSummary(name, given.arrays[i].shape, False, 0, 0, 0)
        for i, name in enumerate(given.names)
    )
