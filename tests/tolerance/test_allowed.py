"""gradcheck.tolerance.allowed: per-block dtype tolerances, and intervals at kinks."""

from __future__ import annotations

import numpy as np

from gradcheck.tolerance.allowed import (
    Allowed,
    allowed_values,
    candidate_comparison,
    kink_units,
)
from gradcheck.tolerance.compare import rounding_tolerance
from reference import Network, backprop

F64 = np.dtype(np.float64)
F32 = np.dtype(np.float32)


def _tanh_problem():
    net = Network.random([3, 4, 2], hidden="tanh", output="identity", seed=1)
    rng = np.random.default_rng(1)
    return net, rng.normal(size=(5, 3)), rng.normal(size=(5, 2))


def _relu_at_a_kink():
    """One relu unit of the hidden layer has z = 0 exactly for every example (zero weights in)."""
    W0 = np.array([[1.0, 0.0, -0.5], [0.5, 0.0, 1.0]])
    W1 = np.array([[1.0], [2.0], [-1.0]])
    net = Network([W0, W1], [np.zeros(3), np.zeros(1)], hidden="relu", output="identity")
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7]])
    Y = np.array([[0.5], [-1.0], [2.0]])
    return net, X, Y


def test_without_kinks_the_allowed_value_is_the_reference_itself():
    net, X, Y = _tanh_problem()
    g = backprop(net, X, Y).flat()
    allowed = allowed_values(net, X, Y, reference=g, block_dtypes=[F64] * 4)
    np.testing.assert_array_equal(allowed.lower, g)
    np.testing.assert_array_equal(allowed.upper, g)
    np.testing.assert_array_equal(allowed.tolerance, rounding_tolerance(net, X, Y, np.float64))
    assert allowed.kinked == 0
    assert kink_units(net, X, F64) == [None, None]


def test_a_float32_block_gets_float32_tolerance_and_only_that_block():
    net, X, Y = _tanh_problem()
    g = backprop(net, X, Y).flat()
    everything64 = allowed_values(net, X, Y, reference=g, block_dtypes=[F64] * 4)
    mixed = allowed_values(net, X, Y, reference=g, block_dtypes=[F32, F64, F64, F64])
    W0 = net.layout.blocks[0][1]
    assert (mixed.tolerance[W0] > 1e3 * everything64.tolerance[W0]).all()  # u32 / u64 ~ 5e8
    rest = np.ones(g.size, bool)
    rest[W0] = False
    np.testing.assert_array_equal(mixed.tolerance[rest], everything64.tolerance[rest])


def test_a_unit_exactly_at_the_relu_kink_is_found():
    net, X, _ = _relu_at_a_kink()
    near = kink_units(net, X, F64)
    assert near[1] is None  # the identity output has no kink
    np.testing.assert_array_equal(near[0], np.tile([False, True, False], (3, 1)))


def test_at_a_kink_any_slope_in_the_subdifferential_passes_and_others_fail():
    net, X, Y = _relu_at_a_kink()
    g = backprop(net, X, Y)  # the reference takes relu'(0) = 0
    allowed = allowed_values(net, X, Y, reference=g.flat(), block_dtypes=[F64] * 4)
    assert allowed.kinked > 0
    # the same network with relu'(0) = 1 for that unit: W^0[:, 1] and b^0[1] take another value
    delta_H = (X @ net.weights[0]).clip(0) @ net.weights[1] - Y  # (d, 1), 1/d below
    Delta0 = (delta_H @ net.weights[1].T) * (X @ net.weights[0] > 0)
    Delta0[:, 1] = (delta_H @ net.weights[1].T)[:, 1]  # slope 1 at z = 0
    other = [w.copy() for w in g.weights], [b.copy() for b in g.biases]
    other[0][0][:, 1] = (X.T @ Delta0 / len(X))[:, 1]
    other[1][0][1] = Delta0[:, 1].mean()
    flat_other = np.concatenate([a.ravel() for pair in zip(*other) for a in pair])
    assert not np.allclose(flat_other, g.flat())  # the test is not vacuous
    assert candidate_comparison(flat_other, allowed).passed
    assert candidate_comparison(g.flat(), allowed).passed
    # beyond the interval (its upper end plus its width plus 1): a bug, whatever the slope
    twice = flat_other.copy()
    j = np.flatnonzero(allowed.upper > allowed.lower)
    twice[j] = 2 * allowed.upper[j] - allowed.lower[j] + 1.0
    assert not candidate_comparison(twice, allowed).passed


def test_at_a_kink_the_tolerance_holds_the_rounding_of_the_other_slopes_gradient():
    # The reference takes relu'(0) = 0: its W^0[:, 1] is exactly 0, and so was its rounding
    # tolerance. A float32 candidate on the other side rounds the slope-1 value, the interval's
    # other end: one float32 rounding of that end, at least, must pass (seed 12001392).
    net, X, Y = _relu_at_a_kink()
    g = backprop(net, X, Y).flat()
    allowed = allowed_values(net, X, Y, reference=g, block_dtypes=[F32] * 4)
    j = np.flatnonzero(allowed.upper > allowed.lower)
    assert j.size > 0 and np.all(g[j] == 0)
    end = np.maximum(np.abs(allowed.lower[j]), np.abs(allowed.upper[j]))
    assert np.all(allowed.tolerance[j] >= float(np.finfo(F32).eps) * end)


def test_a_nan_candidate_fails_even_inside_an_interval():
    allowed = Allowed(np.array([0.0, -1.0]), np.array([0.0, 1.0]), np.array([1e-12, 1e-12]))
    assert candidate_comparison(np.array([0.0, 0.5]), allowed).passed
    result = candidate_comparison(np.array([0.0, np.nan]), allowed)
    assert not result.passed and list(result.failing) == [1]
    assert allowed.kinked == 1
