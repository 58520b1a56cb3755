"""gradcheck.diagnosis.diagnose: the Diagnosis value and its text, coinciding bugs, what it leaves untouched."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _configs import (
    DEEP,
    SIG,
    case,
)
from _helpers import TANH_NET, TANH_X, TANH_Y
from _student_zoo import (
    HiddenHPrimeMissing,
    Summed,
)

from gradcheck.diagnosis.diagnose import SCALED, Diagnosis, diagnose
from reference import (
    Gradients,
    backprop,
)


def test_coinciding_bugs_are_all_reported_in_catalogue_order():
    """d = 2: summed (d times) and the 1/2 missing (2 times) give the same gradient."""
    net, X, Y = case(SIG, DEEP, 0, d=2)
    found = diagnose(Summed(*SIG)(net, X, Y), net, X, Y)
    assert [m.bug.name for m in found] == ["summed_not_averaged", "quadratic_half_missing"]


def test_the_text_speaks_the_notation():
    net, X, Y = case(SIG, DEEP, 0, d=16)
    (found,) = diagnose(Summed(*SIG)(net, X, Y), net, X, Y)
    assert str(found) == (
        "the gradient is d times the reference: summed over the batch instead of averaged "
        "(d = 16)?\n  Fix: divide dJ/dW^L and dJ/db^L by the batch size d "
        "(J is the mean of the J_i)."
    )
    (hidden,) = diagnose(HiddenHPrimeMissing(*SIG)(net, X, Y), net, X, Y)
    assert "showing in layers 0, 1?" in str(hidden)
    assert hidden.as_dict()["layers"] == [0, 1] and hidden.as_dict()["text"] == str(hidden)


def test_a_given_reference_is_used_and_nothing_is_mutated():
    net, X, Y = case(SIG, DEEP, 0)
    g = Summed(*SIG)(net, X, Y)
    before = [a.copy() for a in (*g.weights, *g.biases, X, Y, *net.weights)]
    found = diagnose(g, net, X, Y, reference=backprop(net, X, Y))
    assert found[0].bug.name == "summed_not_averaged"
    for a, b in zip(before, (*g.weights, *g.biases, X, Y, *net.weights), strict=True):
        np.testing.assert_array_equal(a, b)


def test_diagnosis_is_a_frozen_value():
    d = Diagnosis(SCALED, 0.0, scale=2.0)
    with pytest.raises(AttributeError):
        d.scale = 3.0  # type: ignore[misc]
    assert "c = 2" in str(d)


def test_diagnose_does_not_match_bugs_on_overflowing_norms():
    G = backprop(TANH_NET, TANH_X, TANH_Y)
    huge = Gradients([1e160 * W for W in G.weights], [1e160 * b for b in G.biases])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        found = diagnose(huge, TANH_NET, TANH_X, TANH_Y)
    assert all(math.isfinite(d.residual) for d in found) and len(found) <= 1
