"""Tests of gradcheck.results.causes: locating a fault by the article's logic, and never contradicting it."""

import itertools

import pytest

from gradcheck.results.causes import EQUATIONS, Cause, contradicts, localize, size_words


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


def test_cause_validation_and_dict():
    with pytest.raises(ValueError, match="`equation` must be one of"):
        Cause(None, "delta", (0,), "")
    with pytest.raises(
        ValueError, match="`W_ok` and `b_ok` must have one entry per layer, got 2 and 1"
    ):
        localize([True, False], [True])
    c = Cause("sign_flipped", "delta^H", (1,), "text", {"scale": -1.0})
    assert c.to_dict() == {
        "bug": "sign_flipped",
        "equation": "delta^H",
        "layers": [1],
        "text": "text",
        "evidence": {"scale": -1.0},
    }


def test_sizes_are_said_in_words_that_never_overstate():
    assert size_words(7e-12).startswith("tiny")
    assert size_words(3e-4).startswith("small")
    assert size_words(0.5) == "relative error 5.0e-01"
    causes = localize([False, False], [False, False], relative_errors={"W^1": 7e-12, "b^1": 1e-12})
    assert "tiny (relative error 7.0e-12)" in causes[0].text
