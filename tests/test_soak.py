"""The soak harness at a small size (python -m gradcheck.soak --cases 5000 runs it big)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gradcheck import soak
from gradcheck.oracle import check_backprop_at
from gradcheck.soak import FLOOR_FACTOR, FLOOR_ULPS, broken_case, correct_case, miss_floor, run_soak
from reference import Gradients, Network, backprop

CASES = int(os.environ.get("GRADCHECK_SOAK_CASES", "60"))  # CI: 60 of each kind, ~10 s


@pytest.mark.slow
def test_no_false_alarm_and_no_miss():
    result = run_soak(CASES, seed=1)
    assert result.correct == CASES and result.broken == CASES
    assert not result.false_alarms and not result.misses, str(result)


def test_cases_reproduce_from_their_seed():
    a, b = correct_case(17), correct_case(17)
    assert a.description == b.description
    assert (a.X == b.X).all()
    c, d = broken_case(18), broken_case(18)
    assert (c is None) == (d is None)
    if c is not None:
        assert c.description == d.description


# ------------------------------------------------------------------ the miss floor


def test_the_undetectable_rule_does_not_use_the_oracles_tolerance(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("broken_case consulted the oracle's tolerance")

    monkeypatch.setattr(soak, "rounding_tolerance", refuse)
    cases = [broken_case(seed) for seed in range(8)]
    assert any(c is not None for c in cases)


def test_miss_floor_is_the_actual_float64_error_of_the_true_gradient():
    net = Network.random([4, 6, 3], hidden="tanh", seed=5)
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    g_true, floor = miss_floor(net, X, Y)
    assert g_true.dtype == np.longdouble and floor.dtype == np.float64
    error = np.abs(backprop(net, X, Y).flat() - g_true).astype(np.float64)
    assert np.all(error <= floor / FLOOR_FACTOR)
    eps = float(np.finfo(np.float64).eps)
    assert np.all(floor >= FLOOR_FACTOR * FLOOR_ULPS * eps * np.abs(g_true).astype(np.float64))
    assert np.all(floor <= 1e-13 * np.abs(g_true).max())  # a few ulps, not a tolerance


def test_a_sign_flip_of_a_gradient_that_is_pure_rounding_is_undetectable():
    # The soak's network of seed 1000002: a softmax saturated by |z| ~ 60, whose gradient
    # is 1e-26; a float64 softmax correct to one ulp (a_k = 1 - 2^-53, not 1) turns it
    # into 1e-16 (perturbed_backprop does): no checker can tell -g from g
    net, X, Y, _ = soak._network(np.random.default_rng([1000002, 2]))
    g = backprop(net, X, Y)
    assert np.abs(g.flat()).max() < 1e-20
    flipped = Gradients([-W for W in g.weights], [-b for b in g.biases])
    assert soak._undetectable(flipped, net, X, Y)


def test_an_entry_off_by_one_millionth_of_its_block_is_never_undetectable_on_a_plain_net():
    net = Network.random([4, 6, 3], hidden="sigmoid", seed=6)
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(9, 4)), rng.uniform(size=(9, 3))
    g_true, floor = miss_floor(net, X, Y)
    theta = backprop(net, X, Y).flat()
    for _, block, _ in net.layout.blocks:
        assert np.all(1e-6 * np.abs(theta[block]).max() > floor[block])


def test_an_entry_of_a_saturated_softmax_off_by_a_fraction_of_its_block_is_caught():
    # seed 87: softmax saturated until whole units underflow to 0; b^4's largest entry is
    # 1.9e-68 and b^4[5] is exactly 0 in every float64 backprop (and in extended precision):
    # a candidate with b^4[5] = -9.5e-73 is wrong, and softmax's error is relative, not u
    case = broken_case(87)
    assert case is not None and not case.undetectable
    assert not check_backprop_at(case.candidate, case.net, case.X, case.Y).passed


def test_a_gradient_of_other_shapes_is_never_undetectable():
    # a soak crash once: dJ/dW^L of shape (N, M) or (N, N) under the same `sizes`
    net = Network.random([3, 5, 2], seed=8)
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    g = backprop(net, X, Y)
    transposed = Gradients([W.T for W in g.weights], g.biases)
    assert not soak._undetectable(transposed, net, X, Y)
    assert soak._undetectable(g, net, X, Y)


def test_a_float32_candidate_near_kinks_is_no_false_alarm():
    # seed 386: leaky_relu units within float32 rounding of their kink; the candidate's slope
    # there may differ from the side the finite differences measure (issue 11's intervals)
    import numpy as np

    from gradcheck import check_backprop_at
    from gradcheck.soak import correct_case

    case = correct_case(386)
    assert "near-kink" in case.description and "float32" in case.description
    with np.errstate(all="ignore"):
        report = check_backprop_at(case.candidate, case.net, case.X, case.Y)
    assert report.passed, str(report)
    assert report.trials[0].kinked > 0


def test_the_floor_never_calls_a_candidate_equal_to_the_reference_detectable():
    # seed 643: first_example_only on a saturated width-1 net gives the reference bit for bit;
    # the true gradient there is ~1e-4446 (longdouble), below anything float64 can hold
    from gradcheck.soak import broken_case

    case = broken_case(643)
    assert "first_example_only" in case.description
    assert case.undetectable
