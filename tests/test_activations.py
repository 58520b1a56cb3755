"""reference.activations: h' against the complex step of h, stability, softmax's Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

from reference import ACTIVATIONS, Activation, get_activation, register_activation
from reference.activations import softmax, softmax_jacobian, softmax_vjp

ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if act.elementwise]
Z = np.concatenate([np.linspace(-8, 8, 161), [-1e3, -700, -40, -1e-9, 1e-9, 40, 700, 1e3]])
Z = Z[Z != 0]  # h' of the ReLU family is a convention at 0


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_h_prime_equals_complex_step_of_h(name):
    act = ACTIVATIONS[name]
    step = 1e-30
    numerical = act.h(Z + 1j * step).imag / step  # exact to rounding, no cancellation
    # atol: at z = -700 the complex step's imaginary part underflows (1e-30 e^-700)
    np.testing.assert_allclose(act.h_prime(Z), numerical, rtol=1e-13, atol=1e-290)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_complex_input_keeps_the_real_values(name):
    act = ACTIVATIONS[name]
    # atol: numpy's complex log1p is log(1 + w), absolutely (not relatively) accurate
    # for tiny w; the complex step only reads the imaginary part, which stays exact.
    np.testing.assert_allclose(act.h(Z + 0j).real, act.h(Z), rtol=1e-15, atol=2e-16)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_no_overflow_or_nan_for_large_z(name):
    act = ACTIVATIONS[name]
    z = np.array([[-1e3, -500.0, 0.0, 500.0, 1e3]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = act.h(z)
        assert np.isfinite(a).all()
        if act.elementwise:
            assert np.isfinite(act.h_prime(z)).all()
        else:
            assert np.isfinite(act.jacobian(z)).all()


def test_saturated_derivatives_are_exact_not_zero():
    # a(1 - a) would give 0 here: 1 - a rounds to 0 once a rounds to 1.
    assert ACTIVATIONS["sigmoid"].h_prime(np.array(40.0)) == pytest.approx(np.exp(-40.0), rel=1e-14)
    assert ACTIVATIONS["tanh"].h_prime(np.array(20.0)) == pytest.approx(
        4 * np.exp(-40.0), rel=1e-13
    )


def test_softmax_rows_sum_to_one_and_survive_huge_logits():
    Z = np.array([[1e3, 1e3 - 1.0, -1e3], [0.0, 0.0, 0.0]])
    A = softmax(Z)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(A[1], 1 / 3)
    assert A[0, 0] / A[0, 1] == pytest.approx(np.e)


def test_softmax_jacobian_against_complex_step_and_vjp():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(4, 5)) * 3
    J = softmax_jacobian(Z)
    step = 1e-30
    for n in range(5):
        dz = np.zeros(5)
        dz[n] = step
        column = softmax(Z + 1j * dz).imag / step  # da_k/dz_n for every k
        np.testing.assert_allclose(J[:, :, n], column, rtol=1e-13, atol=1e-17)
    G = rng.normal(size=(4, 5))
    np.testing.assert_allclose(
        softmax_vjp(softmax(Z), G), np.einsum("ikn,ik->in", J, G), atol=1e-15
    )


def test_register_and_use_a_custom_activation():
    act = register_activation("test_cube", lambda z: z**3, lambda z: 3 * z**2, overwrite=True)
    assert get_activation("test_cube") is act
    assert act.h(np.array(2.0)) == 8.0


def test_pair_spec_gives_an_activation():
    act = get_activation((np.sin, np.cos))
    assert isinstance(act, Activation) and act.name == "sin"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: get_activation("sigmoidd"),
            ValueError,
            "unknown activation 'sigmoidd'; known activations: elu, identity",
        ),
        (
            lambda: get_activation(3),
            TypeError,
            "must be an activation name, an Activation or an (h, h_prime) pair",
        ),
        (
            lambda: register_activation("sigmoid", np.sin, np.cos),
            ValueError,
            "'sigmoid' is a built-in activation",
        ),
        (
            lambda: register_activation("x", np.sin, 3),
            TypeError,
            "`h_prime` must be callable, got int",
        ),
        (
            lambda: register_activation("", np.sin, np.cos),
            TypeError,
            "`name` must be a non-empty string",
        ),
    ],
)
def test_validation_messages(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_registering_twice_needs_overwrite():
    register_activation("test_twice", np.sin, np.cos, overwrite=True)
    with pytest.raises(ValueError, match="already registered; pass overwrite=True"):
        register_activation("test_twice", np.sin, np.cos)
