"""reference.network: networks as people write them (an activation per hidden layer, parameterised activations, the l2 penalty)."""

from __future__ import annotations

import numpy as np
import pytest

from reference import (
    Network,
    backprop,
)


def _batch(net, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d, net.sizes[0])), rng.normal(size=(d, net.sizes[-1]))


def test_one_activation_per_hidden_layer():
    from reference import ACTIVATIONS, backprop_examples, backprop_loops, forward_pass

    net = Network.random([3, 4, 5, 2], hidden=["relu", "tanh"], output="identity", seed=1)
    assert [a.name for a in net.activations] == ["relu", "tanh", "identity"]
    assert net.hidden is ACTIVATIONS["relu"] and net.hidden_name == ["relu", "tanh"]
    assert repr(net).startswith("Network(sizes=[3, 4, 5, 2], hidden=['relu', 'tanh']")
    X, Y = _batch(net)
    fw = net.forward(X)
    np.testing.assert_array_equal(fw.A[0], np.maximum(fw.Z[0], 0))
    np.testing.assert_array_equal(fw.A[1], np.tanh(fw.Z[1]))
    g = backprop(net, X, Y).flat()
    for form in (backprop_examples, backprop_loops):
        np.testing.assert_allclose(form(net, X, Y).flat(), g, rtol=1e-12, atol=1e-15)
    same = net.with_flat(net.flat())
    assert same.hidden_name == ["relu", "tanh"] and same.output.name == "identity"
    # a tuple of names is per layer too; output=None means the last hidden activation
    other = Network(net.weights, net.biases, hidden=("tanh", "sigmoid"))
    assert [a.name for a in other.activations] == ["tanh", "sigmoid", "sigmoid"]
    assert forward_pass(net.weights, net.biases, net.activations, X).output.shape == (6, 2)


def test_a_pair_and_a_name_with_parameters_still_mean_every_hidden_layer():
    W = [np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 1))]
    b = [np.zeros(3), np.zeros(3), np.zeros(1)]
    pair = Network(W, b, hidden=(np.tanh, lambda z: 1 - np.tanh(z) ** 2), output="identity")
    assert pair.hidden_layers is None and len({a.name for a in pair.activations[:-1]}) == 1
    leaky = Network(W, b, hidden=("leaky_relu", {"slope": 0.2}), output="identity")
    assert [a.name for a in leaky.activations] == ["leaky_relu(slope=0.2)"] * 2 + ["identity"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(hidden=["relu"]),
            ValueError,
            "`hidden` lists 1 activation but the network has H = 2 hidden layers; give one per "
            "hidden layer, or one name for all",
        ),
        (dict(hidden=["relu", "tanh", "tanh"]), ValueError, "`hidden` lists 3 activations"),
        (
            dict(hidden=["relu", "swish"]),
            ValueError,
            "unknown hidden activation of layer 1 'swish'",
        ),
        (
            dict(hidden=["relu", "softmax"]),
            ValueError,
            "hidden activation 'softmax' is not element-wise; it can only be the output activation "
            "(output=...), not hidden layer 1",
        ),
        (
            dict(hidden="tanh", output="softmax", cost="mse"),
            ValueError,
            "cost 'mse' with output activation 'softmax' makes no sense",
        ),
        (dict(l2=-0.1), ValueError, "`l2` must be a non-negative finite number, got -0.1"),
        (dict(l2=float("inf")), ValueError, "`l2` must be a non-negative finite number, got inf"),
        (dict(l2="0.1"), TypeError, "`l2` must be a non-negative finite number, got '0.1'"),
        (dict(l2=True), TypeError, "`l2` must be a non-negative finite number, got True"),
    ],
)
def test_validation_of_the_new_options(kwargs, error, message):
    with pytest.raises(error) as info:
        Network.random([3, 4, 4, 2], **kwargs)
    assert message in str(info.value)


def test_no_hidden_layer_with_an_empty_list_needs_the_output_named():
    with pytest.raises(ValueError, match="`hidden` is an empty list \\(no hidden layer\\)"):
        Network.random([3, 2], hidden=[])
    assert Network.random([3, 2], hidden=[], output="tanh").activations[0].name == "tanh"


def test_l2_penalty_in_the_cost_and_lam_W_in_every_form_of_backprop():
    from gradcheck import numerical_gradient
    from reference import backprop_examples, backprop_loops

    lam = 0.3
    net = Network.random([3, 4, 2], hidden="tanh", output="identity", l2=lam, seed=3)
    plain = Network(net.weights, net.biases, hidden="tanh", output="identity")
    X, Y = _batch(net)
    penalty = lam / 2 * sum((W**2).sum() for W in net.weights)  # weights only
    assert net.cost(X, Y) == pytest.approx(plain.cost(X, Y) + penalty, rel=1e-15)
    assert net.l2 == lam and "l2=0.3" in repr(net) and net.with_flat(net.flat()).l2 == lam
    g, g0 = backprop(net, X, Y), backprop(plain, X, Y)
    for L in range(2):
        np.testing.assert_allclose(g.weights[L], g0.weights[L] + lam * net.weights[L], rtol=1e-14)
        np.testing.assert_array_equal(g.biases[L], g0.biases[L])  # the biases are not penalised
    for form in (backprop_examples, backprop_loops):
        np.testing.assert_allclose(form(net, X, Y).flat(), g.flat(), rtol=1e-12, atol=1e-15)
    numerical = numerical_gradient(lambda t: net.cost(X, Y, theta=t), net.flat())
    np.testing.assert_allclose(g.flat(), numerical.gradient, rtol=1e-8, atol=1e-10)
