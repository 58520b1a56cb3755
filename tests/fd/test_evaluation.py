"""gradcheck.fd.evaluation: evaluating f at perturbations of theta, batched, checked, counted."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck.fd.evaluation import Evaluator, FunctionEvaluator, KinkEvaluator


def test_evaluator_batches_counts_and_hands_out_fresh_rows():
    seen = []

    def f(rows):
        seen.append(rows.shape)
        rows[:] = np.nan  # f may alter what it is given
        return np.zeros(len(rows))

    theta = np.arange(3.0)
    evaluate = Evaluator(f, theta, vectorized=True, max_batch=2)
    values, taken = evaluate.along(np.array([0, 1, 2]), np.array([0.5, 0.5, 0.5]))
    assert seen == [(2, 3), (1, 3)] and evaluate.count == 3
    np.testing.assert_array_equal(taken, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(theta, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=re.escape("`f` returned nan at `theta`")):
        Evaluator(lambda x: np.nan, theta, vectorized=False, max_batch=None).at_theta()


def test_every_evaluator_the_engines_are_given_has_the_protocols_interface():
    from gradcheck.fd.delta import DeltaEvaluator
    from gradcheck.fd.kinks import _Entries
    from gradcheck.fd.network import _CostEvaluator
    from reference import Network, forward_pass

    net = Network.random([3, 4, 2], hidden="relu", seed=0)
    X, Y = np.ones((5, 3)), np.zeros((5, 2))
    plain = Evaluator(np.sum, np.zeros(2), vectorized=False, max_batch=None)
    cost = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    kinked = [
        cost,
        _Entries(cost, np.array([1, 3])),
        DeltaEvaluator(net, fw, Y, 0, memory_limit=2**20),
    ]
    assert isinstance(plain, FunctionEvaluator) and not isinstance(plain, KinkEvaluator)
    for evaluate in kinked:
        assert isinstance(evaluate, KinkEvaluator), type(evaluate).__name__
        values, taken = evaluate.along(np.array([0]), np.array([0.5]), mark_crossings=False)
        assert values.shape == taken.shape == evaluate.last_crossed.shape == (1,)
    np.testing.assert_array_equal(kinked[1].theta, cost.theta[[1, 3]])
