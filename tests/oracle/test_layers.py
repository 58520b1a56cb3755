"""check_vjp and check_layer on the numpy layers of `_layers`: each correct one passes, each slip is
caught and named by entry, kinks are counted and never failed, the caller's arrays are untouched."""

from __future__ import annotations

import numpy as np
import pytest
from _layers import (
    affine_backward,
    affine_backward_one_slip,
    affine_backward_swapped_dout,
    affine_backward_transposed_dw,
    affine_forward,
    attention_backward,
    attention_forward,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    maxpool_backward,
    maxpool_forward,
    relu_backward,
    relu_forward,
)

from gradcheck import check_gradient, check_layer, check_vjp

RNG = np.random.default_rng(20)
X, W, B = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3)), RNG.standard_normal(3)


# --- correct layers pass


@pytest.mark.parametrize(
    ("forward", "backward", "inputs"),
    [
        (affine_forward, affine_backward, {"x": X, "W": W, "b": B}),
        (relu_forward, relu_backward, {"x": RNG.standard_normal((3, 4))}),
        (maxpool_forward, maxpool_backward, {"x": RNG.standard_normal((1, 2, 4, 4))}),
        (
            conv_forward,
            conv_backward,
            {
                "x": RNG.standard_normal((1, 2, 4, 4)),
                "w": RNG.standard_normal((2, 2, 3, 3)),
                "b": RNG.standard_normal(2),
            },
        ),
        (
            layernorm_forward,
            layernorm_backward,
            {"x": RNG.standard_normal((3, 4)), "gamma": RNG.standard_normal(4), "beta": B[:1]},
        ),
        (
            batchnorm_forward,
            batchnorm_backward,
            {"x": RNG.standard_normal((5, 3)), "gamma": RNG.standard_normal(3), "beta": B},
        ),
        (
            attention_forward,
            attention_backward,
            {
                "q": RNG.standard_normal((4, 3)),
                "k": RNG.standard_normal((5, 3)),
                "v": RNG.standard_normal((5, 2)),
            },
        ),
        (dropout_forward, dropout_backward, {"x": RNG.standard_normal((3, 4))}),
    ],
    ids=["affine", "relu", "maxpool", "conv", "layernorm", "batchnorm", "attention", "dropout"],
)
def test_a_correct_layer_passes(forward, backward, inputs):
    if forward is layernorm_forward:
        inputs = {**inputs, "beta": RNG.standard_normal(4)}
    report = check_layer(forward, backward, inputs)
    assert report.passed, str(report)
    assert all(s.failing == 0 and s.entries == np.size(inputs[s.name]) for s in report.inputs)
    assert report.causes == ()  # no pattern is named for a correct layer


# --- slips are caught and named by entry


def test_a_transposed_dw_on_a_square_w_is_caught_off_the_diagonal():
    report = check_layer(affine_forward, affine_backward_transposed_dw, {"x": X, "W": W, "b": B})
    assert not report.passed
    by_name = {s.name: s for s in report.inputs}
    assert by_name["x"].failing == 0 and by_name["b"].failing == 0
    assert by_name["W"].failing == 6  # every entry off the diagonal; the diagonal is right
    assert not {"W[0,0]", "W[1,1]", "W[2,2]"} & set(report.failures)
    assert "W[" in str(report)


def test_one_wrong_entry_is_named():
    report = check_layer(affine_forward, affine_backward_one_slip, [X, W, B], names=["x", "W", "b"])
    assert not report.passed
    assert report.failures == ("W[2,1]",)
    assert "W[2,1]" in str(report)


def test_a_missing_one_over_n_in_layer_norm_fails_every_entry_of_x():
    inputs = {"x": RNG.standard_normal((3, 4)), "gamma": RNG.standard_normal(4), "beta": B[:1]}
    inputs["beta"] = RNG.standard_normal(4)
    report = check_layer(
        layernorm_forward, lambda d, c: layernorm_backward(d, c, n_factor=False), inputs
    )
    by_name = {s.name: s for s in report.inputs}
    assert by_name["x"].failing == 12
    assert by_name["gamma"].failing == 0 and by_name["beta"].failing == 0


def test_a_conv_backward_with_a_border_bug_fails_only_at_the_border():
    inputs = {
        "x": RNG.standard_normal((1, 2, 4, 4)),
        "w": RNG.standard_normal((2, 2, 3, 3)),
        "b": RNG.standard_normal(2),
    }
    report = check_layer(
        conv_forward, lambda d, c: conv_backward(d, c, skip_last_column=True), inputs
    )
    by_name = {s.name: s for s in report.inputs}
    assert not report.passed
    assert by_name["w"].failing == 0 and by_name["b"].failing == 0
    # the skipped output column reaches the input's last two columns only
    assert by_name["x"].failing > 0
    assert all(row.entry.endswith((",2]", ",3]")) for row in by_name["x"].worst)


def test_random_cotangents_catch_an_error_that_sums_to_zero_under_ones():
    x, w = X, W

    def f(x):
        return x @ w

    def wrong_vjp(c, x):
        return (affine_backward_swapped_dout(c, (x, w))[0],)

    ones = np.ones((2, 3))
    under_ones = check_gradient(
        lambda t: float(np.sum(f(t.reshape(2, 3)))), wrong_vjp(ones, x)[0].ravel(), x.ravel()
    )
    assert under_ones.passed  # the all-ones cotangent hides the slip
    report = check_vjp(f, wrong_vjp, {"x": x})
    assert not report.passed and report.inputs[0].failing > 0


# --- kinks are counted, never failed


def test_relu_at_zero_and_max_pool_ties_are_kinks_not_failures():
    x = np.array([[0.0, 1.0, -1.0, 0.5]])
    relu = check_layer(relu_forward, relu_backward, {"x": x})
    assert relu.passed and relu.inputs[0].kinks == 1
    assert relu.inputs[0].kink_entries == ("x[0,0]",)
    tie = np.array([[[[1.0, 1.0], [0.5, 0.2]]]])
    pool = check_layer(maxpool_forward, maxpool_backward, {"x": tie})
    assert pool.passed and pool.inputs[0].kinks == 2
    assert "on a kink" in str(pool)


def test_a_wrong_entry_next_to_a_kink_still_fails():
    x = np.array([[0.0, 1.0, -1.0, 0.5]])
    report = check_layer(
        relu_forward, lambda d, x: relu_backward(d, x) * np.array([1, 1, 1, 2]), {"x": x}
    )
    assert report.failures == ("x[0,3]",)


def test_a_kink_widens_the_bounds_and_the_report_says_by_how_much():
    """A kink inflates the differences' error estimates of every entry: a small error elsewhere
    passes unseen, and the report must say how small."""
    smooth = check_layer(relu_forward, relu_backward, {"x": np.array([[0.3, 1.0, -1.0, 0.5]])})
    assert smooth.resolution < 1e-6 and "passes unseen" not in str(smooth)
    kinked = check_layer(relu_forward, relu_backward, {"x": np.array([[0.0, 1.0, -1.0, 0.5]])})
    assert kinked.resolution > 1e-3
    assert "passes unseen" in str(kinked)


# --- seeds, names, None, the caller's data


def test_the_seed_is_printed_and_reproduces_the_report():
    args = (affine_forward, affine_backward_one_slip, {"x": X, "W": W, "b": B})
    a, b = check_layer(*args, seed=7), check_layer(*args, seed=7)
    assert a == b and "seed=7" in str(a)
    assert check_layer(*args, seed=8).inputs[1].worst[0].candidate != a.inputs[1].worst[0].candidate


def test_an_input_with_a_none_gradient_is_not_checked():
    report = check_vjp(lambda x, w: x @ w, lambda c, x, w: (c @ w.T, None), [X, W])
    assert report.passed
    assert [s.differentiated for s in report.inputs] == [True, False]
    assert "x1 (3, 3): not differentiated" in str(report)


def test_the_callers_arrays_are_never_changed_and_a_mutating_f_is_reported():
    x = X.copy()

    def f(x):
        out = x * 2
        x += 1.0  # in place: the harness handed a copy
        return out

    report = check_vjp(f, lambda c, x: (2 * c,), {"x": x})
    assert np.array_equal(x, X)
    assert report.passed and report.mutated == ("x",)
    assert "changed in place" in str(report)


def test_float32_candidates_are_judged_at_float32_rounding():
    report = check_layer(
        affine_forward,
        lambda d, c: tuple(g.astype(np.float32) for g in affine_backward(d, c)),
        {"x": X, "W": W, "b": B},
    )
    assert report.passed, str(report)


# --- bad input, named


def test_vjp_returning_the_wrong_number_of_gradients_is_refused():
    with pytest.raises(ValueError, match="`vjp` must return 2 gradients.*got 1 values"):
        check_vjp(lambda x, w: x @ w, lambda c, x, w: (c @ w.T,), [X, W])


def test_a_gradient_of_the_wrong_shape_names_the_input_and_both_shapes():
    with pytest.raises(
        ValueError, match=r"gradient of `W` has shape \(3,\), but `W` has shape \(3, 3\)"
    ):
        check_vjp(lambda x, W: x @ W, lambda c, x, W: (c @ W.T, np.ones(3)), {"x": X, "W": W})


@pytest.mark.parametrize(
    ("f", "inputs", "error", "match"),
    [
        (lambda x: x * np.inf, [np.ones(2)], ValueError, "`f` returned 2 NaN or Inf"),
        (lambda x: x, [np.ones((0, 2))], ValueError, r"input `x0` is empty \(shape \(0, 2\)\)"),
        (lambda x: x, [], ValueError, "`inputs` is empty"),
        (lambda x: x, np.ones(2), TypeError, "`inputs` must be a list or tuple"),
        (lambda x: x, [np.array([np.nan])], ValueError, "input `x0` has NaN"),
        (lambda x: x, [np.array(["a"])], TypeError, "input `x0` must be real numbers"),
    ],
)
def test_bad_input_is_refused_by_name(f, inputs, error, match):
    with pytest.raises(error, match=match):
        check_vjp(f, lambda c, x: (c,), inputs)


def test_bad_options_are_refused_by_name():
    with pytest.raises(ValueError, match="`names` must be 1 strings"):
        check_vjp(lambda x: x, lambda c, x: (c,), [X], names=["a", "b"])
    with pytest.raises(ValueError, match="`names` must be None when `inputs` is a dict"):
        check_vjp(lambda x: x, lambda c, x: (c,), {"x": X}, names=["a"])
    with pytest.raises(ValueError, match="`cotangents` must be a positive integer"):
        check_vjp(lambda x: x, lambda c, x: (c,), [X], cotangents=0)
    with pytest.raises(TypeError, match="`vjp` must be callable"):
        check_vjp(lambda x: x, None, [X])
    with pytest.raises(ValueError, match="`vjp` returned None for every input"):
        check_vjp(lambda x: x, lambda c, x: (None,), [X])


def test_a_forward_that_returns_no_cache_is_refused():
    with pytest.raises(TypeError, match=r"`forward` must return a pair \(out, cache\)"):
        check_layer(lambda x: x, lambda d, c: d, [X])


# --- random state: replayed for numpy's global RNG, reported where it cannot be


def test_dropout_from_the_global_rng_repeats_and_the_callers_rng_state_is_untouched():
    x = RNG.standard_normal((3, 4))
    np.random.seed(7)  # noqa: NPY002 (the global RNG is the point)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    report = check_layer(dropout_forward, dropout_backward, {"x": x})
    assert report.passed, report
    assert report.unsteady.f == 0 and report.unsteady.vjp == 0
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002 (nothing drawn)
    # without the replay the masks differ at each call: the same layer is a different function
    assert not np.array_equal(dropout_forward(x)[1], dropout_forward(x)[1])


def test_an_unseeded_generator_in_f_is_reported_as_nondeterministic_with_its_size():
    x = RNG.standard_normal((3, 4))

    def forward(x):
        mask = np.random.default_rng().random(x.shape) >= 0.5  # fresh entropy: no replay can help
        return x * mask, mask

    report = check_layer(forward, dropout_backward, {"x": x})
    assert report.unsteady.f > 0 and report.unsteady.vjp > 0
    assert "f is nondeterministic" in str(report) and "the vjp is nondeterministic" in str(report)
    assert not report.passed


def test_a_backward_that_drifts_between_calls_is_reported_with_the_size_of_the_drift():
    calls = []

    def backward(dout, x):
        calls.append(1)
        return dout * (1 - np.tanh(x) ** 2) + 1e-9 * len(calls)  # state kept between calls

    report = check_layer(lambda x: (np.tanh(x), x), backward, {"x": np.linspace(-1, 1, 4)})
    assert report.unsteady.f == 0
    assert report.unsteady.vjp == pytest.approx(1e-9 * (4 - 1))  # call 4 (the repeat) vs call 1
    assert "the vjp is nondeterministic" in str(report) and "3e-09" in str(report)


def test_a_deterministic_layer_reports_no_unsteadiness():
    report = check_layer(affine_forward, affine_backward, {"x": X, "W": W, "b": B})
    assert report.unsteady.f == 0 and report.unsteady.vjp == 0
    assert "nondeterministic" not in str(report)


# --- per-entry maps, for the patterns and the page


def test_each_differentiated_input_gets_its_entries_under_its_worst_cotangent():
    report = check_layer(affine_forward, affine_backward_one_slip, {"x": X, "W": W, "b": B})
    assert [(m.name, m.shape) for m in report.maps] == [("x", (2, 3)), ("W", (3, 3)), ("b", (3,))]
    w_map, (row,) = report.maps[1], report.inputs[1].worst
    assert w_map.cotangent == row.cotangent  # the worst row's cotangent is the map's
    assert w_map.candidate[2, 1] == row.candidate and w_map.numerical[2, 1] == row.numerical
    assert w_map.bound[2, 1] == row.bound and w_map.difference[2, 1] == row.difference
    assert np.argwhere(w_map.failing).tolist() == [[2, 1]] and not w_map.kinks.any()
    assert report.causes[0].evidence["wrong"] == "W[2,1]"
    assert "likely cause: only 1 of 9 entries is wrong (W[2,1])" in str(report)


def test_maps_mark_kinks_and_leave_out_what_is_not_differentiated():
    relu = check_layer(relu_forward, relu_backward, {"x": np.array([[0.0, 1.0, -1.0, 0.5]])})
    assert relu.maps[0].kinks.tolist() == [[True, False, False, False]]
    assert not relu.maps[0].failing.any() and relu.causes == ()
    report = check_vjp(lambda x, w: x @ w, lambda c, x, w: (c @ w.T, None), [X, W])
    assert [m.name for m in report.maps] == ["x0"]


def test_a_float32_backward_is_not_said_to_have_wide_differences():
    """Its bound is wide for float32 rounding, not because f has kinks or noise."""
    report = check_layer(
        affine_forward,
        lambda d, c: tuple(g.astype(np.float32) for g in affine_backward(d, c)),
        {"x": X, "W": W, "b": B},
    )
    assert report.passed and report.resolution < 1e-6
    assert "estimates are wide" not in str(report)
