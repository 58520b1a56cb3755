"""One trial of the oracle: the candidate called on one network and batch, compared three ways.

`run_trial` calls the candidate (with copies; a second call must agree),
and judges what it returns by the three comparisons of `gradcheck.oracle.backprop`:

1. candidate vs the reference, entry by entry, within its dtype's rounding;
2. candidate (and reference) vs finite differences;
3. the reference vs its loop form, so that a fault of the reference is
   reported as such, never blamed on the candidate.

Where the reference and the differences disagree, step 2 escalates
(`gradcheck.oracle.fd_comparison.escalated`); a disagreement that survives
makes the trial *inconclusive* (`TrialReport.status`): the oracle cannot
judge it, and a candidate that agrees with the reference is not failed.

Each step returns a value; the trial's `TrialReport` is built once from them,
with what explains a failure (likely causes, the derivation, the error maps).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcheck.diagnosis.explain import explain_trial
from gradcheck.diagnosis.shapes import shape_causes
from gradcheck.oracle.candidate import CandidateOutput, call_candidate, check_repeatable
from gradcheck.oracle.equations import check_equations
from gradcheck.oracle.fd_comparison import FiniteDifferences, escalated, vs_finite_differences
from gradcheck.results.causes import Cause
from gradcheck.results.error_maps import failing_trial_maps
from gradcheck.results.report import TrialReport, block_summaries, worst_entries
from gradcheck.tolerance.allowed import Allowed, allowed_values, candidate_comparison
from gradcheck.tolerance.compare import Comparison, rounding_tolerance
from gradcheck.tolerance.policy import LOOPS_TOLERANCE_FACTOR
from gradcheck.tolerance.saturation import libm_accuracy, libm_ulps
from reference import (
    Gradients,
    Network,
    ParameterLayout,
    backprop,
    backprop_examples,
    backprop_loops,
)

__all__ = ["LOOPS_BUDGET", "Outcome", "Trial", "run_trial"]

# parameters x examples above which the loop form yields to backprop_examples
LOOPS_BUDGET = 300_000


@dataclass(frozen=True)
class Trial:
    """One planned call of the candidate: which network and batch (seed -1: given by the caller)."""

    index: int
    kind: str
    sizes: tuple[int, ...]
    d: int
    seed: int

    def report(self, **fields: Any) -> TrialReport:
        """The trial's report, with the verdict's `fields`."""
        return TrialReport(
            index=self.index, sizes=self.sizes, d=self.d, seed=self.seed, kind=self.kind, **fields
        )


@dataclass(frozen=True)
class Outcome:
    """What one trial gives: its report, faults of the reference itself, and whether to stop."""

    report: TrialReport
    reference_problems: tuple[str, ...] = ()
    structural: bool = False  # no gradient at all: the same fault would repeat in every trial


def run_trial(
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    trial: Trial,
    layout: str,
    timeout: float | None = None,
    executor: Executor | None = None,
) -> Outcome:
    """Call the candidate on one network and batch, and judge what it returns.

    Parameters
    ----------
    candidate : callable
        As `gradcheck.oracle.backprop.check_backprop` takes it, in `layout`.
    net : Network
    X : ndarray, shape (d, n_in)
    Y : ndarray, shape (d, n_H)
    trial : Trial
        Which trial this is (the first also checks that a second call agrees).
    layout : {"article", "torch", "flat"}
    timeout : float, optional
        Wall-clock seconds a call may take.
    executor : concurrent.futures.Executor, optional
        Where the entry-by-entry finite differences run.

    Returns
    -------
    Outcome
        The trial's report, faults of the reference itself, and whether the
        fault is structural (no gradient at all: the check stops).
    """
    out = call_candidate(candidate, net, X, Y, layout=layout, timeout=timeout)
    # a candidate computing with another libm (JAX's XLA) is held to its accuracy
    wider = out.libm_ulps is not None and out.libm_ulps > libm_ulps()
    with libm_accuracy(out.libm_ulps) if wider else contextlib.nullcontext():  # type: ignore[arg-type]
        return _judged(
            candidate,
            out,
            net,
            X,
            Y,
            trial=trial,
            layout=layout,
            timeout=timeout,
            executor=executor,
        )


def _judged(
    candidate: Callable[..., Any],
    out: CandidateOutput,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    trial: Trial,
    layout: str,
    timeout: float | None,
    executor: Executor | None,
) -> Outcome:
    """`run_trial` once the candidate has answered `out`."""
    if not out.problems and trial.index == 0:  # once per check: a second call must agree
        out = check_repeatable(candidate, net, X, Y, layout=layout, first=out, timeout=timeout)
    if out.gradient is None:  # nothing to compare: what it returned says it all
        causes = (
            ()
            if out.shapes is None
            else shape_causes(*out.shapes, net, layout="torch" if layout == "torch" else "article")
        )
        report = trial.report(problems=out.problems, causes=causes)
        return Outcome(report, structural=True)
    outcome = _compare_trial(out, net, X, Y, trial=trial, executor=executor)
    if layout == "torch":
        outcome = replace(outcome, report=_in_torch_terms(outcome.report))
    if not out.problems:
        return outcome
    # Modified its inputs, or answered otherwise a second time: a failure on its own, and
    # the gradient it returned (from the copies it was given) is still judged.
    report = replace(outcome.report, problems=out.problems + outcome.report.problems)
    return replace(outcome, report=report)


_WEIGHT_ENTRY = re.compile(r"W\^(\d+)\[(\d+),(\d+)\]")


def _in_torch_terms(report: TrialReport) -> TrialReport:
    """Weight entries named in both layouts, ``W^1[5,1] (= weights[1][1,5])``: the candidate's own
    index, in the tables and in the causes' words."""

    def named(name: str) -> str:
        match = _WEIGHT_ENTRY.fullmatch(name)
        if match is None:
            return name  # a bias entry: the same index in both layouts
        L, m, n = match.groups()
        return f"{name} (= weights[{L}][{n},{m}])"

    def worded(cause: Cause) -> Cause:
        return replace(cause, text=_WEIGHT_ENTRY.sub(lambda m: named(m.group(0)), cause.text))

    return replace(
        report,
        worst=tuple(replace(e, name=named(e.name)) for e in report.worst),
        blocks=tuple(replace(b, worst_entry=named(b.worst_entry)) for b in report.blocks),
        causes=tuple(worded(c) for c in report.causes),
    )


def _compare_trial(
    out: CandidateOutput,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    trial: Trial,
    executor: Executor | None = None,
) -> Outcome:
    """The three comparisons of the module docstring, and the trial's report built from them."""
    assert out.gradient is not None  # called only for an answer
    candidate = out.gradient.astype(np.float64)
    reference = backprop(net, X, Y).flat()
    block_dtypes = out.block_dtypes or (out.dtype,) * (2 * (net.H + 1))
    reference_tolerance = rounding_tolerance(net, X, Y, np.float64)  # the reference's rounding
    allowed = allowed_values(
        net,
        X,
        Y,
        reference=reference,
        reference_tolerance=reference_tolerance,
        block_dtypes=block_dtypes,
    )
    steps = _comparisons(
        net,
        X,
        Y,
        candidate=candidate,
        reference=reference,
        allowed=allowed,
        reference_tolerance=reference_tolerance,
        executor=executor,
    )
    vs_reference, fd, loops = steps.vs_reference, steps.fd, steps.loops
    report = trial.report(
        dtype=str(out.dtype),
        excess_vs_reference=float(vs_reference.excess.max()),
        excess_vs_finite_differences=float(fd.candidate.excess.max()),
        excess_reference_vs_loops=float(loops.excess.max()),
        finite_difference_method=fd.method,
        oracle_disagrees=not fd.reference.passed,
        unverifiable=fd.unverifiable,
        kinked=allowed.kinked,
        blocks=block_summaries(vs_reference, net.layout),
        worst=worst_entries(vs_reference, net.layout, finite_differences=fd.entry_values),
    )
    report = _explained(
        report,
        out,
        net,
        X,
        Y,
        candidate=candidate,
        reference=reference,
        vs_reference=vs_reference,
        finite_differences=fd.entry_values,
    )
    problems = _reference_problems(trial.index, net.layout, loops=loops, form=steps.form, fd=fd)
    return Outcome(report, reference_problems=problems)


@dataclass(frozen=True)
class _Comparisons:
    """The three comparisons of one trial, steps 1 to 3 of the module docstring."""

    vs_reference: Comparison  # 1. candidate vs reference
    fd: FiniteDifferences  # 2. candidate and reference vs finite differences
    loops: Comparison  # 3. the reference vs its loop form
    form: str  # the name of that loop form


def _comparisons(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    allowed: Allowed,
    reference_tolerance: np.ndarray,
    executor: Executor | None,
) -> _Comparisons:
    """Steps 1 to 3: the candidate (flat, float64) vs the reference, both vs differences, loops.

    `reference_tolerance` is the reference's own rounding (float64), as in `allowed`.
    """
    # 1. candidate vs reference: each block in its own dtype, kinks held to the subgradient
    vs_reference = candidate_comparison(candidate, allowed)
    # 2. candidate (and reference) vs finite differences, escalated where the reference
    # disagrees with them; at a kink the candidate may take any slope, the differences
    # measure one side's (or, with z exactly at the kink, the mean of both): so may the reference's
    tolerances = {
        "tolerance": allowed.tolerance + (allowed.upper - allowed.lower),
        "reference_tolerance": reference_tolerance + (allowed.upper - allowed.lower),
    }
    given = {"candidate": candidate, "reference": reference, **tolerances}
    fd = vs_finite_differences(net, X, Y, **given, executor=executor)
    fd = escalated(fd, net, X, Y, **given)
    # 3. the reference vs its loop form: it must agree to its own rounding (either slope at a kink)
    form = backprop_loops if net.layout.size * X.shape[0] <= LOOPS_BUDGET else backprop_examples
    loops_allowed = replace(allowed, tolerance=LOOPS_TOLERANCE_FACTOR * reference_tolerance)
    loops = candidate_comparison(form(net, X, Y).flat(), loops_allowed)
    return _Comparisons(vs_reference, fd, loops, form.__name__)


def _explained(
    report: TrialReport,
    out: CandidateOutput,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    vs_reference: Comparison,
    finite_differences: np.ndarray | None,
) -> TrialReport:
    """The trial's report with what explains a failure: likely causes, the derivation, the maps.

    A passing trial gains nothing, unless the candidate returned its deltas: those are
    checked equation by equation whatever the verdict.
    """
    if report.status == "failed":
        causes = explain_trial(
            net,
            X,
            Y,
            candidate=candidate,
            reference=reference,
            dtype=out.dtype,
            blocks=report.blocks,
        )
        report = replace(report, causes=causes)
    equation_table = None
    if out.deltas is not None:  # the candidate showed its derivation: check it equation by equation
        report, equation_table = _check_derivation(
            report, net, X, Y, deltas=out.deltas, candidate=candidate
        )
    if report.status == "failed":  # what the HTML report draws, kept for failing trials only
        maps = failing_trial_maps(
            net,
            X,
            Y,
            vs_reference,
            finite_differences=finite_differences,
            equation_table=equation_table,
        )
        report = replace(report, maps=maps)
    return report


#: Where a trial the oracle cannot judge is to be reported.
REPORT_TO = (
    "please report it as an issue of backprop-gradcheck, with this report (the trial "
    "reproduces from its sizes, d and seed, or from the network and batch you gave)"
)


def _reference_problems(
    index: int, layout: ParameterLayout, *, loops: Comparison, form: str, fd: FiniteDifferences
) -> tuple[str, ...]:
    """Faults of the oracle itself (step 3, and step 2 for the reference): never blamed on the
    candidate; each makes the verdict inconclusive unless the candidate failed on its own."""
    problems = []
    if not loops.passed:
        problems.append(
            f"trial {index}: backprop and {form} disagree at "
            f"{layout.name(int(loops.failing[0]))}: a fault of the reference, not of the "
            f"candidate; {REPORT_TO}"
        )
    if not fd.reference.passed:
        vs_fd = fd.reference
        worst = int(vs_fd.failing[0])
        where = layout.name(worst) if fd.directions is None else f"random direction {worst}"
        problems.append(
            f"trial {index}: INCONCLUSIVE: the reference and the finite differences disagree at "
            f"{where} (worst {vs_fd.excess.max():.3g} x tolerance), "
            f"even after escalating ({fd.escalation}): a fault of the oracle, not of the "
            f"candidate, which is not failed for it; {REPORT_TO}"
        )
    return tuple(problems)


def _check_derivation(
    report: TrialReport,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    deltas: list,
    candidate: np.ndarray,
) -> tuple[TrialReport, str | None]:
    """With the candidate's deltas, name the first equation that goes wrong, and at which layer.

    Returns the report and the equation-by-equation table (None when the deltas are unusable).
    """
    try:
        equations = check_equations(
            net, X, Y, deltas=deltas, gradients=Gradients.from_flat(candidate, net.sizes)
        )
    except (ValueError, TypeError) as exc:  # wrong shapes or values of the deltas
        problem = f"the candidate's deltas: {exc}"
        return replace(report, problems=report.problems + (problem,)), None
    if equations.passed:
        return report, str(equations)
    failure = equations.first_failure
    equation = None if failure is None else _EQUATION_OF_ROW.get(failure.kind)
    layers = () if failure is None else (failure.layer,)
    cause = Cause(
        None, equation, layers, equations.explanation, {"source": "the candidate's deltas"}
    )
    report = replace(
        report,
        problems=report.problems + (f"equation by equation: {equations.explanation}",),
        causes=(cause,) + report.causes,
    )
    return report, str(equations)


#: The article's equation each kind of row of the equation check tests.
_EQUATION_OF_ROW = {
    "output": "delta^H",
    "recursion": "recursion",
    "weights": "dJ/dW",
    "biases": "dJ/db",
}
