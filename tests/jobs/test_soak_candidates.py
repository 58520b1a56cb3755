"""The soak's correct candidates beyond the plain one, and the floor they set: each passes the
oracle, and a slip within the worst one's error is not counted as a miss."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.jobs import soak
from gradcheck.jobs.soak import correct_case
from gradcheck.oracle.backprop import check_backprop_at


@pytest.mark.parametrize("seed", [8, 27, 18001699])
def test_a_correct_candidate_that_adds_in_loops_passes(seed):
    # A quarter of the correct candidates add every sum one term at a time, in their dtype and in
    # a random order (seed 8: float32, widths to 55; seed 27: a batch of 58, widths to 45): the
    # partial sums' worst case that the tolerance holds whole is theirs, not BLAS's. Seed
    # 18001699 (float32, leaky ReLU near its kink): a loop that drew a new order at every call
    # gave W^0[1,10] = -34.1 and then -1.09, and the oracle rightly said "not repeatable".
    case = correct_case(seed, soak.soak_regime(seed))
    assert "sums=loop" in case.description
    net, X, Y = case.net, case.X, case.Y
    dtype = np.float32 if "float32" in case.description else np.float64
    blas = soak.independent_backprop(
        net.hidden.name, net.output.name, net.cost_function.name, dtype
    )(net.weights, net.biases, X, Y)
    loops = case.candidate(net.weights, net.biases, X, Y)
    assert any(not np.array_equal(a, b) for a, b in zip(blas[0], loops[0]))  # another candidate
    again = case.candidate(net.weights, net.biases, X, Y)
    assert all(np.array_equal(a, b) for a, b in zip(loops[0], again[0]))  # and a repeatable one
    with np.errstate(all="ignore"):
        assert check_backprop_at(case.candidate, net, X, Y).passed


@pytest.mark.parametrize("seed", [94, 124, 224, 274])
def test_a_correct_candidate_whose_libm_rounds_one_way_passes(seed):
    # A tenth of the other float64 correct candidates are the worst faithful code: every tanh,
    # exp, expm1 rounded up (94: elu, saturated inputs; 124: deep and saturated) or down
    # (224, 274), every sum a loop in sorted order. The floor counts their error whole.
    case = correct_case(seed, soak.soak_regime(seed))
    assert "libm=" in case.description and "dtype=float64" in case.description
    net, X, Y = case.net, case.X, case.Y
    upward = "libm=up" in case.description
    expected = soak.directed_backprop(net, X, Y, upward=upward, ulps=soak.LIBM_ULPS)
    dJ_dW, dJ_db = case.candidate(net.weights, net.biases, X, Y)
    np.testing.assert_array_equal(net.layout.join(dJ_dW, dJ_db), expected.astype(np.float64))
    with np.errstate(all="ignore"):
        assert check_backprop_at(case.candidate, net, X, Y).passed


@pytest.mark.parametrize("seed", [96, 287, 390])
def test_a_correct_candidate_that_is_the_worst_faithful_code_for_one_entry_passes(seed):
    # seed 96: plain, the entry W^0[1,1]; 287: saturated inputs, b^0[0]; 390: cancelling
    case = correct_case(seed, soak.soak_regime(seed))
    assert "libm=worst-for-" in case.description and "dtype=float64" in case.description
    with np.errstate(all="ignore"):
        assert check_backprop_at(case.candidate, case.net, case.X, case.Y).passed


@pytest.mark.parametrize("seed", [37, 40, 78])
def test_a_correct_candidate_with_the_other_sigmoid_formula_passes(seed):
    # a tenth of the plain correct candidates take sigmoid as 1 - 1 / (1 + e^z) (seed 37:
    # saturated inputs, float64; 40: float32 near a kink; 78: float64, a sigmoid output)
    case = correct_case(seed, soak.soak_regime(seed))
    assert "formulas=other" in case.description
    with np.errstate(all="ignore"):
        assert check_backprop_at(case.candidate, case.net, case.X, case.Y).passed


def test_the_worst_faithful_code_keeps_a_tanh_at_its_bound_where_numpys_returns_it():
    # probe seed 951000741 (cancelling, sigmoid outputs at z ~ 45): the worst code for
    # W^3[6,3] returned tanh(z/2) = 1 - 2e-20 as 1 - u, an h' of u where the true one is 1e-20
    # (1,600 times the entry), outside the libms the tolerance passes (exactly 1 from u/64 on)
    case = correct_case(951000741, "cancelling")
    assert "libm=worst-for-" in case.description
    with np.errstate(all="ignore"):
        assert check_backprop_at(case.candidate, case.net, case.X, case.Y).passed
