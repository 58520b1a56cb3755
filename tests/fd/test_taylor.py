"""Tests of `gradcheck.fd.taylor`: second order for correct gradients, first order for wrong ones."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _fuzz import FUZZ, draw_gradient_case, outcome
from _helpers import SIN_GRAD, SIN_THETA, rosen, rosen_grad, sum_sin
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.fd.taylor import PASS_RATE, TaylorResult, taylor_test

# ----------------------------------------------------------------------------- test functions
# Each maker returns f (1-D input), its exact gradient at θ (float64) and θ.


def _net(rng, n):
    A, theta = rng.normal(size=(max(3, n // 3), n)) / np.sqrt(n), rng.normal(size=n)
    t = np.tanh(A @ theta)
    return (lambda x: np.sum(np.tanh(A @ x)) ** 2), 2 * np.sum(t) * (A.T @ (1 - t * t)), theta


def _sin(rng, n):
    theta, c = rng.uniform(-3, 3, n), rng.uniform(0.5, 2, n)
    return (lambda x: np.sum(np.sin(c * x))), c * np.cos(c * theta), theta


def _logsumexp(rng, n):
    A, b, theta = rng.normal(size=(n // 2 + 2, n)), rng.normal(size=n), rng.normal(size=n) / 2
    z = A @ theta
    p = np.exp(z - z.max())
    grad = A.T @ (p / p.sum()) - b
    return (lambda x: np.log(np.sum(np.exp(A @ x))) - b @ x), grad, theta


def _quadratic(rng, n):
    M = rng.normal(size=(n, n))
    Q, b, theta = M @ M.T / n, rng.normal(size=n), rng.normal(size=n)
    return (lambda x: 0.5 * x @ Q @ x + b @ x), Q @ theta + b, theta


def _exp_heavy(rng, n):
    theta = rng.normal(size=n)
    return (lambda x: np.sum(np.exp(5 * x))), 5 * np.exp(5 * theta), theta


def _huge_value(rng, n):
    theta = rng.normal(size=n)
    return (lambda x: 1e10 + np.sum(x**2)), 2 * theta, theta


def _tiny_gradient(rng, n):
    theta = rng.normal(size=n)
    return (lambda x: 1e-12 * np.sum(np.sin(x))), 1e-12 * np.cos(theta), theta


def _tiny_variation(rng, n):  # f ~ 1, its variation ~1e-12: at the rounding floor
    theta = rng.normal(size=n)
    return (lambda x: 1 + 1e-12 * np.sum(np.sin(x))), 1e-12 * np.cos(theta), theta


def _mixed_scales(rng, n):
    theta = 10.0 ** rng.uniform(-3, 3, n) * rng.choice([-1.0, 1.0], n)
    s = np.abs(theta) * rng.uniform(0.5, 2, n)
    f = lambda x: np.sum((x / s) ** 3) + np.sum(np.sin(x / s)) + np.exp(0.1 * np.sum(x / s))
    u = theta / s
    return f, (3 * u**2 + np.cos(u) + 0.1 * np.exp(0.1 * np.sum(u))) / s, theta


def _offset(rng, n):
    theta = rng.uniform(100, 1000, n) * rng.choice([-1.0, 1.0], n)
    return (lambda x: np.sum(np.sin(x))), np.cos(theta), theta


CORRECT = {
    "net": _net,
    "sin": _sin,
    "logsumexp": _logsumexp,
    "quadratic": _quadratic,
    "exp_heavy": _exp_heavy,
    "huge_value": _huge_value,
    "tiny_gradient": _tiny_gradient,
    "tiny_variation": _tiny_variation,
    "mixed_scales": _mixed_scales,
    "offset": _offset,
}
DETECTABLE = ["net", "sin", "logsumexp", "quadratic", "mixed_scales"]


# ----------------------------------------------------------------------------- rates


@pytest.mark.parametrize("kind", ["net", "sin", "logsumexp", "quadratic"])
def test_rate_is_2_for_the_true_gradient_and_1_for_a_wrong_one(kind):
    f, grad, theta = CORRECT[kind](np.random.default_rng(0), 20)
    good = taylor_test(f, grad, theta)
    assert good.passed
    np.testing.assert_allclose(good.rates, 2.0, atol=0.05)
    bad = taylor_test(f, grad * 1.01, theta)
    assert not bad.passed
    np.testing.assert_allclose(bad.rates, 1.0, atol=0.1)


@pytest.mark.parametrize("kind", list(CORRECT))
def test_no_false_alarms(kind):
    for seed in range(10):
        rng = np.random.default_rng(seed)
        f, grad, theta = CORRECT[kind](rng, int(rng.integers(2, 150)))
        result = taylor_test(f, grad, theta, seed=seed)
        assert result.passed, f"{kind}, seed {seed}:\n{result}"


@pytest.mark.parametrize("kind", DETECTABLE)
def test_one_entry_1_percent_off_is_rejected(kind):
    for seed in range(8):
        rng = np.random.default_rng(seed)
        f, grad, theta = CORRECT[kind](rng, 200)
        # An entry 1000x below the rest hides in any random direction: pick a visible one.
        j = rng.choice(np.flatnonzero(np.abs(grad) >= 0.1 * np.sqrt(np.mean(grad**2))))
        wrong = grad.copy()
        wrong[j] *= 1.01
        result = taylor_test(f, wrong, theta, seed=seed)
        assert not result.passed, f"{kind}, seed {seed}, entry {j}:\n{result}"
        failed = [
            r for r, v in zip(result.rates, result.verdicts, strict=True) if v.startswith("FIRST")
        ]
        assert min(abs(r - 1.0) for r in failed) < 0.1  # first order, where it shows clearly


def test_linear_direction_is_exact_to_rounding_and_passes():
    b = np.array([1.0, -2.0, 0.5])
    result = taylor_test(lambda x: b @ x + 3.0, b, np.array([0.3, 0.1, -0.7]))
    assert result.passed
    assert np.all(np.isnan(result.rates))
    assert set(result.verdicts) == {"exact to rounding"}
    assert not result.used.any()
    assert "exact to rounding" in str(result)


def test_a_wrong_gradient_of_a_linear_function_fails():
    b = np.array([1.0, -2.0, 0.5])
    result = taylor_test(lambda x: b @ x, b + [0.0, 0.01, 0.0], np.array([0.3, 0.1, -0.7]))
    assert not result.passed
    np.testing.assert_allclose(result.rates, 1.0, atol=0.05)


def test_float32_candidate_passes():
    f, grad, theta = _net(np.random.default_rng(3), 50)
    assert taylor_test(f, grad.astype(np.float32), theta).passed


# ----------------------------------------------------------------------------- directions


def test_block_direction_catches_a_bug_in_a_small_block():
    f, grad, theta = _net(np.random.default_rng(4), 202)
    blocks = [("W^0", slice(0, 200)), ("b^0", slice(200, 202))]
    wrong = grad.copy()
    wrong[200:] *= 1.001  # a 0.1% bug in a 2-entry block
    result = taylor_test(f, wrong, theta, blocks=blocks, n_random=2)
    assert result.direction_names == ["random 0", "random 1", "W^0", "b^0"]
    verdicts = dict(zip(result.direction_names, result.verdicts, strict=True))
    assert verdicts["W^0"] == "second order"
    assert verdicts["b^0"].startswith("FIRST ORDER")
    assert not result.passed


def test_explicit_directions_and_shapes():
    f, grad, theta = _sin(np.random.default_rng(5), 6)
    V = np.eye(6)[:2]
    result = taylor_test(f, grad, theta, directions=V, n_random=1, epsilons=2.0 ** -np.arange(20))
    assert isinstance(result, TaylorResult) and result.passed and result
    assert result.direction_names == ["random 0", "direction 0", "direction 1"]
    assert result.rates.shape == (3,)
    assert result.epsilons.shape == (20,)
    for array in [result.remainders, result.first_order, result.used]:
        assert array.shape == (3, 20)
    assert np.all(np.diff(result.epsilons) < 0)
    single = taylor_test(f, grad, theta, directions=np.ones(6), n_random=0)
    assert single.direction_names == ["direction 0"]


def test_first_order_term_falls_as_e():
    f, grad, theta = _sin(np.random.default_rng(6), 5)
    result = taylor_test(f, grad, theta, n_random=1)
    e, first = result.epsilons[10:20], result.first_order[0, 10:20]
    slope = np.polyfit(np.log(e), np.log(first), 1)[0]
    assert abs(slope - 1.0) < 0.01


def test_seed_makes_directions_reproducible():
    f, grad, theta = _net(np.random.default_rng(7), 30)
    a = taylor_test(f, grad, theta, seed=1)
    b = taylor_test(f, grad, theta, seed=1)
    c = taylor_test(f, grad, theta, seed=np.random.default_rng(2))
    np.testing.assert_array_equal(a.remainders, b.remainders)
    assert not np.array_equal(a.remainders, c.remainders)


# ----------------------------------------------------------------------------- plumbing


def test_vectorized_equals_the_loop():
    f, grad, theta = _net(np.random.default_rng(8), 25)
    rows = lambda X: np.array([f(x) for x in X])
    calls = []

    def counted(X):
        calls.append(X.shape)
        return rows(X)

    a = taylor_test(f, grad, theta)
    b = taylor_test(counted, grad, theta, vectorized=True)
    np.testing.assert_array_equal(a.rates, b.rates)
    np.testing.assert_array_equal(a.remainders, b.remainders)
    sweep = [shape for shape in calls if shape[0] == 4 * 34]
    assert len(sweep) == 1  # the whole sweep: 4 directions x 34 epsilons, one call


def test_caller_arrays_are_never_modified():
    f, grad, theta = _sin(np.random.default_rng(9), 8)
    before = grad.copy(), theta.copy()

    def scribbling(x):
        value = f(x)
        x[:] = 0.0
        return value

    assert taylor_test(scribbling, grad, theta).passed
    np.testing.assert_array_equal(grad, before[0])
    np.testing.assert_array_equal(theta, before[1])


def test_report_table():
    f, grad, theta = _sin(np.random.default_rng(10), 5)
    text = str(taylor_test(f, grad * [1, 1, 1.01, 1, 1], theta, n_random=2))
    assert text.startswith("Taylor test FAILED: 0 of 2 directions converge at second order")
    assert f"rate >= {PASS_RATE}" in text
    assert re.search(r"random 0\s+1\.\d\d\s+FIRST ORDER: gradient wrong along this direction", text)


# ----------------------------------------------------------------------------- validation


def _f(x):
    return float(np.sum(np.asarray(x) ** 2))


TAYLOR_ERRORS = [
    (dict(f=None), TypeError, "`f` must be callable, got NoneType"),
    (dict(theta=[1.0, np.inf, 2.0]), ValueError, "`theta` must be finite, got inf at index 1"),
    (
        dict(theta=np.ones((3, 1))),
        ValueError,
        "`theta` must be 1-D (a flat vector), got shape (3, 1)",
    ),
    (dict(theta=[]), ValueError, "`theta` must not be empty"),
    (
        dict(grad=[1.0, 2.0]),
        ValueError,
        "`grad` has shape (2,) but `theta` has shape (3,); they must match",
    ),
    (dict(grad=[1.0, np.nan, 2.0]), ValueError, "`grad` must be finite, got nan at index 1"),
    (
        dict(grad=["a", "b", "c"]),
        TypeError,
        "`grad` must be a 1-D array of real numbers, got dtype <U1",
    ),
    (dict(grad=[1j, 0, 0]), TypeError, "`grad` must be real, got complex dtype complex128"),
    (
        dict(directions=np.ones((2, 4))),
        ValueError,
        "`directions` must have shape (k, 3) (or (3,) for one), got shape (2, 4)",
    ),
    (
        dict(directions=[[0.0, 0.0, 0.0]]),
        ValueError,
        "`directions` row 0 is zero; a direction must move theta",
    ),
    (dict(directions=[[np.nan, 1.0, 0.0]]), ValueError, "`directions` must be finite"),
    (
        dict(directions=[["a", "b", "c"]]),
        TypeError,
        "`directions` must be an array of real numbers",
    ),
    (dict(n_random=-1), ValueError, "`n_random` must be a non-negative integer, got -1"),
    (dict(n_random=2.5), ValueError, "`n_random` must be a non-negative integer, got 2.5"),
    (
        dict(n_random=0),
        ValueError,
        "nothing to test: `n_random` is 0 and no `blocks` or `directions` were given",
    ),
    (
        dict(blocks=[("b^0", slice(2, 2))]),
        ValueError,
        "block 'b^0' is empty (index slice(2, 2, None) in `theta` of shape (3,))",
    ),
    (dict(blocks=[("W^0", [0, 5])]), ValueError, "block 'W^0' does not fit `theta` of shape (3,)"),
    (
        dict(blocks=[("W^0", "0:2")]),
        TypeError,
        "block 'W^0': the index must be a slice or an array of indices, got str",
    ),
    (dict(blocks=["W^0"]), TypeError, "each of `blocks` must be a (name, slice) pair, got 'W^0'"),
    (dict(blocks="W^0"), TypeError, "`blocks` must be a list of (name, slice) pairs, got str"),
    (dict(epsilons=[1.0, -1e-3, 1e-6]), ValueError, "`epsilons` must be positive and finite"),
    (
        dict(epsilons=[1e-3, 1e-3]),
        ValueError,
        "`epsilons` must hold at least 3 distinct values, got 1",
    ),
    (dict(seed="zero"), TypeError, "`seed` must be an integer or a numpy Generator, got 'zero'"),
    (dict(vectorized=1), TypeError, "`vectorized` must be True or False, got 1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), TAYLOR_ERRORS)
def test_taylor_test_validation_messages(kwargs, error, message):
    args = dict(f=_f, grad=[2.0, 4.0, 6.0], theta=[1.0, 2.0, 3.0]) | kwargs
    with pytest.raises(error, match=re.escape(message)):
        taylor_test(args.pop("f"), args.pop("grad"), args.pop("theta"), **args)


def test_f_must_be_finite_at_theta():
    with pytest.raises(ValueError, match=re.escape("`f` returned nan at `theta`")):
        taylor_test(lambda x: np.nan, [1.0], [1.0])


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, directions=[[1.0], [1.0, 2.0]]),
        TypeError,
        "`directions` must be an array of real numbers",
        id="taylor-directions-ragged",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, directions=np.ones((1, 1, 3))),
        ValueError,
        "`directions` must have shape (k, 3)",
        id="taylor-directions-3d",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, epsilons=[[1.0, 0.5, 0.25]]),
        ValueError,
        "`epsilons` must be 1-D (a flat vector)",
        id="taylor-epsilons-2d",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, epsilons="small"),
        TypeError,
        "`epsilons` must be a 1-D array of real numbers, got a string",
        id="taylor-epsilons-string",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, n_random="3"),
        ValueError,
        "`n_random` must be a non-negative integer, got '3'",
        id="taylor-n_random-string",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, blocks={"a": slice(0, 1)}),
        TypeError,
        "`blocks` must be a list of (name, slice) pairs, got dict",
        id="taylor-blocks-dict",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, blocks=[("a", np.array([0.5]))]),
        ValueError,
        "block 'a' does not fit `theta` of shape (3,)",
        id="taylor-blocks-float-index",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, blocks=[("a", np.array([True, False]))]),
        ValueError,
        "block 'a' does not fit `theta` of shape (3,)",
        id="taylor-blocks-short-mask",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, [True, False, True], SIN_THETA),
        TypeError,
        "`grad` must be a 1-D array of real numbers, got dtype bool",
        id="taylor-grad-bool",
    ),
    pytest.param(
        lambda: taylor_test(sum_sin, SIN_GRAD, SIN_THETA, seed=1.5),
        TypeError,
        "`seed` must be an integer or a numpy Generator, got 1.5",
        id="taylor-seed-float",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


def test_complex_directions_are_refused():
    with pytest.raises(TypeError, match="must be real"):
        taylor_test(sum_sin, SIN_GRAD, SIN_THETA, directions=np.array([1 + 1j, 1.0, 1.0]))


def test_taylor_negative_seed_is_named():
    with pytest.raises(ValueError, match="`seed`"):
        taylor_test(sum_sin, SIN_GRAD, SIN_THETA, seed=-1)


def test_taylor_zero_step_slice_is_named():
    with pytest.raises(ValueError, match="block 'a'"):
        taylor_test(sum_sin, SIN_GRAD, SIN_THETA, blocks=[("a", slice(0, 1, 0))])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_taylor_test_does_not_pass_when_f_is_undefined_off_theta(bad):
    def f(x):
        return sum_sin(x) if np.array_equal(x, SIN_THETA) else bad

    assert not taylor_test(f, SIN_GRAD + 5.0, SIN_THETA).passed


@pytest.mark.parametrize("theta", [[1e-20], [1e-20, 1e-20], [4.6e-125]])
def test_taylor_test_does_not_pass_a_wrong_gradient_at_a_tiny_theta(theta):
    theta = np.array(theta)
    assert not taylor_test(sum_sin, np.cos(theta) + 0.5, theta).passed


@FUZZ
@given(data=st.data())
def test_fuzz_taylor_test(data):
    case = draw_gradient_case(data)
    finite_ok = case.grad_ok and np.isfinite(np.asarray(case.g, dtype=np.float64)).all()
    kind, result = outcome(lambda: taylor_test(sum_sin, case.grad, case.theta, n_random=2))
    assert kind == ("ok" if finite_ok else "refused"), (kind, result)
    if kind == "ok" and case.truth is not None:
        assert result.passed == case.truth


# ---- grad as a callable (scipy's habit)


def test_taylor_test_accepts_grad_as_a_callable():
    theta = np.array([0.3, -0.7, 1.1, 0.5])
    assert taylor_test(rosen, rosen_grad, theta).passed
    assert not taylor_test(rosen, lambda x: rosen_grad(x) + [0, 0.05, 0, 0], theta).passed
