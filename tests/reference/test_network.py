"""reference.network: the flat order, the layout's names, the forward pass and the cost, no mutation."""

from __future__ import annotations

import re

import numpy as np
import pytest

from reference import (
    Gradients,
    Network,
    backprop,
)


def test_flat_order_is_W_row_major_then_b_per_layer():
    W0 = np.arange(6.0).reshape(2, 3)
    b0 = np.array([10.0, 11.0, 12.0])
    W1 = np.array([[20.0], [21.0], [22.0]])
    b1 = np.array([30.0])
    net = Network([W0, W1], [b0, b1])
    np.testing.assert_array_equal(net.flat(), [0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 30])
    layout = net.layout
    assert [layout.name(j) for j in (0, 1, 3, 6, 9, 12)] == [
        "W^0[0,0]",
        "W^0[0,1]",
        "W^0[1,0]",
        "b^0[0]",
        "W^1[0,0]",
        "b^1[0]",
    ]
    assert layout.locate(4) == ("W", 0, (1, 1))
    assert [(name, block.start, block.stop) for name, block, _ in layout.blocks] == [
        ("W^0", 0, 6),
        ("b^0", 6, 9),
        ("W^1", 9, 12),
        ("b^1", 12, 13),
    ]


def test_with_flat_round_trips_and_gradients_from_flat():
    net = Network.random([3, 4, 2], seed=1)
    theta = net.flat()
    again = net.with_flat(theta)
    for a, b in zip(net.weights + net.biases, again.weights + again.biases):
        np.testing.assert_array_equal(a, b)
    g = Gradients.from_flat(theta, net.sizes)
    np.testing.assert_array_equal(g.flat(), theta)
    theta[0] = 99.0  # from_flat copied: the gradient does not alias theta
    assert g.weights[0][0, 0] != 99.0


def test_random_is_seeded_and_scaled():
    a = Network.random([50, 40, 3], seed=7)
    b = Network.random([50, 40, 3], seed=7)
    np.testing.assert_array_equal(a.flat(), b.flat())
    assert 0.5 < a.weights[0].std() * np.sqrt(50) < 1.5  # W^L ~ N(0, 1/M)


def test_forward_keeps_every_z_and_a():
    net = Network.random([3, 5, 2], hidden="tanh", output="identity", seed=0)
    X = np.ones((4, 3))
    fw = net.forward(X)
    assert [Z.shape for Z in fw.Z] == [(4, 5), (4, 2)]
    np.testing.assert_allclose(fw.A[0], np.tanh(fw.Z[0]))
    np.testing.assert_allclose(fw.Z[1], fw.A[0] @ net.weights[1] + net.biases[1])
    assert fw.output is fw.A[1]


def test_cost_is_the_mean_of_half_squared_errors():
    net = Network([np.eye(2)], [np.zeros(2)], hidden="identity")
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    Y = np.zeros((2, 2))
    assert net.cost(X, Y) == pytest.approx(((1 + 4) / 2 + (9 + 16) / 2) / 2)


def test_nothing_the_caller_passes_is_mutated_or_aliased():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    biases = [rng.normal(size=4), rng.normal(size=2)]
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    copies = [a.copy() for a in weights + biases + [X, Y]]
    for a in weights + biases + [X, Y]:
        a.flags.writeable = False  # any write would raise
    net = Network(weights, biases)
    backprop(net, X, Y)
    net.cost(X, Y)
    net.forward(X)
    assert not np.shares_memory(net.weights[0], weights[0])
    for a, c in zip(weights + biases + [X, Y], copies):
        np.testing.assert_array_equal(a, c)


def test_integer_input_is_converted():
    net = Network([[[1, 2], [3, 4]]], [[0, 1]], hidden="identity")
    assert net.weights[0].dtype == np.float64
    assert np.isfinite(net.cost([[1, 2]], [[0, 0]]))


def test_what_gradcheck_needs_is_public_and_old_paths_still_work():
    import reference
    import reference.network

    for name in ("forward_pass", "example_costs", "FUSED_FORMS", "real_array", "checked_problem"):
        assert name in reference.__all__ and hasattr(reference, name), name
    assert reference.forward_pass is reference.network.forward_pass
    assert reference.example_costs is reference.network.example_costs
    from reference.costs import FUSED  # noqa: F401  (the old path)
    from reference.network import example_costs, forward_pass  # noqa: F401


def test_forward_pass_and_example_costs_agree_with_network_cost():
    from reference import example_costs, forward_pass

    net = Network.random([3, 4, 2], hidden="tanh", output="sigmoid", cost="cross_entropy", seed=2)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(0.1, 0.9, size=(5, 2))
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    np.testing.assert_array_equal(fw.output, net.forward(X).output)
    J_i = example_costs(fw.Z[net.H], fw.output, Y, net.output, net.cost_function)
    assert J_i.shape == (5,)
    assert np.mean(J_i) == pytest.approx(net.cost(X, Y), rel=1e-15)


def test_checked_problem_checks_the_network_and_its_data():
    from reference import checked_problem

    net = Network.random([2, 3, 1], seed=0)
    X, Y = [[1, 2], [3, 4]], [[0], [1]]
    X_checked, Y_checked = checked_problem(net, X, Y)
    assert X_checked.dtype == np.float64 and X_checked.shape == (2, 2)
    assert Y_checked.shape == (2, 1)
    with pytest.raises(
        TypeError,
        match=re.escape(
            "`net` must be a reference.Network, got dict; "
            "build one with Network(weights, biases, ...)"
        ),
    ):
        checked_problem({}, X, Y)
    with pytest.raises(ValueError, match=re.escape("`Y` must have shape (d, n_H) = (2, 1)")):
        checked_problem(net, X, [[0, 1], [1, 0]])


def test_integers_and_booleans_are_converted_not_refused():
    net = Network(
        [np.eye(3, dtype=int), np.ones((3, 2), dtype=bool)], [[0, 1, 0], [1, 0]], hidden="tanh"
    )
    assert all(W.dtype == np.float64 for W in net.weights + net.biases)
    X, Y = np.arange(6).reshape(2, 3), np.zeros((2, 2), dtype=bool)
    g = backprop(net, X, Y)
    expected = backprop(net, X.astype(float), Y.astype(float))
    assert all(np.array_equal(a, b) for a, b in zip(g.flat(), expected.flat()))
