"""The patterns of a layer's wrong entries: each slip in a numpy layer is named by its pattern, a
correct layer gets no cause, and each pattern's look-alike is not named as it."""

from __future__ import annotations

import numpy as np
import pytest
from _layers import affine_backward, affine_forward, conv_backward, conv_forward
from _pattern_layers import (
    AFFINE,
    CONV,
    PRODUCT,
    affine_dx_without_transpose,
    affine_with,
    conv_border_slip,
    conv_channel_slip,
    one_entry,
    one_row,
    product_backward,
    product_backward_swapped,
    product_backward_x_from_y,
    product_forward,
)

from gradcheck import check_layer, check_vjp
from gradcheck.diagnosis.patterns import input_causes, pattern_causes
from gradcheck.results.vjp_report import InputMap


def _causes(forward, backward, inputs):
    report = check_layer(forward, backward, inputs)
    assert not report.passed, "the slip must fail the check before its pattern is named"
    return report.causes


def _only(causes, name):
    """The one cause about input `name`."""
    mine = [c for c in causes if c.evidence["input"] == name]
    assert len(mine) == 1, [c.text for c in causes]
    return mine[0]


def _map(candidate, numerical, *, name="x", bound=1e-9, kinks=None, cotangent=0):
    """An InputMap from a candidate and its differences, failing where |c - r| > bound."""
    c, r = np.asarray(candidate, dtype=float), np.asarray(numerical, dtype=float)
    difference, bounds = np.abs(c - r), np.full(c.shape, bound)
    kinks = np.zeros(c.shape, dtype=bool) if kinks is None else np.asarray(kinks)
    failing = (difference > bounds) & ~kinks
    return InputMap(name, c.shape, cotangent, c, r, difference, bounds, failing, kinks)


R = np.random.default_rng(7).standard_normal((6, 5)) + 3.0  # differences, far from zero


# --- correct layers: nothing named


@pytest.mark.parametrize(
    ("forward", "backward", "inputs"),
    [
        (affine_forward, affine_backward, AFFINE),
        (product_forward, product_backward, PRODUCT),
        (conv_forward, conv_backward, CONV),
    ],
    ids=["affine", "product", "conv"],
)
def test_a_correct_layer_gets_no_cause(forward, backward, inputs):
    report = check_layer(forward, backward, inputs)
    assert report.passed and report.causes == ()
    assert "likely cause" not in str(report) and report.to_dict()["causes"] == []


def test_entries_on_a_kink_alone_are_no_pattern():
    kinks = np.zeros(R.shape, dtype=bool)
    kinks[0, :3] = True
    assert input_causes(_map(np.where(kinks, 0.0, R), R, kinks=kinks)) == []


# --- a constant factor, the sign, zeros: named with k


def test_a_factor_is_named_with_its_value():
    cause = _only(
        _causes(affine_forward, affine_with(lambda x, w, b: (x * 0.5, w, b)), AFFINE), "x"
    )
    assert cause.evidence["pattern"] == "factor" and cause.evidence["where"] == "every"
    assert cause.evidence["k"] == pytest.approx(0.5, rel=1e-6)
    assert "k = 0.5" in cause.text and "at every entry" in cause.text
    assert "Fix:" in cause.text


def test_the_sign_is_named():
    cause = _only(_causes(affine_forward, affine_with(lambda x, w, b: (x, w, -b)), AFFINE), "b")
    assert cause.evidence["pattern"] == "sign" and "k = -1" in cause.text


def test_zeros_are_named_never_computed():
    zeros = affine_with(lambda x, w, b: (x, np.zeros_like(w), b))
    cause = _only(_causes(affine_forward, zeros, AFFINE), "W")
    assert cause.evidence["pattern"] == "zeros"
    assert "all zeros" in cause.text and "never computed" in cause.text


def test_a_factor_other_than_minus_one_is_not_the_sign_and_a_small_one_is_not_zeros():
    assert input_causes(_map(-2 * R, R))[0].evidence["pattern"] == "factor"
    small = input_causes(_map(1e-3 * R, R))[0]
    assert small.evidence["pattern"] == "factor" and "zeros" not in small.text


def test_one_entry_that_disagrees_rules_a_factor_out():
    c = 2 * R
    c[3, 2] = 3 * R[3, 2]
    (cause,) = input_causes(_map(c, R))
    assert cause.evidence["pattern"] == "every" and "k" not in cause.evidence
    assert "by no constant factor" in cause.text and "k =" not in cause.text


# --- one entry, a few, every entry


def test_one_wrong_entry_is_an_indexing_slip_named_by_entry_not_a_factor():
    cause = _only(_causes(affine_forward, affine_with(one_entry), AFFINE), "W")
    assert cause.evidence["pattern"] == "indexing" and "k" not in cause.evidence
    assert "only 1 of 9 entries is wrong (W[2,1])" in cause.text and "indexing slip" in cause.text


def test_one_wrong_entry_that_is_a_multiple_of_its_difference_is_still_no_factor():
    c = R.copy()
    c[4, 1] *= 2.0  # the ratio alone cannot tell one entry's slip from a factor
    (cause,) = input_causes(_map(c, R))
    assert cause.evidence["pattern"] == "indexing" and "x[4,1]" in cause.text


def test_two_wrong_entries_at_different_ratios_are_a_few_slips_not_a_factor():
    c = R.copy()
    c[0, 0], c[5, 4] = 2 * R[0, 0], 3 * R[5, 4]
    (cause,) = input_causes(_map(c, R))
    assert cause.evidence["pattern"] == "indexing" and "x[0,0], x[5,4]" in cause.text


def test_every_entry_wrong_by_no_factor_is_named_the_formula():
    cause = _only(_causes(affine_forward, affine_dx_without_transpose, AFFINE), "x")
    assert cause.evidence["pattern"] == "every" and cause.evidence["where"] == "every"
    assert "by no constant factor" in cause.text and "formula" in cause.text


def test_scattered_wrong_entries_by_no_factor_get_no_pattern():
    c = R.copy()
    for index in [(0, 0), (1, 3), (2, 1), (4, 4), (5, 2)]:
        c[index] += 1.0 + index[0]
    assert input_causes(_map(c, R)) == []


# --- the border of a spatial input


def test_a_border_slip_in_a_convolution_is_named_with_its_edge():
    cause = _only(_causes(conv_forward, conv_border_slip, CONV), "x")
    assert cause.evidence["where"] == "border" and cause.evidence["edges"] == ["right edge"]
    assert "padding or stride slip" in cause.text and "6 × 6 plane" in cause.text


def test_a_few_wrong_entries_on_the_border_are_no_border_slip():
    r = np.random.default_rng(3).standard_normal((1, 2, 6, 6)) + 3.0
    c = r.copy()
    c[0, 0, 0, 2] += 1.0
    c[0, 1, 5, 5] += 2.0
    (cause,) = input_causes(_map(c, r))
    assert cause.evidence["pattern"] == "indexing"


def test_a_plane_too_small_for_an_interior_is_no_border():
    r = np.random.default_rng(4).standard_normal((1, 1, 2, 2)) + 3.0
    c = r.copy()
    c[0, 0, :, 1] += 1.0  # a whole column of a 2 x 2 plane: everything is border there
    causes = input_causes(_map(c, r))
    assert all(cause.evidence.get("where") != "border" for cause in causes)


# --- one channel, one row


def test_one_channel_scaled_is_named_with_the_channel_and_the_factor():
    cause = _only(_causes(conv_forward, conv_channel_slip, CONV), "x")
    assert cause.evidence["where"] == "slice" and cause.evidence["axis"] == 1
    assert cause.evidence["index"] == 1 and cause.evidence["pattern"] == "factor"
    assert "channel 1" in cause.text and "`x[:,1,:,:]`" in cause.text and "k = 2" in cause.text


def test_one_row_wrong_is_named():
    wrong_row = affine_with(one_row(lambda row: row[::-1]))  # the row's entries reversed
    cause = _only(_causes(affine_forward, wrong_row, AFFINE), "W")
    assert cause.evidence["where"] == "slice" and cause.evidence["axis"] == 0
    assert "row 1" in cause.text and "`W[1,:]`" in cause.text


def test_two_wrong_entries_sharing_a_long_row_are_no_wrong_row():
    r = np.random.default_rng(5).standard_normal((3, 12)) + 3.0
    c = r.copy()
    c[1, 2] += 1.0
    c[1, 9] += 3.0
    (cause,) = input_causes(_map(c, r))
    assert cause.evidence["pattern"] == "indexing"


# --- a transposition of a square weight


def test_a_transposed_square_weight_is_named():
    transposed = affine_with(lambda x, w, b: (x, w.T, b))
    cause = _only(_causes(affine_forward, transposed, AFFINE), "W")
    assert cause.evidence["pattern"] == "transposed"
    assert "transpose" in cause.text and "3 × 3" in cause.text


def test_a_scaled_square_weight_is_a_factor_not_a_transposition():
    square = np.random.default_rng(6).standard_normal((4, 4)) + 3.0
    (cause,) = input_causes(_map(3 * square, square))
    assert cause.evidence["pattern"] == "factor"


# --- two inputs swapped


def test_swapped_gradients_of_two_inputs_are_named_once():
    causes = _causes(product_forward, product_backward_swapped, PRODUCT)
    assert len(causes) == 1 and causes[0].evidence["pattern"] == "swapped"
    assert causes[0].evidence["both"] and "`x` and `y` are swapped" in causes[0].text


def test_one_input_given_the_others_gradient_is_named():
    cause = _only(_causes(product_forward, product_backward_x_from_y, PRODUCT), "x")
    assert cause.evidence["pattern"] == "swapped" and not cause.evidence["both"]
    assert "the gradient of `x` is `y`'s" in cause.text


def test_a_wrong_input_unlike_the_other_is_not_swapped():
    scaled = lambda d, c: (2 * product_backward(d, c)[0], product_backward(d, c)[1])  # noqa: E731
    cause = _only(_causes(product_forward, scaled, PRODUCT), "x")
    assert cause.evidence["pattern"] == "factor"


def test_inputs_of_different_shapes_or_cotangents_are_never_compared():
    x = _map(R.T.copy(), np.ones((5, 6)), name="x")  # every entry wrong, by no factor
    y_later = _map(R.T.copy(), R.T.copy(), name="y", cotangent=1)  # x's candidate, but later
    z = _map(R.copy(), R.copy(), name="z")  # another shape
    assert [c.evidence["pattern"] for c in input_causes(x, [y_later, z])] == ["every"]
    assert [c.evidence["pattern"] for c in pattern_causes([x, z], [[x, z]])] == ["every"]


# --- every cotangent must agree


def test_a_pattern_one_cotangent_contradicts_is_not_named():
    """Twice the gradient under cotangents that sum above zero, right under the others: the worst
    cotangent reads a factor 2, the others read nothing wrong, so no factor is named."""
    x = np.linspace(1.0, 2.0, 4)
    report = check_vjp(lambda x: 3 * x, lambda c, x: (3 * c * (2.0 if c.sum() > 0 else 1.0),), [x])
    cotangents = np.random.default_rng(0).standard_normal((3, 4))
    assert {bool(c.sum() > 0) for c in cotangents} == {True, False}  # the seed mixes both
    assert not report.passed and report.causes == ()


def test_a_pattern_every_cotangent_shows_is_named_with_its_factor():
    x = np.linspace(1.0, 2.0, 4)
    report = check_vjp(lambda x: 3 * x, lambda c, x: (6 * c,), [x])
    (cause,) = report.causes
    assert cause.evidence["pattern"] == "factor" and cause.evidence["k"] == pytest.approx(2.0)


def test_a_cotangent_that_hides_a_transposition_does_not_contradict_it():
    """dW = x.T @ dout transposed is right wherever x.T @ dout is symmetric: under a cotangent
    equal to x, nothing of W is wrong, and that is no evidence against the transposition."""
    x = np.random.default_rng(0).standard_normal((2, 3))  # the first cotangent of seed 0 is x
    w = np.random.default_rng(1).standard_normal((3, 3))
    transposed = affine_with(lambda dx, dw, db: (dx, dw.T, db))
    report = check_layer(affine_forward, transposed, {"x": x, "W": w, "b": np.zeros(3)})
    assert np.array_equal(np.random.default_rng(0).standard_normal((2, 3)), x)
    (cause,) = report.causes
    assert cause.evidence["pattern"] == "transposed"
