"""gradcheck.diagnosis.localize: where a fault sits by the article's logic, never contradicting
the evidence, and in words from the equation check's rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradcheck.diagnosis.localize import (
    contradicts,
    explain_equations,
    layer_listing,
    localize,
    size_words,
)
from gradcheck.oracle.equations import check_equations
from gradcheck.results.causes import EQUATIONS, Cause
from gradcheck.tolerance.independent import equation_deltas
from reference import Network

# ------------------------------------------------------------ localize


def first(W_ok, b_ok):
    c = localize(W_ok, b_ok)[0]
    return c.equation, c.layers


# H = 2 (three layers). Each case: the per-block verdicts a slip produces, and where it is.
@pytest.mark.parametrize(
    "W_ok, b_ok, expected",
    [
        ([False] * 3, [False] * 3, ("delta^H", (2,))),  # delta^H wrong: everything inherits
        ([False, False, True], [False, False, True], ("recursion", (1,))),  # recursion into 1
        ([False, True, True], [False, True, True], ("recursion", (0,))),  # recursion into 0
        ([True, True, True], [False, True, True], ("dJ/db", (0,))),  # one layer's db sign
        ([True, True, True], [False, False, False], ("dJ/db", (0, 1, 2))),  # biases summed
        ([False, True, True], [True, True, True], ("dJ/dW", (0,))),  # one entry of W^0 off
        ([False, False, False], [True, True, True], ("dJ/dW", (0, 1, 2))),  # a^L for a^{L-1}
        ([True, False, True], [True, True, True], ("dJ/dW", (1,))),  # one layer's dW scaled
        ([True, True, False], [True, True, True], ("dJ/dW", (2,))),
    ],
)
def test_localize_names_the_equation_and_layer(W_ok, b_ok, expected):
    assert first(W_ok, b_ok) == expected


def test_a_right_bias_clears_the_recursion():
    # 31 of 32 entries of W^0 right, b^0 right: never "the recursion from layer 1 to layer 0"
    causes = localize([False, True], [True, True])
    assert [c.equation for c in causes] == ["dJ/dW"]
    assert "recursion" not in causes[0].text.split("Fix")[0]


def test_separate_faults_are_listed_after_the_first():
    # dW^2 wrong (outer product) and, independently, db^0 wrong
    causes = localize([True, True, False], [False, True, True])
    assert [(c.equation, c.layers) for c in causes] == [("dJ/dW", (2,)), ("dJ/db", (0,))]


def test_delta_fault_that_did_not_propagate_says_so():
    (cause,) = localize([True, False, True], [True, False, True])
    assert cause.equation == "recursion" and cause.layers == (1,)
    assert "did not enter the recursion" in cause.text


def test_nothing_wrong_gives_no_cause():
    assert localize([True, True], [True, True]) == []


@pytest.mark.parametrize("H", [0, 1, 2, 3])
def test_localize_never_contradicts_its_evidence(H):
    # every pattern of right and wrong blocks: each stated cause survives `contradicts`
    n = H + 1
    for bits in itertools.product([True, False], repeat=2 * n):
        W_ok, b_ok = list(bits[:n]), list(bits[n:])
        for cause in localize(W_ok, b_ok):
            assert cause.equation in EQUATIONS
            assert not contradicts(cause, W_ok, b_ok), (W_ok, b_ok, cause.text)


def test_contradicts_rules():
    delta_H = Cause(None, "delta^H", (1,), "")
    assert contradicts(delta_H, [False, False], [True, True])  # every b^L right: not delta^H
    assert not contradicts(delta_H, [False, False], [False, False])
    recursion = Cause(None, "recursion", (0,), "")
    assert contradicts(recursion, [False, True], [True, True])  # b^0 right clears it
    assert contradicts(Cause(None, "dJ/dW", (0,), ""), [True, True], [False, True])
    assert not contradicts(Cause("summed_not_averaged", None, (), ""), [False, True], [True, True])
    assert contradicts(Cause("x", None, (), ""), [True], [True])  # nothing wrong at all


def test_sizes_are_said_in_words_that_never_overstate():
    assert size_words(7e-12).startswith("tiny")
    assert size_words(3e-4).startswith("small")
    assert size_words(0.5) == "relative error 5.0e-01"
    causes = localize([False, False], [False, False], relative_errors={"W^1": 7e-12, "b^1": 1e-12})
    assert "tiny (relative error 7.0e-12)" in causes[0].text


def test_localize_validates_the_verdicts():
    with pytest.raises(
        ValueError, match="`W_ok` and `b_ok` must have one entry per layer, got 2 and 1"
    ):
        localize([True, False], [True])


def test_layers_are_listed_one_way():
    assert layer_listing([0, 2]) == "0, 2"
    assert layer_listing(()) == ""
    (cause,) = localize([True, True, False, True], [True, True, False, True])
    assert "layers 0, 1 below are right" in cause.text


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
