"""The pytest plugin and the hypothesis strategies, as a user of another implementation meets them."""

from __future__ import annotations

import numpy as np
import pytest
from candidates import make_numpy_backprop
from hypothesis import given

from gradcheck import GradientMismatch
from gradcheck.strategies import networks, problems, sizes
from reference import backprop

pytest_plugins = ["pytester"]


def test_the_fixture_is_two_lines(backprop_oracle):
    backprop_oracle(make_numpy_backprop("tanh"), sizes=[4, 8, 3], hidden="tanh")


def test_the_fixture_raises_gradient_mismatch(backprop_oracle):
    def wrong(W, b, X, Y):
        dW, db = make_numpy_backprop()(W, b, X, Y)
        return [-w for w in dW], db

    with pytest.raises(GradientMismatch):
        backprop_oracle(wrong, sizes=[3, 4, 2])
    assert not backprop_oracle.check(wrong, sizes=[3, 4, 2]).passed


def test_a_failure_shows_the_users_line_and_the_report(pytester):
    pytester.makepyfile(
        """
        def broken(weights, biases, X, Y):
            from reference import Network, backprop
            g = backprop(Network(weights, biases), X, Y)
            return [2 * w for w in g.weights], g.biases

        def test_mine(backprop_oracle):
            backprop_oracle(broken, sizes=[3, 4, 2])
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "check_backprop FAILED" in text and "W^1[" in text
    assert "backprop_oracle(broken, sizes=[3, 4, 2])" in text  # the user's line
    assert "oracle.py" not in text  # __tracebackhide__ keeps our frames out


@given(problems(hidden="tanh", output="softmax", cost="categorical_cross_entropy"))
def test_strategies_give_valid_problems(problem):
    net, X, Y = problem
    assert X.shape == (len(Y), net.sizes[0]) and Y.shape[1] == net.sizes[-1]
    np.testing.assert_allclose(Y.sum(axis=1), 1.0)
    assert np.isfinite(backprop(net, X, Y).flat()).all()


@given(networks(layer_sizes=sizes(n_in=3, n_out=2, max_layers=3)))
def test_sizes_can_be_pinned(net):
    assert net.sizes[0] == 3 and net.sizes[-1] == 2 and len(net.sizes) <= 4
