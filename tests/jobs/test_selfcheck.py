"""gradcheck.jobs.selfcheck: the main job's tables, the equation table and its runner."""

from __future__ import annotations

import pytest
from _helpers import TANH_NET, TANH_X, TANH_Y

from gradcheck.jobs.selfcheck import (
    EQUATION_BATCH,
    EQUATION_SIZES,
    SHAPES,
    SelfCheckRow,
    default_configurations,
    format_equation_table,
    run_equation_checks,
    run_selfcheck,
    shapes_text,
)
from gradcheck.oracle.equations import check_equations
from gradcheck.tolerance.independent import equation_deltas
from reference import (
    Network,
)


def _broken_recursion_report():
    """A candidate whose recursion into layer 0 is wrong (delta^0 doubled), on the table's net."""
    reports = run_equation_checks(configurations=[("tanh", None, "quadratic")])
    net = Network.random(EQUATION_SIZES, hidden="tanh", seed=0)
    X = [[0.1 * (i + j) for j in range(EQUATION_SIZES[0])] for i in range(EQUATION_BATCH)]
    Y = [[0.0] * EQUATION_SIZES[-1] for _ in range(EQUATION_BATCH)]
    deltas = equation_deltas(net, X, Y)
    deltas[0] = deltas[0] * 2.0
    return reports, check_equations(net, X, Y, deltas=deltas)


def test_main_job_table_fits_a_screen_and_confirms_every_configuration():
    reports = run_equation_checks()
    table = format_equation_table(reports)
    lines = table.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 100
    assert all(report.passed for _, report in reports)
    assert lines[-1] == f"{len(reports)} of {len(reports)} configurations confirm every equation"
    assert sum(line.endswith("ok") for line in lines) == len(reports[0][1].rows)


def test_main_job_table_marks_a_failing_configuration():
    good, bad = _broken_recursion_report()
    table = format_equation_table(good + [("broken", bad)])
    row = next(line for line in table.splitlines() if line.startswith("delta^0 = "))
    assert row.split()[-3:] == ["FAIL", "FAIL", "1"]
    assert "1 of 2 configurations" in table
    with pytest.raises(ValueError, match="`reports` is empty"):
        format_equation_table([])


def test_run_equation_checks_defaults_to_every_configuration():
    reports = run_equation_checks(configurations=default_configurations()[:2], d=2)
    assert [label for label, _ in reports] == [
        "identity/identity/quadratic",
        "sigmoid/sigmoid/quadratic",
    ]
    assert all(report.sizes == EQUATION_SIZES and report.d == 2 for _, report in reports)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"d": 0}, ValueError, "`d` must be a positive integer, got 0"),
        ({"seed": -1}, ValueError, "`seed` must be a non-negative integer, got -1"),
        (
            {"configurations": "tanh"},
            TypeError,
            "`configurations` must be a list of (hidden, output, cost) triples, got str",
        ),
        (
            {"configurations": [("tanh", None)]},
            TypeError,
            "each of `configurations` must be a (hidden, output, cost) triple such as "
            "('tanh', None, 'quadratic'); entry 0 is ('tanh', None)",
        ),
    ],
)
def test_run_equation_checks_validation_messages(kwargs, error, message):
    with pytest.raises(error) as info:
        run_equation_checks(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "reports, error, message",
    [
        ("x", TypeError, "`reports` must be a list of (label, EquationReport) pairs, got str"),
        ([], ValueError, "`reports` is empty; give at least one (label, EquationReport) pair"),
        (
            [("a", 3)],
            TypeError,
            "each of `reports` must be a (label, EquationReport) pair as run_equation_checks "
            "gives; entry 0 is ('a', 3)",
        ),
    ],
)
def test_format_equation_table_validation_messages(reports, error, message):
    with pytest.raises(error) as info:
        format_equation_table(reports)
    assert str(info.value) == message


def test_shapes_text_is_read_from_the_shapes():
    assert shapes_text() == "4-8-3 d=5, 3-1-2 d=4, 4-3 d=6, 5-7-6-3 d=1"
    assert shapes_text() == ", ".join(f"{'-'.join(map(str, s))} d={d}" for s, d in SHAPES)
    assert shapes_text([((2, 1), 3)]) == "2-1 d=3"


def test_selfcheck_row_names_its_ratio_fd_excess():
    (row,) = run_selfcheck(configurations=[("tanh", None, "quadratic")], shapes=[((3, 2), 2)])
    assert row.passed and 0.0 <= row.fd_excess <= 1.0
    assert isinstance(row, SelfCheckRow)


# ---- validation


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (([("label", 3)],), {}),
        (([3],), {}),
        (("abc",), {}),
        (([("label", check_equations(TANH_NET, TANH_X, TANH_Y))],), {"width": "x"}),
    ],
    ids=["not-a-report", "not-a-pair", "a-string", "width-string"],
)
def test_format_equation_table_validates_its_arguments(args, kwargs):
    with pytest.raises((ValueError, TypeError)) as info:
        format_equation_table(*args, **kwargs)
    assert "`reports`" in str(info.value) or "`width`" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(d=0), "`d`"),
        (dict(d=-1), "`d`"),
        (dict(d=2.5), "`d`"),
        (dict(seed=-1), "`seed`"),
        (dict(configurations=["tanh"]), "`configurations`"),
    ],
)
def test_run_equation_checks_validates_its_arguments(kwargs, name):
    options = dict(configurations=[("tanh", None, "quadratic")]) | kwargs
    with pytest.raises((ValueError, TypeError)) as info:
        run_equation_checks(**options)
    assert name in str(info.value)
