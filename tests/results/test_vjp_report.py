"""VJPReport: a screenful naming the failing entries, the seed and the kinks; a dict for machines."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from gradcheck.results.causes import Cause
from gradcheck.results.vjp_report import (
    DICT_ENTRIES,
    VJP_ROWS,
    EntryRow,
    InputMap,
    InputSummary,
    VJPReport,
)


def _row(entry: str, difference: float) -> EntryRow:
    return EntryRow(entry, 1, 0.5 + difference, 0.5, difference, 1e-12)


def _report(*, failing: int = 0, kinks: int = 0, mutated: tuple[str, ...] = ()) -> VJPReport:
    rows = tuple(_row(f"W[{j},0]", 1e-3 / (j + 1)) for j in range(min(failing, VJP_ROWS)))
    return VJPReport(
        passed=failing == 0,
        seed=7,
        cotangents=3,
        output_shape=(2, 3),
        inputs=(
            InputSummary("x", (2, 3), True, 6, 0, kinks, (), ("x[0,0]",) if kinks else ()),
            InputSummary("W", (3, 3), True, 9, failing, 0, rows),
            InputSummary("b", (3,), False, 0, 0, 0),
        ),
        n_evaluations=300,
        mutated=mutated,
    )


def test_a_passing_report_says_so_with_the_seed_and_the_counts():
    text = str(_report())
    assert text.startswith("VJP check passed")
    assert "seed=7" in text and "3 random cotangents" in text
    assert "W (3, 3): 9 entries checked, 0 failing" in text
    assert "b (3,): not differentiated" in text


def test_a_failing_report_names_the_worst_entries_and_counts_the_rest():
    report = _report(failing=VJP_ROWS + 3)
    text = str(report)
    assert not report and text.startswith("VJP check FAILED")
    assert "W[0,0]" in text and "finite diff" in text and "bound" in text
    assert "... and 3 more" in text
    assert report.failures[0] == "W[0,0]" and len(report.failures) == VJP_ROWS
    assert len(text.splitlines()) < 25  # a screenful


@pytest.mark.parametrize(("kinks", "mutated"), [(1, ()), (0, ("x",))])
def test_kinks_and_mutated_inputs_are_never_silent(kinks, mutated):
    text = str(_report(kinks=kinks, mutated=mutated))
    if kinks:
        assert "1 on a kink" in text and "x[0,0]" in text
    else:
        assert "changed in place by f or the vjp" in text and "`x`" in text


def test_to_dict_is_plain_json():
    data = _report(failing=2).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["inputs"][1]["worst"][0]["entry"] == "W[0,0]"


def test_wide_bounds_are_said_with_what_they_hide():
    assert "passes unseen" not in str(_report())
    text = str(replace(_report(), resolution=0.02))
    assert "passes unseen" in text and "~2% of itself" in text


# --- causes and per-entry maps


def _input_map(name: str, shape: tuple[int, ...], wrong: tuple[int, ...] = ()) -> InputMap:
    r = np.ones(shape)
    c = r.copy()
    if wrong:
        c[wrong] = 3.0
    difference, bound = np.abs(c - r), np.full(shape, 1e-12)
    kinks = np.zeros(shape, dtype=bool)
    return InputMap(name, shape, 2, c, r, difference, bound, difference > bound, kinks)


def test_causes_print_one_likely_cause_line_each_and_go_into_the_dict():
    causes = (
        Cause(None, None, (), "the gradient of `W` is all zeros. Fix: fill it", {"input": "W"}),
        Cause(None, None, (), "the gradient of `x` is k times", {"input": "x", "k": 0.5}),
    )
    report = replace(_report(failing=2), causes=causes)
    lines = [line for line in str(report).splitlines() if line.startswith("likely cause:")]
    assert lines == [f"likely cause: {cause.text}" for cause in causes]
    data = report.to_dict()
    assert data["causes"] == [cause.to_dict() for cause in causes]
    assert json.loads(json.dumps(data)) == data


def test_small_maps_go_into_the_dict_whole_and_large_ones_summarised():
    small, large = _input_map("W", (3, 3), wrong=(2, 1)), _input_map("x", (DICT_ENTRIES + 1,))
    data = replace(_report(failing=1), maps=(small, large)).to_dict()
    assert json.loads(json.dumps(data)) == data
    whole, summary = data["maps"]
    assert whole["failing"] == 1 and whole["cotangent"] == 2 and not whole["summarised"]
    assert whole["candidate"][2][1] == 3.0 and whole["failing_mask"][2][1]
    assert whole["worst_excess"] == pytest.approx(2e12)
    assert summary["summarised"] and "candidate" not in summary and summary["failing"] == 0


def test_maps_leave_equality_and_the_repr_alone():
    a = replace(_report(), maps=(_input_map("W", (3, 3)),))
    b = replace(_report(), maps=(_input_map("W", (3, 3)),))
    assert a == b and "InputMap" not in repr(a)


def test_the_excess_of_an_entry_with_a_zero_bound_is_inf_and_of_an_exact_one_zero():
    shape = (3,)
    entry_map = InputMap(
        "x",
        shape,
        0,
        np.array([1.0, 2.0, 3.0]),
        np.array([1.0, 1.0, 3.0]),
        np.array([0.0, 1.0, 0.0]),
        np.array([0.0, 0.0, 1.0]),
        np.array([False, True, False]),
        np.zeros(shape, dtype=bool),
    )
    assert entry_map.excess.tolist() == [0.0, np.inf, 0.0]
    assert entry_map.entry_name((2,)) == "x[2]" and entry_map.worst_excess == np.inf


def test_a_screened_report_says_it_screened_and_what_it_could_not_have_missed():
    from dataclasses import replace

    from gradcheck.results.vjp_report import ScreenSummary

    screen = ScreenSummary(sets=21, miss_probability=3e-8, named=2, cleared=1, unlocalized=0)
    base = _report()
    x = replace(base.inputs[0], entries=10**6, shape=(10**6,), caught_above=8.4e-7, largest=3.5)
    report = replace(base, inputs=(x, *base.inputs[1:]), method="screen", screen=screen)
    text = str(report)
    assert "screened, not checked entry by entry: 21 sets measured" in text
    assert "2 entries named by bisection" in text and "(1 passed there)" in text
    assert "x (1000000,): 1000000 entries screened, 0 failing" in text
    assert (
        "any single entry wrong by more than 8.4e-07 of the input's largest gradient (3.5) "
        "would have been caught (probability >= 1 - 3e-08)" in text
    )
    plain = json.loads(json.dumps(report.to_dict()))
    assert plain["method"] == "screen" and plain["screen"]["sets"] == 21
    assert plain["inputs"][0]["caught_above"] == 8.4e-7
    assert _report().to_dict()["method"] == "entries" and _report().to_dict()["screen"] is None
    unlocalized = str(replace(report, screen=replace(screen, unlocalized=500)))
    assert "500 entries in sets that failed the screen were not pinned" in unlocalized
