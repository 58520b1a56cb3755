"""gradcheck.oracle.fd_comparison: the candidate and the reference against finite differences,
entry by entry within the budget and along directions beyond it."""

from __future__ import annotations

import dataclasses

import numpy as np
from _helpers import TANH_NET, TANH_X, TANH_Y
from _oracle_cases import CORRECT, break_correct

import gradcheck.oracle.fd_comparison as fd_comparison
from gradcheck import check_backprop
from gradcheck.oracle.fd_comparison import FiniteDifferences, vs_finite_differences
from gradcheck.tolerance.compare import rounding_tolerance
from reference import backprop


def _vs(candidate):
    reference = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    tolerance = rounding_tolerance(TANH_NET, TANH_X, TANH_Y, np.float64)
    return vs_finite_differences(
        TANH_NET,
        TANH_X,
        TANH_Y,
        candidate=candidate,
        reference=reference,
        tolerance=tolerance,
        reference_tolerance=tolerance,
    )


def test_entry_by_entry_within_the_budget():
    reference = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    fd = _vs(reference)
    assert isinstance(fd, FiniteDifferences) and fd.method.endswith(", entry by entry")
    assert fd.candidate.passed and fd.reference.passed and fd.unverifiable == 0
    assert fd.values.shape == reference.shape
    np.testing.assert_allclose(fd.values, reference, rtol=1e-6, atol=1e-9)


def test_one_wrong_entry_fails_entry_by_entry_and_the_reference_still_passes():
    wrong = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    wrong[5] *= 1.001
    fd = _vs(wrong)
    assert fd.reference.passed and not fd.candidate.passed
    assert fd.candidate.failing.tolist() == [5]


def test_along_directions_beyond_the_budget(monkeypatch):
    monkeypatch.setattr(fd_comparison, "FD_BUDGET", 0)
    right = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    fd = _vs(right)
    assert fd.method == "richardson, along random and per-block directions"
    assert fd.entry_values is None and fd.candidate.passed and fd.reference.passed
    # DIRECTIONS random directions, plus one per block
    assert fd.candidate.candidate.shape == (fd_comparison.DIRECTIONS + 4,)
    wrong = right.copy()
    wrong[-1] += 1e-3  # b^1[1]: the smallest block, seen by its own direction
    assert not _vs(wrong).candidate.passed


def test_large_networks_use_directional_differences(monkeypatch):
    monkeypatch.setattr(
        fd_comparison, "FD_BUDGET", 0
    )  # every net counts as too large for entry-by-entry
    report = check_backprop(CORRECT, sizes=[6, 9, 4], trials=1, edge_cases=False)
    assert report.passed and "direction" in report.trials[0].finite_difference_method
    wrong = break_correct(lambda dW, db: db[1].__setitem__(2, db[1][2] * 1.01))
    failed = check_backprop(wrong, sizes=[6, 9, 4], trials=1, edge_cases=False)
    assert not failed.passed and failed.trials[0].excess_vs_finite_differences > 1


def _disputed(values_shift):
    """`_vs(reference)` with the differences moved by `values_shift` (the reference disputed)."""
    from gradcheck.tolerance.compare import compare

    reference = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    tolerance = rounding_tolerance(TANH_NET, TANH_X, TANH_Y, np.float64)
    fd = _vs(reference)
    values = fd.values + values_shift
    wrong = FiniteDifferences(
        candidate=compare(reference, values, fd.candidate.tolerance),
        reference=compare(reference, values, fd.reference.tolerance),
        values=values,
        method=fd.method,
        unverifiable=0,
    )
    given = {"candidate": reference, "reference": reference, "tolerance": tolerance}
    return wrong, dict(given, reference_tolerance=tolerance)


def test_a_wrong_difference_is_settled_by_richardson_again():
    shift = np.zeros(TANH_NET.layout.size)
    shift[3] = 1e-3
    wrong, given = _disputed(shift)
    assert not wrong.reference.passed
    fd = fd_comparison.escalated(wrong, TANH_NET, TANH_X, TANH_Y, **given)
    assert fd.reference.passed and fd.candidate.passed
    assert fd.escalation.startswith("1 of 1 disputed entries by Richardson again")


def test_what_differences_cannot_settle_the_true_gradient_does(monkeypatch):
    monkeypatch.setattr(fd_comparison, "_richardson_again", lambda *args: None)
    shift = np.zeros(TANH_NET.layout.size)
    shift[[0, 5]] = 1e-3
    wrong, given = _disputed(shift)
    fd = fd_comparison.escalated(wrong, TANH_NET, TANH_X, TANH_Y, **given)
    assert fd.reference.passed and fd.escalation == "2 by the true gradient in extended precision"


def test_a_reference_that_is_wrong_stays_disputed():
    # the differences are right; the reference is off at one entry: nothing settles it
    wrong, given = _disputed(0.0)
    reference = given["reference"].copy()
    reference[2] += 1e-3
    from gradcheck.tolerance.compare import compare

    wrong = FiniteDifferences(
        candidate=wrong.candidate,
        reference=compare(reference, wrong.values, wrong.reference.tolerance),
        values=wrong.values,
        method=wrong.method,
        unverifiable=0,
    )
    fd = fd_comparison.escalated(
        wrong, TANH_NET, TANH_X, TANH_Y, **dict(given, reference=reference)
    )
    assert list(fd.reference.failing) == [2]


def test_an_agreeing_reference_is_not_escalated():
    reference = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    fd = _vs(reference)
    tolerance = rounding_tolerance(TANH_NET, TANH_X, TANH_Y, np.float64)
    same = fd_comparison.escalated(
        fd, TANH_NET, TANH_X, TANH_Y, candidate=reference, reference=reference,
        tolerance=tolerance, reference_tolerance=tolerance,
    )  # fmt: skip
    assert same is fd and fd.escalation == ""


def test_the_true_gradient_is_used_only_for_networks_it_computes():
    from reference import Network

    assert fd_comparison._extended_applies(TANH_NET)
    assert not fd_comparison._extended_applies(Network.random([2, 3, 1], seed=0, l2=0.1))
    mse = Network.random([2, 3, 1], cost="mse", seed=0)
    assert not fd_comparison._extended_applies(mse)


def test_the_escalation_alone_would_have_cleared_the_reference_of_seed_9000879(monkeypatch):
    # without staged Richardson's cross-check the differences are off by 5.1e-4 at W^0[8,2]
    # (25.8 x the tolerance): Richardson again, from other first steps, settles it
    import gradcheck.fd.kinks as kinks
    from gradcheck.jobs.soak import correct_case
    from gradcheck.oracle.backprop import check_backprop_at

    monkeypatch.setattr(kinks, "_cross_checked_R2", lambda *args: args[-1][args[2]])
    escalations = []
    real = fd_comparison.escalated

    def recorded(fd, *args, **kwargs):
        settled = real(fd, *args, **kwargs)
        escalations.append(settled.escalation)
        return settled

    monkeypatch.setattr("gradcheck.oracle.trial.escalated", recorded)
    case = correct_case(9000879)
    report = check_backprop_at(case.candidate, case.net, case.X, case.Y)
    assert escalations == ["1 of 1 disputed entries by Richardson again"]
    assert report.status == "passed" and not report.reference_problems


def test_only_the_worst_disputed_entries_are_differenced_again(monkeypatch):
    monkeypatch.setattr(fd_comparison, "ESCALATION_ENTRIES", 1)
    shift = np.zeros(TANH_NET.layout.size)
    shift[[3, 6]] = [1e-3, 1e-2]  # entry 6 is the worst
    wrong, given = _disputed(shift)
    fd = fd_comparison.escalated(wrong, TANH_NET, TANH_X, TANH_Y, **given)
    assert fd.escalation.startswith("1 of 2 disputed entries by Richardson again; 1 by the true")
    assert fd.reference.passed


def test_along_directions_a_disputed_reference_is_escalated_too(monkeypatch):
    """Beyond FD_BUDGET the differences go by direction; a wrong one is settled as entries are."""
    monkeypatch.setattr(fd_comparison, "FD_BUDGET", 0)
    reference = backprop(TANH_NET, TANH_X, TANH_Y).flat()
    tolerance = rounding_tolerance(TANH_NET, TANH_X, TANH_Y, np.float64)
    given = {"candidate": reference, "reference": reference, "tolerance": tolerance}
    fd = fd_comparison.vs_finite_differences(
        TANH_NET, TANH_X, TANH_Y, **given, reference_tolerance=tolerance
    )
    assert fd.directions is not None and fd.entry_values is None and fd.reference.passed
    from gradcheck.tolerance.compare import compare

    values = fd.values.copy()
    values[1] += 1e-3  # one directional difference wrong: the reference is disputed
    bound = fd.reference.tolerance
    wrong = dataclasses.replace(
        fd,
        candidate=compare(fd.projected(reference), values, bound),
        reference=compare(fd.projected(reference), values, bound),
        values=values,
    )
    assert not wrong.reference.passed
    settled = fd_comparison.escalated(
        wrong, TANH_NET, TANH_X, TANH_Y, **given, reference_tolerance=tolerance
    )
    assert settled.reference.passed and settled.candidate.passed
    assert settled.escalation.startswith("1 of 1 disputed directions by Richardson again")
    monkeypatch.setattr(fd_comparison, "_richardson_again", lambda *args: None)
    truth = fd_comparison.escalated(
        wrong, TANH_NET, TANH_X, TANH_Y, **given, reference_tolerance=tolerance
    )
    assert (
        truth.reference.passed
        and truth.escalation == "1 by the true gradient in extended precision"
    )
