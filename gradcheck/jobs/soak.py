"""The soak harness: thousands of seeded random cases, zero false alarms and zero misses.

Two kinds of case, each drawn from one integer seed (so any failure
reproduces from the seed alone):

- **correct**: an independent numpy backprop
  (`gradcheck.tolerance.independent.independent_backprop`: its own activation formulas,
  float64 or float32) on a random network: every activation and cost,
  softmax outputs, widths 1..64, depths 0..5, batches 1..64, weight scales
  1e-4..10, saturated sigmoids, ReLU pre-activations pushed near 0; a
  quarter of them (`LOOP_SHARE`) add every sum in a loop, in their dtype and
  in a random order (`SequentialSums`), as C or a course's code does; a tenth of
  the other float64 ones (`DIRECTED_SHARE`) are the worst faithful code, a libm
  erring every result one way, by as much as `LIBM_ULPS` allows, and loops in sorted
  order (`directed_candidate`),
  and a twentieth of the rest, on small problems, the worst faithful code for
  the entry the tolerance holds tightest (`worst_faithful_codes`); of the plain ones
  left, a tenth use sigmoid's other formula (`OTHER_FORMULAS`) and a twentieth flush
  subnormal numbers to zero (`flushed_candidate`, `FLUSHED_SHARE`). The oracle
  must pass each.
- **broken**: the reference's gradient with a single entry moved by
  `delta * max|block|`, `delta` from 1e-6 to 1e-1 (float64), or a known bug
  from `gradcheck.diagnosis.bugs` where it changes the gradient. The oracle must fail it.

Each seed also draws its **regime** (`soak_regime`, a stream of its own):
``classic`` (three in four: the cases above, as every earlier soak drew
them, so a seed reported by one reproduces with ``correct_case(seed)``) or
one aimed at what the fresh-seed finds of issue 22 share:

- ``deep-saturated``: 4 or 5 hidden layers at weight scales 3 to 10, a
  sigmoid or softmax output (seed 9000879);
- ``cancelling``: one hidden unit's outgoing row of weights projected off the
  batch's `delta^{L+1}`, so that `delta^L` of that unit, and the column of
  `dJ/dW^L` it feeds, is a sum that cancels (seed 7000603);
- ``float32-softmax``: a softmax output at scales 1 to 10 and a float32
  correct candidate (seeds 7000603, 9000884).

``correct_case(seed, regime)`` and ``broken_case(seed, regime)`` reproduce any
of them; the summary counts the cases of each regime.

A broken candidate no checker could tell from a correct float64 one is
counted as undetectable, not run: `gradcheck.jobs.miss_floor` draws that line without the
oracle's tolerance.

Run ``python -m gradcheck.jobs.soak --cases 5000``; a `slow` test runs it small.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from gradcheck.diagnosis.bugs import BUGS
from gradcheck.fd.scatter import Scatter, process_pool
from gradcheck.jobs.miss_floor import undetectable
from gradcheck.oracle.backprop import check_backprop_at
from gradcheck.oracle.data import random_targets
from gradcheck.tolerance.compare import rounding_tolerance
from gradcheck.tolerance.faithful import (
    OTHER_FORMULAS,
    directed_backprop,
    directed_candidate,
    flushed_candidate,
    worst_faithful_codes,
)
from gradcheck.tolerance.independent import (
    FORMULAS,
    SequentialSums,
    equation_deltas,
    independent_backprop,
)
from gradcheck.tolerance.policy import FLOOR_FACTOR, FLOOR_SIGMAS, LIBM_ULPS
from gradcheck.validate import check_executor, check_flag, check_int
from reference import ACTIVATIONS, Gradients, Network, backprop

__all__ = [
    "SeedOutcome",
    "SoakResult",
    "broken_case",
    "correct_case",
    "hidden_activations",
    "run_soak",
    "seed_outcome",
    "soak_regime",
]

OUTPUT_COSTS: tuple[tuple[str | None, str], ...] = (
    (None, "quadratic"),
    ("identity", "quadratic"),
    ("sigmoid", "quadratic"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("softmax", "quadratic"),
    ("sigmoid", "categorical_cross_entropy"),
)
SHOWN = 20  # false alarms or misses described one a line; past that, their seeds in one line
INTERRUPTED = 130  # the exit status of a soak ended by Ctrl-C with nothing failed: 128 + SIGINT
WAVE_SEEDS = 1000  # seeds sent to an executor at most at once: progress lines, bounded memory
MIN_WAVE = 8  # ... and at least (a few tasks for each worker near the end)
WAVE_MARGIN = 1.1  # a wave after the first covers 10% more seeds than the counting rate needs
TASK_SEEDS = 10  # seeds in one task at most (a second or so of work) ...
TASKS_PER_WAVE = 16  # ... and fewer where a wave would otherwise have fewer tasks than this
CONNECT_TIMEOUT = 5.0  # seconds `--scheduler` waits for the Dask scheduler to answer
#: The regimes a seed may draw, with their shares: the classic generator, and three aimed at
#: where the fresh-seed finds of issue 22 were (deep saturated nets, cancelling sums, float32
#: with softmax).
CANCEL_ROUNDS = 8  # projections of the `cancelling` regime: each undoes most of what remains
REGIMES = {"classic": 0.75, "deep-saturated": 0.1, "cancelling": 0.075, "float32-softmax": 0.075}
#: The share of correct candidates that add every sum in a loop, in their dtype and in a random
#: order (`SequentialSums`): the partial sums' worst case that the tolerance holds whole is
#: theirs, not BLAS's, so the soak must run them to keep that term honest.
LOOP_SHARE = 0.25
#: The share of float64 correct candidates whose libm rounds every result one way and whose
#: loops add in sorted order (`directed_candidate`): the worst faithful code, which the floor
#: counts (`miss_floor`), so the oracle must pass it too. Drawn from a stream of its own
#: (`[seed, 4]`), so the other candidates of a seed are the ones earlier soaks drew.
DIRECTED_SHARE = 0.1
#: The share of the remaining float64 correct candidates that are the worst faithful code for
#: one entry (`worst_faithful_codes`: each libm result the neighbour that moves the entry the
#: tolerance holds tightest furthest from the reference), on problems that take at most
#: `WORST_CANDIDATE_RUNS` backprops to measure (a stream of its own, `[seed, 5]`).
WORST_SHARE = 0.05
#: The share of the plain correct candidates left that use `OTHER_FORMULAS` (sigmoid as
#: `1 - 1 / (1 + e^z)`): the floor counts them, so the oracle must pass them (a stream of its
#: own, `[seed, 6]`).
OTHER_SHARE = 0.1
#: The share of the plain correct candidates left (float64 or float32, numpy's sums) that flush
#: subnormal numbers to zero (`flushed_candidate`: FTZ and DAZ, as gcc's -ffast-math and CUDA's
#: fast math run): the floor counts the float64 one, so the oracle must pass them (a stream of
#: its own, `[seed, 7]`).
FLUSHED_SHARE = 0.05
WORST_CANDIDATE_RUNS = 400


@dataclass
class Case:
    seed: int
    description: str
    net: Network
    X: np.ndarray
    Y: np.ndarray
    candidate: Callable[..., Any]
    undetectable: bool = False  # within `miss_floor` of the true gradient: not run


@dataclass
class SoakResult:
    correct: int = 0
    broken: int = 0
    false_alarms: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    smallest_detected: float = np.inf  # smallest single-entry error caught, relative to max|block|
    # median tolerance / max|block| per broken case
    detectable: list[float] = field(default_factory=list)
    skipped: int = 0  # drawn broken cases that do not apply (an all-zero block, a bug's guard)
    undetectable: int = 0  # broken cases within `miss_floor` of the true gradient
    seconds: float = 0.0
    regimes: dict[str, int] = field(default_factory=dict)  # cases run (correct + broken) by regime
    # the seeds merged when Ctrl-C ended the soak early; None: it ran to the end
    interrupted: int | None = None

    def done(self, cases: int) -> bool:
        """Have `cases` correct and `cases` broken candidates run?"""
        return self.correct >= cases and self.broken >= cases

    def add(self, outcome: SeedOutcome, cases: int) -> None:
        """Count the next seed's outcome as the serial loop does: each kind until `cases` ran."""
        if outcome.correct_ran and self.correct < cases:
            self.correct += 1
            self.regimes[outcome.regime] = self.regimes.get(outcome.regime, 0) + 1
            if outcome.false_alarm is not None:
                self.false_alarms.append(outcome.false_alarm)
        if self.broken >= cases:
            return
        if outcome.broken == "skipped":
            self.skipped += 1
        elif outcome.broken == "undetectable":
            self.undetectable += 1
        else:
            self.broken += 1
            self.regimes[outcome.regime] = self.regimes.get(outcome.regime, 0) + 1
            if outcome.miss is not None:
                self.misses.append(outcome.miss)
            if outcome.delta is not None:
                self.smallest_detected = min(self.smallest_detected, outcome.delta)
            self.detectable.extend(outcome.detectable)

    def __str__(self) -> str:
        lines = [
            (
                ""
                if self.interrupted is None
                else f"INTERRUPTED (Ctrl-C) after {self.interrupted} seeds; what ran until then:\n"
            )
            + f"soak: {self.correct} correct candidates, {len(self.false_alarms)} false alarms; "
            f"{self.broken} broken candidates, {len(self.misses)} misses ({self.seconds:.0f} s); "
            f"{self.undetectable} drawn broken cases undetectable (within {FLOOR_FACTOR:g}x the "
            f"largest, or {FLOOR_SIGMAS:g}x the r.m.s., actual float64 error of the true "
            f"gradient), {self.skipped} not applicable",
        ]
        if self.regimes:
            counts = ", ".join(f"{name} {self.regimes.get(name, 0)}" for name in REGIMES)
            lines.append(f"cases run by regime (correct + broken): {counts}")
        if self.detectable:
            lines.append(
                f"smallest single-entry error caught: {self.smallest_detected:.1e} x max|block|; "
                f"median detection threshold (tolerance / max|block|): {np.median(self.detectable):.1e}"
            )
        for kind, cases in (("FALSE ALARM", self.false_alarms), ("MISS", self.misses)):
            lines.extend(f"{kind}: {c}" for c in cases[:SHOWN])
            if len(cases) > SHOWN:  # every seed that failed, if not every description
                seeds = ", ".join(c.split(":")[0].removeprefix("seed ") for c in cases[SHOWN:])
                lines.append(f"{kind}: {len(cases) - SHOWN} more, seeds {seeds}")
        return "\n".join(lines)


# ------------------------------------------------------------------ drawing


def hidden_activations() -> tuple[str, ...]:
    """The hidden activations the soak draws from: the registry's, as it stands.

    Every activation of `reference.ACTIVATIONS` whose `Coverage` has ``soak``
    (every built-in element-wise activation; a user's registered with
    ``coverage=``), in registry order; each needs an independent formula in
    `gradcheck.tolerance.independent.FORMULAS` for the correct candidates.

    Examples
    --------
    >>> hidden_activations()[:3]
    ('identity', 'sigmoid', 'tanh')
    """
    return tuple(
        name for name, act in ACTIVATIONS.items() if act.coverage is not None and act.coverage.soak
    )


def soak_regime(seed: int) -> str:
    """The regime of case seed `seed`: drawn from `REGIMES` by a stream of its own.

    Examples
    --------
    >>> sorted({soak_regime(seed) for seed in range(100)}) == sorted(REGIMES)
    True
    """
    rng = np.random.default_rng([seed, 3])
    names = list(REGIMES)
    return names[rng.choice(len(names), p=list(REGIMES.values()))]


def _network(
    rng: np.random.Generator, regime: str = "classic"
) -> tuple[Network, np.ndarray, np.ndarray, str]:
    if regime != "classic":
        return _aimed_network(rng, regime)
    choices = hidden_activations()
    hidden = choices[rng.integers(len(choices))]
    output, cost = OUTPUT_COSTS[rng.integers(len(OUTPUT_COSTS))]
    depth = int(rng.integers(0, 6))  # hidden layers
    sizes = [int(w) for w in np.exp(rng.uniform(0, np.log(64), depth + 2)).round().clip(1, 64)]
    if output == "softmax" or cost == "categorical_cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    d = int(np.exp(rng.uniform(0, np.log(64))).round())
    scale = float(np.exp(rng.uniform(np.log(1e-4), np.log(10.0))))
    regime = rng.choice(["plain", "saturated", "near-kink"], p=[0.6, 0.2, 0.2])
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng, scale=scale)
    X = rng.normal(size=(d, sizes[0]))
    if regime == "saturated":  # |z| of tens to hundreds
        X *= float(rng.uniform(20, 300)) / max(scale, 1e-3)
    elif regime == "near-kink":  # biases that put many first-layer z just off 0
        z = X @ net.weights[0]
        biases = [b.copy() for b in net.biases]
        biases[0] = -np.median(z, axis=0) + rng.normal(0, 1e-7, size=z.shape[1])
        net = Network(
            net.weights, biases, hidden=net.hidden_spec, output=net.output, cost=net.cost_function
        )
    Y = random_targets(net, d, rng)
    description = (
        f"sizes={sizes} d={d} hidden={hidden} output={net.output.name} cost={cost} "
        f"scale={scale:.2g} regime={regime}"
    )
    return net, X, Y, description


def _aimed_network(
    rng: np.random.Generator, regime: str
) -> tuple[Network, np.ndarray, np.ndarray, str]:
    """A network of one of the aimed regimes of the module docstring."""
    if regime not in REGIMES:
        raise ValueError(f"`regime` must be one of {sorted(REGIMES)}, not {regime!r}")
    choices = hidden_activations()
    hidden = choices[rng.integers(len(choices))]
    by_regime: dict[str, list[tuple[str | None, str]]] = {
        "deep-saturated": [(o, c) for o, c in OUTPUT_COSTS if o in ("sigmoid", "softmax")],
        "cancelling": list(OUTPUT_COSTS),
        "float32-softmax": [(o, c) for o, c in OUTPUT_COSTS if o == "softmax"],
    }
    outputs = by_regime[regime]
    output, cost = outputs[rng.integers(len(outputs))]
    low, high = {"deep-saturated": (4, 6), "cancelling": (1, 5), "float32-softmax": (2, 6)}[regime]
    depth = int(rng.integers(low, high))
    sizes = [int(w) for w in np.exp(rng.uniform(0, np.log(64), depth + 2)).round().clip(1, 64)]
    sizes[-1] = max(sizes[-1], 2) if output == "softmax" or "categorical" in cost else sizes[-1]
    d = int(np.exp(rng.uniform(0, np.log(64))).round())
    lowest = {"deep-saturated": 3.0, "cancelling": 0.3, "float32-softmax": 1.0}[regime]
    scale = float(np.exp(rng.uniform(np.log(lowest), np.log(10.0))))
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng, scale=scale)
    X = rng.normal(size=(d, sizes[0]))
    Y = random_targets(net, d, rng)
    if regime == "cancelling":
        net = _cancelling(net, X, Y, rng)
    description = (
        f"sizes={sizes} d={d} hidden={hidden} output={net.output.name} cost={cost} "
        f"scale={scale:.2g} regime={regime}"
    )
    return net, X, Y, description


def _cancelling(net: Network, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator) -> Network:
    """`net` with one hidden unit's outgoing row `W^{L+1}[m, :]` projected off the span of the
    `delta^{L+1}` of the batch's first `N - 1` examples at most: `delta^L_m = h'(z) W^{L+1}[m, :]
    . delta^{L+1}` then cancels for them, and so does column `m` of `dJ/dW^L`. The row moves
    `delta^{L+1}` too: `CANCEL_ROUNDS` projections, each from the deltas the last one left."""
    if net.H == 0:
        return net
    L = int(rng.integers(net.H))  # hidden layer L, its outgoing weights W^{L+1}
    m = int(rng.integers(net.weights[L + 1].shape[0]))
    k = min(X.shape[0], net.weights[L + 1].shape[1] - 1)
    if k == 0:
        return net  # one unit in layer L + 1: no direction to cancel along
    for _ in range(CANCEL_ROUNDS):
        with np.errstate(all="ignore"):
            deltas = equation_deltas(net, X, Y)[L + 1][:k]  # (k, N)
        if not np.all(np.isfinite(deltas)):
            return net
        Q, _ = np.linalg.qr(deltas.T)  # an orthonormal basis of their span
        weights = [W.copy() for W in net.weights]
        row = weights[L + 1][m]
        weights[L + 1][m] = row - Q @ (Q.T @ row)
        net = Network(
            weights, net.biases, hidden=net.hidden_spec, output=net.output, cost=net.cost_function
        )
    return net


def correct_case(seed: int, regime: str = "classic") -> Case:
    """An independent correct candidate (float64 or float32) on a random network of `regime`."""
    rng = np.random.default_rng([seed, 1])
    net, X, Y, description = _network(rng, regime)
    dtype = np.float32 if rng.uniform() < 0.4 else np.float64
    if regime == "float32-softmax":
        dtype = np.float32
    description += f" dtype={np.dtype(dtype).name}"
    sums = None
    if rng.uniform() < LOOP_SHARE:  # a loop in a random order, as C or a course's code adds
        sums = SequentialSums([seed, 3], dtype)
        description += " sums=loop"
    names = (net.hidden.name, net.output.name, net.cost_function.name)
    directed = np.random.default_rng([seed, 4]).uniform(size=2)
    if dtype == np.float64 and sums is None and directed[0] < DIRECTED_SHARE:
        upward = bool(directed[1] < 0.5)  # a libm that rounds every result up, or down
        description += f" libm={'up' if upward else 'down'} sums=sorted"
        candidate = directed_candidate(*names, upward=upward, ulps=LIBM_ULPS)
        return Case(seed, description, net, X, Y, candidate)
    worst = np.random.default_rng([seed, 5]).uniform()
    if dtype == np.float64 and sums is None and worst < WORST_SHARE:
        found = _worst_faithful_candidate(net, X, Y)
        if found is not None:
            candidate, entry = found
            description += f" libm=worst-for-{entry}"
            return Case(seed, description, net, X, Y, candidate)
    if sums is None and np.random.default_rng([seed, 7]).uniform() < FLUSHED_SHARE:
        description += " subnormals=flushed"
        return Case(seed, description, net, X, Y, flushed_candidate(*names, dtype))
    formulas = FORMULAS
    if np.random.default_rng([seed, 6]).uniform() < OTHER_SHARE:
        formulas = OTHER_FORMULAS
        description += " formulas=other"
    candidate = independent_backprop(*names, dtype, sums=sums, formulas=formulas)
    return Case(seed, description, net, X, Y, candidate)


def _worst_faithful_candidate(
    net: Network, X: np.ndarray, Y: np.ndarray
) -> tuple[Callable[..., Any], str] | None:
    """The worst faithful code for the entry where the directed codes come nearest the
    tolerance, as a candidate, and that entry's name; None on a problem too large to measure."""
    with np.errstate(all="ignore"):
        reference = backprop(net, X, Y).flat()
        tolerance = rounding_tolerance(net, X, Y, np.float64)
        stress = (
            np.max(
                [
                    np.abs(directed_backprop(net, X, Y, upward=up) - reference)
                    for up in (True, False)
                ],
                axis=0,
            ).astype(np.float64)
            / tolerance
        )
        j = int(np.argmax(np.nan_to_num(stress, nan=0.0)))
        codes = worst_faithful_codes(net, X, Y, [j], runs=WORST_CANDIDATE_RUNS)
    if codes is None:
        return None
    gradient = max(codes[0], key=lambda g: abs(float(g[j]) - float(reference[j])))
    worst = Gradients.from_flat(gradient, net.sizes)

    def candidate(weights, biases, X_, Y_):
        return worst.weights, worst.biases

    return candidate, net.layout.name(j)


def broken_case(seed: int, regime: str = "classic") -> Case | None:
    """A candidate wrong in one entry (float64) or by a known bug; None where none applies.

    A case whose every entry lies within `miss_floor` of the true gradient is
    returned with ``undetectable=True``.
    """
    rng = np.random.default_rng([seed, 2])
    net, X, Y, description = _network(rng, regime)
    correct = backprop(net, X, Y)
    if rng.uniform() < 0.7:
        theta = correct.flat()
        name, block, _ = net.layout.blocks[rng.integers(len(net.layout.blocks))]
        j = int(rng.integers(block.start, block.stop))
        biggest = np.abs(theta[block]).max()
        if biggest == 0:
            return None  # an all-zero block (dead ReLUs): no relative size to speak of
        delta = float(np.exp(rng.uniform(np.log(1e-6), np.log(1e-1))))
        theta[j] += delta * biggest * rng.choice([-1.0, 1.0])
        wrong = Gradients.from_flat(theta, net.sizes)
        description += f" entry={net.layout.name(j)} delta={delta:.2e}"
    else:
        bug = BUGS[rng.integers(len(BUGS))]
        if not bug.applies(net, X.shape[0]):
            return None
        wrong = bug.gradient(net, X, Y)
        description += f" bug={bug.name}"

    def candidate(weights, biases, X_, Y_):
        return wrong.weights, wrong.biases

    return Case(seed, description, net, X, Y, candidate, undetectable(wrong, net, X, Y))


# ------------------------------------------------------------------ running


@dataclass(frozen=True)
class SeedOutcome:
    """What the cases of one seed gave: a pure function of the seed, merged in seed order.

    `correct_ran` says whether its correct case ran (the soak needs one for
    each of the first `cases` seeds); `broken` is what became of its broken
    case: ``"skipped"`` (none applies), ``"undetectable"`` (within
    `miss_floor`: not run), ``"missed"`` or ``"caught"``.
    """

    seed: int
    correct_ran: bool
    false_alarm: str | None  # "seed S: description" where the correct candidate failed
    broken: Literal["skipped", "undetectable", "missed", "caught"]
    miss: str | None = None  # "seed S: description" where the broken candidate passed
    delta: float | None = None  # a caught single-entry error, relative to max|block|
    detectable: tuple[float, ...] = ()  # median tolerance / max|block| per block, where caught
    regime: str = "classic"  # `soak_regime` of the seed


def seed_outcome(case_seed: int, *, correct: bool = True) -> SeedOutcome:
    """Run the broken case of `case_seed`, and its correct case if `correct`: what each gave.

    A false alarm or a miss is reported as "seed S: description", with the
    call that reproduces it (`correct_case` or `broken_case` with its regime).
    Saturated and overflowing cases are the point: numpy's warnings of them
    (a bug's `-y / a` at `a = 0`) are silenced, and the verdicts say what counts.
    """
    with np.errstate(all="ignore"):
        return _seed_outcome(case_seed, correct)


def _seed_outcome(case_seed: int, correct: bool) -> SeedOutcome:
    regime = soak_regime(case_seed)
    false_alarm = None
    if correct:
        case = correct_case(case_seed, regime)
        if not _passes(case):
            false_alarm = (
                f"seed {case_seed}: {case.description} ({_rerun('correct', case_seed, regime)})"
            )
    broken = broken_case(case_seed, regime)
    if broken is None:
        return SeedOutcome(case_seed, correct, false_alarm, "skipped", regime=regime)
    if broken.undetectable:
        return SeedOutcome(case_seed, correct, false_alarm, "undetectable", regime=regime)
    report = check_backprop_at(broken.candidate, broken.net, broken.X, broken.Y)
    if report.status != "failed":  # inconclusive is no catch
        miss = f"seed {case_seed}: {broken.description} ({_rerun('broken', case_seed, regime)})"
        return SeedOutcome(case_seed, correct, false_alarm, "missed", miss=miss, regime=regime)
    delta, detectable = _detection(broken)
    return SeedOutcome(
        case_seed, correct, false_alarm, "caught", delta=delta, detectable=detectable,
        regime=regime,
    )  # fmt: skip


def _rerun(kind: str, case_seed: int, regime: str) -> str:
    """The call that reproduces a case."""
    return f"rerun: gradcheck.jobs.soak.{kind}_case({case_seed}, {regime!r})"


def _passes(case: Case) -> bool:
    # a float32 candidate may overflow; the oracle judges its answer
    with np.errstate(all="ignore"):
        return check_backprop_at(case.candidate, case.net, case.X, case.Y).passed


def _detection(case: Case) -> tuple[float | None, tuple[float, ...]]:
    """A caught single-entry error's size, and the detection threshold of each block."""
    if " delta=" not in case.description:
        return None, ()
    delta = float(case.description.rsplit("delta=", 1)[1])
    theta = backprop(case.net, case.X, case.Y).flat()
    tol = rounding_tolerance(case.net, case.X, case.Y, np.float64)
    detectable = []
    for _, block, _ in case.net.layout.blocks:
        biggest = np.abs(theta[block]).max()
        if biggest > 0:
            detectable.append(float(np.median(tol[block]) / biggest))
    return delta, tuple(detectable)


def run_soak(
    cases: int, *, seed: int = 0, progress: bool = False, executor: Executor | None = None
) -> SoakResult:
    """Run `cases` correct and `cases` broken candidates (seeds `seed*10^6 + k`).

    Seed `k` draws a correct case while fewer than `cases` ran (so for
    ``k < cases``) and a broken one while fewer than `cases` broken ones ran;
    skipped and undetectable broken cases do not count, so how many seeds the
    soak takes is found as it goes.

    Parameters
    ----------
    cases : int
        Correct and broken candidates to run, of each kind.
    seed : int
        The soak's seed: case seeds are ``seed * 10**6 + k``.
    progress : bool
        Print a line to stderr every 100 seeds.
    executor : concurrent.futures.Executor, optional
        Run the seeds on this executor's workers: a ``ProcessPoolExecutor``,
        a ``ThreadPoolExecutor`` or a Dask cluster's
        ``distributed.Client.get_executor()``. Ranges of seeds are sent in
        waves (`WAVE_SEEDS` at most, sized by the share of broken cases that
        counted so far), a task whose worker dies is rerun, and the outcomes
        are merged in seed order with the serial rule, so the result equals
        the serial run's in everything but `seconds`.

    Returns
    -------
    SoakResult
        Ctrl-C (KeyboardInterrupt) ends the soak early: the result of the
        seeds merged until then, with `interrupted` set to their number.

    Examples
    --------
    >>> result = run_soak(2, seed=3)
    >>> (result.correct, result.broken, result.false_alarms, result.misses)
    (2, 2, [], [])
    """
    cases = check_int(cases, "cases", low=0)
    seed = check_int(seed, "seed", low=0)
    check_flag(progress, "progress")
    check_executor(executor)
    result = SoakResult()
    start = time.perf_counter()
    with Scatter(executor, (seed, cases)) as run:
        outcomes = _outcomes(run, seed, cases, result)
        k = 0
        try:
            while not result.done(cases):
                result.add(next(outcomes), cases)
                k += 1
                if progress and k % 100 == 0:
                    _print_progress(k, result)
        except KeyboardInterrupt:  # a long soak's findings so far are worth keeping
            result.interrupted = k
    result.seconds = time.perf_counter() - start
    return result


def _outcomes(run: Scatter, seed: int, cases: int, result: SoakResult) -> Iterator[SeedOutcome]:
    """Every seed's outcome in seed order: one by one here, in waves on an executor.

    A wave is planned when the previous one is merged into `result`: the
    seeds still needed at the least (each counts one broken case at most),
    scaled by the share of seeds whose broken case counted so far, plus a
    margin, so that one more wave is rarely needed. The caller stops
    reading where the serial loop stops; outcomes past that are discarded.
    """
    k = 0
    while True:
        if run.executor is None:
            size = 1
        elif result.broken == 0:  # no counting rate to go by yet
            size = min(max(cases, MIN_WAVE), WAVE_SEEDS) if k == 0 else WAVE_SEEDS
        else:
            needed = (cases - result.broken) * k / result.broken * WAVE_MARGIN
            size = min(max(math.ceil(needed), MIN_WAVE), WAVE_SEEDS)
        per_task = max(1, min(TASK_SEEDS, size // TASKS_PER_WAVE))
        tasks = [(j, min(j + per_task, k + size)) for j in range(k, k + size, per_task)]
        try:
            waves = run.map(_seed_outcomes, tasks)
        except KeyboardInterrupt as stop:  # Ctrl-C: the wave's first tasks done still count
            for outcomes in getattr(stop, "done_first", []):
                yield from outcomes
            raise
        for outcomes in waves:
            yield from outcomes
        k += size


def _seed_outcomes(shared: tuple[int, int], task: tuple[int, int]) -> list[SeedOutcome]:
    """The outcomes of seeds ``seed*10^6 + k`` for k in ``range(*task)`` (a worker's task)."""
    seed, cases = shared
    return [seed_outcome(seed * 10**6 + k, correct=k < cases) for k in range(*task)]


def _print_progress(k: int, result: SoakResult) -> None:
    print(
        f"  {k} seeds: {result.correct} correct, {len(result.false_alarms)} false alarms; "
        f"{result.broken} broken, {len(result.misses)} misses, "
        f"{result.undetectable} undetectable; smallest caught "
        f"{result.smallest_detected:.1e}",
        file=sys.stderr,
        flush=True,
    )
    for line in (*result.false_alarms, *result.misses)[-2:]:
        print(f"    last: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--cases", type=int, default=5000, help="cases of each kind (default 5000)")
    parser.add_argument("--seed", type=int, default=0)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run on a pool of N processes (default 1: serially, in this process)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786); "
        "needs the extra: pip install 'backprop-gradcheck[distributed]'",
    )
    args = parser.parse_args(argv)
    try:
        with contextlib.ExitStack() as stack:
            executor, place = _executor(args, stack)
            result = run_soak(args.cases, seed=args.seed, progress=True, executor=executor)
            if result.interrupted is not None and executor is not None:
                _stop(executor)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result)
    print(f"ran {place}")
    if result.false_alarms or result.misses:
        return 1
    return INTERRUPTED if result.interrupted is not None else 0


def _stop(executor: Executor) -> None:
    """Drop the queued tasks and end a process pool's workers (its forkserver's children ignore
    Ctrl-C): closing the pool would otherwise wait for every task already sent to them."""
    workers = list((getattr(executor, "_processes", None) or {}).values())  # gone after shutdown
    executor.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()


def _executor(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Executor | None, str]:
    """The executor `--workers`/`--scheduler` ask for (closed with `stack`), and where it runs."""
    if args.scheduler is not None:
        client = stack.enter_context(_dask_client(args.scheduler))
        return client.get_executor(), f"on Dask at {args.scheduler}"
    workers = check_int(args.workers, "--workers", low=1)
    if workers == 1:
        return None, "serially, in this process"
    pool = stack.enter_context(process_pool(workers))
    return pool, f"on {workers} processes"


def _dask_client(address: str) -> Any:
    """A `distributed.Client` of the scheduler at `address`, or a ValueError naming `--scheduler`."""
    try:
        import distributed
    except ImportError:
        raise ValueError(
            "`--scheduler` needs Dask's distributed, which is not installed: install the extra: "
            "pip install 'backprop-gradcheck[distributed]'"
        ) from None
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(
            f"`--scheduler` {address!r}: no Dask scheduler answered within "
            f"{CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc})"
        ) from None
