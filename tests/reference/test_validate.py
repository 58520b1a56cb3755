"""reference._validate: the reference's input checks, each function on its own, every message pinned."""

from __future__ import annotations

import re

import numpy as np
import pytest

from reference._validate import (
    batch_array,
    check_activation_pair,
    checked_l2,
    class_labels_to_one_hot,
    did_you_mean,
    real_array,
    refuse_masked,
)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def test_real_array_converts_integers_and_booleans_to_a_float64_copy():
    source = np.array([[1, 2], [3, 4]])
    out = real_array(source, name="W", ndim=2)
    assert out.dtype == np.float64 and out.flags.c_contiguous and out.tolist() == [[1, 2], [3, 4]]
    assert not np.shares_memory(out, source)
    floats = np.ones((2, 2))
    assert np.shares_memory(real_array(floats, name="W", ndim=2, copy=False), floats)
    assert real_array([True, False], name="b", ndim=1).tolist() == [1.0, 0.0]


def test_real_array_options():
    z = real_array(np.array([1 + 2j]), name="theta", ndim=1, allow_complex=True)
    assert z.dtype == np.complex128
    assert np.isnan(real_array([np.nan], name="g", ndim=1, finite=False)[0])


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("abc", TypeError, "`W` must be a numeric array, got a string 'abc'"),
        (
            np.array([1j]),
            TypeError,
            "`W` must be real, got complex dtype complex128; pass its real part if the imaginary part is zero",
        ),
        (np.array(["a"]), TypeError, "`W` must be a numeric array, got dtype <U1"),
        (np.zeros((2, 2)), ValueError, "`W` must be a 1-D array, got 2-D with shape (2, 2)"),
        (np.array([0.0, np.inf]), ValueError, "`W` must be finite; entry 1 is inf (shape (2,))"),
    ],
    ids=["string", "complex", "strings", "ndim", "inf"],
)
def test_real_array_refusals(value, error, message):
    with _raises(error, message):
        real_array(value, name="W", ndim=1)


def test_a_masked_array_with_masked_entries_is_refused():
    refuse_masked(np.ma.masked_array([1.0, 2.0], mask=[False, False]), "X")  # nothing masked
    with _raises(
        ValueError,
        "`X` is a masked array with 1 masked entry (shape (2,)); the values under the mask "
        "would be used: fill them (.filled(...)) or drop them",
    ):
        refuse_masked(np.ma.masked_array([1.0, 2.0], mask=[True, False]), "X")


def test_a_right_pair_passes_and_a_constant_h_prime_broadcasts():
    check_activation_pair(np.tanh, lambda z: 1 - np.tanh(z) ** 2, argument="hidden")
    check_activation_pair(lambda z: 2 * z, lambda z: 2.0, argument="hidden")


@pytest.mark.parametrize(
    "h, h_prime, message",
    [
        (
            lambda z: np.tanh(z, out=z),
            lambda z: 1 - np.tanh(z) ** 2,
            "`hidden`: h(Z) modified its input Z in place; backprop keeps Z for h'(Z): return a "
            "new array (e.g. np.tanh(z), not np.tanh(z, out=z))",
        ),
        (
            lambda z: z.sum(axis=1),
            lambda z: 1.0,
            "`hidden`: h(Z) must return a real ndarray of the shape of Z, (2, 3), for a float64 "
            "batch Z of shape (2, 3); got dtype float64, shape (2,)",
        ),
        (
            np.tanh,
            lambda z: "1",
            "`hidden`: h_prime(Z) must return a real ndarray broadcasting to the shape of Z, "
            "(2, 3), for a float64 batch Z of shape (2, 3); got str",
        ),
        (
            lambda z: 1 / 0,
            lambda z: 1.0,
            "`hidden`: h(Z) failed on a float64 batch Z of shape (2, 3): ZeroDivisionError: "
            "division by zero",
        ),
    ],
    ids=["in-place", "shape", "type", "raises"],
)
def test_a_pair_that_would_break_backprop_is_refused(h, h_prime, message):
    with _raises(ValueError, message):
        check_activation_pair(h, h_prime, argument="hidden")


def test_did_you_mean():
    known = ["sigmoid", "tanh", "leaky_relu"]
    assert did_you_mean("Sigmoid", known) == "; did you mean 'sigmoid'?"
    assert did_you_mean("leaky-relu", known) == "; did you mean 'leaky_relu'?"
    assert did_you_mean("sigmod", known) == "; did you mean 'sigmoid'?"
    assert did_you_mean("swish", known) == ""


def test_checked_l2():
    assert checked_l2(0) == 0.0 and type(checked_l2(np.float32(0.5))) is float
    with _raises(TypeError, "`l2` must be a non-negative finite number, got True"):
        checked_l2(True)
    with _raises(ValueError, "`l2` must be a non-negative finite number, got -1"):
        checked_l2(-1)


def test_batch_array_refuses_an_empty_batch():
    with _raises(ValueError, "`X` is an empty batch (shape (0, 3)); give at least one example"):
        batch_array(np.zeros((0, 3)), n_in=3)


def test_class_labels_become_one_hot_rows_and_other_targets_pass_through():
    np.testing.assert_array_equal(class_labels_to_one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(class_labels_to_one_hot([[1], [0]], 2), [[0, 1], [1, 0]])
    rows = np.array([[0.2, 0.8]])
    assert class_labels_to_one_hot(rows, 2) is rows  # probabilities: unchanged
    with _raises(ValueError, "`Y` is an empty array of class labels; give at least one example"):
        class_labels_to_one_hot(np.array([], dtype=int), 3)
