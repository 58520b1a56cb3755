"""reference.loops: the index form of backprop, worked by hand and against the batch form."""

from __future__ import annotations

import numpy as np
import pytest

from reference import Network, backprop
from reference.loops import backprop_loops


def test_known_answer_worked_by_hand():
    # one neuron, identity, quadratic: z = 3 * 2 + 1 = 7 = a, delta = a - y = 7,
    # dJ/dw = a_prev delta = 14, dJ/db = 7; with l2 = 0.5, dJ/dw gains lam w = 1.5
    for l2, dW in ((0.0, 14.0), (0.5, 15.5)):
        net = Network([np.array([[3.0]])], [np.array([1.0])], hidden="identity", l2=l2)
        g = backprop_loops(net, np.array([[2.0]]), np.array([[0.0]]))
        assert g.weights[0].tolist() == [[dW]] and g.biases[0].tolist() == [7.0]


def test_the_average_over_the_batch():
    net = Network([np.array([[1.0]])], [np.array([0.0])], hidden="identity")
    g = backprop_loops(net, np.array([[1.0], [3.0]]), np.zeros((2, 1)))
    # delta_i = x_i, dJ/dw = mean(x_i^2) = 5, dJ/db = mean(x_i) = 2
    assert g.weights[0].tolist() == [[5.0]] and g.biases[0].tolist() == [2.0]


@pytest.mark.parametrize(
    "hidden, output, cost",
    [
        ("tanh", "sigmoid", "cross_entropy"),  # fused a - y
        ("relu", "softmax", "categorical_cross_entropy"),  # fused a sum(y) - y
        ("tanh", "sigmoid", "categorical_cross_entropy"),  # -y (1 - a)
        ("sigmoid", "softmax", "quadratic"),  # the Jacobian of softmax
        ("elu", "identity", "mse"),
    ],
)
def test_each_output_delta_agrees_with_the_batch_form(hidden, output, cost):
    net = Network.random([3, 4, 3], hidden=hidden, output=output, cost=cost, l2=0.1, seed=2)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(4, 3))
    Y = np.eye(3)[[0, 2, 1, 1]] if "entropy" in cost else rng.normal(size=(4, 3))
    np.testing.assert_allclose(
        backprop_loops(net, X, Y).flat(), backprop(net, X, Y).flat(), rtol=1e-12, atol=1e-15
    )


def test_bad_data_is_refused_like_backprop():
    net = Network.random([3, 2], seed=0)
    with pytest.raises(ValueError, match=r"^`X` has 2 columns"):
        backprop_loops(net, np.zeros((4, 2)), np.zeros((4, 2)))


def test_backprop_loops_takes_a_constant_h_prime_of_shape_1_and_refuses_vectors_per_neuron():
    # h'(Z) of shape (1,) broadcasts to any Z (the network's checks accept it); the loop
    # form calls h' at one z at a time and takes its one entry.
    import numpy as np
    import pytest

    from reference import Activation, Network, backprop, backprop_loops

    constant = Activation("double", lambda z: 2.0 * z, lambda z: np.array([2.0]))
    net = Network.random([3, 4, 2], hidden=constant, output="sigmoid", seed=0)
    X, Y = np.linspace(-1, 1, 6).reshape(2, 3), np.full((2, 2), 0.25)
    np.testing.assert_allclose(
        backprop_loops(net, X, Y).flat(), backprop(net, X, Y).flat(), rtol=1e-12, atol=1e-15
    )
    from reference.loops import _scalar

    with pytest.raises(ValueError, match=r"activation 'double': h_prime\(z\) at one float64 z"):
        _scalar(np.ones(3), constant, "h_prime")
