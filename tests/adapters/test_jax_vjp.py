"""`gradcheck.jax.check_vjp_fn`: jax.custom_vjp layers with hand-written backwards (tests/_jax_layers.py)
pass, and one slip in each fails, the wrong input named; dtypes, keys, names and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import _jax_layers as layers  # noqa: E402

from gradcheck import check_vjp  # noqa: E402
from gradcheck.jax import check_vjp_fn  # noqa: E402


@pytest.fixture
def x64():
    """float64 in JAX for this test only (JAX's default is float32)."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def _normal(rng, *shape):
    return jnp.asarray(rng.normal(size=shape), dtype=jnp.float32)


def _affine(rng):
    return {"x": _normal(rng, 2, 3), "W": _normal(rng, 3, 3), "b": _normal(rng, 3)}


def _conv(rng):
    return {"x": _normal(rng, 1, 1, 4, 4), "W": _normal(rng, 2, 1, 3, 3), "b": _normal(rng, 2)}


def _image(rng):
    return {"x": _normal(rng, 1, 2, 4, 4)}  # continuous draws: no max-pool ties


def _norm(rng):
    return {"x": _normal(rng, 4, 3), "gamma": 1 + _normal(rng, 3) / 4, "beta": _normal(rng, 3)}


def _attention(rng):
    return {"Q": _normal(rng, 3, 2), "K": _normal(rng, 3, 2), "V": _normal(rng, 3, 2)}


def _dropout(rng):
    return {"x": _normal(rng, 3, 4), "key": jax.random.key(7)}


#: layer, its primals, the primal its slip makes wrong
LAYERS = {
    "affine (dW transposed)": (layers.affine, _affine, "W"),
    "conv2d (border)": (layers.conv2d, _conv, "x"),
    "maxpool (first entry, not the max)": (layers.maxpool, _image, "x"),
    "batchnorm (missing 1/N)": (layers.batchnorm, _norm, "x"),
    "layernorm (a sign)": (layers.layernorm, _norm, "x"),
    "attention (dK halved)": (layers.attention, _attention, "K"),
    "dropout (forgets 1/(1-rate))": (layers.dropout, _dropout, "x"),
}


@pytest.mark.parametrize("case", LAYERS)
def test_a_correct_custom_vjp_layer_passes_in_float32(case):
    layer, primals, _ = LAYERS[case]
    report = check_vjp_fn(layer(), primals(np.random.default_rng(0)))
    assert report.passed, str(report)
    assert not report.failures


@pytest.mark.parametrize("case", LAYERS)
def test_a_slip_in_each_layer_fails_naming_the_wrong_input(case):
    layer, primals, wrong = LAYERS[case]
    report = check_vjp_fn(layer(slip=True), primals(np.random.default_rng(0)))
    assert not report.passed
    assert {s.name for s in report.inputs if s.failing} == {wrong}, str(report)
    assert report.failures and all(name.startswith(f"{wrong}[") for name in report.failures)


def test_the_conv_border_slip_names_only_border_entries():
    report = check_vjp_fn(layers.conv2d(slip=True), _conv(np.random.default_rng(0)))
    x = next(s for s in report.inputs if s.name == "x")
    # the dropped last output row and column reach x's last two rows and columns only
    assert 0 < x.failing <= 16 - 4
    for name in report.failures:
        n, c, h, w = map(int, re.findall(r"\d+", name))
        assert h >= 2 or w >= 2, name


def test_float64_primals_under_64_bit_jax(x64):
    rng = np.random.default_rng(1)
    primals = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in _norm(rng).items()}
    assert check_vjp_fn(layers.layernorm(), primals).passed
    assert not check_vjp_fn(layers.layernorm(slip=True), primals).passed


def test_any_jax_function_without_a_custom_rule():
    def f(x, W):
        return jnp.tanh(x @ W) ** 2

    rng = np.random.default_rng(2)
    report = check_vjp_fn(f, _normal(rng, 2, 3), _normal(rng, 3, 4))
    assert report.passed, str(report)
    assert [s.name for s in report.inputs] == ["x", "W"]  # f's parameter names


def test_an_f_that_cannot_be_traced_runs_op_by_op():
    def f(x):
        return jnp.sin(x[x > 0])  # a shape that depends on values: jax.vjp runs it, jax.jit cannot

    report = check_vjp_fn(f, jnp.linspace(-1.0, 1.0, 4))
    assert report.passed and report.output_shape == (2,)


# ------------------------------------------------ dtypes and the caller's JAX settings


def test_candidate_in_the_primals_dtype_truth_in_float64():
    seen = []

    def f(x):
        seen.append(x.dtype)
        return jnp.sin(x)

    assert check_vjp_fn(f, jnp.linspace(0.1, 1.0, 4, dtype=jnp.float32)).passed
    assert set(seen) == {jnp.dtype("float32"), jnp.dtype("float64")}


def test_a_float32_candidate_is_judged_at_float32_rounding():
    """The same float32 gradients pass at float32 rounding and fail when held to float64's."""
    f, primals = layers.layernorm(), _norm(np.random.default_rng(3))
    assert check_vjp_fn(f, primals).passed

    def f64(*xs):
        with jax.enable_x64(True):
            return np.asarray(f(*(jnp.asarray(x, dtype=jnp.float64) for x in xs)))

    def vjp_as_float64(c, *xs):
        _, pullback = jax.vjp(f, *(jnp.asarray(x, dtype=jnp.float32) for x in xs))
        return [np.asarray(g, dtype=np.float64) for g in pullback(jnp.asarray(c, jnp.float32))]

    assert not check_vjp(f64, vjp_as_float64, primals).passed


def _effective_x64():
    """64-bit JAX as code sees it: the global flag and any thread-local jax.enable_x64 context."""
    return jnp.ones(1, dtype=float).dtype == jnp.float64


@pytest.mark.parametrize("enabled", [False, True], ids=["x64 off", "x64 on"])
def test_the_callers_x64_setting_is_left_as_it_was(enabled):
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    try:
        assert check_vjp_fn(layers.affine(), _affine(np.random.default_rng(4))).passed
        assert jax.config.jax_enable_x64 is enabled and _effective_x64() is enabled
    finally:
        jax.config.update("jax_enable_x64", before)


def test_the_callers_x64_setting_comes_back_when_f_raises_in_float64():
    def fails_in_float64(x):
        if x.dtype == jnp.float64:
            raise RuntimeError("f fails in float64")
        return x * 2

    with pytest.raises(RuntimeError, match="f fails in float64"):
        check_vjp_fn(fails_in_float64, jnp.ones(3, dtype=jnp.float32))
    assert not jax.config.jax_enable_x64 and not _effective_x64()


# ------------------------------------------------ randomness: the key is an input


@pytest.mark.parametrize("make_key", [jax.random.key, jax.random.PRNGKey], ids=["key", "PRNGKey"])
def test_dropout_with_its_key_as_a_primal_repeats_its_mask(make_key):
    x = _normal(np.random.default_rng(5), 3, 4)
    report = check_vjp_fn(layers.dropout(), x, make_key(3))
    assert report.passed, str(report)
    assert [(s.name, s.differentiated) for s in report.inputs] == [("x", True), ("key", False)]
    assert report.unsteady.f == 0 and report.unsteady.vjp == 0


def test_a_draw_whose_bits_follow_the_dtype_is_refused_saying_how_to_fix_it():
    def dropout(x, key):
        keep = jax.random.bernoulli(key, 0.5, x.shape)  # float64 bits under 64-bit JAX
        return jnp.where(keep, 2 * x, 0.0)

    x = _normal(np.random.default_rng(6), 4, 6)
    with pytest.raises(ValueError, match=r"another function than `f` in float32: .* at f\[\d,\d\]"):
        check_vjp_fn(dropout, x, jax.random.key(1))


def test_a_key_drawn_outside_the_primals_is_refused():
    calls = []

    def dropout(x):  # a new mask on every call: no difference can check it
        calls.append(None)
        key = jax.random.fold_in(jax.random.key(0), len(calls))
        return jnp.where(jax.random.bernoulli(key, jnp.float32(0.5), x.shape), 2 * x, 0.0)

    x = _normal(np.random.default_rng(7), 4, 6)
    with pytest.raises(ValueError, match="or one whose key is not a primal"):
        check_vjp_fn(dropout, x)


# ------------------------------------------------ primals, names, integers


def test_integer_and_boolean_primals_are_passed_not_differentiated():
    def f(x, n, keep):
        assert n.dtype == jnp.int32 and keep.dtype == jnp.bool_  # as given, in both evaluations
        return jnp.where(keep, x * n, 0.0)

    keep = jnp.array([True, False, True])
    report = check_vjp_fn(f, jnp.ones(3), jnp.arange(3, dtype=jnp.int32), keep)
    assert report.passed, str(report)
    assert [(s.name, s.differentiated) for s in report.inputs] == [
        ("x", True),
        ("n", False),
        ("keep", False),
    ]


def test_names_given_or_from_a_dict_or_numbered():
    f = layers.affine()
    primals = _affine(np.random.default_rng(8))
    by_dict = check_vjp_fn(f, primals)
    given = check_vjp_fn(f, *primals.values(), names=["a", "B", "c"])
    numbered = check_vjp_fn(lambda *xs: f(*xs), *primals.values())
    assert [s.name for s in by_dict.inputs] == ["x", "W", "b"]
    assert [s.name for s in given.inputs] == ["a", "B", "c"]
    assert [s.name for s in numbered.inputs] == ["x0", "x1", "x2"]


def test_the_callers_numpy_arrays_are_never_written():
    rng = np.random.default_rng(9)
    x, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    for a in (x, W):
        a.flags.writeable = False
    snapshot = (x.tobytes(), W.tobytes())
    assert check_vjp_fn(lambda x, W: jnp.tanh(x @ W), x, W).passed
    assert (x.tobytes(), W.tobytes()) == snapshot


# ------------------------------------------------ bad input, every message pinned


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (("not f", jnp.ones(2)), {}, TypeError, "`f` must be callable, got str"),
        ((jnp.sin,), {}, ValueError, "`primals` is empty"),
        ((jnp.sin, jnp.ones(2), (jnp.ones(2),)), {}, TypeError, "`primals[1]` must be an array"),
        ((jnp.sin, {"x": jnp.ones(2)}), {"names": ["y"]}, ValueError, "`names` must be None"),
        ((jnp.sin, {}), {}, ValueError, "`primals` is an empty dict"),
        ((jnp.sin, jnp.ones(2, dtype=jnp.complex64)), {}, TypeError, "must be real numbers"),
        ((jnp.sin, jnp.ones(2, dtype=jnp.bfloat16)), {}, TypeError, "pass it as float32"),
        ((jnp.sin, object()), {}, TypeError, "must be an array (JAX or numpy) or a number"),
        ((lambda n: n * 1.0, jnp.arange(2)), {}, ValueError, "no floating-point array"),
        ((lambda x: (x, x), jnp.ones(2)), {}, TypeError, "`f` must return one array, got tuple"),
        ((lambda x: jnp.round(x).astype(int), jnp.ones(2)), {}, TypeError, "floating-point values"),
        ((jnp.sin, jnp.ones(2)), {"names": ["a", "b"]}, ValueError, "`names` must be 1 strings"),
        ((jnp.add, 1.0, 2.0), {"names": ["a"]}, ValueError, "`names` must be 2 strings, one per"),
        ((jnp.add, 1.0, 2.0), {"names": "ab"}, ValueError, "`names` must be 2 strings, one per"),
        ((jnp.add, 1.0, 2.0), {"names": ["a", "a"]}, ValueError, "`names` must be distinct"),
        ((jnp.sin, jnp.ones(2)), {"cotangents": 0}, ValueError, "`cotangents` must be a positive"),
        ((jnp.sin, jnp.ones(2)), {"seed": -1}, ValueError, "`seed` must be a non-negative"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(args, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        check_vjp_fn(*args, **kwargs)


def test_the_mode_reaches_check_vjp_and_is_validated():
    x = jnp.linspace(-1.0, 1.0, 6)
    assert check_vjp_fn(jnp.tanh, x, mode="screen").method == "screen"
    assert check_vjp_fn(jnp.tanh, x, mode="entries").method == "entries"
    with pytest.raises(ValueError, match="mode"):
        check_vjp_fn(jnp.tanh, x, mode="fast")


def test_on_a_thread_pool_the_report_is_the_serial_one_bit_for_bit():
    from concurrent.futures import ThreadPoolExecutor

    x = jnp.linspace(-1.0, 1.0, 70).reshape(7, 10)
    serial = check_vjp_fn(jnp.tanh, x)
    with ThreadPoolExecutor(2) as pool:
        pooled = check_vjp_fn(jnp.tanh, x, executor=pool)
    assert repr(pooled.to_dict()) == repr(serial.to_dict())
