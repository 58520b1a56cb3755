"""gradcheck.oracle.trial: one call of the candidate, judged against the reference, differences and loops."""

from __future__ import annotations

from _helpers import TANH_CANDIDATE, TANH_NET, TANH_X, TANH_Y
from _oracle_cases import force_oracle_disagreement

import gradcheck.oracle.trial as trial_module
from gradcheck.oracle.trial import Outcome, Trial, run_trial
from reference import Gradients, backprop

FIRST = Trial(index=0, kind="random", sizes=(3, 4, 2), d=5, seed=7)
SECOND = Trial(index=1, kind="random", sizes=(3, 4, 2), d=5, seed=8)


def _run(candidate, trial=FIRST):
    return run_trial(
        candidate, TANH_NET, TANH_X.copy(), TANH_Y.copy(), trial=trial, layout="article"
    )


def _doubled_W1(W, b, X, Y):
    dW, db = TANH_CANDIDATE(W, b, X, Y)
    return [dW[0], 2 * dW[1]], db


def test_a_correct_candidate_passes_all_three_comparisons():
    outcome = _run(TANH_CANDIDATE)
    assert isinstance(outcome, Outcome) and not outcome.structural
    report = outcome.report
    assert report.passed, str(report)
    assert (report.index, report.kind, report.seed) == (0, "random", 7)
    assert report.excess_vs_reference <= 1 and report.excess_vs_finite_differences <= 1
    assert report.excess_reference_vs_loops <= 1 and outcome.reference_problems == ()
    assert report.causes == () and report.maps is None  # a passing trial gains nothing


def test_a_wrong_block_fails_with_its_entries_named_and_explained():
    report = _run(_doubled_W1).report
    assert not report.passed and not report.problems
    assert report.excess_vs_reference > 1 and report.excess_vs_finite_differences > 1
    assert report.worst[0].name.startswith("W^1[")
    failing = {b.name for b in report.blocks if b.failing}
    assert failing == {"W^1"}
    assert report.maps is not None  # what the HTML report draws


def test_nothing_returned_is_structural_and_stops_the_check():
    outcome = _run(lambda W, b, X, Y: None)
    assert outcome.structural and not outcome.report.passed
    assert "the candidate returned None" in outcome.report.problems[0]


def test_mutating_its_inputs_fails_but_the_gradient_is_still_judged():
    def mutates(W, b, X, Y):
        out = TANH_CANDIDATE(W, b, X, Y)
        X[...] = 0.0
        return out

    report = _run(mutates).report
    assert not report.passed
    assert any("modified its inputs" in p for p in report.problems), report.problems
    assert report.excess_vs_reference <= 1  # its answer, from the copies it was given, is right


def test_only_the_first_trial_calls_twice():
    calls = []

    def accumulates(W, b, X, Y):
        calls.append(1)
        dW, db = TANH_CANDIDATE(W, b, X, Y)
        return [len(calls) * g for g in dW], db

    first = _run(accumulates, FIRST).report
    assert len(calls) == 2
    assert any("different answer when called twice" in p for p in first.problems)
    calls.clear()
    _run(accumulates, SECOND)
    assert len(calls) == 1


def test_a_fault_of_the_reference_is_reported_as_such_never_blamed_on_the_candidate(monkeypatch):
    def backprop_loops(net, X, Y):  # the loop form with one wrong entry
        g = backprop(net, X, Y)
        g.biases[0][1] += 1.0
        return g

    monkeypatch.setattr(trial_module, "backprop_loops", backprop_loops)
    outcome = _run(TANH_CANDIDATE)
    assert outcome.report.passed  # the candidate is right
    assert outcome.reference_problems == (
        "trial 0: backprop and backprop_loops disagree at b^0[1]: a fault of the reference, not "
        f"of the candidate; {trial_module.REPORT_TO}",
    )


def test_above_the_loops_budget_the_reference_is_checked_by_examples(monkeypatch):
    def backprop_examples(net, X, Y):
        g = backprop(net, X, Y)
        return Gradients([2 * W for W in g.weights], g.biases)

    monkeypatch.setattr(trial_module, "LOOPS_BUDGET", 0)
    monkeypatch.setattr(trial_module, "backprop_examples", backprop_examples)
    (problem,) = _run(TANH_CANDIDATE).reference_problems
    assert problem.startswith("trial 0: backprop and backprop_examples disagree at W^")


def test_trial_report_carries_the_plan():
    report = FIRST.report(dtype="float32")
    assert (report.index, report.kind, report.sizes, report.d, report.seed) == (
        0,
        "random",
        (3, 4, 2),
        5,
        7,
    )
    assert report.dtype == "float32"


def test_a_candidate_that_agrees_with_the_reference_is_never_failed_for_the_oracles_fault(
    monkeypatch,
):
    force_oracle_disagreement(monkeypatch)
    outcome = _run(TANH_CANDIDATE)
    report = outcome.report
    assert report.status == "inconclusive" and not report.passed and report.oracle_disagrees
    assert report.excess_vs_reference <= 1 < report.excess_vs_finite_differences
    assert report.causes == () and report.maps is None  # nothing blamed on the candidate
    (problem,) = outcome.reference_problems
    assert problem.startswith("trial 0: INCONCLUSIVE: the reference and the finite differences ")
    assert "disagree at W^0[0,0]" in problem and "nothing more to try" in problem
    assert "a fault of the oracle, not of the candidate" in problem
    assert problem.endswith(trial_module.REPORT_TO)


def test_a_candidate_wrong_against_both_oracles_still_fails_when_they_disagree(monkeypatch):
    force_oracle_disagreement(monkeypatch)
    report = _run(_doubled_W1).report
    assert report.oracle_disagrees and report.status == "failed"


def test_a_disagreement_that_escalation_settles_is_no_problem(monkeypatch):
    import gradcheck.oracle.fd_comparison as fd_comparison

    real = fd_comparison.network_numerical_gradient

    def off(net, X, Y, **kwargs):
        fd = real(net, X, Y, **kwargs)
        fd.weights[0][0, 0] += 1e-3
        return fd

    monkeypatch.setattr(fd_comparison, "network_numerical_gradient", off)
    outcome = _run(TANH_CANDIDATE)
    assert outcome.report.status == "passed" and outcome.reference_problems == ()
