"""gradcheck.tolerance.independent: the backprops kept apart from `reference` on purpose agree with it."""

from __future__ import annotations

import numpy as np
import pytest
from _data import CONFIGS, problem
from _helpers import TANH_NET, TANH_X, TANH_Y

from gradcheck.tolerance import independent
from gradcheck.tolerance.compare import rounding_tolerance
from gradcheck.tolerance.independent import (
    SequentialSums,
    equation_deltas,
    extended_backprop,
    independent_backprop,
    perturbed_backprop,
    stochastic_backprop,
)
from reference import Network, backprop


def _case(hidden, output, cost, sizes=(4, 6, 5, 3), d=6, seed=0):
    return problem(hidden, output, cost, sizes, d, seed)


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_equation_deltas_average_to_the_reference_gradient(hidden, output, cost):
    net, X, Y = _case(hidden, output, cost)
    Delta, g = equation_deltas(net, X, Y), backprop(net, X, Y)
    for L in range(net.H + 1):
        a_prev = X if L == 0 else net.forward(X).A[L - 1]
        np.testing.assert_allclose(
            a_prev.T @ Delta[L] / len(X), g.weights[L], rtol=1e-13, atol=1e-16
        )
        np.testing.assert_allclose(Delta[L].mean(axis=0), g.biases[L], rtol=1e-13, atol=1e-16)


def test_equation_deltas_by_hand():
    # 1-1 identity net, quadratic cost: delta^0 = a - y = w x + b - y, per example
    net = Network([np.array([[2.0]])], [np.array([0.5])], hidden="identity")
    X, Y = np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])
    (Delta,) = equation_deltas(net, X, Y)
    np.testing.assert_array_equal(Delta, [[2.5], [5.5]])


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_independent_backprop_agrees_with_the_reference(hidden, output, cost, dtype):
    net, X, Y = _case(hidden, output, cost)
    candidate = independent_backprop(
        net.hidden.name, net.output.name, net.cost_function.name, dtype
    )
    dW, db = candidate(net.weights, net.biases, X, Y)
    g = backprop(net, X, Y)
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    for L in range(net.H + 1):
        assert dW[L].dtype == dtype and db[L].dtype == dtype
        scale = max(np.abs(g.weights[L]).max(), np.abs(g.biases[L]).max(), 1e-300)
        assert np.abs(dW[L] - g.weights[L]).max() <= rtol * scale * 10, L
        assert np.abs(db[L] - g.biases[L]).max() <= rtol * scale * 10, L


def test_equation_deltas_validation_messages():
    net, X, Y = _case("tanh", None, "quadratic")
    with pytest.raises(ValueError, match="`X` has 2 columns"):
        equation_deltas(net, X[:, :2], Y)
    with pytest.raises(TypeError, match="`net` must be a reference.Network, got str"):
        equation_deltas("net", X, Y)


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: equation_deltas(TANH_NET, TANH_X, TANH_Y[:3]),
        ValueError,
        "`Y` must have shape (d, n_H) = (5, 2)",
        id="equation_deltas-Y-shape",
    ),
    pytest.param(
        lambda: equation_deltas("net", TANH_X, TANH_Y),
        TypeError,
        "`net` must be a reference.Network, got str",
        id="equation_deltas-net",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


# ------------------------------------------------------ the extended true gradient


def test_extended_backprop_is_exact_where_sigmoid_saturates():
    # one sigmoid unit at z = 50: h' = e^-50 / (1 + e^-50)^2; a (1 - a) would give 0
    net = Network([np.array([[1.0]])], [np.array([0.0])], hidden="sigmoid")
    X, Y = np.array([[50.0]]), np.array([[0.0]])
    g = extended_backprop(net, X, Y)
    assert g.dtype == np.longdouble
    assert float(g[1]) == pytest.approx(np.exp(-50.0), rel=1e-15)
    assert float(g[1]) == pytest.approx(backprop(net, X, Y).flat()[1], rel=1e-14)


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "softplus", "elu"])
def test_extended_and_perturbed_backprop_agree_with_the_reference_within_its_tolerance(hidden):
    net = Network.random([4, 6, 3], hidden=hidden, output="softmax", seed=7)
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(6, 4)), rng.dirichlet(np.ones(3), size=6)
    tol = rounding_tolerance(net, X, Y, np.float64)
    for g in (
        extended_backprop(net, X, Y),
        perturbed_backprop(net, X, Y, seed=1),
        stochastic_backprop(net, X, Y, seed=1),
    ):
        assert np.all(np.abs(g - backprop(net, X, Y).flat()) <= tol)
    assert not np.array_equal(perturbed_backprop(net, X, Y, seed=1), extended_backprop(net, X, Y))


def test_extended_backprop_refuses_a_longdouble_no_wider_than_float64(monkeypatch):
    monkeypatch.setattr(independent, "EXTENDED_EPS", 1e-30)
    net = Network.random([2, 2], seed=0)
    with pytest.raises(RuntimeError, match="np.longdouble is no wider than float64"):
        extended_backprop(net, np.ones((1, 2)), np.zeros((1, 2)))


def test_stochastic_rounding_picks_a_neighbouring_float64_and_the_exact_one_when_near():
    rng = np.random.default_rng(0)
    u = np.longdouble(2.0**-53)
    x = np.longdouble(1) + u * np.array([0.3, 0.5, 0.9, 1.3], dtype=np.longdouble)
    draws = np.array([independent._stochastic_round(x, rng) for _ in range(200)])
    spacing = np.longdouble(2.0**-52)  # float64 spacing just above 1
    assert set(np.unique(draws)) <= {np.longdouble(1), 1 + spacing}
    assert 0.3 < (draws == 1).mean(axis=0)[0] < 0.7  # either neighbour (faithful rounding)
    # within 1/EXACT_NEAR of a spacing from a float64: always that float64 (libm saturates)
    near = np.longdouble(1) - np.longdouble(2.0**-53) / (2 * independent.EXACT_NEAR)
    assert all(independent._stochastic_round(np.array([near]), rng)[0] == 1 for _ in range(50))


def test_stochastic_backprop_takes_h_prime_by_the_cancelling_formula():
    # a sigmoid unit at z = 60 (a rounds to 1): a (1 - a) = 0, where extended gives e^-60;
    # at z = 33 (1 - a ~ 4.7e-15, a few ulps): a faithful rounding of a errs by ~u in h'.
    net = Network([np.array([[1.0]])], [np.array([0.0])], hidden="sigmoid")
    far = stochastic_backprop(net, np.array([[60.0]]), np.array([[0.0]]), seed=0)
    assert float(far[1]) == 0.0
    true = float(extended_backprop(net, np.array([[33.0]]), np.array([[0.0]]))[1])
    near = [
        stochastic_backprop(net, np.array([[33.0]]), np.array([[0.0]]), seed=s) for s in range(8)
    ]
    errors = [abs(float(g[1]) - true) for g in near]
    assert 0 < max(errors) < 4 * 2.0**-53 and max(errors) > 1e-3 * true


def test_stochastic_backprop_rounds_the_intermediates_of_a_derivative_formula_in_float64():
    # softplus' h' = (1 + tanh(z / 2)) / 2 at z = -32 is 1.3e-14: tanh(-16) rounds in float64
    # by up to half an ulp of 1, an error of ~1e-2 of h', which float64 code makes and
    # longdouble did not (the soak's seed 15001546: a floor of what correct code does 40
    # times below it, and a bug the tolerance rightly passed counted as a miss)
    net = Network(
        [np.array([[1.0]]), np.array([[1.0]])], [np.array([0.0]), np.array([0.0])],
        hidden="softplus", output="identity",
    )  # fmt: skip
    X, Y = np.array([[-32.0], [-31.3], [-32.6]]), np.array([[1.0], [2.0], [0.5]])
    true = extended_backprop(net, X, Y)
    runs = [stochastic_backprop(net, X, Y, seed=s) for s in range(4)]
    relative = max(abs(float(g[0] - true[0]) / float(true[0])) for g in runs)  # dJ/dW^0
    assert 1e-4 < relative < 0.1


def test_sequential_sums_add_one_term_at_a_time_in_float64():
    rng = np.random.default_rng(3)
    P, Q = rng.normal(size=(3, 40)), rng.normal(size=(40, 5))
    sums = SequentialSums(0)
    product = sums.matmul(P, Q)
    assert product.shape == (3, 5)
    np.testing.assert_allclose(product, P @ Q, rtol=0, atol=40 * 2.0**-53 * (abs(P) @ abs(Q)).max())
    # 4,000 equal terms: a loop rounds the same way at every step of a binade, and errs by
    # far more than numpy's pairwise sum (the coherent case the tolerance holds whole):
    # 2.2e-11 against 5.7e-14
    x = np.full((1, 4000), 0.1)
    loop = float(sums.total(x, 1)[0, 0])
    assert loop == sum(x[0].tolist())  # what a Python (or C) loop gives
    assert abs(loop - 400.0) > 100 * abs(float(x.sum()) - 400.0) > 0


def test_sequential_sums_in_sorted_order_add_every_term_of_one_sign_first():
    x = np.array([[0.5, -3.0, 2.0, -0.25, 1.0]])
    for order, first in (("descending", 2.0), ("ascending", -3.0)):
        sums = SequentialSums(0, order=order)
        sorted_terms = np.sort(x[0])[:: -1 if order == "descending" else 1]
        assert sorted_terms[0] == first
        assert float(sums.total(x, 1)[0, 0]) == float(np.cumsum(sorted_terms)[-1])
    with pytest.raises(ValueError, match="`order` must be one of"):
        SequentialSums(0, order="backwards")
