"""gradcheck.fd.delta: delta^L = dJ_i/dz^L by finite differences in z^L, without backprop."""

from __future__ import annotations

import numpy as np
import pytest
from _data import CONFIGS, problem
from _helpers import TANH_NET, TANH_X, TANH_Y

from gradcheck.fd.delta import numerical_deltas
from gradcheck.oracle.equations import check_equations
from gradcheck.tolerance.independent import equation_deltas

DEEP = (4, 6, 5, 6, 3)  # three hidden layers: H = 3


def _case(hidden, output, cost, sizes=DEEP, d=6, seed=0):
    return problem(hidden, output, cost, sizes, d, seed)


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_numerical_deltas_equal_the_equations_within_their_estimates(hidden, output, cost):
    net, X, Y = _case(hidden, output, cost, seed=3)
    deltas, error, unverifiable = numerical_deltas(net, X, Y)
    expected = equation_deltas(net, X, Y)
    for L, (D, E, err, unv) in enumerate(zip(deltas, expected, error, unverifiable, strict=True)):
        assert D.shape == E.shape == err.shape == unv.shape == (X.shape[0], net.sizes[L + 1])
        ok = ~unv
        scale = np.abs(E).max()
        # the estimate bounds the true error (plus the equations' own rounding)
        assert (np.abs(D - E)[ok] <= err[ok] + 1e-14 * scale).all(), L
        assert (np.abs(D - E)[ok] <= 1e-8 * scale + 1e-15).all(), L


@pytest.mark.parametrize("method", ["central", "complex"])
def test_numerical_deltas_by_other_methods(method):
    net, X, Y = _case("tanh", "softmax", "categorical_cross_entropy")
    deltas, error, _ = numerical_deltas(net, X, Y, method=method)
    for D, E, err in zip(deltas, equation_deltas(net, X, Y), error, strict=True):
        assert (np.abs(D - E) <= err + 1e-14 * np.abs(E).max()).all()
    assert check_equations(net, X, Y, method=method).passed


def test_numerical_deltas_do_not_depend_on_the_chunking():
    net, X, Y = _case("sigmoid", None, "quadratic")
    a = numerical_deltas(net, X, Y)
    b = numerical_deltas(net, X, Y, memory_limit=1)  # one perturbation per chunk
    # Same points; numpy's vector and scalar loops may round h(z) differently, so
    # the two agree within the estimates, not bit for bit.
    for D, E, err_D, err_E in zip(a.deltas, b.deltas, a.error, b.error, strict=True):
        assert (np.abs(D - E) <= err_D + err_E).all()


def test_numerical_deltas_validation_messages():
    net, X, Y = _case("tanh", None, "quadratic", sizes=(3, 4, 2), d=5)
    with pytest.raises(ValueError, match="unknown `method` 'forward'; known methods: richardson"):
        numerical_deltas(net, X, Y, method="forward")
    with pytest.raises(TypeError, match="`net` must be a reference.Network, got list"):
        numerical_deltas([net], X, Y)
    with pytest.raises(ValueError, match="`memory_limit` must be positive"):
        numerical_deltas(net, X, Y, memory_limit=0)


def test_numerical_deltas_leave_inputs_alone():
    net, X, Y = _case("relu", "identity", "quadratic", sizes=(3, 4, 2), d=5)
    X_before, Y_before = X.copy(), Y.copy()
    numerical_deltas(net, X, Y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: numerical_deltas(TANH_NET, TANH_X, TANH_Y, memory_limit=True),
        TypeError,
        "`memory_limit` must be an integer number of bytes, got True",
        id="numerical_deltas-memory-bool",
    ),
    pytest.param(
        lambda: numerical_deltas(TANH_NET, TANH_X, TANH_Y, method="forward"),
        ValueError,
        "unknown `method` 'forward'",
        id="numerical_deltas-method",
    ),
    pytest.param(
        lambda: numerical_deltas(None, TANH_X, TANH_Y),
        TypeError,
        "`net` must be a reference.Network, got NoneType",
        id="numerical_deltas-net",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)
