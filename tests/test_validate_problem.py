"""gradcheck.validate_problem: a front door's batch-or-trials choice, and a batch whose cost must be finite."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck.validate_problem import batch_or_trials, check_finite_cost
from reference import Network

X = np.ones((3, 2))
Y = np.zeros((3, 1))


@pytest.mark.parametrize(
    "trials, X, Y, expected",
    [
        (None, X, Y, 0),  # a batch given and no trials asked for: check at the batch only
        (None, None, None, 5),  # neither: the default number of random trials
        (2, X, Y, 2),  # both
        (np.int64(3), None, None, 3),  # numpy integers are integers
        (0, X, Y, 0),
    ],
)
def test_batch_or_trials_known_answers(trials, X, Y, expected):
    n = batch_or_trials(trials, X, Y, 5)
    assert n == expected and type(n) is int


@pytest.mark.parametrize(
    "trials, X, Y, message",
    [
        (
            None,
            X,
            None,
            "give both `X` and `Y` (a batch to check at), or neither (random trials)",
        ),
        (
            None,
            None,
            Y,
            "give both `X` and `Y` (a batch to check at), or neither (random trials)",
        ),
        (-1, X, Y, "`trials` must be a non-negative integer, got -1"),
        (True, X, Y, "`trials` must be a non-negative integer, got True"),
        (1.0, X, Y, "`trials` must be a non-negative integer, got 1.0"),
        ("2", X, Y, "`trials` must be a non-negative integer, got '2'"),
        (0, None, None, "nothing to check: give `X` and `Y`, or `trials` >= 1"),
    ],
)
def test_batch_or_trials_refusals(trials, X, Y, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        batch_or_trials(trials, X, Y, 5)


def test_check_finite_cost_passes_a_finite_cost():
    net = Network.random([2, 3, 1], hidden="tanh", output="identity", seed=0)
    assert check_finite_cost(net, np.ones((4, 2)), np.zeros((4, 1))) is None


def test_check_finite_cost_refuses_an_overflowing_cost():
    # identity layers: the output is about 1e200, so the quadratic cost (1e200)^2 / 2 overflows
    net = Network([np.eye(2)], [np.zeros(2)], hidden="identity", output="identity")
    X = np.full((2, 2), 1e200)
    with pytest.raises(ValueError) as info:
        check_finite_cost(net, X, np.zeros((2, 2)))
    assert str(info.value) == (
        "the cost J is inf at this network and batch (float64 overflow), so finite differences "
        "cannot check a gradient there: max |`X`| = 1e+200 (shape (2, 2)), max |`Y`| = 0 "
        "(shape (2, 2)); scale the data down"
    )
