"""VJPReport: a screenful naming the failing entries, the seed and the kinks; a dict for machines."""

from __future__ import annotations

import json

import pytest

from gradcheck.results.vjp_report import VJP_ROWS, EntryRow, InputSummary, VJPReport


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
    from dataclasses import replace

    assert "passes unseen" not in str(_report())
    text = str(replace(_report(), resolution=0.02))
    assert "passes unseen" in text and "~2% of itself" in text
