"""gradcheck.results.equation_report: the equation check's rows and report, as values, JSON and a table."""

from __future__ import annotations

import json

from gradcheck.results.equation_report import (
    FAIL,
    MAX_TABLE_ROWS,
    OK,
    RECURSION,
    UNVERIFIABLE,
    UPSTREAM,
    WEIGHTS,
    EquationComparison,
    EquationReport,
    EquationRow,
)


def _comparison(error, tolerance, n_failed=0, against="FD", entry="W^0[1,2]"):
    return EquationComparison(against, entry, 1.0, 1.0 + error, error, tolerance, n_failed, 12, 0)


def _row(verdict=OK, kind=WEIGHTS, layer=0, numerical=None, step=None):
    numerical = numerical or _comparison(1e-12, 1e-10)
    return EquationRow(kind, layer, "dJ/dW^L = a^{L-1} delta^L", numerical, step, verdict)


def _report(rows, broken_equation=None):
    return EquationReport(
        rows, (3, 4, 2), 5, "tanh/identity/quadratic", "the reference", False, "all hold",
        broken_equation,
    )  # fmt: skip


def test_excess_is_error_over_tolerance():
    assert _comparison(2e-10, 1e-10, n_failed=1).excess == 2.0
    assert _comparison(0.0, 0.0).excess == 0.0  # no tolerance and no error: nothing exceeded
    assert _comparison(1e-12, 1e-10).passed and not _comparison(2e-10, 1e-10, n_failed=1).passed


def test_the_governing_comparison_is_the_failing_one_else_the_worst():
    numerical = _comparison(5e-11, 1e-10)  # excess 0.5, passes
    step = _comparison(2e-11, 1e-11, n_failed=3, against="eq")  # excess 2, fails
    row = _row(FAIL, numerical=numerical, step=step)
    assert row.governing is step and row.excess == 2.0
    assert (row.error, row.tolerance) == (2e-11, 1e-11)
    passing = _row(numerical=numerical, step=_comparison(1e-11, 1e-10, against="eq"))
    assert passing.governing is numerical  # the worse of two passing comparisons


def test_layer_label_of_the_recursion_names_both_layers():
    assert _row(kind=RECURSION, layer=1).layer_label == "2 -> 1"
    assert _row(kind=WEIGHTS, layer=1).layer_label == "1"


def test_a_report_passes_with_ok_and_unverifiable_rows_only():
    assert _report([_row(OK), _row(UNVERIFIABLE)]).passed
    assert not _report([_row(OK), _row(UPSTREAM)]).passed
    assert not _report([_row(OK)], broken_equation="h' is not the derivative of h").passed
    failing = _row(FAIL, layer=1, numerical=_comparison(1.0, 1e-10, n_failed=4))
    report = _report([_row(OK), failing, _row(FAIL, layer=0)])
    assert report.first_failure is failing
    data = json.loads(json.dumps(report.to_dict()))
    assert data["first_failure"]["layer"] == 1 and data["passed"] is False
    assert data["rows"][1]["excess"] == 1e10 and data["rows"][1]["entry"] == "W^0[1,2]"


def test_the_table_shows_a_screenful():
    text = str(_report([_row(OK)]))
    assert text.splitlines()[0] == (
        "Backprop equation by equation: 3-4-2 (tanh/identity/quadratic), d = 5, H = 1"
    )
    assert text.splitlines()[-1] == "ok: all hold"
    many = [_row(OK)] * (MAX_TABLE_ROWS + 4) + [_row(FAIL, numerical=_comparison(1.0, 1e-10, 1))]
    lines = str(_report(many)).splitlines()
    assert (
        lines[-2] == f"... {MAX_TABLE_ROWS + 4} more rows not shown ({MAX_TABLE_ROWS + 5} in all)"
    )
    assert sum(line.endswith("FAIL") for line in lines) == 1  # only the rows that are not ok
