"""gradcheck.diagnosis.localize: where a fault sits, in words, from the equation check's rows or layer verdicts."""

from __future__ import annotations

import numpy as np

from gradcheck.diagnosis.localize import explain_equations
from gradcheck.oracle.equations import check_equations
from gradcheck.tolerance.independent import equation_deltas
from reference import Network

# ------------------------------------------------------------ explain_equations


def _net_and_data():
    net = Network.random([3, 4, 4, 2], hidden="tanh", seed=0)
    return net, np.ones((5, 3)), np.zeros((5, 2))


def test_explain_equations_is_the_reports_explanation():
    net, X, Y = _net_and_data()
    deltas = equation_deltas(net, X, Y)
    deltas[0] = deltas[0] * 2.0  # a wrong recursion into layer 0
    report = check_equations(net, X, Y, deltas=deltas)
    words = explain_equations(
        report.rows, H=net.H, gradients_only=False, broken_equation=report.broken_equation
    )
    assert words == report.explanation
    assert words.startswith("delta^1 matches, delta^0 does not: the recursion from layer 1")
    assert "Worst entry Delta^0[" in words


def test_explain_equations_when_every_equation_holds():
    net, X, Y = _net_and_data()
    report = check_equations(net, X, Y)
    words = explain_equations(report.rows, H=net.H, gradients_only=False, broken_equation=None)
    assert words.startswith("every equation holds: delta^H, the recursion into every layer")


def test_explain_equations_puts_broken_equations_first():
    net, X, Y = _net_and_data()
    report = check_equations(net, X, Y)
    words = explain_equations(
        report.rows, H=net.H, gradients_only=False, broken_equation="h' of 'mine' is wrong"
    )
    assert words == "h' of 'mine' is wrong; no candidate can be judged against them"
