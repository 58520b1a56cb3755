"""reference.network: bad networks and data are refused with a message naming the argument; every message pinned."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import BUILTIN_ACTIVATIONS, TANH_NET, TANH_X, TANH_Y, ZERO_B, ZERO_W, big_logits

from reference import (
    Gradients,
    Network,
    ParameterLayout,
    backprop,
)

W = [np.zeros((3, 4)), np.zeros((4, 2))]


B = [np.zeros(4), np.zeros(2)]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(weights=W, biases=B[:1]), ValueError, "`weights` has 2 layers but `biases` has 1"),
        (
            dict(weights=[np.zeros((3, 4)), np.zeros((5, 2))], biases=[np.zeros(4), np.zeros(2)]),
            ValueError,
            "layer sizes do not chain: W^1 has shape (5, 2), so layer 0 would have 5 neurons, but W^0 has shape (3, 4)",
        ),
        (
            dict(weights=W, biases=[np.zeros(3), np.zeros(2)]),
            ValueError,
            "`biases[0]` (b^0) must have shape (4,) to match W^0 (3, 4), got (3,)",
        ),
        (
            dict(weights=[np.zeros((3, 4, 1)), W[1]], biases=B),
            ValueError,
            "`weights[0] (W^0)` must be a 2-D array, got 3-D with shape (3, 4, 1)",
        ),
        (
            dict(weights=[W[0], np.full((4, 2), np.nan)], biases=B),
            ValueError,
            "`weights[1] (W^1)` must be finite; entry (0, 0) is nan (shape (4, 2))",
        ),
        (
            dict(weights=[W[0], W[1]], biases=[B[0], np.array([1.0, np.inf])]),
            ValueError,
            "`biases[1] (b^1)` must be finite; entry 1 is inf (shape (2,))",
        ),
        (
            dict(weights=[W[0].astype(complex), W[1]], biases=B),
            TypeError,
            "`weights[0] (W^0)` must be real, got complex dtype complex128",
        ),
        (
            dict(weights=["abc", W[1]], biases=B),
            TypeError,
            "`weights[0] (W^0)` must be a numeric array, got a string",
        ),
        (
            dict(weights=[np.array([["a"]]), W[1]], biases=B),
            TypeError,
            "must be a numeric array, got dtype <U1",
        ),
        (
            dict(weights=np.zeros((3, 4)), biases=B),
            TypeError,
            "`weights` must be a list with one array per layer, got ndarray",
        ),
        (dict(weights=[], biases=[]), ValueError, "`weights` is empty"),
        (
            dict(weights=[np.zeros((0, 4))], biases=[np.zeros(4)]),
            ValueError,
            "`weights[0]` (W^0) has an empty shape (0, 4)",
        ),
        (
            dict(weights=W, biases=B, hidden="softmax"),
            ValueError,
            "hidden activation 'softmax' is not element-wise; it can only be the output activation",
        ),
        (
            dict(weights=W, biases=B, hidden="sigmoidd"),
            ValueError,
            "unknown hidden activation 'sigmoidd'; known activations:",
        ),
        (
            dict(weights=W, biases=B, cost="msq"),
            ValueError,
            "unknown cost 'msq'; known costs: categorical_cross_entropy, cross_entropy, mse, quadratic",
        ),
        (
            dict(weights=W, biases=B, output="tanh", cost="cross_entropy"),
            ValueError,
            "cost 'cross_entropy' reads the outputs as probabilities, which output activation 'tanh' does not give; use output='sigmoid'",
        ),
        (
            dict(weights=W, biases=B, output="relu", cost="categorical_cross_entropy"),
            ValueError,
            "use output='softmax' (allowed: softmax, sigmoid)",
        ),
        (
            dict(weights=W, biases=B, output="softmax", cost="cross_entropy"),
            ValueError,
            "for softmax outputs use cost='categorical_cross_entropy'",
        ),
        (
            dict(weights=W, biases=B, output="softplus", cost="categorical_cross_entropy"),
            ValueError,
            "which output activation 'softplus' does not give; use output='softmax'",
        ),
    ],
)
def test_network_validation_messages(kwargs, error, message):
    with pytest.raises(error) as info:
        Network(**kwargs)
    assert message in str(info.value)


NET = Network(W, B)


NET_CE = Network(W, B, output="sigmoid", cost="cross_entropy")


@pytest.mark.parametrize(
    "net, X, Y, error, message",
    [
        (
            NET,
            np.zeros((5, 4)),
            np.zeros((5, 2)),
            ValueError,
            "`X` has 4 columns (shape (5, 4)) but the network's input layer has n_in = 3 neurons; rows are examples, so X must be (d, 3)",
        ),
        (
            NET,
            np.zeros((5, 3)),
            np.zeros((4, 2)),
            ValueError,
            "`Y` must have shape (d, n_H) = (5, 2) to match `X` (5, 3) and the output layer's 2 neurons, got (4, 2)",
        ),
        (
            NET,
            np.zeros((0, 3)),
            np.zeros((0, 2)),
            ValueError,
            "`X` is an empty batch (shape (0, 3)); give at least one example",
        ),
        (
            NET,
            np.zeros(3),
            np.zeros(2),
            ValueError,
            "`X` must be a 2-D array, got 1-D with shape (3,)",
        ),
        (
            NET,
            np.zeros((2, 3, 1)),
            np.zeros((2, 2)),
            ValueError,
            "`X` must be a 2-D array, got 3-D",
        ),
        (
            NET,
            np.full((2, 3), np.nan),
            np.zeros((2, 2)),
            ValueError,
            "`X` must be finite; entry (0, 0) is nan",
        ),
        (
            NET,
            np.zeros((2, 3)),
            np.zeros((2, 2), dtype=complex),
            TypeError,
            "`Y` must be real, got complex dtype",
        ),
        (NET, "x", np.zeros((2, 2)), TypeError, "`X` must be a numeric array, got a string"),
        (
            NET,
            [[1, 2, 3], [4, 5]],
            np.zeros((2, 2)),
            TypeError,
            "`X` must be a numeric array; numpy could not convert it",
        ),
        (
            NET_CE,
            np.zeros((2, 3)),
            np.array([[0.0, 1.5], [0, 0]]),
            ValueError,
            "cost 'cross_entropy' needs targets in [0, 1]; Y[0,1] = 1.5 (Y has shape (2, 2))",
        ),
    ],
)
def test_data_validation_messages(net, X, Y, error, message):
    with pytest.raises(error) as info:
        backprop(net, X, Y)
    assert message in str(info.value)


def test_backprop_needs_a_network():
    with pytest.raises(TypeError, match="`net` must be a reference.Network, got list"):
        backprop([np.zeros((3, 4))], np.zeros((1, 3)), np.zeros((1, 4)))


def test_layout_locate_rejects_out_of_range():
    with pytest.raises(IndexError, match="flat index 13 out of range for 13 parameters"):
        ParameterLayout((2, 3, 1)).locate(13)


REFUSED = [
    pytest.param(
        lambda: Network((w for w in ZERO_W), ZERO_B),
        TypeError,
        "`weights` must be a list with one array per layer, got generator",
        id="Network-weights-generator",
    ),
    pytest.param(
        lambda: Network(ZERO_W, None),
        TypeError,
        "`biases` must be a list with one array per layer, got NoneType",
        id="Network-biases-None",
    ),
    pytest.param(
        lambda: Network([None, ZERO_W[1]], ZERO_B),
        TypeError,
        "`weights[0] (W^0)` must be a numeric array, got dtype object",
        id="Network-weight-None",
    ),
    pytest.param(
        lambda: Network([[[1.0, 2.0], [3.0]], ZERO_W[1]], ZERO_B),
        TypeError,
        "`weights[0] (W^0)` must be a numeric array; numpy could not convert it",
        id="Network-ragged",
    ),
    pytest.param(
        lambda: Network(ZERO_W, [np.zeros((4, 1)), ZERO_B[1]]),
        ValueError,
        "`biases[0] (b^0)` must be a 1-D array, got 2-D",
        id="Network-bias-2d",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ["abcd", ZERO_B[1]]),
        TypeError,
        "`biases[0] (b^0)` must be a numeric array, got a string",
        id="Network-bias-string",
    ),
    pytest.param(
        lambda: Network(ZERO_W, [ZERO_B[0] + 1j, ZERO_B[1]]),
        TypeError,
        "`biases[0] (b^0)` must be real, got complex dtype complex128",
        id="Network-bias-complex",
    ),
    pytest.param(
        lambda: Network([np.full((3, 4), -np.inf), ZERO_W[1]], ZERO_B),
        ValueError,
        "`weights[0] (W^0)` must be finite; entry (0, 0) is -inf",
        id="Network-weight-minus-inf",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, output="sofmax"),
        ValueError,
        "unknown output activation 'sofmax'; known activations: ",
        id="Network-output-unknown",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, hidden=3),
        TypeError,
        "`hidden activation` must be an activation name",
        id="Network-hidden-int",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, output=(np.tanh, "d")),
        TypeError,
        "`output activation` must be an activation name, an Activation or an (h, h_prime) "
        "pair of callables, got tuple",
        id="Network-output-pair-not-callable",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, cost=None),
        TypeError,
        "`cost` must be a cost name or a Cost, got NoneType",
        id="Network-cost-None",
    ),
    pytest.param(
        lambda: Network.random([3, 4.0, 2]),
        TypeError,
        "`sizes[1]` must be an integer, got 4.0",
        id="random-sizes-float",
    ),
    pytest.param(
        lambda: Network.random([3, True]),
        TypeError,
        "`sizes[1]` must be an integer, got True",
        id="random-sizes-bool",
    ),
    pytest.param(
        lambda: Network.random(None),
        TypeError,
        "`sizes` must be a sequence of layer widths",
        id="random-sizes-None",
    ),
    pytest.param(
        lambda: Network.random([3, -2]),
        ValueError,
        "`sizes[1]` must be a positive width, got -2",
        id="random-sizes-negative",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.zeros(3)),
        ValueError,
        "`theta` must have shape (26,)",
        id="with_flat-shape",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.full(26, np.nan)),
        ValueError,
        "`theta` must be finite",
        id="with_flat-nan",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.zeros(26, complex)),
        TypeError,
        "`theta` must be real",
        id="with_flat-complex",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.zeros((2, 13))),
        ValueError,
        "`theta` must be a 1-D array",
        id="with_flat-2d",
    ),
    pytest.param(
        lambda: TANH_NET.cost(TANH_X, TANH_Y, theta=np.zeros(3)),
        ValueError,
        "`theta` must have shape (26,)",
        id="cost-theta-shape",
    ),
    pytest.param(
        lambda: TANH_NET.cost(TANH_X, TANH_Y[:, :1]),
        ValueError,
        "`Y` must have shape (d, n_H) = (5, 2)",
        id="cost-Y-shape",
    ),
    pytest.param(
        lambda: TANH_NET.cost(TANH_X + 0j, TANH_Y),
        TypeError,
        "`X` must be real",
        id="cost-X-complex",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.zeros((5, 4))),
        ValueError,
        "`X` has 4 columns",
        id="forward-columns",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.zeros((0, 3))),
        ValueError,
        "`X` is an empty batch",
        id="forward-empty",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.zeros(3)),
        ValueError,
        "`X` must be a 2-D array",
        id="forward-1d",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.full((2, 3), np.inf)),
        ValueError,
        "`X` must be finite",
        id="forward-inf",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.array([[None] * 3])),
        TypeError,
        "`X` must be a numeric array, got dtype object",
        id="forward-object",
    ),
    pytest.param(
        lambda: TANH_NET.forward("X"),
        TypeError,
        "`X` must be a numeric array, got a string",
        id="forward-string",
    ),
    pytest.param(
        lambda: Gradients.from_flat(np.zeros(3), (3, 4, 2)),
        ValueError,
        "`theta` must have shape (26,)",
        id="from_flat-shape",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "call, known",
    [
        (lambda: Network(ZERO_W, ZERO_B, output="sofmax"), BUILTIN_ACTIVATIONS),
        (
            lambda: Network(ZERO_W, ZERO_B, cost="msq"),
            ["categorical_cross_entropy", "cross_entropy", "mse", "quadratic"],
        ),
    ],
    ids=["output", "cost"],
)
def test_an_unknown_name_is_refused_with_the_known_ones_listed(call, known):
    with pytest.raises(ValueError) as info:
        call()
    assert all(name in str(info.value) for name in known), str(info.value)


@pytest.mark.parametrize(
    "options, name",
    [
        (dict(seed=-1), "`seed`"),
        (dict(seed="a"), "`seed`"),
        (dict(scale=np.nan), "`scale`"),
        (dict(scale="x"), "`scale`"),
        (dict(scale=-1.0), "`scale`"),
    ],
)
def test_network_random_validates_seed_and_scale(options, name):
    with pytest.raises((ValueError, TypeError)) as info:
        Network.random([3, 2], **options)
    assert name in str(info.value)


@pytest.mark.parametrize(
    "theta",
    [np.array(["a"] * 26), np.array([None] * 26), np.full(26, np.nan)],
    ids=["strings", "objects", "nan"],
)
def test_network_cost_validates_theta(theta):
    with pytest.raises((ValueError, TypeError)) as info:
        TANH_NET.cost(TANH_X, TANH_Y, theta=theta)
    assert "`theta`" in str(info.value)


@pytest.mark.parametrize(
    "theta", [np.array(["a"] * 26), np.ones(26, complex)], ids=["strings", "complex"]
)
def test_gradients_from_flat_validates_theta(theta):
    with pytest.raises((ValueError, TypeError)) as info:
        Gradients.from_flat(theta, (3, 4, 2))
    assert "`theta`" in str(info.value)


def test_softmax_with_binary_cross_entropy_is_refused_with_a_hint():
    # Coupled softmax outputs scored as independent Bernoullis: a modelling error, refused.
    with pytest.raises(
        ValueError, match="for softmax outputs use cost='categorical_cross_entropy'"
    ):
        big_logits("cross_entropy", 30.0)
