"""gradcheck.diagnosis.localize: where a fault sits, in words, from the equation check's rows or layer verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.diagnosis.localize import explain_equations, localize_from_gradients
from gradcheck.oracle.equations import check_equations
from gradcheck.tolerance.independent import equation_deltas
from reference import Network


@pytest.mark.parametrize(
    "layer_ok, words",
    [
        ([True, True, True], "nothing to localize"),
        ([True, True, False], "only the output layer's gradient is wrong (layer H = 2)"),
        ([True, True, False], "dJ/dW^2 = a^1 (delta^2)^T"),
        ([False, False, True, True], "the recursion from layer 2 to layer 1 is the likely culprit"),
        ([False, True, True], "the recursion from layer 1 to layer 0"),
        ([False, False, False], "the likely culprit is delta^H itself"),
        (
            [True, False, True, True],
            "only layer 1's gradient is wrong, the layers below it are right",
        ),
        ([True, False, True, True], "not the recursion"),
        ([False], "gradients alone cannot tell them apart"),
        ([False, True, False, True], "more than one equation is wrong"),
        ([False, True, False, True], "layer 1 below it is right, so look at its outer product"),
        ([True, False, True, False, False], "layer, 4: delta^H (dJ/da^H ⊙ h'(z^H))"),
        ([False, True, False, False, True], "the recursion into it from layer 4"),
    ],
)
def test_localize_from_gradients_names_the_likely_equation(layer_ok, words):
    assert words in localize_from_gradients(layer_ok)


def test_localize_from_gradients_validates():
    with pytest.raises(ValueError, match="`layer_ok` is empty"):
        localize_from_gradients([])
    with pytest.raises(TypeError, match=r"`layer_ok\[1\]` must be a bool, got 1"):
        localize_from_gradients([True, 1])
    with pytest.raises(TypeError, match="`layer_ok` must be a list of bools"):
        localize_from_gradients("TF")


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
