"""`gradcheck.fd.grouped`: grouped differences agree with per-entry ones, and a footprint wider than
hypothesised costs evaluations, never a verdict.

Layers of over `GROUPED_FROM` entries go through the grouped engine in `check_vjp` (the report says
so); each correct one passes and each slip is caught and named.  A convolution whose border entry
also reaches a far output, and one with a global coupling term, are still checked right: a wrong
entry hidden by the misattribution fails, a correct candidate passes.
"""

from __future__ import annotations

import numpy as np
import pytest
from _layers import (
    affine_backward,
    affine_forward,
    attention_backward,
    attention_forward,
    conv_backward,
    conv_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)

from gradcheck import check_layer, check_vjp
from gradcheck.fd.footprints import hypothesise
from gradcheck.fd.grouped import colour, grouped_differences
from gradcheck.fd.numerical import numerical_gradient
from gradcheck.oracle.layers import GROUPED_FROM

RNG = np.random.default_rng(20)


def _conv_inputs(n=1, c=2, size=6, filters=3):
    return {
        "x": RNG.standard_normal((n, c, size, size)),
        "w": RNG.standard_normal((filters, c, 3, 3)),
        "b": RNG.standard_normal(filters),
    }


def _flat_f(forward, inputs):
    """`forward` as f(theta) -> flat output, `theta` the inputs joined; and theta, shapes."""
    shapes = [np.shape(v) for v in inputs.values()]
    sizes = [int(np.prod(s)) for s in shapes]

    def f_vec(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return np.ravel(forward(*(p.reshape(s) for p, s in zip(parts, shapes, strict=True)))[0])

    theta = np.concatenate([np.ravel(v) for v in inputs.values()])
    return f_vec, theta, shapes


LAYERS = {
    "affine": (affine_forward, lambda: {"x": RNG.standard_normal((8, 6)), "W": RNG.standard_normal((6, 5)), "b": RNG.standard_normal(5)}),
    "conv": (conv_forward, _conv_inputs),
    "tanh": (lambda x: (np.tanh(x), x), lambda: {"x": RNG.standard_normal((8, 9))}),
    "layernorm": (layernorm_forward, lambda: {"x": RNG.standard_normal((6, 12)), "gamma": RNG.standard_normal(12), "beta": RNG.standard_normal(12)}),
    "attention": (attention_forward, lambda: {"q": RNG.standard_normal((6, 4)), "k": RNG.standard_normal((6, 4)), "v": RNG.standard_normal((6, 4))}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(LAYERS))
def test_grouped_differences_agree_with_per_entry_differences(name):
    forward, draw = LAYERS[name]
    f_vec, theta, shapes = _flat_f(forward, draw())
    f0 = f_vec(theta)
    c = RNG.standard_normal((2, f0.size))
    grouped = grouped_differences(f_vec, theta, c, shapes, f0.shape, seed=1)
    assert grouped is not None and grouped.groups < theta.size / 2
    for i in range(2):
        entry = numerical_gradient(lambda t, i=i: float(c[i] @ f_vec(t)), theta)
        gap = np.abs(grouped.estimates[i] - entry.gradient)
        assert np.all(gap <= 10 * (grouped.errors[i] + entry.error)), name
        assert np.all(grouped.errors[i] <= 1e-8 * (1 + np.abs(entry.gradient))), name


def test_the_groups_footprints_do_not_overlap():
    f_vec, theta, shapes = _flat_f(conv_forward, _conv_inputs())
    f0 = f_vec(theta)
    footprints = hypothesise(f_vec, theta, f0, shapes, (1, 3, 6, 6))
    groups = colour(footprints.each(), f0.size)
    assert sorted(np.concatenate(groups).tolist()) == list(range(theta.size))
    for group in groups:
        reached = np.concatenate([footprints.of(int(j)) for j in group])
        assert reached.size == np.unique(reached).size
    assert len(groups) == 2 * 9 + 2 * 9 + 1  # x: channel x 3x3 tile; w: its (c, kh, kw); b


# --- through check_vjp: the report says how, every layer still judged right


def _big_conv():
    return _conv_inputs(n=2, c=2, size=6, filters=3)


def test_check_layer_groups_a_convolution_and_says_so_with_fewer_evaluations(monkeypatch):
    inputs = _big_conv()
    grouped = check_layer(conv_forward, conv_backward, inputs)
    assert grouped.passed, str(grouped)
    assert grouped.groups > 0 and "grouped differences" in str(grouped)
    monkeypatch.setattr("gradcheck.oracle.layers.GROUPED_FROM", 10**9)
    entry = check_layer(conv_forward, conv_backward, inputs)
    assert entry.passed and entry.groups == 0
    assert 4 * grouped.n_evaluations < entry.n_evaluations


@pytest.mark.parametrize(
    ("forward", "backward", "inputs"),
    [
        (affine_forward, affine_backward, LAYERS["affine"][1]()),
        (relu_forward, relu_backward, {"x": RNG.standard_normal((8, 9))}),
        (conv_forward, conv_backward, _conv_inputs()),
        (layernorm_forward, layernorm_backward, LAYERS["layernorm"][1]()),
        (attention_forward, attention_backward, LAYERS["attention"][1]()),
    ],
    ids=["affine", "relu", "conv", "layernorm", "attention"],
)
def test_a_correct_layer_passes_grouped(forward, backward, inputs):
    assert sum(np.size(v) for v in inputs.values()) >= GROUPED_FROM
    report = check_layer(forward, backward, inputs)
    assert report.passed, str(report)


def test_one_wrong_weight_of_a_convolution_is_named():
    def one_slip(dout, cache):
        dx, dw, db = conv_backward(dout, cache)
        dw = dw.copy()
        dw[1, 0, 2, 2] *= 1.001
        return dx, dw, db

    report = check_layer(conv_forward, one_slip, _big_conv())
    assert report.groups > 0
    assert report.failures == ("w[1,0,2,2]",)


@pytest.mark.parametrize(
    ("forward", "backward", "inputs", "wrong"),
    [
        (
            conv_forward,
            lambda d, c: conv_backward(d, c, skip_last_column=True),
            _conv_inputs(),
            {"x"},
        ),
        (
            layernorm_forward,
            lambda d, c: layernorm_backward(d, c, n_factor=False),
            LAYERS["layernorm"][1](),
            {"x"},
        ),
        (
            attention_forward,
            lambda d, c: attention_backward(d, c, softmax_jacobian=False),
            LAYERS["attention"][1](),
            {"q", "k"},
        ),
    ],
    ids=["conv-border", "layernorm-1/N", "attention-softmax-diagonal"],
)
def test_slips_are_caught_grouped(forward, backward, inputs, wrong):
    report = check_layer(forward, backward, inputs)
    assert not report.passed
    assert {s.name for s in report.inputs if s.failing} == wrong


def test_float32_candidates_are_judged_at_float32_rounding_grouped():
    report = check_layer(
        conv_forward,
        lambda d, c: tuple(g.astype(np.float32) for g in conv_backward(d, c)),
        _big_conv(),
    )
    assert report.passed and report.groups > 0, str(report)


# --- a footprint wider than hypothesised: verification catches it


def _coupled(x, w, b, *, reach):
    """The convolution, plus a term through which one border entry of `x` also reaches a far
    output (`reach="far"`), or the first entry reaches every output (`reach="global"`): the
    probes of the middle entries see neither."""
    out, cache = conv_forward(x, w, b)
    out = out.copy()
    if reach == "far":
        out[0, 0, 0, 0] += 0.5 * x[-1, -1, -1, -1] ** 2
    else:
        out += 1e-3 * x[0, 0, 0, 0] ** 2
    return out, cache


def _coupled_backward(dout, cache, *, reach, include=True):
    dx, dw, db = conv_backward(dout, cache)
    x = cache[0]
    dx = dx.copy()
    if include and reach == "far":
        dx[-1, -1, -1, -1] += dout[0, 0, 0, 0] * x[-1, -1, -1, -1]
    elif include:
        dx[0, 0, 0, 0] += 2e-3 * x[0, 0, 0, 0] * np.sum(dout)
    return dx, dw, db


@pytest.mark.parametrize("reach", ["far", "global"])
def test_a_footprint_wider_than_hypothesised_is_still_checked_right(reach):
    inputs = _big_conv()
    inputs["x"][-1, -1, -1, -1] = 1.5

    def forward(x, w, b):
        return _coupled(x, w, b, reach=reach)

    right = check_layer(forward, lambda d, c: _coupled_backward(d, c, reach=reach), inputs)
    assert right.passed and right.groups > 0, str(right)
    wrong = check_layer(
        forward, lambda d, c: _coupled_backward(d, c, reach=reach, include=False), inputs
    )
    assert not wrong.passed
    # far: the missing term hides in an output another entry claims; global: in every output
    assert wrong.failures == (("x[1,1,5,5]",) if reach == "far" else ("x[0,0,0,0]",))


def test_the_engine_splits_a_group_that_f_refutes():
    inputs = _big_conv()
    inputs["x"][-1, -1, -1, -1] = 1.5
    f_vec, theta, shapes = _flat_f(lambda x, w, b: _coupled(x, w, b, reach="far"), inputs)
    f0 = f_vec(theta)
    c = RNG.standard_normal((1, f0.size))
    grouped = grouped_differences(f_vec, theta, c, shapes, f0.shape)
    assert grouped is not None and grouped.splits > 0
    entry = numerical_gradient(lambda t: float(c[0] @ f_vec(t)), theta)
    gap = np.abs(grouped.estimates[0] - entry.gradient)
    assert np.all(gap <= 10 * (grouped.errors[0] + entry.error))


# --- kinks: counted, never failed; they widen only their own entries


def test_a_kink_is_counted_and_widens_only_its_own_entry_when_grouped():
    x = RNG.standard_normal((8, 9))
    x[0, 0] = 0.0
    report = check_layer(relu_forward, relu_backward, {"x": x})
    assert report.passed and report.groups > 0, str(report)
    assert report.inputs[0].kinks == 1 and report.inputs[0].kink_entries == ("x[0,0]",)
    assert report.resolution < 1e-6
    wrong = check_layer(
        relu_forward,
        lambda d, c: relu_backward(d, c) * (1 + (np.arange(72) == 5).reshape(8, 9)),
        {"x": np.abs(x) + 0.1},
    )
    assert wrong.failures == ("x[0,5]",)


def test_the_same_seed_gives_the_same_grouped_report():
    inputs = _big_conv()
    a = check_layer(conv_forward, conv_backward, inputs, seed=3)
    b = check_layer(conv_forward, conv_backward, inputs, seed=3)
    assert a == b


def test_a_second_contributor_inside_claimed_outputs_is_caught_by_the_two_weightings(monkeypatch):
    """x[6] also reaches output 0, which x[0] claims: the NaN probe of the group and the outputs
    no member claims see nothing; only the two weightings disagree on output 0."""
    a = np.linspace(1.0, 2.0, 8)

    def f(x):
        out = a * x
        out[0] += 3.0 * x[6]
        return out

    def vjp(c, x, *, coupled=True):
        dx = a * c
        dx[6] += 3.0 * c[0] if coupled else 0.0
        return (dx,)

    x = RNG.standard_normal(8)
    grouped = grouped_differences(lambda t: f(t), x, np.ones((1, 8)), [(8,)], (8,))
    assert grouped is not None and grouped.splits > 0
    assert np.allclose(grouped.estimates[0], vjp(np.ones(8), x)[0], rtol=1e-12, atol=0)
    monkeypatch.setattr("gradcheck.oracle.layers.GROUPED_FROM", 1)
    assert check_vjp(f, vjp, [x]).passed
    wrong = check_vjp(f, lambda c, x: vjp(c, x, coupled=False), [x])
    assert wrong.groups > 0 and wrong.failures == ("x0[6]",)


def test_f_many_gives_the_same_differences_bit_for_bit_with_splits_and_a_nan_refusing_f():
    inputs = _big_conv()
    inputs["x"][-1, -1, -1, -1] = 1.5
    f_vec, theta, shapes = _flat_f(lambda x, w, b: _coupled(x, w, b, reach="far"), inputs)

    def refusing(t):  # refuses NaN: the NaN probe's exception must reach the group, not the caller
        if np.isnan(t).any():
            raise ValueError("NaN")
        return f_vec(t)

    f0 = refusing(theta)
    c = RNG.standard_normal((2, f0.size))
    batches = []

    def many(points):  # in reverse order, as a pool might finish them; exceptions handed back
        batches.append(len(points))
        values = {}
        for k in reversed(range(len(points))):
            try:
                values[k] = refusing(points[k])
            except ValueError as exc:
                values[k] = exc
        return [values[k] for k in range(len(points))]

    serial = grouped_differences(refusing, theta, c, shapes, f0.shape, seed=3)
    batched = grouped_differences(refusing, theta, c, shapes, f0.shape, seed=3, f_many=many)
    assert serial is not None and batched is not None and serial.splits > 0
    assert max(batches) > 2  # several groups' points in one batch
    assert (serial.groups, serial.splits) == (batched.groups, batched.splits)
    assert serial.estimates.tobytes() == batched.estimates.tobytes()
    assert serial.errors.tobytes() == batched.errors.tobytes()
