"""gradcheck.oracle.data: seeded targets valid for a network's cost."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.oracle.data import random_targets
from reference import Network


def _targets(seed=0, d=50, **options):
    net = Network.random([3, 4], seed=0, **options)
    return random_targets(net, d, np.random.default_rng(seed))


def test_categorical_cross_entropy_gets_one_hot_classes():
    Y = _targets(output="softmax", cost="categorical_cross_entropy")
    assert Y.shape == (50, 4)
    assert set(np.unique(Y)) == {0.0, 1.0}
    np.testing.assert_array_equal(Y.sum(axis=1), np.ones(50))


@pytest.mark.parametrize(
    "options",
    [
        dict(output="sigmoid", cost="cross_entropy"),
        dict(output="sigmoid", cost="quadratic"),  # an output bounded by 1: targets it can reach
        dict(output="tanh", cost="quadratic"),
    ],
    ids=["cross_entropy", "sigmoid-quadratic", "tanh-quadratic"],
)
def test_probabilities_where_the_cost_or_the_output_needs_them(options):
    Y = _targets(**options)
    assert Y.shape == (50, 4) and Y.min() >= 0.0 and Y.max() <= 1.0
    assert len(np.unique(Y)) > 4  # not one-hot


def test_an_unbounded_output_gets_standard_normal_targets():
    Y = _targets(d=2000, output="identity", cost="quadratic")
    assert Y.min() < 0.0 and Y.max() > 1.0
    assert abs(Y.mean()) < 0.1 and abs(Y.std() - 1.0) < 0.1


def test_the_generator_alone_decides_the_targets():
    options = dict(output="identity", cost="quadratic")
    np.testing.assert_array_equal(_targets(seed=3, **options), _targets(seed=3, **options))
    assert not np.array_equal(_targets(seed=3, **options), _targets(seed=4, **options))
