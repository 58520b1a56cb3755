"""gradcheck.tolerance.saturation: cancelling formulas near saturation, their losses bounded linearly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gradcheck.oracle.backprop import check_backprop_at
from gradcheck.tolerance.saturation import (
    SATURATED,
    in_zone,
    saturation_loss,
    systematic_bounds,
    zone_bound,
)
from reference import Gradients, Network, backprop


def _saturated_net(depth: float) -> tuple[Network, np.ndarray, np.ndarray]:
    """Sigmoid hidden unit 0 at z = depth for every example (h' = e^-depth); unit 1 mid-range."""
    rng = np.random.default_rng(5)
    X = rng.uniform(0.5, 1.5, size=(6, 3))
    W0 = np.zeros((3, 2))
    W0[:, 1] = rng.normal(size=3) * 0.3
    b0 = np.array([depth, 0.1])
    net = Network(
        [W0, rng.normal(size=(2, 2))], [b0, np.zeros(2)], hidden="sigmoid", output="sigmoid"
    )
    return net, X, rng.uniform(0.2, 0.8, size=(6, 2))


@pytest.mark.parametrize("depth", [30.0, 60.0, 200.0])
def test_a_cancelling_h_prime_passes_at_any_depth_of_saturation(depth):
    # a (1 - a): u-sized errors in the zone (z = 30), exactly 0 beyond it (z = 60, 200)
    from gradcheck.tolerance.independent import independent_backprop

    net, X, Y = _saturated_net(depth)
    candidate = independent_backprop("sigmoid", "sigmoid", "quadratic", np.float64)
    assert check_backprop_at(candidate, net, X, Y).passed


@pytest.mark.parametrize("depth", [60.0, 200.0])
def test_a_deeply_saturated_block_is_held_to_its_own_size_not_to_u(depth):
    # Unit 0's entries are e^-depth times O(1): a correct code gives them, or 0 where a
    # rounds to 1, so the loss bound is their whole size (the sum of the examples'
    # |delta|), no more; the tolerance is twice it (the reference's own rounding must not tip
    # a correct 0), and a move of three times it fails (an error of u |W delta| passed).
    net, X, Y = _saturated_net(depth)
    g = backprop(net, X, Y).flat()
    loss = saturation_loss(net, X, Y, 2.0**-53)
    unit0 = np.array([0, 2, 4, 6])  # W^0[:, 0] and b^0[0]
    assert (np.abs(g[unit0]) <= loss[unit0]).all() and (loss[unit0] < 4 * np.abs(g[unit0])).all()
    assert (np.delete(loss, unit0) == 0).all()
    for j in unit0:
        for sign in (-1.0, 1.0):
            wrong = g.copy()
            wrong[j] += sign * 3 * loss[j]
            bad = Gradients.from_flat(wrong, net.sizes)
            report = check_backprop_at(lambda *a, bad=bad: (bad.weights, bad.biases), net, X, Y)
            assert not report.passed, (j, sign)
    zeroed = g.copy()
    zeroed[unit0] = 0.0  # what a (1 - a) gives
    ok = Gradients.from_flat(zeroed, net.sizes)
    assert check_backprop_at(lambda *a: (ok.weights, ok.biases), net, X, Y).passed


def test_a_float32_tanh_through_its_last_ulps_passes():
    # numpy's float32 tanh returns 1 - ulp where 1 - tanh(z) is ~u/8: 1 - a^2 is then an
    # ulp-sized error, not 0; z^0 sweeps that zone and beyond.
    from gradcheck.tolerance.independent import independent_backprop

    X = np.linspace(6.0, 12.0, 40).reshape(-1, 1)
    net = Network(
        [np.ones((1, 1)), np.ones((1, 1))], [np.zeros(1), np.zeros(1)], hidden="tanh",
        output="sigmoid",
    )  # fmt: skip
    Y = np.full((40, 1), 0.3)
    candidate = independent_backprop("tanh", "sigmoid", "quadratic", np.float32)
    assert check_backprop_at(candidate, net, X, Y).passed


def test_a_tied_softmax_row_is_not_read_as_saturated():
    # a zero-initialised output layer gives equal a_k: no a_k is 1, whatever the tie
    from gradcheck.tolerance.saturation import softmax_rest

    rest, saturated, others = softmax_rest(np.full((2, 4), 0.25), 2.0**-53)
    assert not saturated.any()
    np.testing.assert_allclose(others, 0.75)
    np.testing.assert_allclose(rest, 0.75)
    rest, saturated, _ = softmax_rest(np.array([[1.0, 1e-300, 1e-300]]), 2.0**-53)
    assert saturated.tolist() == [[True, False, False]] and rest[0, 0] == 2e-300


U = 2.0**-53


def test_in_zone_is_at_or_above_u_over_saturated():
    distance = np.array([0.0, U / SATURATED / 2, U / SATURATED, 1e-3])
    assert in_zone(distance, U).tolist() == [False, False, True, True]


def test_nothing_saturated_loses_nothing():
    net = Network.random([3, 4, 2], hidden="tanh", output="identity", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)) * 0.1, rng.normal(size=(5, 2))
    assert (saturation_loss(net, X, Y, U) == 0).all()
    assert (zone_bound(net, X, Y, U) > 0).any()  # the zone bound is a worst case of any tanh
    deep, zone = systematic_bounds(net, X, Y, U)
    np.testing.assert_array_equal(deep, saturation_loss(net, X, Y, U))
    np.testing.assert_array_equal(zone, zone_bound(net, X, Y, U))


def test_a_softmax_rounded_to_one_loses_g_k_times_the_other_outputs_too():
    # delta^H_k = a_k (g_k - s) = (1 - a_k) g_k - sum_{n != k} a_n g_n exactly: with a_k
    # rounded to 1 (float32: 1 - 1e-12), both terms are lost, not only the second
    from gradcheck.tolerance.saturation import _softmax_sum_loss

    net = Network.random([1, 2], output="softmax", cost="quadratic", seed=0)
    A, Y = np.array([[1 - 1e-12, 1e-12]]), np.array([[0.2, 0.7]])
    loss = _softmax_sum_loss(net, A, Y, 2.0**-24)
    g = A - Y
    assert loss[0, 0] == pytest.approx(1e-12 * (abs(g[0, 0]) + abs(g[0, 1])), rel=1e-12, abs=0)
    assert loss[0, 1] == 0.0


def test_an_element_wise_fused_deltas_error_depends_on_its_own_target_only():
    # sigmoid + cross-entropy: delta^H_k = a_k - y_k. The seed 12003151 (issue 22), 43 outputs:
    # the row's 1 + sum |y| (= 22) multiplied every output's error, and the tolerance of a
    # cancelling W^0 column was 34 times a bug no correct float64 backprop comes near.
    from gradcheck.tolerance.compare import rounding_tolerance
    from gradcheck.tolerance.saturation import fused_sensitivity

    net = Network.random([3, 2, 40], hidden="tanh", output="sigmoid", cost="cross_entropy", seed=4)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 3))
    Y = rng.uniform(size=(5, 40))
    Y_far = Y.copy()
    Y_far[:, 1:] = 1.0  # every other output's target at its largest
    np.testing.assert_array_equal(fused_sensitivity(net, Y), np.ones_like(Y))
    bias = net.layout.blocks[-1][1]  # b^H: one output's delta each, averaged over the batch
    tol, tol_far = (rounding_tolerance(net, X, T, np.float64)[bias][0] for T in (Y, Y_far))
    assert tol_far == pytest.approx(tol, rel=0.05)
    categorical = Network(
        net.weights, net.biases, hidden="tanh", output="sigmoid", cost="categorical_cross_entropy"
    )
    np.testing.assert_array_equal(fused_sensitivity(categorical, Y), Y)  # y (a - 1)


def test_a_zone_loss_travels_through_the_signed_weights_where_no_hidden_a_loses():
    # identity hidden layers: delta^0 = W^1 W^2 delta^2, and W^1 W^2 = [[2], [0]]. The output's
    # a (1 - a) errs by u, which reaches b^0[0] twice and b^0[1] not at all; |W| paths said 2
    # for both (the soak's seed 12007439: 46 where the signed product was 2.1)
    W = [np.array([[0.5, 0.3]]), np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([[1.0], [1.0]])]
    b = [np.zeros(2), np.zeros(2), np.zeros(1)]
    net = Network(W, b, hidden="identity", output="sigmoid", cost="quadratic")
    X, Y = np.array([[0.7]]), np.array([[0.1]])
    u = 2.0**-53
    _, b0, _ = net.layout.blocks[1]
    bound = zone_bound(net, X, Y, u)[b0]
    assert bound[0] > 0 and bound[1] == 0.0


@pytest.mark.parametrize(
    "output, cost, Z, allowed",
    [  # a sigmoid at 1 - 8e-53, and a softmax row whose other output is e^-800 of it
        ("sigmoid", "categorical_cross_entropy", [[120.0]], 1e-40),
        ("sigmoid", "cross_entropy", [[120.0]], 2.5 * 2.0**-53),  # a - y: y's rounding stays
        ("softmax", "categorical_cross_entropy", [[0.0, -800.0]], 2.5 * 2.0**-53),
    ],
)
def test_a_fused_output_exactly_at_1_is_allowed_its_lost_rest_not_u(output, cost, Z, allowed):
    # every correct code's a is exactly 1 there: a sum(y) and a - 1 are exact, and delta^H
    # errs by its true value, ~1e-53 (softmax's sum(y) may round: u |y| stays). The model
    # counted 3u (a's rounding twice and y's share), 100 times any correct rounding behind it
    # (the soak's seeds 13003484, 13010193)
    from gradcheck.tolerance.compare import rounding_tolerance
    from gradcheck.tolerance.saturation import exact_outputs, output_distance
    from reference import forward_pass

    Z = np.array(Z)
    net = Network([np.eye(Z.shape[1])], [np.zeros(Z.shape[1])], output=output, cost=cost)
    Y = np.zeros_like(Z)
    Y[0, 0] = 1.0
    fw = forward_pass(net.weights, net.biases, net.activations, Z)
    u = 2.0**-53
    assert exact_outputs(net, fw, u)[0, 0] and fw.A[0][0, 0] == 1.0
    b_H = net.layout.blocks[-1][1]
    tolerance = rounding_tolerance(net, Z, Y, np.float64)[b_H][0]
    assert tolerance < allowed
    if output == "sigmoid":  # 1 - a without cancellation, and a correct code's 0 passes
        assert output_distance(net, fw)[0, 0] == pytest.approx(np.exp(-120.0), rel=1e-12)
        assert tolerance >= np.exp(-120.0)
    # the same output 1e-6 below 1 rounds in the last digits of a - 1: u counts there
    near = np.array([[0.0, -13.8]]) if output == "softmax" else np.array([[13.8]])
    fw = forward_pass(net.weights, net.biases, net.activations, near)
    assert not exact_outputs(net, fw, u).any()
    assert rounding_tolerance(net, near, Y, np.float64)[b_H][0] > u


def test_slopes_wrong_at_several_saturated_layers_in_a_row_compound_and_pass():
    # float32 tanh at z ~ 9 to 10 is 1 - ulp: 1 - a^2 = 1.19e-7 where sech^2(z) is 1e-8 to 2e-8,
    # an error 6 to 10 times h' itself at each of three layers, so the errors multiply (the
    # candidate's W^0 is 120 times the reference's). First-order bounds carried each error
    # down through the exact slope (excess 4.5); the products of the errors are held now, in
    # the random walk and in the zone's worst case (the soak's seed 14008395).
    from gradcheck.tolerance.independent import independent_backprop

    X = np.linspace(8.5, 9.5, 12).reshape(-1, 1)
    b = [np.zeros(1), np.full(1, 8.6), np.full(1, 8.8), np.zeros(1)]
    net = Network([np.ones((1, 1))] * 4, b, hidden="tanh", output="sigmoid")
    Y = np.full((12, 1), 0.3)
    candidate = independent_backprop("tanh", "sigmoid", "quadratic", np.float32)
    dW, _ = candidate(net.weights, net.biases, X, Y)
    assert abs(dW[0][0, 0]) > 50 * abs(backprop(net, X, Y).weights[0][0, 0])  # the premise
    assert check_backprop_at(candidate, net, X, Y).passed
    # and a slip as large as the reference's entry itself, in a healthy entry, still fails
    g = backprop(net, X, Y)
    wrong = Gradients([W.copy() for W in g.weights], [v.copy() for v in g.biases])
    wrong.weights[3][0, 0] *= 1.001
    assert not check_backprop_at(lambda *a: (wrong.weights, wrong.biases), net, X, Y).passed


def test_the_zone_follows_the_libms_accuracy_and_only_inside_the_block():
    from gradcheck.tolerance.policy import LIBM_ULPS, XLA_LIBM_ULPS, ZONE_ULPS
    from gradcheck.tolerance.saturation import libm_accuracy, zone_ulps
    from reference import ACTIVATIONS, get_activation

    tanh = ACTIVATIONS["tanh"]
    assert zone_ulps(tanh) == (LIBM_ULPS, 2 * LIBM_ULPS + 0.5)
    with libm_accuracy(XLA_LIBM_ULPS):
        assert zone_ulps(tanh) == (XLA_LIBM_ULPS, 2 * XLA_LIBM_ULPS + 0.5)
        assert zone_ulps(ACTIVATIONS["sigmoid"])[0] == XLA_LIBM_ULPS
    assert zone_ulps(tanh)[0] == LIBM_ULPS  # reset on leaving
    # a sigmoid's own formulas err by 1.5 u near 1 whatever the libm; a user's copy of tanh,
    # formulas unseen, by ZONE_ULPS at least
    with libm_accuracy(0.5):
        assert zone_ulps(ACTIVATIONS["sigmoid"]) == (1.5, 2.0)
    mine = dataclasses.replace(get_activation("tanh"), name="my_tanh")
    assert min(zone_ulps(mine)) >= ZONE_ULPS
    for bad in (0, -1.0, float("nan"), "7"):
        with pytest.raises(ValueError, match="`ulps` must be a positive number"):
            with libm_accuracy(bad):
                pass


def test_a_wider_libm_widens_the_tolerance_most_where_units_saturate():
    from gradcheck.tolerance.compare import rounding_tolerance
    from gradcheck.tolerance.saturation import libm_accuracy

    rng = np.random.default_rng(3)
    net = Network.random([3, 6, 2], hidden="tanh", output="sigmoid", seed=3, scale=6.0)
    X, Y = 4 * rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    numpy_libm = rounding_tolerance(net, X, Y, np.float64)
    with libm_accuracy(7.0):
        xla = rounding_tolerance(net, X, Y, np.float64)
    assert np.all(xla >= numpy_libm) and np.any(xla > 1.5 * numpy_libm)
    # the zone's absolute error is every `a`'s (crude away from the bounds, where a libm errs
    # relatively), so a calm net widens too, by less than twice
    calm = Network.random([3, 6, 2], hidden="tanh", output="identity", seed=3, scale=0.01)
    with libm_accuracy(7.0):
        wide = rounding_tolerance(calm, X, Y, np.float64)
    np.testing.assert_allclose(wide, rounding_tolerance(calm, X, Y, np.float64), rtol=1.0)


def test_a_code_that_flushes_a_subnormal_activation_loses_its_product_and_passes():
    # float32: a^0 ~ 3e-39 is subnormal (tiny = 1.2e-38) and delta^1 ~ 1e3, so dJ/dW^1 ~ 3e-36,
    # a normal number that code under FTZ/DAZ returns as 0: more than SAFETY * tiny (3.8e-37),
    # all the tolerance allowed there before (the soak's seed 55006477: a float32 softplus
    # a^2 below tiny, W^3[0,0] = 9.5e-37 returned as 0, excess 2.5)
    from gradcheck.tolerance.faithful import flushed_candidate
    from gradcheck.tolerance.saturation import smallest_normal

    tiny = float(np.finfo(np.float32).tiny)
    assert smallest_normal(2.0**-24) == tiny and smallest_normal(2.0**-53) == np.finfo(float).tiny
    rng = np.random.default_rng(4)  # relu: a^0 errs relatively (tanh's zone allows u of it)
    weights = [1e-39 * rng.uniform(1, 2, size=(2, 3)), rng.uniform(0.5, 1, size=(3, 2))]
    net = Network(weights, [np.zeros(3), np.full(2, 0.5)], hidden="relu", output="identity")
    X, Y = np.ones((1, 2)), np.full((1, 2), 1e3)
    reference = backprop(net, X, Y)
    assert np.abs(reference.weights[1]).max() > 4e-37  # normal, from a subnormal a^0 in float32
    candidate = flushed_candidate("relu", "identity", "quadratic", np.float32)
    dJ_dW, dJ_db = candidate(net.weights, net.biases, X, Y)
    assert np.all(dJ_dW[1] == 0)  # failed with excess 8 before
    assert check_backprop_at(candidate, net, X, Y).passed

    def slipped(weights, biases, X_, Y_):  # ... and a slip in an entry of normal size fails
        dW, db = candidate(weights, biases, X_, Y_)
        return dW, [db[0], db[1] * np.float32(1.001)]

    assert not check_backprop_at(slipped, net, X, Y).passed


def _saturated_pair(z=(45.0, 48.0)):
    """Two sigmoid outputs at `z` (|z| >= 45: h' ~ 1e-20, below u / SATURATED: every
    cancelling h' returns 0), fed by one identity hidden unit whose two outgoing weights make
    its delta cancel exactly: delta^0_0 = W^1[0,0] delta^1_0 + W^1[0,1] delta^1_1 = 0."""
    z = np.array(z)
    h = np.exp(-np.abs(z))  # sigmoid'(z) for large |z|, to ~1e-20 relative
    y = np.array([0.3, 0.6])
    d1 = (np.where(z > 0, 1.0, 0.0) - y) * h  # (a - y) h'
    w = np.array([[d1[1], -d1[0]]]) / np.abs(d1).max()  # W^1[0, :]: the two paths cancel
    weights = [np.array([[1.0]]), w]
    biases = [np.zeros(1), z - w[0] * 0.5]  # z^1 = 0.5 w + b = the chosen z
    net = Network(weights, biases, hidden="identity", output="sigmoid")
    return net, np.array([[0.5]]), y[None, :]


def test_deep_saturation_loses_each_sides_deltas_all_or_none_so_the_loss_cancels_as_they_do():
    # (the soak's seed 55005438: a cancelling column behind five saturated sigmoid outputs had a
    # deep loss of 3e-19 as |J| magnitudes, where every correct code errs by 4.2e-28 at most)
    net, X, Y = _saturated_pair()
    g = backprop(net, X, Y).flat()
    names = [net.layout.name(j) for j in range(net.layout.size)]
    W0, b1 = names.index("W^0[0,0]"), names.index("b^1[0]")
    assert abs(g[W0]) < 1e-30 * abs(g[b1])  # the two paths cancel
    loss = saturation_loss(net, X, Y, 2.0**-53)
    assert loss[b1] >= abs(g[b1])  # each output's delta is lost whole ...
    assert loss[W0] <= 2 * abs(g[W0]) + 1e-300  # ... and, all together, cancels below
    # an output on each side of saturation is lost apart (1 / (1 + e^-z) loses only near 1):
    # there the paths' losses add, however the deltas cancel
    net, X, Y = _saturated_pair((45.0, -48.0))
    g = backprop(net, X, Y).flat()
    assert abs(g[W0]) < 1e-30 * abs(g[b1])
    loss = saturation_loss(net, X, Y, 2.0**-53)
    sides = np.abs(net.weights[1][0] * g[[b1, names.index("b^1[1]")]])  # |W^1_0k delta^1_k|
    assert loss[W0] >= 0.99 * X[0, 0] * sides.sum()
