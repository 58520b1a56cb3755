"""gradcheck.tolerance.faithful: the worst faithful codes err as a faithful libm may, and pass."""

from __future__ import annotations

import numpy as np
import pytest
from _data import CONFIGS, problem

from gradcheck.oracle.backprop import check_backprop_at
from gradcheck.tolerance import faithful, independent
from gradcheck.tolerance.faithful import (
    directed_backprop,
    directed_candidate,
    worst_faithful_codes,
    worst_faithful_errors,
)
from gradcheck.tolerance.independent import extended_backprop, stochastic_backprop
from reference import Gradients, Network, backprop


def _case(hidden, output, cost, sizes=(4, 6, 5, 3), d=6, seed=0):
    return problem(hidden, output, cost, sizes, d, seed)


def test_directed_rounding_takes_the_neighbour_on_one_side_however_near_it_is():
    spacing = np.longdouble(2.0**-52)  # float64 spacing just above 1
    x = np.longdouble(1.5) + spacing * np.array([0.3, 0.001, 0.999], dtype=np.longdouble)
    up = faithful._directed_round(x, True)
    down = faithful._directed_round(x, False)
    assert np.all(up == np.longdouble(1.5) + spacing) and np.all(down == np.longdouble(1.5))
    # ... except right at the bounds +-1, which numpy's tanh returns exactly when that near
    near = np.array([np.longdouble(1) - np.longdouble(2.0**-53) / (2 * independent.EXACT_NEAR)])
    assert faithful._directed_round(near, False)[0] == 1


def test_directed_rounding_at_one_and_a_half_ulps_goes_as_far_as_that_allows():
    # LIBM_ULPS: the tolerance passes a libm erring by 1.5 ulps (numpy's tanh errs by 1.16)
    spacing = np.longdouble(2.0**-52)
    x = np.longdouble(1.5) + spacing * np.array([0.3, 0.7], dtype=np.longdouble)
    up = faithful._directed_round(x, True, 1.5)
    down = faithful._directed_round(x, False, 1.5)
    assert np.all(np.abs(up - x) <= 1.5 * spacing) and np.all(np.abs(down - x) <= 1.5 * spacing)
    assert up[0] == np.longdouble(1.5) + spacing  # the next one up would be 1.7 spacings off
    assert up[1] == np.longdouble(1.5) + 2 * spacing  # 1.3 spacings above the true value
    assert down[0] == np.longdouble(1.5) - spacing and down[1] == np.longdouble(1.5)
    # never past the bounds a tanh returns exactly
    near = np.array([np.longdouble(1) - np.longdouble(2.0**-53) * 0.3])
    assert faithful._directed_round(near, True, 1.5)[0] <= 1


def test_directed_backprop_aligns_the_roundings_a_typical_code_averages_out():
    # ten saturated sigmoid outputs at z = -34 .. -30 (a ~ 1e-15 .. 1e-13, via 1 + tanh(z / 2),
    # which cancels): each a errs by up to u / 2 absolutely, and the bias gradient sums them
    net = Network([np.array([[1.0]])], [np.array([0.0])], hidden="sigmoid")
    X = np.linspace(-34.0, -30.0, 10)[:, None]
    Y = np.full((10, 1), 0.5)
    true = float(extended_backprop(net, X, Y)[1])
    up, down = (float(directed_backprop(net, X, Y, upward=u)[1]) for u in (True, False))
    assert up != down and (up - true) * (down - true) < 0  # one each side of the truth
    typical = max(abs(float(stochastic_backprop(net, X, Y, seed=s)[1]) - true) for s in range(4))
    assert min(abs(up - true), abs(down - true)) > 2 * typical


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_the_worst_faithful_code_passes_the_oracle(hidden, output, cost):
    net, X, Y = _case(hidden, output, cost)
    for upward in (True, False):
        names = (net.hidden.name, net.output.name, net.cost_function.name)
        candidate = directed_candidate(*names, upward=upward)
        assert check_backprop_at(candidate, net, X, Y).passed, (names, upward)


def test_the_worst_faithful_code_for_an_entry_errs_more_than_any_other_tried():
    # a saturated sigmoid output (a ~ 1e-13 via 1 + tanh(z / 2), which cancels) fed by two tanh
    # units with weights of opposite signs: for W^1[0,0] the results' effects differ in sign
    # across examples and units, so rounding all one way partly cancels (2.7e-18) where the
    # worst code for the entry picks each neighbour by its effect's sign (1.4e-17), and random
    # roundings average out (6e-22)
    net = Network(
        [np.array([[1.0, -1.0]]), np.array([[1.0], [-1.0]])],
        [np.array([0.0, 0.0]), np.array([-30.0])],
        hidden="tanh", output="sigmoid",
    )  # fmt: skip
    X = np.linspace(-3.0, 3.0, 10)[:, None]
    Y = np.full((10, 1), 0.5)
    true = extended_backprop(net, X, Y)
    j = 4  # W^1[0,0]
    assert net.layout.name(j) == "W^1[0,0]"
    worst = worst_faithful_errors(net, X, Y, true, [j])
    assert worst is not None
    directed = max(abs(float(directed_backprop(net, X, Y, upward=u)[j] - true[j])) for u in (1, 0))
    sampled = max(abs(float(stochastic_backprop(net, X, Y, seed=s)[j] - true[j])) for s in range(4))
    assert worst[0] > 3 * directed and worst[0] > 1000 * sampled


def test_the_worst_faithful_codes_are_real_codes_one_ulp_from_the_nearest_results():
    net, X, Y = _case("sigmoid", "softmax", "categorical_cross_entropy", d=3)
    nearest = faithful._run(net, X, Y, {})[0]
    ((up, down),) = worst_faithful_codes(net, X, Y, [0])
    for g in (up, down):  # a few roundings' worth from the nearest-rounding code, never more
        assert np.all(np.abs(g - nearest) <= 1e-12 * np.abs(backprop(net, X, Y).flat()).max())
    assert worst_faithful_codes(net, X, Y, [0], runs=10) is None  # past the budget: no answer


@pytest.mark.parametrize("hidden, output, cost", CONFIGS[::3])
def test_the_worst_faithful_codes_pass_the_oracle(hidden, output, cost):
    net, X, Y = _case(hidden, output, cost, d=3)
    reference = backprop(net, X, Y).flat()
    entries = np.argsort(-np.abs(reference))[:2]
    codes = worst_faithful_codes(net, X, Y, entries)
    assert codes is not None
    for pair in codes:
        for g in pair:
            worst = Gradients.from_flat(g, net.sizes)

            def candidate(weights, biases, X_, Y_, worst=worst):
                return worst.weights, worst.biases

            assert check_backprop_at(candidate, net, X, Y).passed


def test_the_other_sigmoid_formula_errs_by_an_ulp_of_one_where_the_tanh_form_errs_by_half():
    z = np.linspace(-38.0, -30.0, 81)
    true = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    other = np.abs(faithful.OTHER_FORMULAS["sigmoid"][0](z) - true).astype(np.float64)
    tanh_form = np.abs(independent.FORMULAS["sigmoid"][0](z) - true).astype(np.float64)
    u = 2.0**-53
    assert other.max() <= 1.5 * u and tanh_form.max() <= 0.75 * u
    assert other.max() > 2 * tanh_form.max() > 0


def _underflowing(dtype=np.float64):
    """A tanh net whose dJ/dW^1 = a^0 delta^1 is subnormal in `dtype`: a^0 ~ 1e-157 (1e-22 in
    float32), delta^1 ~ 1e-155 (1e-20), every other stored value normal."""
    tiny = float(np.finfo(dtype).tiny)
    scale = np.sqrt(tiny) * 1e-3
    rng = np.random.default_rng(3)
    weights = [scale * rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]
    biases = [np.zeros(4), scale * 100 * rng.standard_normal(2)]
    net = Network(weights, biases, hidden="tanh")
    return net, rng.standard_normal((5, 3)), np.zeros((5, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_code_that_flushes_subnormals_returns_zero_where_they_are_and_passes(dtype):
    # FTZ and DAZ (gcc's -ffast-math on x86, CUDA's fast math): a correct code the oracle passes
    net, X, Y = _underflowing(dtype)
    reference = backprop(net, X, Y)
    tiny = np.finfo(dtype).tiny
    assert 0 < np.abs(reference.weights[1]).max() < tiny  # subnormal in dtype, normal in float64
    candidate = faithful.flushed_candidate("tanh", "tanh", "quadratic", dtype)
    dJ_dW, dJ_db = candidate(net.weights, net.biases, X, Y)
    assert np.all(dJ_dW[1] == 0) and dJ_dW[1].dtype == dtype
    assert np.abs(dJ_dW[0]).max() > 0 and np.all(np.abs(dJ_db[1]) >= tiny)  # normal: kept
    report = check_backprop_at(candidate, net, X, Y)
    assert report.passed, str(report)

    # ... and no looser where nothing underflows: a slip there still fails
    def slipped(weights, biases, X_, Y_):
        dW, db = candidate(weights, biases, X_, Y_)
        return dW, [db[0] * (1 + 1e-3), db[1]]

    assert not check_backprop_at(slipped, net, X, Y).passed


def test_the_flushed_backprop_errs_by_the_subnormal_entries_it_drops():
    net, X, Y = _underflowing()
    truth = extended_backprop(net, X, Y)
    flushed = faithful.flushed_backprop(net, X, Y)
    W1 = next(block for name, block, _ in net.layout.blocks if name == "W^1")
    assert flushed.dtype == np.longdouble
    assert np.all(flushed[W1] == 0)
    assert np.allclose(np.abs(flushed - truth)[W1].astype(float), np.abs(truth[W1]).astype(float))
