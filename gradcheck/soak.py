"""The soak harness: thousands of seeded random cases, zero false alarms and zero misses.

Two kinds of case, each drawn from one integer seed (so any failure
reproduces from the seed alone):

- **correct**: an independent numpy backprop
  (`gradcheck.independent.independent_backprop`: its own activation formulas,
  float64 or float32) on a random network: every activation and cost,
  softmax outputs, widths 1..64, depths 0..5, batches 1..64, weight scales
  1e-4..10, saturated sigmoids, ReLU pre-activations pushed near 0. The
  oracle must pass it.
- **broken**: the reference's gradient with a single entry moved by
  `delta * max|block|`, `delta` from 1e-6 to 1e-1 (float64), or a known bug
  from `gradcheck.bugs` where it changes the gradient. The oracle must fail it.
  Injected errors below what rounding alone can do to that entry (the
  oracle's float64 tolerance there; e.g. a softmax saturated so hard that its
  gradient is pure cancellation) are skipped and counted, as are bugs whose
  whole effect is within 100x of that tolerance: no checker can tell them
  from a correct implementation.

Run ``python -m gradcheck.soak --cases 5000``; a `slow` test runs it small.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference import Gradients, Network, backprop

from .bugs import BUGS
from .compare import rounding_tolerance
from .data import random_targets
from .independent import independent_backprop
from .oracle import check_backprop_at

__all__ = ["SoakResult", "correct_case", "broken_case", "run_soak"]

HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu")
SIGNAL_MARGIN = 100.0  # a block's largest entry must stand 100x above its rounding tolerance
OUTPUT_COSTS = (
    (None, "quadratic"),
    ("identity", "quadratic"),
    ("sigmoid", "quadratic"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("softmax", "quadratic"),
    ("sigmoid", "categorical_cross_entropy"),
)


@dataclass
class Case:
    seed: int
    description: str
    net: Network
    X: np.ndarray
    Y: np.ndarray
    candidate: Callable[..., Any]


@dataclass
class SoakResult:
    correct: int = 0
    broken: int = 0
    false_alarms: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    smallest_detected: float = np.inf  # smallest single-entry error caught, relative to max|block|
    # median tolerance / max|block| per broken case
    detectable: list[float] = field(default_factory=list)
    skipped: int = 0  # broken cases drawn below the rounding floor (undetectable in principle)
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [
            f"soak: {self.correct} correct candidates, {len(self.false_alarms)} false alarms; "
            f"{self.broken} broken candidates, {len(self.misses)} misses ({self.seconds:.0f} s); "
            f"{self.skipped} drawn broken cases skipped: below rounding, or a bug invisible there",
        ]
        if self.detectable:
            lines.append(
                f"smallest single-entry error caught: {self.smallest_detected:.1e} x max|block|; "
                f"median detection threshold (tolerance / max|block|): {np.median(self.detectable):.1e}"
            )
        for kind, cases in (("FALSE ALARM", self.false_alarms), ("MISS", self.misses)):
            lines.extend(f"{kind}: {c}" for c in cases[:20])
        return "\n".join(lines)


# ------------------------------------------------------------------ drawing


def _network(rng: np.random.Generator) -> tuple[Network, np.ndarray, np.ndarray, str]:
    hidden = HIDDEN[rng.integers(len(HIDDEN))]
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


def correct_case(seed: int) -> Case:
    """An independent correct candidate (float64 or float32) on a random network."""
    rng = np.random.default_rng([seed, 1])
    net, X, Y, description = _network(rng)
    dtype = np.float32 if rng.uniform() < 0.4 else np.float64
    candidate = independent_backprop(
        net.hidden.name, net.output.name, net.cost_function.name, dtype
    )
    return Case(seed, f"{description} dtype={np.dtype(dtype).name}", net, X, Y, candidate)


def broken_case(seed: int) -> Case | None:
    """A candidate wrong in one entry (float64) or by a known bug; None if the bug is invisible here."""
    rng = np.random.default_rng([seed, 2])
    net, X, Y, description = _network(rng)
    correct = backprop(net, X, Y)
    if rng.uniform() < 0.7:
        theta = correct.flat()
        name, block, _ = net.layout.blocks[rng.integers(len(net.layout.blocks))]
        j = int(rng.integers(block.start, block.stop))
        biggest = np.abs(theta[block]).max()
        if biggest == 0:
            return None  # an all-zero block (dead ReLUs): no relative size to speak of
        delta = float(np.exp(rng.uniform(np.log(1e-6), np.log(1e-1))))
        if delta * biggest <= rounding_tolerance(net, X, Y, np.float64)[j]:
            # Below what rounding alone can do to this entry (a saturated softmax whose
            # delta^H is pure cancellation): no checker can tell it from a correct one.
            return None
        theta[j] += delta * biggest * rng.choice([-1.0, 1.0])
        wrong = Gradients.from_flat(theta, net.sizes)
        description += f" entry={net.layout.name(j)} delta={delta:.2e}"
    else:
        bug = BUGS[rng.integers(len(BUGS))]
        if not bug.applies(net, X.shape[0]):
            return None
        wrong = bug.gradient(net, X, Y)
        same_shapes = [W.shape for W in wrong.weights] == [W.shape for W in correct.weights]
        if same_shapes and np.abs(wrong.flat() - correct.flat()).max() <= SIGNAL_MARGIN * (
            rounding_tolerance(net, X, Y, np.float64).max()
        ):
            return None  # the bug changes nothing above rounding here (a gradient of 1e-26)
        description += f" bug={bug.name}"

    def candidate(weights, biases, X_, Y_):
        return wrong.weights, wrong.biases

    return Case(seed, description, net, X, Y, candidate)


# ------------------------------------------------------------------ running


def run_soak(cases: int, *, seed: int = 0, progress: bool = False) -> SoakResult:
    """Run `cases` correct and `cases` broken candidates (seeds `seed*10^6 + k`)."""
    result = SoakResult()
    start = time.perf_counter()
    k = 0
    while result.correct < cases or result.broken < cases:
        case_seed = seed * 10**6 + k
        k += 1
        if result.correct < cases:
            case = correct_case(case_seed)
            if not _passes(case):
                result.false_alarms.append(f"seed {case_seed}: {case.description}")
            result.correct += 1
        if result.broken < cases:
            broken = broken_case(case_seed)
            if broken is None:
                result.skipped += 1
            else:
                report = check_backprop_at(broken.candidate, broken.net, broken.X, broken.Y)
                if report.passed:
                    result.misses.append(f"seed {case_seed}: {broken.description}")
                else:
                    _record_detection(result, broken, report)
                result.broken += 1
        if progress and k % 100 == 0:
            print(f"  {k} seeds ...", file=sys.stderr, flush=True)
    result.seconds = time.perf_counter() - start
    return result


def _passes(case: Case) -> bool:
    # a float32 candidate may overflow; the oracle judges its answer
    with np.errstate(all="ignore"):
        return check_backprop_at(case.candidate, case.net, case.X, case.Y).passed


def _record_detection(result: SoakResult, case: Case, report) -> None:
    if " delta=" not in case.description:
        return
    delta = float(case.description.rsplit("delta=", 1)[1])
    result.smallest_detected = min(result.smallest_detected, delta)
    theta = backprop(case.net, case.X, case.Y).flat()
    tol = rounding_tolerance(case.net, case.X, case.Y, np.float64)
    for _, block, _ in case.net.layout.blocks:
        biggest = np.abs(theta[block]).max()
        if biggest > 0:
            result.detectable.append(float(np.median(tol[block]) / biggest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--cases", type=int, default=5000, help="cases of each kind (default 5000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run_soak(args.cases, seed=args.seed, progress=True)
    print(result)
    return 0 if not result.false_alarms and not result.misses else 1


if __name__ == "__main__":
    sys.exit(main())
