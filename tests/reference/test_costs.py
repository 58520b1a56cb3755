"""reference.costs: dJ/da against the complex step, fused forms equal the general path."""

from __future__ import annotations

import numpy as np
import pytest

import reference.costs
from reference import (
    ACTIVATIONS,
    COSTS,
    FUSED_FORMS,
    get_cost,
    output_delta,
)

rng = np.random.default_rng(0)
A = rng.uniform(0.05, 0.95, (6, 4))
Y = rng.uniform(0.0, 1.0, (6, 4))


@pytest.mark.parametrize("name", list(COSTS))
def test_dJ_da_equals_complex_step_of_J(name):
    cost = COSTS[name]
    step = 1e-30
    for k in range(A.shape[1]):
        dA = np.zeros_like(A, dtype=complex)
        dA[:, k] = 1j * step
        np.testing.assert_allclose(
            cost.dJ_da(A, Y)[:, k], cost.J(A + dA, Y).imag / step, rtol=1e-13
        )


def test_quadratic_is_half_squared_norm():
    assert COSTS["quadratic"].J(np.array([[3.0, 1.0]]), np.array([[0.0, 0.0]]))[0] == 5.0


@pytest.mark.parametrize("pair", list(FUSED_FORMS))
def test_fused_forms_equal_the_general_path(pair):
    output, cost = ACTIVATIONS[pair[0]], COSTS[pair[1]]
    Z = rng.normal(size=(6, 4)) * 2
    T = Y / Y.sum(axis=1, keepdims=True) if output.name == "softmax" else Y
    A_H = output.h(Z)
    fused = output_delta(Z, A_H, T, output, cost, fused=True)
    general = output_delta(Z, A_H, T, output, cost, fused=False)
    np.testing.assert_allclose(fused, general, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(FUSED_FORMS[pair].J_from_z(Z, T), cost.J(A_H, T), rtol=1e-12)


@pytest.mark.parametrize("pair", list(FUSED_FORMS))
def test_fused_forms_are_finite_where_the_general_path_is_not(pair):
    output = ACTIVATIONS[pair[0]]
    Z = np.array([[1e3, -1e3], [-800.0, 900.0]])
    T = np.array([[0.0, 1.0], [1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        J = FUSED_FORMS[pair].J_from_z(Z, T)
        delta = FUSED_FORMS[pair].delta(Z, output.h(Z), T)
    assert np.isfinite(J).all() and np.isfinite(delta).all()
    # 1000 for the first output (y = 0, unless the cost ignores y = 0 terms), 1000 for the second
    assert J[0] == pytest.approx(
        1000.0 if pair == ("sigmoid", "categorical_cross_entropy") else 2000.0
    )


def test_costs_work_on_stacks_of_batches():
    stack = np.stack([A, A + 0.01])
    for cost in COSTS.values():
        assert cost.J(stack, Y).shape == (2, 6)
        np.testing.assert_allclose(cost.J(stack, Y)[0], cost.J(A, Y))


def test_fused_keeps_its_first_release_name():
    # other code still imports `from reference.costs import FUSED`
    assert reference.costs.FUSED is FUSED_FORMS
    assert set(FUSED_FORMS) == {
        ("sigmoid", "cross_entropy"),
        ("softmax", "categorical_cross_entropy"),
        ("sigmoid", "categorical_cross_entropy"),
    }


# ---------------------------------------------------------------------- mse


def test_mse_known_answer_mean_over_outputs_no_half():
    A_ = np.array([[1.0, 2.0, 4.0]])
    Y_ = np.array([[0.0, 2.0, 1.0]])
    cost = COSTS["mse"]
    assert cost.J(A_, Y_)[0] == (1.0 + 0.0 + 9.0) / 3  # (1/n_H) ||a - y||^2
    np.testing.assert_array_equal(cost.dJ_da(A_, Y_), [[2 / 3, 0.0, 2.0]])  # 2 (a - y) / n_H


def test_mse_equals_torch_mse_loss_and_its_gradient():
    torch = pytest.importorskip("torch")
    from reference import Network, backprop

    net = Network.random([3, 5, 4], hidden="tanh", output="identity", cost="mse", seed=2)
    X = np.random.default_rng(1).normal(size=(7, 3))
    Y = np.random.default_rng(2).normal(size=(7, 4))
    params = [torch.tensor(p, requires_grad=True) for p in (*net.weights, *net.biases)]
    W0, W1, b0, b1 = params
    out = torch.tanh(torch.tensor(X) @ W0 + b0) @ W1 + b1
    loss = torch.nn.MSELoss()(out, torch.tensor(Y))
    loss.backward()
    assert abs(loss.item() - net.cost(X, Y)) <= 1e-14 * abs(loss.item())
    g = backprop(net, X, Y)
    for mine, theirs in zip((*g.weights, *g.biases), params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_a_custom_cost_may_not_take_a_builtin_name():
    from reference import Cost, Network

    impostor = Cost("cross_entropy", COSTS["quadratic"].J, COSTS["quadratic"].dJ_da)
    with pytest.raises(ValueError) as info:
        Network.random([2, 2], output="sigmoid", cost=impostor)
    assert "a custom Cost may not take the built-in name 'cross_entropy'" in str(info.value)


def test_cost_docstring_example_eps_cross_entropy_is_checked_like_any_cost():
    from gradcheck import check_backprop
    from reference import Cost, Network, backprop

    EPS = 1e-7
    eps_ce = Cost(
        "eps_cross_entropy",
        lambda A, Y: -(Y * np.log(A + EPS) + (1 - Y) * np.log(1 - A + EPS)).sum(axis=-1),
        lambda A, Y: -Y / (A + EPS) + (1 - Y) / (1 - A + EPS),
        probability_targets=True,
    )

    def theirs(W, b, X, Y):  # a - y: right for the exact cross-entropy, not for this one
        A = [X]
        for Wl, bl in zip(W, b):
            A.append(1 / (1 + np.exp(-(A[-1] @ Wl + bl))))
        delta, dW, db = (A[-1] - Y) / len(X), [None] * len(W), [None] * len(W)
        for L in range(len(W) - 1, -1, -1):
            dW[L], db[L] = A[L].T @ delta, delta.sum(axis=0)
            delta = (delta @ W[L].T) * A[L] * (1 - A[L])
        return dW, db

    def mine(W, b, X, Y):
        return backprop(Network(W, b, output="sigmoid", cost=eps_ce), X, Y)

    options = dict(sizes=[3, 4, 2], hidden="sigmoid", output="sigmoid", cost=eps_ce, trials=1)
    assert check_backprop(mine, **options).passed
    assert not check_backprop(theirs, **dict(options, edge_cases=False)).passed


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: get_cost(3),
        TypeError,
        "`cost` must be a cost name or a Cost, got int",
        id="get_cost-int",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)
