"""gradcheck.diagnosis.variants: the reference's backprop with equations broken, and what is done with it.

With the defaults the variant is the reference; each wrapper is a known change of the right
gradient; each unknown switch is refused with a message naming it.
"""

from __future__ import annotations

import numpy as np
import pytest
from _configs import ALL_CONFIGS, DEEP, SHALLOW, SIG, SIG_L2, SOFTMAX_CCE, SQUARE, case

from gradcheck.diagnosis.variants import (
    LEARNING_RATE,
    backprop_variant,
    dW_transposed,
    gradients_swapped,
    is_builtin,
    layers_reversed,
    mean_over_outputs,
    on_rows,
    sign_flipped,
    updated_weights,
)
from reference import ACTIVATIONS, Activation, backprop


def test_variant_with_defaults_is_the_reference():
    for config in ALL_CONFIGS:
        for sizes in (DEEP, SHALLOW, SQUARE):
            net, X, Y = case(config, sizes, 3)
            np.testing.assert_allclose(
                backprop_variant(net, X, Y).flat(),
                backprop(net, X, Y).flat(),
                rtol=1e-13,
                atol=1e-16,
            )


def test_what_is_done_with_the_right_gradient():
    net, X, Y = case(SIG_L2, DEEP, 1)
    g = backprop(net, X, Y)
    n_H = net.sizes[-1]
    np.testing.assert_allclose(sign_flipped(net, X, Y).flat(), -g.flat(), rtol=1e-13)
    np.testing.assert_allclose(
        mean_over_outputs(net, X, Y).flat(), 2.0 / n_H * g.flat(), rtol=1e-13
    )
    swapped = gradients_swapped(net, X, Y)
    assert [a.shape for a in swapped.weights] == [b.shape for b in g.biases]
    reversed_ = layers_reversed(net, X, Y)
    np.testing.assert_allclose(reversed_.weights[0], g.weights[-1], rtol=1e-13)
    transposed = dW_transposed(net, X, Y)
    for dW_T, dW in zip(transposed.weights, g.weights, strict=True):
        np.testing.assert_allclose(dW_T, dW.T, rtol=1e-13)
    step = updated_weights(net, X, Y)
    np.testing.assert_allclose(
        step.weights[0], net.weights[0] - LEARNING_RATE * g.weights[0], rtol=1e-13
    )
    np.testing.assert_allclose(updated_weights(net, X, Y, eta=0.0).flat(), net.flat())


@pytest.mark.parametrize("rows, index", [("first", slice(0, 1)), ("last", slice(-1, None))])
def test_on_rows_is_the_gradient_of_one_example(rows, index):
    net, X, Y = case(SIG, DEEP, 2)
    expected = backprop(net, X[index], Y[index]).flat()
    np.testing.assert_allclose(on_rows(rows, net, X, Y).flat(), expected, rtol=1e-13)


def test_on_rows_mean_is_the_gradient_at_the_mean_example():
    net, X, Y = case(SIG, DEEP, 2)
    mean = backprop(net, X.mean(axis=0, keepdims=True), Y.mean(axis=0, keepdims=True))
    np.testing.assert_allclose(on_rows("mean", net, X, Y).flat(), mean.flat(), rtol=1e-13)


def test_is_builtin_tells_a_builtin_from_a_custom_activation_of_the_same_name():
    assert is_builtin(ACTIVATIONS["sigmoid"], "sigmoid", "tanh")
    assert not is_builtin(ACTIVATIONS["relu"], "sigmoid", "tanh")
    sigmoid = ACTIVATIONS["sigmoid"]
    custom = Activation("sigmoid", sigmoid.h, sigmoid.h_prime)
    assert not is_builtin(custom, "sigmoid")


@pytest.mark.parametrize(
    "switch, message",
    [
        ({"average": "some"}, "unknown average 'some' or dW_uses 'a^{L-1}'"),
        ({"dW_uses": "z^L"}, "unknown average 'all' or dW_uses 'z^L'"),
        ({"penalty": "lam b"}, "unknown penalty 'lam b'"),
        ({"dJ_da": "y-a"}, "unknown dJ/da 'y-a'"),
        ({"output_factor": "h''(z)"}, "unknown derivative factor \"h''(z)\""),
        ({"recursion": "W^{L+2}"}, "unknown recursion 'W^{L+2}'"),
        ({"output_factor": "h'(a)"}, "activation 'softmax' is not element-wise; it has no h'"),
    ],
)
def test_an_unknown_switch_is_refused_by_name(switch, message):
    net, X, Y = case(SOFTMAX_CCE, DEEP, 0)
    with pytest.raises(ValueError) as info:
        backprop_variant(net, X, Y, **switch)
    assert str(info.value) == message
