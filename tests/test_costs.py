"""reference.costs: dJ/da against the complex step, fused forms equal the general path."""

from __future__ import annotations

import numpy as np
import pytest

import reference.costs
from reference import ACTIVATIONS, COSTS, FUSED_FORMS, output_delta

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
