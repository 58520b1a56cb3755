"""gradcheck.oracle.backprop: misbehaving candidates (wrong return types, mutation, aliasing, hidden state, huge values) are reported, never passed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _helpers import (
    TANH_CANDIDATE,
)
from _oracle_cases import CORRECT, break_correct, force_oracle_disagreement

from gradcheck import (
    GradientMismatch,
    assert_backprop,
    check_backprop,
)


@pytest.mark.parametrize(
    "candidate, expected",
    [
        (
            lambda W, b, X, Y: (_ for _ in ()).throw(KeyError("boom")),
            "the candidate raised KeyError: 'boom'",
        ),
        (lambda W, b, X, Y: None, "the candidate returned None; return (dW_list, db_list)"),
        (lambda W, b, X, Y: "grads", "the candidate returned a str; expected (dW_list, db_list)"),
        (lambda W, b, X, Y: (g for g in CORRECT(W, b, X, Y)), "the candidate returned a generator"),
        (
            lambda W, b, X, Y: {"dW": 1},
            "the candidate returned a dict with keys ['dW']; expected keys 'weights' and 'biases'",
        ),
        (
            lambda W, b, X, Y: (CORRECT(W, b, X, Y)[0][:1], CORRECT(W, b, X, Y)[1][:1]),
            "the candidate returned 1 weight gradients and 1 bias gradients; the network has 2 layers (L = 0 .. 1), so expected 2 of each",
        ),
        (
            lambda W, b, X, Y: ([g.T for g in CORRECT(W, b, X, Y)[0]], CORRECT(W, b, X, Y)[1]),
            "dJ/dW^0 has shape (6, 4), expected (4, 6): transposed? try layout='torch'",
        ),
        (
            lambda W, b, X, Y: (
                CORRECT(W, b, X, Y)[0],
                [g[:, None] for g in CORRECT(W, b, X, Y)[1]],
            ),
            "dJ/db^0 has shape (6, 1), expected (6,): return a 1-D array of shape (6,) (ravel it)",
        ),
        (
            break_correct(lambda dW, db: db[1].__setitem__(0, np.nan)),
            "the candidate returned NaN or Inf in 1 entries: b^1[0]",
        ),
        (
            break_correct(lambda dW, db: dW.__setitem__(0, dW[0].astype(complex))),
            "dJ/dW^0 is complex",
        ),
    ],
)
def test_structural_faults_are_reported(candidate, expected):
    report = check_backprop(candidate, sizes=[4, 6, 3])
    assert not report.passed
    assert any(expected in p for t in report.trials for p in t.problems), str(report)
    assert expected in str(report)


def test_a_candidate_that_mutates_its_inputs_fails():
    def mutates(weights, biases, X, Y):
        out = CORRECT(weights, biases, X, Y)
        weights[0] -= 0.1 * out[0][0]  # a gradient step in place
        return out

    report = check_backprop(mutates, sizes=[4, 6, 3])
    assert "the candidate modified its inputs (weights[0])" in str(report)


def test_a_candidate_that_returns_its_inputs_fails():
    def aliases(weights, biases, X, Y):
        dW, db = CORRECT(weights, biases, X, Y)
        biases[1][...] = db[1]
        return dW, [db[0], biases[1]]

    report = check_backprop(aliases, sizes=[4, 6, 3])
    text = str(report)
    assert "share memory with its inputs (biases[1])" in text


def test_hidden_state_is_caught():
    calls = []

    def accumulates(weights, biases, X, Y):
        dW, db = CORRECT(weights, biases, X, Y)
        calls.append(1)
        return [w * len(calls) for w in dW], db  # "forgot to zero the gradient buffer"

    report = check_backprop(accumulates, sizes=[4, 6, 3])
    assert "different answer when called twice on the same input" in str(report)


def test_structural_faults_are_reported_by_check_backprop_too():
    for candidate in (lambda W, b, X, Y: None, lambda W, b, X, Y: ({}, {})):
        report = check_backprop(candidate, sizes=[3, 4, 2])
        assert not report.passed and report.trials[0].problems
        assert len(report.trials) == 1  # a structural fault stops the run: it would repeat
    # a signature that cannot take the call is refused before any call (issue 11)
    with pytest.raises(TypeError, match=r"the oracle calls candidate\(weights, biases, X, Y\)"):
        check_backprop(lambda W, b: None, sizes=[3, 4, 2])


def test_gradient_mismatch_carries_a_reported_structural_fault():
    with pytest.raises(GradientMismatch) as info:
        assert_backprop(lambda W, b, X, Y: "grads", sizes=[3, 2])
    assert "the candidate returned a str" in str(info.value)


def test_assert_backprop_warns_not_raises_when_the_oracle_disagrees_with_itself(monkeypatch):
    force_oracle_disagreement(monkeypatch)
    with pytest.warns(RuntimeWarning, match="INCONCLUSIVE"):
        report = assert_backprop(TANH_CANDIDATE, sizes=[3, 4, 2], hidden="tanh", trials=1)
    assert report.status == "inconclusive"


@pytest.mark.parametrize("scale", [1e160, 1e300])
def test_huge_finite_candidate_gradients_are_reported_without_warnings(scale):
    def huge(W, b, X, Y):
        dW, db = TANH_CANDIDATE(W, b, X, Y)
        return [scale * g for g in dW], [scale * g for g in db]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = check_backprop(huge, sizes=[3, 4, 2], hidden="tanh", trials=1, edge_cases=False)
    assert not report.passed
