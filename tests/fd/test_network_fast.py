"""gradcheck.fd.network's fast paths give the naive path's costs to rounding, point by point.

The fast paths (a column update for output-layer moves, a rank-1 update of
the next layer's `z`, one exp per sigmoid fused with the quadratic cost) are
compared with full forward passes at the very same perturbed points, on
every built-in activation and cost, for shallow and deep nets, real and
complex steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from _data import CONFIGS, targets

from gradcheck.fd.network import _cost_size, _CostEvaluator, network_numerical_gradient
from gradcheck.fd.noise import EPS
from reference import Network, backprop

SIZES = [(4, 6, 3), (4, 6, 5, 3)]
ULPS = 64  # both paths sum the same terms in different orders: a few ulps of the terms' size


def _evaluators(hidden, output, cost, sizes, seed=0):
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
    X, Y = rng.normal(size=(9, sizes[0])), targets(rng, cost, 9, sizes[-1])
    X, Y = net.check_data(X, Y)
    fast = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True)
    naive = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=False)
    return net, fast, naive, _cost_size(net, fast.fw, Y)


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_fast_costs_equal_naive_costs_to_rounding(hidden, output, cost, sizes):
    net, fast, naive, size = _evaluators(hidden, output, cost, sizes)
    index = np.arange(net.layout.size)
    for step in (1e-3, -(2.0**-10), 0.25):
        h = np.full(index.size, step)
        got, taken = fast.along(index, h)
        expected, taken_naive = naive.along(index, h)
        np.testing.assert_array_equal(taken, taken_naive)
        np.testing.assert_array_equal(fast.last_crossed, naive.last_crossed)
        usable = ~np.isnan(expected)
        np.testing.assert_array_equal(np.isnan(got), ~usable)
        np.testing.assert_allclose(got[usable], expected[usable], rtol=0, atol=ULPS * EPS * size)


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_fast_complex_steps_equal_naive_ones(hidden, output, cost):
    net, fast, naive, size = _evaluators(hidden, output, cost, (4, 6, 5, 3))
    index = np.arange(net.layout.size)
    h = np.full(index.size, 1e-20)
    got, _ = fast.along(index, h, imaginary=True)
    expected, _ = naive.along(index, h, imaginary=True)
    np.testing.assert_allclose(got.real, expected.real, rtol=0, atol=ULPS * EPS * size)
    np.testing.assert_allclose(got.imag, expected.imag, rtol=1e-10, atol=1e-300)


def test_one_exp_sigmoid_is_exact_where_its_exponent_is_large():
    # |z^H| above 20: e^z is huge or tiny; the fused form stays exact to rounding.
    net, fast, naive, size = _evaluators("tanh", "sigmoid", "quadratic", (4, 6, 3))
    big = Network(
        [net.weights[0], 40.0 * net.weights[1]], net.biases, hidden="tanh", output="sigmoid"
    )
    X, Y = fast.X, fast.Y
    fast = _CostEvaluator(big, X, Y, memory_limit=2**20, structured=True)
    naive = _CostEvaluator(big, X, Y, memory_limit=2**20, structured=False)
    assert fast.base.sigmoid_terms is not None and np.abs(fast.fw.Z[-1]).max() > 20
    index = np.arange(big.layout.size)
    h = np.full(index.size, 1e-3)
    np.testing.assert_allclose(
        fast.along(index, h)[0], naive.along(index, h)[0], rtol=0, atol=ULPS * EPS * size
    )


def test_the_default_takes_few_evaluations_and_stays_accurate():
    rng = np.random.default_rng(0)
    net = Network.random((8, 16, 4), hidden="tanh", output="sigmoid", seed=rng)
    X, Y = rng.normal(size=(16, 8)), rng.uniform(size=(16, 4))
    fd = network_numerical_gradient(net, X, Y)
    # the 4-point stencil for (almost) every entry, plus the noise probe
    assert fd.n_evaluations <= 5 * net.layout.size
    g = backprop(net, X, Y).flat()
    error = np.abs(fd.flat() - g)
    assert error.max() <= 1e-9 * np.abs(g).max()  # R1 at a wide step: far below central's
    assert (error <= fd.error.flat() + 1e-14 * np.abs(g).max()).all()  # and honest


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "-".join(map(str, s)))
def test_tanh_form_of_the_sigmoid_residual_equals_naive_costs(hidden, sizes):
    # Mid-range targets: sigma(z) - y = (tanh(z/2) + 1 - 2y) / 2, three passes fewer.
    rng = np.random.default_rng(3)
    net = Network.random(sizes, hidden=hidden, output="sigmoid", seed=rng)
    X, Y = rng.normal(size=(9, sizes[0])), rng.uniform(0.1, 0.9, size=(9, sizes[-1]))
    fast = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True)
    naive = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=False)
    assert fast.base.tanh_terms is not None
    size = _cost_size(net, fast.fw, Y)
    index = np.arange(net.layout.size)
    for step in (1e-3, -(2.0**-10), 0.25):
        h = np.full(index.size, step)
        np.testing.assert_allclose(
            fast.along(index, h)[0], naive.along(index, h)[0], rtol=0, atol=ULPS * EPS * size
        )


def test_tanh_form_is_refused_where_a_small_residual_meets_a_target_of_0_or_1():
    # One-hot targets that the net nearly fits: the tanh form would err by u absolutely
    # where the exp form errs relatively, so the exp form stays.
    rng = np.random.default_rng(4)
    net = Network.random((4, 6, 3), hidden="tanh", output="sigmoid", seed=rng)
    X = rng.normal(size=(9, 4))
    Y = np.eye(3)[rng.integers(3, size=9)]
    far = Network(
        net.weights[:-1] + [net.weights[-1]], net.biases[:-1] + [net.biases[-1] - 8.0],
        hidden="tanh", output="sigmoid",
    )  # fmt: skip
    fast = _CostEvaluator(far, X, Y, memory_limit=2**20, structured=True)
    assert np.abs(fast.base.R).min() < 2.0**-6  # a output near its target 0
    assert fast.base.sigmoid_terms is not None and fast.base.tanh_terms is None


def test_inputs_of_1e200_take_steps_their_weights_can_take():
    # W^0's natural step, 1e-3 / max|x|, is far below a spacing of W^0: such a step
    # is not taken at all (0/0). Steps of at least MIN_STEP_ULPS spacings measure the
    # saturated sigmoid's flat cost: dJ/dW^0 = 0, honestly, and no warning.
    import warnings

    from gradcheck import check_backprop_at

    rng = np.random.default_rng(0)
    net = Network.random([3, 4, 2], seed=0)
    X, Y = rng.normal(size=(5, 3)) * 1e200, rng.uniform(size=(5, 2))
    g = backprop(net, X, Y).flat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd = network_numerical_gradient(net, X, Y)
        report = check_backprop_at(lambda W, b, X_, Y_: backprop(Network(W, b), X_, Y_), net, X, Y)
    assert np.all(np.isfinite(fd.flat())) and np.all(np.abs(fd.flat() - g) <= fd.error.flat())
    np.testing.assert_array_equal(fd.flat()[:12], 0.0)  # W^0: sigma'(z) = 0 at |z| ~ 1e200
    assert report.passed
