"""gradcheck.results.report: frozen parts, one name for the excess, the text and dict forms."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from candidates import make_numpy_backprop

from gradcheck import check_backprop
from gradcheck.results.report import (
    MAX_ENTRIES,
    BackpropReport,
    BlockSummary,
    EntryReport,
    TrialReport,
    block_summaries,
    worst_entries,
)
from gradcheck.tolerance.compare import compare
from reference import Network

OPTIONS = {
    "sizes": (2, 2),
    "hidden": "sigmoid",
    "output": "sigmoid",
    "cost": "quadratic",
    "layout": "article",
    "trials": 1,
    "seed": 0,
    "batch_size": 3,
    "edge_cases": False,
}
OLD_NAMES = ("vs_reference", "worst_excess", "vs_finite_differences", "reference_vs_loops")


def _wrong_W1(weights, biases, X, Y):
    dW, db = make_numpy_backprop()(weights, biases, X, Y)
    return [dW[0], 2 * dW[1]], db


@pytest.fixture(scope="module")
def failed():
    return check_backprop(_wrong_W1, sizes=[3, 4, 2], seed=1, edge_cases=False)


def _trial(**fields):
    return TrialReport(index=0, sizes=[2, 2], d=3, seed=5, kind="random", **fields)


# ------------------------------------------------------------ known answers


def test_block_summaries_and_worst_entries_of_a_hand_made_comparison():
    # sizes [2, 2]: W^0 holds entries 0..3, b^0 entries 4..5
    layout = Network.random([2, 2], seed=0).layout
    expected = np.array([1.0, 2.0, 3.0, 4.0, 0.0, -1.0])
    candidate = expected + np.array([0.0, 0.5, -3.0, 0.1, 0.0, 0.0])
    tolerance = np.full(6, 0.25)
    c = compare(candidate, expected, tolerance)

    W, b = block_summaries(c, layout)
    assert (W.name, W.entries, W.failing, W.excess, W.worst_entry) == (
        "W^0",
        4,
        2,
        12.0,
        "W^0[1,0]",
    )
    assert W.relative_error == pytest.approx(np.linalg.norm([0, 0.5, 3, 0.1]) / np.sqrt(30))
    assert (b.name, b.entries, b.failing, b.excess, b.relative_error) == ("b^0", 2, 0, 0.0, 0.0)

    worst = worst_entries(c, layout, finite_differences=expected + 1e-9)
    assert [e.name for e in worst] == ["W^0[1,0]", "W^0[0,1]"]  # worst first
    assert worst[0] == EntryReport("W^0[1,0]", 0.0, 3.0, 3.0 + 1e-9, 0.25, 12.0)
    assert worst_entries(c, layout, finite_differences=None)[1].finite_difference is None


def test_worst_entries_are_capped_and_empty_for_a_pass():
    layout = Network.random([4, 5], seed=0).layout  # 25 entries
    expected = np.zeros(layout.size)
    c = compare(expected + np.arange(1.0, layout.size + 1), expected, np.ones(layout.size))
    worst = worst_entries(c, layout, finite_differences=None)
    assert len(worst) == MAX_ENTRIES and worst[0].excess == layout.size
    passing = compare(expected, expected, np.ones(layout.size))
    assert worst_entries(passing, layout, finite_differences=None) == ()


def test_a_trial_passes_only_when_both_excesses_are_at_most_one():
    assert _trial(excess_vs_reference=1.0, excess_vs_finite_differences=0.3).passed
    assert not _trial(excess_vs_reference=1.01, excess_vs_finite_differences=0.3).passed
    assert not _trial(excess_vs_reference=0.5).passed  # no finite-difference number: no pass
    assert not _trial(excess_vs_reference=0.5, excess_vs_finite_differences=math.nan).passed
    assert not _trial(excess_vs_reference=0, excess_vs_finite_differences=0, problems=["x"]).passed


# ------------------------------------------------------------ frozen, built once


def test_every_part_of_a_report_is_frozen(failed):
    trial = failed.trials[0]
    for part, field in (
        (failed, "candidate"),
        (trial, "excess_vs_reference"),
        (trial.blocks[0], "excess"),
        (trial.worst[0], "excess"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, field, 0.0)
    assert isinstance(failed.trials, tuple) and isinstance(failed.reference_problems, tuple)
    for name in ("sizes", "problems", "blocks", "worst", "diagnosis"):
        assert isinstance(getattr(trial, name), tuple), name


def test_lists_given_to_a_report_are_copied_into_tuples():
    problems = ["it raised"]
    trial = _trial(problems=problems)
    problems.append("later")
    assert trial.problems == ("it raised",) and trial.sizes == (2, 2)
    trials = [trial]
    report = BackpropReport("mine", dict(OPTIONS), trials)
    trials.clear()
    assert len(report.trials) == 1 and report.diagnosis == [] and not report.passed


# ------------------------------------------------------------ one name: excess


def test_the_excess_has_one_name_in_the_dict(failed):
    d = failed.to_dict()
    trial = d["trials"][0]
    assert {"excess_vs_reference", "excess_vs_finite_differences"} <= set(trial)
    assert "excess_reference_vs_loops" in trial
    assert set(trial["blocks"][0]) == {
        "name",
        "entries",
        "failing",
        "excess",
        "worst_entry",
        "relative_error",
    }
    assert "excess" in trial["worst"][0]
    text = json.dumps(d)
    for old in OLD_NAMES + ("ratio", "layer_errors"):
        assert f'"{old}"' not in text, old


def test_layer_excess_is_the_worst_block_excess_over_the_trials(failed):
    worst = failed.layer_excess
    assert worst["W^1"] == max(b.excess for t in failed.trials for b in t.blocks if b.name == "W^1")
    assert worst["W^1"] > 1 and worst["W^0"] <= 1 and set(worst) == {"W^0", "b^0", "W^1", "b^1"}


def test_the_text_says_once_what_the_numbers_are(failed):
    text = str(failed)
    assert text.count("|c - r| / tolerance") == 1
    assert "columns: the worst excess |c - r| / tolerance of each comparison" in text
    # the column headers stay words for people
    assert "vs reference" in text and "vs finite diff" in text and "ref vs loops" in text


def test_the_table_formats_each_excess():
    trials = [
        _trial(excess_vs_reference=0.0, excess_vs_finite_differences=0.25),
        dataclasses.replace(
            _trial(excess_vs_reference=math.inf, excess_vs_finite_differences=123.0), index=1
        ),
    ]
    report = BackpropReport("mine", dict(OPTIONS), trials)
    rows = [line.split() for line in str(report).splitlines() if "(random, seed 5)" in line]
    assert rows[0][-4:] == ["0", "0.25", "-", "ok"]
    assert rows[1][-4:] == ["inf", "1.2e+02", "-", "FAIL"]
    assert "Reproduce: net, X, Y = gradcheck.trial_case([2, 2], d=3, seed=5" in str(report)


def test_block_summary_and_entry_report_keep_their_positional_order():
    block = BlockSummary("W^0", 4, 1, 2.5, "W^0[1,1]", 0.1)
    assert block.excess == 2.5 and block.worst_entry == "W^0[1,1]"
    entry = EntryReport("b^0[1]", 1.0, 2.0, None, 0.5, 2.0)
    assert entry.finite_difference is None and entry.excess == 2.0


def test_the_html_page_reads_the_excesses_under_their_new_keys(failed):
    from gradcheck.html.page import render_report

    page = render_report(failed)
    trial = failed.trials[0]
    for value in (
        trial.excess_vs_reference,
        trial.excess_vs_finite_differences,
        trial.excess_reference_vs_loops,
    ):
        text = f"{value:.2g}" if value < 100 else f"{value:.1e}"
        assert f"<td class=num>{text}</td>" in page
    assert "<td class=num>-</td>" not in page  # every trial compared: no number is missing


@pytest.mark.parametrize(
    "vs_reference, vs_differences, oracle_disagrees, status",
    [
        (0.5, 0.5, False, "passed"),
        (2.0, 0.5, False, "failed"),
        (0.5, 2.0, False, "failed"),
        (math.nan, 0.5, False, "failed"),  # no number is no pass
        (0.5, 30.0, True, "inconclusive"),  # agrees with the reference: never failed for it
        (30.0, 0.5, True, "inconclusive"),  # agrees with the differences
        (30.0, 30.0, True, "failed"),  # agrees with neither
    ],
)
def test_a_trials_status(vs_reference, vs_differences, oracle_disagrees, status):
    trial = TrialReport(
        index=0, sizes=(2, 2), d=3, seed=0, kind="random",
        excess_vs_reference=vs_reference, excess_vs_finite_differences=vs_differences,
        oracle_disagrees=oracle_disagrees,
    )  # fmt: skip
    assert trial.status == status and trial.passed == (status == "passed")


def test_the_reports_status_inconclusive_is_not_passed_and_failed_wins():
    def trial(**fields):
        excess = {"excess_vs_reference": 0.5, "excess_vs_finite_differences": 0.5}
        return TrialReport(
            index=0, sizes=(2, 2), d=3, seed=0, kind="random", **{**excess, **fields}
        )

    inconclusive = trial(oracle_disagrees=True, excess_vs_finite_differences=9.0)
    report = BackpropReport("c", OPTIONS, (trial(), inconclusive))
    assert report.status == "inconclusive" and report.passed is False
    assert report.failed_trials == []
    assert str(report).startswith("check_backprop INCONCLUSIVE")
    assert report.to_dict()["status"] == "inconclusive"
    assert report.to_dict()["trials"][1]["status"] == "inconclusive"
    # a problem of the reference alone (its loop form): inconclusive, not failed
    loops = BackpropReport("c", OPTIONS, (trial(),), reference_problems=("loops",))
    assert loops.status == "inconclusive"
    failed = BackpropReport("c", OPTIONS, (trial(excess_vs_reference=2.0), inconclusive))
    assert failed.status == "failed"
