"""Tests of gradcheck.tolerance.subgradient: the bounds hold every slope choice at a kink, and nothing else."""

import numpy as np
import pytest

from gradcheck.tolerance.subgradient import (
    delta_intervals,
    kink_slopes,
    slope_bound,
    subgradient_bounds,
)
from reference import ACTIVATIONS, Activation, Network, backprop, forward_pass


def relu_with(value_at_0):
    """ReLU whose h'(0) is `value_at_0` (a convention at the kink; outside [0, 1] a bug)."""
    relu = ACTIVATIONS["relu"]
    prime = lambda z: np.where(z > 0, 1.0, np.where(z < 0, 0.0, value_at_0))
    return Activation(f"relu'(0)={value_at_0}", relu.h, prime, lower=0.0, kink=True, smooth=False)


def kinked_problem(hidden="relu", seed=0):
    """A [3,5,4,2] net whose first example has every z^0 exactly 0 (x = 0, b^0 = 0)."""
    net = Network.random([3, 5, 4, 2], hidden=hidden, output="identity", seed=seed)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    X[0] = 0.0
    biases = [np.zeros(5), *net.biases[1:]]
    net = Network(net.weights, biases, hidden=hidden, output="identity")
    near = [np.zeros((6, 5), bool), None, None]
    near[0][0] = True
    return net, X, Y, near


def test_kink_slopes_are_the_one_sided_limits():
    assert kink_slopes(ACTIVATIONS["relu"]) == (0.0, 1.0)
    assert kink_slopes(ACTIVATIONS["leaky_relu"]) == (0.01, 1.0)


@pytest.mark.parametrize("value", [0.0, 0.25, 0.5, 1.0])
def test_every_slope_in_the_subdifferential_lies_within(value):
    net, X, Y, near = kinked_problem()
    lower, upper = subgradient_bounds(net, X, Y, near)
    g = backprop(Network(net.weights, net.biases, hidden=relu_with(value), output="identity"), X, Y)
    flat = g.flat()
    assert np.all(lower - 1e-12 <= flat) and np.all(flat <= upper + 1e-12)
    assert np.any(upper - lower > 1e-3)  # the kink really widens some entries


@pytest.mark.parametrize("value", [5.0, -3.0, 1.5])
def test_slopes_outside_it_fall_outside(value):
    net, X, Y, near = kinked_problem()
    lower, upper = subgradient_bounds(net, X, Y, near)
    flat = backprop(
        Network(net.weights, net.biases, hidden=relu_with(value), output="identity"), X, Y
    ).flat()
    outside = np.maximum(lower - flat, flat - upper)
    assert outside.max() > 1e-3


def test_no_kink_gives_the_reference_exactly():
    net, X, Y, _ = kinked_problem()
    lower, upper = subgradient_bounds(net, X, Y, [None, None, None])
    np.testing.assert_array_equal(lower, upper)
    np.testing.assert_allclose(lower, backprop(net, X, Y).flat(), rtol=1e-13, atol=1e-15)


def test_inputs_are_not_mutated():
    net, X, Y, near = kinked_problem()
    X0, Y0, W0 = X.copy(), Y.copy(), [W.copy() for W in net.weights]
    subgradient_bounds(net, X, Y, near)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
    for W, W_0 in zip(net.weights, W0):
        np.testing.assert_array_equal(W, W_0)


def test_delta_intervals_hold_every_slope_and_slope_bound_the_steeper_one():
    net, X, Y, near = kinked_problem()
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    exact = delta_intervals(net, fw, Y, None)
    assert all(not radius.any() for _, radius in exact)  # no kink: the reference's deltas
    (centre, radius), *_ = delta_intervals(net, fw, Y, near)
    assert radius[0].any() and not radius[1:].any()  # only the kinked example is uncertain
    for value in (0.0, 0.5, 1.0):  # every slope's delta^0 lies in the interval
        net_v = Network(net.weights, net.biases, hidden=relu_with(value), output="identity")
        fw_v = forward_pass(net_v.weights, net_v.biases, net_v.activations, X)
        (delta0, _), *_ = delta_intervals(net_v, fw_v, Y, None)
        assert np.all(np.abs(delta0 - centre) <= radius + 1e-12)
    relu = net.activations[0]
    np.testing.assert_array_equal(slope_bound(relu, fw.Z[0], near[0])[0], 1.0)
    np.testing.assert_array_equal(slope_bound(relu, fw.Z[0], None)[0], 0.0)
