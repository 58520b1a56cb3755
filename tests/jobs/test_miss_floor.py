"""gradcheck.jobs.miss_floor: what correct float64 code does, measured without the oracle's
tolerance, and the broken candidates no checker can tell from it."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.jobs import soak
from gradcheck.jobs.miss_floor import miss_floor, undetectable
from gradcheck.jobs.soak import broken_case, correct_case
from gradcheck.oracle.backprop import check_backprop_at
from gradcheck.tolerance.faithful import directed_backprop, flushed_backprop
from gradcheck.tolerance.policy import FLOOR_FACTOR, FLOOR_ULPS
from reference import Gradients, Network, backprop


def test_miss_floor_is_the_actual_float64_error_of_the_true_gradient():
    net = Network.random([4, 6, 3], hidden="tanh", seed=5)
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    g_true, floor = miss_floor(net, X, Y)
    assert g_true.dtype == np.longdouble and floor.dtype == np.float64
    error = np.abs(backprop(net, X, Y).flat() - g_true).astype(np.float64)
    assert np.all(error <= floor / FLOOR_FACTOR)
    eps = float(np.finfo(np.float64).eps)
    assert np.all(floor >= FLOOR_FACTOR * FLOOR_ULPS * eps * np.abs(g_true).astype(np.float64))
    assert np.all(floor <= 1e-13 * np.abs(g_true).max())  # a few ulps, not a tolerance


def test_a_sign_flip_of_a_gradient_that_is_pure_rounding_is_undetectable():
    # The soak's network of seed 1000002: a softmax saturated by |z| ~ 60, whose gradient
    # is 1e-26; a float64 softmax correct to one ulp (a_k = 1 - 2^-53, not 1) turns it
    # into 1e-16 (perturbed_backprop does): no checker can tell -g from g
    net, X, Y, _ = soak._network(np.random.default_rng([1000002, 2]))
    g = backprop(net, X, Y)
    assert np.abs(g.flat()).max() < 1e-20
    flipped = Gradients([-W for W in g.weights], [-b for b in g.biases])
    assert undetectable(flipped, net, X, Y)


def test_an_entry_off_by_one_millionth_of_its_block_is_never_undetectable_on_a_plain_net():
    net = Network.random([4, 6, 3], hidden="sigmoid", seed=6)
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(9, 4)), rng.uniform(size=(9, 3))
    g_true, floor = miss_floor(net, X, Y)
    theta = backprop(net, X, Y).flat()
    for _, block, _ in net.layout.blocks:
        assert np.all(1e-6 * np.abs(theta[block]).max() > floor[block])


def test_a_gradient_of_other_shapes_is_never_undetectable():
    # a soak crash once: dJ/dW^L of shape (N, M) or (N, N) under the same `sizes`
    net = Network.random([3, 5, 2], seed=8)
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    g = backprop(net, X, Y)
    transposed = Gradients([W.T for W in g.weights], g.biases)
    assert not undetectable(transposed, net, X, Y)
    assert undetectable(g, net, X, Y)


@pytest.mark.parametrize(
    "seed, regime, why",
    [
        # W^0 (17 x 1) is x_i delta^0, delta^0 a pure cancellation (true entries ~1e-16):
        # the eight correct backprops err by 4.6e-18 r.m.s., the bug by 4.1e-17 = 9.0 of them
        (12006771, "cancelling", "a cancelling W^0 column off by 9 r.m.s. roundings"),
        # b^0[0] = 1.36e-13: the reference itself errs by 3.5e-15, 1.6 of the model's standard
        # deviations; r.m.s. 2.6e-15, the bug 3.5e-14 = 13.7 of them
        (12006006, "deep-saturated", "b^0 off by 13.7 r.m.s. roundings"),
    ],
)
def test_an_error_inside_safety_times_the_spread_of_correct_rounding_is_undetectable(
    seed, regime, why
):
    # issue 22: a tolerance allows SAFETY standard deviations of correct rounding even if it
    # knew their spread exactly; FLOOR_FACTOR x the largest of eight draws claimed 6 to 8
    case = broken_case(seed, regime)
    assert case is not None and case.undetectable, why
    g_true, floor = miss_floor(case.net, case.X, case.Y)
    wrong = Gradients(*case.candidate(case.net.weights, case.net.biases, case.X, case.Y))
    error = np.abs(wrong.flat() - g_true).astype(np.float64)
    j = int(np.argmax(error / floor))
    assert error[j] > FLOOR_FACTOR * np.abs(
        backprop(case.net, case.X, case.Y).flat()[j] - g_true[j]
    )
    correct = correct_case(seed, regime)
    assert check_backprop_at(correct.candidate, correct.net, correct.X, correct.Y).passed


def test_the_floor_never_sits_below_the_worst_faithful_codes_error():
    # seed 34011714 (elu, a sigmoid output in its zone, one example): the code whose libm rounds
    # every result one way errs by 1.01 times the slip's size; sampled code by a quarter of it
    case = broken_case(34011714, "classic")
    assert case is not None
    net, X, Y = case.net, case.X, case.Y
    g_true, floor = miss_floor(net, X, Y)
    for upward in (True, False):
        error = np.abs(directed_backprop(net, X, Y, upward=upward, ulps=1.5) - g_true)
        assert np.all(error.astype(np.float64) <= floor)


def test_the_floor_never_sits_below_the_error_of_code_that_flushes_subnormals():
    # FTZ/DAZ code is correct code the oracle passes (SAFETY * tiny below the smallest normal
    # number): a net whose dJ/dW^1 is subnormal in float64, which such code returns as 0
    tiny = float(np.finfo(np.float64).tiny)
    scale = np.sqrt(tiny) * 1e-3
    rng = np.random.default_rng(3)
    weights = [scale * rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]
    net = Network(weights, [np.zeros(4), scale * 100 * rng.standard_normal(2)], hidden="tanh")
    X, Y = rng.standard_normal((5, 3)), np.zeros((5, 2))
    g_true, floor = miss_floor(net, X, Y)
    flushed_error = np.abs(flushed_backprop(net, X, Y) - g_true).astype(np.float64)
    assert flushed_error.max() > 0 and np.all(flushed_error <= floor)
    # so a candidate that drops those subnormal entries is no miss
    g = backprop(net, X, Y)
    dropped = Gradients([g.weights[0], 0 * g.weights[1]], g.biases)
    assert undetectable(dropped, net, X, Y)
