"""gradcheck.diagnosis.diagnose: scale and place without a variant (a constant times the reference, some blocks wrong)."""

from __future__ import annotations

import numpy as np
import pytest
from _configs import (
    DEEP,
    SIG,
    SOFTMAX_CCE,
    TANH_ID,
    D,
    case,
)
from _student_zoo import (
    HiddenHPrimeMissing,
    LastOnly,
    Student,
    Summed,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.diagnosis.diagnose import SCALED, diagnose
from reference import (
    Gradients,
    backprop,
)


def test_a_bug_times_a_constant_is_named_with_the_constant():
    """Overwrote instead of accumulated, then divided by d: the last example's gradient / d."""

    class LastOverD(LastOnly):
        def average(self, sum_W, sum_b, d):
            return Student.average(self, sum_W, sum_b, d)

    for config in (SIG, SOFTMAX_CCE):
        net, X, Y = case(config, DEEP, 0)
        (found, *_) = diagnose(LastOverD(*config)(net, X, Y), net, X, Y)
        assert found.bug.name == "last_example_only"
        assert found.scale == pytest.approx(1 / D)
        assert "all times c (c = 1/d = 0.2; d = 5)" in str(found)


def test_two_bugs_at_once_summed_and_h_prime_missing():
    class Both(HiddenHPrimeMissing, Summed):
        pass

    net, X, Y = case(SIG, DEEP, 0)
    (found, *_) = diagnose(Both(*SIG)(net, X, Y), net, X, Y)
    assert (found.bug.name, found.layers) == ("hidden_h_prime_missing", (0, 1))
    assert found.scale == pytest.approx(D)


@pytest.mark.parametrize("c, text", [(1 / D, "1/d = 0.2"), (0.37, "0.37"), (-D, "-d = -5")])
def test_the_gradient_as_a_constant_times_the_reference(c, text):
    net, X, Y = case(SIG, DEEP, 1)
    R = backprop(net, X, Y)
    g = Gradients([c * W for W in R.weights], [c * b for b in R.biases])
    (found,) = diagnose(g, net, X, Y)
    assert found.bug is SCALED and found.scale == pytest.approx(c)
    assert str(found).startswith(f"the gradient is c times the reference (c = {text}")


@settings(deadline=None, derandomize=True, max_examples=25)
@given(
    c=st.floats(-50, 50).filter(lambda c: abs(c - 1) > 1e-3 and abs(c) > 1e-3),
    seed=st.integers(0, 5),
)
def test_any_constant_times_the_reference_is_recognised(c, seed):
    net, X, Y = case(SOFTMAX_CCE, DEEP, seed)
    R = backprop(net, X, Y)
    found = diagnose(Gradients([c * W for W in R.weights], [c * b for b in R.biases]), net, X, Y)
    assert len(found) >= 1
    hypothesis = found[0].scale * np.array(found[0].bug.gradient(net, X, Y).flat())
    np.testing.assert_allclose(hypothesis, c * R.flat(), rtol=1e-9, atol=1e-15)


def test_one_block_scaled():
    net, X, Y = case(TANH_ID, DEEP, 0)
    R = backprop(net, X, Y)
    g = Gradients([R.weights[0], 0.5 * R.weights[1], R.weights[2]], R.biases)
    (found,) = diagnose(g, net, X, Y)
    assert found.bug.name == "blocks_scaled" and found.layers == (1,)
    assert str(found).startswith("dJ/dW^1 is 1/2 times the reference; the other blocks are right")


@pytest.mark.parametrize(
    "blocks, start, layers",
    [
        ([1, 3, 5], "only bias gradients are wrong (dJ/db^0, dJ/db^1, dJ/db^2)", (0, 1, 2)),
        ([0, 4], "only weight gradients are wrong (dJ/dW^0, dJ/dW^2)", (0, 2)),
        ([2, 3], "only layer 1 is wrong (dJ/dW^1, dJ/db^1)", (1,)),
        (
            [0, 1, 2, 3],
            "dJ/dW^H and dJ/db^H are right but dJ/dW^0, dJ/db^0, dJ/dW^1, dJ/db^1 are wrong",
            (0, 1),
        ),
        ([3], "only dJ/db^1 is wrong", (1,)),
    ],
)
def test_only_some_blocks_wrong(blocks, start, layers):
    net, X, Y = case(SIG, DEEP, 0)
    flat = [*backprop(net, X, Y).weights, *backprop(net, X, Y).biases]
    C = [W.copy() for W in flat]
    order = [0, 3, 1, 4, 2, 5]  # blocks W^0, b^0, W^1, ... -> index into C
    rng = np.random.default_rng(0)
    for k in blocks:
        C[order[k]] = C[order[k]] + rng.normal(size=C[order[k]].shape)
    (found,) = diagnose(Gradients(C[:3], C[3:]), net, X, Y)
    assert found.bug.name == "wrong_blocks" and found.layers == layers
    assert str(found).startswith(start)


def test_a_constant_near_one_is_printed_with_enough_digits_to_be_true():
    net, X, Y = case(SIG, DEEP, 1)
    R = backprop(net, X, Y)
    (found,) = diagnose(
        Gradients([1.0005 * W for W in R.weights], [1.0005 * b for b in R.biases]), net, X, Y
    )
    assert "(c = 1.0005)" in str(found)


def _layers_scaled(net, X, Y, c, layers):
    R = backprop(net, X, Y)
    return Gradients(
        [c * W if L in layers else W for L, W in enumerate(R.weights)],
        [c * b if L in layers else b for L, b in enumerate(R.biases)],
    )


def test_a_layer_never_computed_is_called_all_zeros_in_the_recursion():
    net, X, Y = case(SIG, DEEP, 0)  # a loop over layers one short: dJ/dW^0, dJ/db^0 stay zeros
    (found,) = diagnose(_layers_scaled(net, X, Y, 0.0, {0}), net, X, Y)
    text = str(found)
    assert text.startswith("dJ/dW^0 and dJ/db^0 are all zeros while layer 1 is right")
    assert "never computed" in text and "times the reference" not in text
    assert (found.cause().equation, found.layers) == ("recursion", (0,))


def test_a_factor_confined_to_the_lower_layers_is_located_in_the_recursion():
    net, X, Y = case(SIG, DEEP, 0)  # a custom backward halving grad_input below layer 2
    (found,) = diagnose(_layers_scaled(net, X, Y, 0.5, {0, 1}), net, X, Y)
    assert str(found).startswith(
        "dJ/dW^0 and dJ/db^0 and dJ/dW^1 and dJ/db^1 are 1/2 times the reference while layer 2 "
        "is right: delta^2 is right and delta^1 is off by that factor, so the recursion into "
        "layer 1 carries it"
    )
    assert (found.cause().equation, found.layers) == ("recursion", (0, 1))


def test_a_weight_block_of_zeros_is_called_all_zeros():
    net, X, Y = case(SIG, DEEP, 0)
    R = backprop(net, X, Y)
    g = Gradients([R.weights[0], 0 * R.weights[1], R.weights[2]], R.biases)
    (found,) = diagnose(g, net, X, Y)
    assert str(found).startswith("dJ/dW^1 is all zeros; the other blocks are right")


def test_a_transposed_square_weight_gradient_is_called_transposed():
    net, X, Y = case(SIG, [3, 4, 4, 2], 0)  # W^1 is 4 x 4: a transposed dJ/dW^1 keeps its shape
    R = backprop(net, X, Y)
    g = Gradients([R.weights[0], R.weights[1].T, R.weights[2]], R.biases)
    (found,) = diagnose(g, net, X, Y)
    assert str(found).startswith("dJ/dW^1 is transposed: it equals the reference's transpose")
    assert (found.cause().equation, found.layers) == ("dJ/dW", (1,))


def test_a_square_weight_gradient_wrong_otherwise_is_not_called_transposed():
    net, X, Y = case(SIG, [3, 4, 4, 2], 0)
    R = backprop(net, X, Y)
    g = Gradients([R.weights[0], R.weights[1] + 1.0, R.weights[2]], R.biases)
    assert all("transposed" not in str(found) for found in diagnose(g, net, X, Y))
