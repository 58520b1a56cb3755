"""reference.activations: h' against the complex step of h, stability, softmax's Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

from reference import (
    ACTIVATIONS,
    Activation,
    get_activation,
    register_activation,
)
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


# ------------------------------------------------ parameters and registration


@pytest.mark.parametrize(
    "spec",
    [
        ("leaky_relu", {"slope": 0.2}),
        "leaky_relu:0.2",
        "leaky_relu:slope=0.2",
    ],
    ids=str,
)
def test_leaky_relu_with_a_slope_in_every_spelling(spec):
    act = get_activation(spec)
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(act.h(z), [-0.4, -0.1, 0.5, 2.0])
    np.testing.assert_array_equal(act.h_prime(z), [0.2, 0.2, 1.0, 1.0])
    assert act.name == "leaky_relu(slope=0.2)" and act.kink and not act.smooth
    assert act.parameters == (("slope", 0.2),)
    assert get_activation("leaky_relu", slope=0.2).name == act.name


def test_elu_alpha_sets_h_h_prime_and_the_range():
    act = get_activation("elu", alpha=0.1)
    z = np.array([-3.0, -0.25, 0.75])
    np.testing.assert_allclose(act.h(z), [0.1 * np.expm1(-3.0), 0.1 * np.expm1(-0.25), 0.75])
    np.testing.assert_allclose(act.h_prime(z), [0.1 * np.exp(-3.0), 0.1 * np.exp(-0.25), 1.0])
    # h' jumps at 0 from alpha to 1: a kink, except at the default alpha = 1
    assert act.lower == -0.1 and act.kink and not act.smooth
    assert not ACTIVATIONS["elu"].kink and not ACTIVATIONS["elu"].smooth
    step = 1e-30  # h' against the complex step of h, off the kink
    numerical = act.h(Z + 1j * step).imag / step
    np.testing.assert_allclose(act.h_prime(Z), numerical, rtol=1e-13, atol=1e-290)


def test_default_parameters_give_the_builtin_itself():
    assert get_activation("leaky_relu", slope=0.01) is ACTIVATIONS["leaky_relu"]
    assert get_activation("elu:1") is ACTIVATIONS["elu"]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: get_activation("leaky_relu", slop=0.2),
            ValueError,
            "activation 'leaky_relu' has no parameter 'slop'; its parameters: slope",
        ),
        (
            lambda: get_activation("tanh:0.2"),
            ValueError,
            "activation 'tanh' takes no parameters (in 'tanh:0.2'); known activations:",
        ),
        (
            lambda: get_activation("tanh", c=2.0),
            ValueError,
            "activation 'tanh' takes no parameters; known activations:",
        ),
        (
            lambda: get_activation("leaky_relu:steep"),
            ValueError,
            "activation 'leaky_relu:steep': parameter 'slope' must be a number, got 'steep'",
        ),
        (
            lambda: get_activation("elu", alpha=float("nan")),
            ValueError,
            "parameter 'alpha' of activation 'elu' must be finite, got nan",
        ),
        (
            lambda: get_activation("elu", alpha="big"),
            TypeError,
            "parameter 'alpha' of activation 'elu' must be a real number, got 'big'",
        ),
        (
            lambda: get_activation(("elu", 0.1)),
            TypeError,
            "as (name, parameters) needs a dict of parameters, got float",
        ),
        (
            lambda: get_activation(np.tanh, c=1.0),
            TypeError,
            "parameters ['c'] need an activation name",
        ),
        (
            lambda: register_activation("a:b", np.sin, np.cos),
            ValueError,
            "`name` 'a:b' must not contain ':', ',' or '('",
        ),
        (
            lambda: register_activation("x_kink", np.sin, np.cos, kink=1),
            TypeError,
            "`kink` must be True or False, got 1",
        ),
        (
            lambda: register_activation("x_range", np.sin, np.cos, lower=1.0, upper=-1.0),
            ValueError,
            "`lower` must be below `upper`, got 1.0 and -1.0",
        ),
        (
            lambda: register_activation("x_par", np.sin, np.cos, parameters=[1.0]),
            TypeError,
            "`parameters` must be a dict of parameter values, got [1.0]",
        ),
    ],
)
def test_parameter_validation_messages(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_register_activation_refuses_a_wrong_h_prime_naming_the_worst_point():
    with pytest.raises(ValueError) as info:
        register_activation("test_wrong_sin", np.sin, lambda z: -np.cos(z))
    text = str(info.value)
    assert "the activation 'test_wrong_sin': h_prime is not the derivative of h; at z = " in text
    assert "33 of 33 points checked on [-4, 4] disagree" in text
    assert "test_wrong_sin" not in ACTIVATIONS  # refused: not registered


def test_register_activation_catches_a_one_percent_slip_and_names_the_worst_point():
    with pytest.raises(ValueError, match="h_prime is not the derivative of h"):
        register_activation("test_tanh_1pc", np.tanh, lambda z: 1.01 / np.cosh(z) ** 2)
    with pytest.raises(ValueError, match=r"at z = 4\.012, "):  # the worst point is named
        register_activation("test_tanh_drift", np.tanh, lambda z: 1 / np.cosh(z) ** 2 + 1e-3 * z**3)


def test_register_activation_with_a_kink_and_a_parameter():
    act = register_activation(
        "test_hinge",
        lambda z, c=0.5: np.where(np.real(z) > 0, z, c * z),
        lambda z, c=0.5: np.where(z > 0, 1.0, c),
        kink=True,
        parameters={"c": 0.5},
        overwrite=True,
    )
    assert act.kink and not act.smooth and act.name == "test_hinge"
    steep = get_activation("test_hinge:0.3")
    assert steep.name == "test_hinge(c=0.3)"
    np.testing.assert_array_equal(steep.h_prime(np.array([-1.0, 1.0])), [0.3, 1.0])


def test_a_family_whose_h_prime_ignores_its_parameter_is_refused_at_that_parameter():
    register_activation(
        "test_scaled_tanh",
        lambda z, c=1.0: np.tanh(c * z),
        lambda z, c=1.0: 1 - np.tanh(c * z) ** 2,  # the factor c forgotten: right at c = 1 only
        parameters={"c": 1.0},
        overwrite=True,
    )
    with pytest.raises(ValueError, match="'test_scaled_tanh\\(c=2\\)': h_prime is not the"):
        get_activation("test_scaled_tanh", c=2.0)


def test_registration_does_not_reject_a_right_h_prime_of_a_steep_function():
    act = register_activation("test_exp3", lambda z: np.exp(3 * z), lambda z: 3 * np.exp(3 * z))
    assert act.name in ACTIVATIONS


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: register_activation("hardening_never", 3, np.cos),
        TypeError,
        "`h` must be callable, got int",
        id="register_activation-h",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)
