"""`backprop`'s per-thread workspace: same numbers, fresh results, inputs untouched, thread-safe."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from _data import CONFIGS, problem

from reference import ACTIVATIONS, Network, backprop, backprop_examples
from reference._workspace import (
    _H_INTO,
    _H_PRIME_INTO,
    _local,
    buffer,
    forward_pass_into,
    multiply_by_h_prime,
)
from reference.network import forward_pass

Z_GRID = np.concatenate([np.linspace(-800, 800, 4001), [-1e300, -745.5, 0.0, 36.7, 710.0, 1e300]])


def _case(hidden, output, cost, sizes=(5, 7, 6, 3), d=9, seed=0):
    return problem(hidden, output, cost, sizes, d, seed)


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_backprop_equals_the_per_example_form(hidden, output, cost):
    net, X, Y = _case(hidden, output, cost)
    got, expected = backprop(net, X, Y).flat(), backprop_examples(net, X, Y).flat()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15 * np.abs(expected).max())


@pytest.mark.parametrize("name", sorted(_H_INTO))
def test_activations_into_buffers_equal_the_reference_to_ulps(name):
    act = ACTIVATIONS[name]
    got = _H_INTO[name](Z_GRID, 0)
    np.testing.assert_allclose(got, act.h(Z_GRID), rtol=4 * np.finfo(float).eps, atol=1e-300)


@pytest.mark.parametrize("name", sorted(_H_PRIME_INTO))
def test_derivatives_into_buffers_equal_the_reference_bit_for_bit(name):
    act = ACTIVATIONS[name]
    np.testing.assert_array_equal(_H_PRIME_INTO[name](Z_GRID), act.h_prime(Z_GRID))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "softplus"])
def test_h_prime_from_the_forward_pass_equals_the_reference_to_ulps(name):
    # sigmoid' = sigma / (1 + e^z) from the forward's buffers; where z > 700 was clamped
    # (and for the others) h' afresh: relative accuracy everywhere, saturated z included.
    act, Z = ACTIVATIONS[name], Z_GRID.reshape(1, -1)
    for grid in (Z, Z[:, np.abs(Z[0]) < 700]):  # with and without clamped entries
        one = np.eye(1)
        fw = forward_pass_into([one], [np.zeros(1)], [act], grid.T.copy())
        Delta = np.ones_like(grid.T)
        multiply_by_h_prime(Delta, act, fw, 0)
        expected = act.h_prime(grid.T)
        np.testing.assert_allclose(Delta, expected, rtol=8 * np.finfo(float).eps, atol=0)


def test_forward_pass_into_equals_forward_pass():
    net, X, _ = _case("sigmoid", None, "quadratic")
    a = forward_pass_into(net.weights, net.biases, net.activations, X)
    b = forward_pass(net.weights, net.biases, net.activations, X)
    # A^L agree to a few ulps, and Z^{L+1} to the rounding that carries into its sum
    for got, expected in zip(a.Z + a.A, b.Z + b.A, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_results_never_alias_the_workspace_nor_each_other():
    net, X, Y = _case("tanh", "sigmoid", "quadratic")
    first = backprop(net, X, Y)
    kept = first.flat()
    second = backprop(net, X, Y)  # the same buffers, refilled
    np.testing.assert_array_equal(first.flat(), kept)
    np.testing.assert_array_equal(second.flat(), kept)
    buffers = list(_local.buffers.values())
    for array in first.weights + first.biases + second.weights + second.biases:
        assert not any(np.shares_memory(array, b) for b in buffers)
    first.weights[0][...] = 0.0  # the caller owns its results
    np.testing.assert_array_equal(backprop(net, X, Y).flat(), kept)


def test_inputs_are_not_mutated():
    net, X, Y = _case("sigmoid", "sigmoid", "cross_entropy")
    theta, X0, Y0 = net.flat(), X.copy(), Y.copy()
    backprop(net, X, Y)
    np.testing.assert_array_equal(net.flat(), theta)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_threads_keep_their_own_buffers():
    cases = [_case("tanh", "sigmoid", "quadratic", seed=s) for s in range(4)]
    expected = [backprop(*c).flat() for c in cases]
    results: dict[int, list[np.ndarray]] = {}

    def work(k: int) -> None:
        results[k] = [backprop(*cases[k]).flat() for _ in range(20)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        for got in results[k]:
            np.testing.assert_array_equal(got, expected[k])


def test_buffers_are_reused_by_name_and_shape():
    a = buffer("test", (3, 4))
    assert buffer("test", (3, 4)) is a
    assert buffer("test", (4, 3)) is not a


def test_a_net_deeper_than_the_buffer_cache_keeps_its_sigmoid_denominators():
    # 30 sigmoid layers: more buffers than MAX_BUFFERS, so early ones leave the cache
    # between the forward and the backward pass; the backward must not look them up again.
    rng = np.random.default_rng(0)
    sizes = [4] + [5] * 29 + [3]
    net = Network.random(sizes, hidden="sigmoid", output="sigmoid", seed=rng)
    X, Y = rng.normal(size=(6, 4)), rng.uniform(size=(6, 3))
    got, expected = backprop(net, X, Y).flat(), backprop_examples(net, X, Y).flat()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15 * np.abs(expected).max())
