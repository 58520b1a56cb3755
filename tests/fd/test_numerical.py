"""gradcheck.fd.numerical: `numerical_gradient`'s accuracy, honest error estimates, the
vectorized path, validation and fuzzing.

Known answers come from analytic gradients evaluated in long double (where
the platform has it), so the true error of each numerical entry is measured,
not guessed. The steps, the noise model, the evaluator and the check have test
files of their own (test_steps, test_noise, test_evaluation, test_gradient_check).
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest
from _fuzz import FUZZ, draw_options, expected_array, junk, outcome, thetas
from _helpers import SIN_THETA, sum_sin, sum_squares
from _known_gradients import FUNCTIONS, LD, LD_EPS
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.fd.check import check_gradient, compare_gradient
from gradcheck.fd.numerical import METHODS, RICHARDSON_MAX_LEVELS, numerical_gradient

SMOOTH_UNIT_SCALE = ["exp", "sin", "log", "poly", "net", "logsumexp", "rosenbrock"]
SEEDS = range(8)
N = 12


def _case(kind, seed, n=N):
    f, grad, theta = FUNCTIONS[kind](np.random.default_rng(seed), n)
    return f, np.asarray(grad(theta)), theta


def _errors(ng, true):
    """The true error of each entry, and the relative error against max(|g_j|, 1e-3 max|g|)."""
    error = np.abs(LD(ng.gradient) - true).astype(np.float64)
    size = np.abs(true).astype(np.float64)
    return error, error / np.maximum(size, 1e-3 * size.max())


def _sweep(method, kinds):
    """(true error, estimate, relative error, |true|) over kinds x seeds, concatenated."""
    rows = []
    for kind in kinds:
        for seed in SEEDS:
            f, true, theta = _case(kind, seed)
            ng = numerical_gradient(f, theta, method=method)
            error, relative = _errors(ng, true)
            rows.append((error, ng.error, relative, np.abs(true).astype(np.float64)))
    return [np.concatenate(column) for column in zip(*rows, strict=True)]


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("kind", list(FUNCTIONS))
def test_richardson_is_accurate_to_1e9(kind):
    _, _, relative, _ = _sweep("richardson", [kind])
    assert relative.max() <= 1e-9


@pytest.mark.parametrize("kind", list(FUNCTIONS))
def test_complex_step_is_accurate_to_a_few_ulps(kind):
    _, _, relative, _ = _sweep("complex", [kind])
    assert relative.max() <= 1e-13
    assert np.median(relative) <= 1e-15


@pytest.mark.parametrize("kind", SMOOTH_UNIT_SCALE)
def test_central_is_accurate_to_1e7(kind):
    _, _, relative, _ = _sweep("central", [kind])
    assert relative.max() <= 1e-7
    assert np.median(relative) <= 1e-9


def test_six_orders_of_magnitude_come_out_accurate():
    f, true, theta = _case("mixed", seed=3, n=40)
    assert np.abs(theta).min() < 1e-2 and np.abs(theta).max() > 1e2
    for method, bound in [("richardson", 1e-9), ("complex", 1e-14)]:
        ng = numerical_gradient(f, theta, method=method)
        error, _ = _errors(ng, true)
        relative = error / np.abs(true).astype(np.float64)  # entry by entry, no floor
        assert relative.max() <= bound, method
        assert np.all(error <= ng.error + 4 * LD_EPS * np.abs(true).astype(np.float64)), method


# ----------------------------------------------------------------------------- honest estimates


@pytest.mark.parametrize("method", METHODS)
def test_error_estimates_bound_the_true_error_on_99_percent(method):
    error, estimate, _, size = _sweep(method, list(FUNCTIONS))
    honest = error <= estimate + 4 * LD_EPS * size  # allow for the reference's own rounding
    assert honest.mean() >= 0.99


@pytest.mark.parametrize("method", ["richardson", "central"])
def test_error_estimates_are_not_absurdly_pessimistic(method):
    error, estimate, _, size = _sweep(method, SMOOTH_UNIT_SCALE + ["mixed"])
    overestimate = estimate / np.maximum(error, np.finfo(np.float64).eps * size)
    assert np.median(overestimate) <= 100


def test_complex_step_estimates_are_a_few_ulps():
    _, estimate, _, size = _sweep("complex", SMOOTH_UNIT_SCALE)
    assert np.all(estimate <= 1e-13 * size.max())


@settings(deadline=None, derandomize=True, max_examples=40)
@given(
    st.lists(st.floats(-20, 20, allow_nan=False), min_size=1, max_size=6),
    st.sampled_from(METHODS),
)
def test_estimates_bound_the_error_of_a_smooth_function(values, method):
    theta = np.array(values)
    ng = numerical_gradient(lambda x: np.sum(x * np.sin(x)) + np.sum(x) ** 2, theta, method=method)
    x = LD(theta)
    true = np.sin(x) + x * np.cos(x) + 2 * np.sum(x)
    error = np.abs(LD(ng.gradient) - true).astype(np.float64)
    assert np.all(error <= ng.error + 4 * LD_EPS * float(np.max(np.abs(true))))


@pytest.mark.parametrize("method", ["richardson", "central"])
def test_rounding_limited_function_gets_a_large_estimate(method):
    # f = 1e8 + a variation of 1e-3: its values carry rounding of ~1e-8 absolute.
    theta = np.linspace(-1, 1, 7)
    ng = numerical_gradient(lambda x: 1e8 + 1e-3 * np.sum(x**3), theta, method=method)
    true = 3e-3 * theta**2
    assert np.all(np.abs(ng.gradient - true) <= ng.error)
    assert np.all(ng.error >= 1e-7)  # it says so: no 1e-12 claimed


def _hash_noise(x):
    """Deterministic noise in [-1/2, 1/2): a hash of the bits of x."""
    bits = np.frombuffer(np.ascontiguousarray(x, dtype=np.float64).tobytes(), dtype=np.uint64)
    h = int(np.bitwise_xor.reduce(bits)) * 0x9E3779B97F4A7C15 % 2**64
    h ^= h >> 29
    return (h % 2**32) / 2**32 - 0.5


@pytest.mark.parametrize("method", ["richardson", "central"])
@pytest.mark.parametrize("amplitude", [1e-12, 1e-9, 1e-6])
def test_noisy_function_gets_an_honest_estimate(method, amplitude):
    honest, relative = [], []
    for seed in range(10):
        theta = np.random.default_rng(seed).normal(size=6)
        f = lambda x: np.sum(np.exp(x)) + amplitude * _hash_noise(x)
        ng = numerical_gradient(f, theta, method=method)
        honest.append(np.abs(ng.gradient - np.exp(theta)) <= ng.error)
        relative.append(ng.error / np.exp(theta))
    assert np.mean(honest) >= 0.99
    assert np.median(relative) >= amplitude  # the noise shows in the estimate


@pytest.mark.parametrize("method", METHODS)
def test_f_that_cancels_to_zero_at_theta_keeps_tight_estimates(method):
    # f(θ) = sum sin(θ_j) over symmetric θ is 0 up to rounding: its gradient is not harder.
    theta = np.linspace(-1, 1, 31)
    f = lambda x: np.sum(np.sin(x))
    assert abs(f(theta)) < 1e-15
    ng = numerical_gradient(f, theta, method=method)
    assert np.all(np.abs(ng.gradient - np.cos(theta)) <= ng.error)
    assert np.all(ng.error <= 1e-7)
    wrong = np.cos(theta)
    wrong[5] *= 1.01
    assert list(compare_gradient(wrong, ng).failures) == [5]


# ----------------------------------------------------------------------------- steps


def test_step_override_scalar_and_per_entry():
    theta = np.array([0.5, -1.0, 2.0])
    f, true = lambda x: np.sum(np.exp(x)), np.exp(theta)
    for step in [1e-3, np.array([1e-3, 2e-3, 4e-3])]:
        ng = numerical_gradient(f, theta, method="central", step=step)
        np.testing.assert_allclose(ng.step, np.broadcast_to(step, 3), rtol=1e-12)
        assert np.all(np.abs(ng.gradient - true) <= ng.error)


def test_nonfinite_values_near_theta_make_an_entry_unverifiable():
    theta = np.array([0.0, 1.0, 4.0])
    f = lambda x: np.sum(np.sqrt(x))  # sqrt(-h) is NaN: no step around 0 is usable
    ng = numerical_gradient(f, theta)
    assert np.isnan(ng.gradient[0]) and ng.error[0] == np.inf
    assert np.all(np.abs(ng.gradient[1:] - 0.5 / np.sqrt(theta[1:])) <= ng.error[1:])
    check = check_gradient(f, [1.0, 0.5, 0.25], theta)
    assert check.passed and list(check.unverifiable) == [0]
    assert "1 entries unverifiable" in str(check) and "theta[0]" in str(check)


def _counting(f):
    calls = []

    def counted(x):
        calls.append(np.shape(x))
        return f(x)

    return counted, calls


@pytest.mark.parametrize("method", METHODS)
def test_evaluation_counts(method):
    f, calls = _counting(lambda x: np.sum(np.exp(x)))
    ng = numerical_gradient(f, np.linspace(-1, 1, 5), method=method)
    assert ng.n_evaluations == len(calls)
    noise = ng.n_evaluations - 1 - {"complex": 5, "central": 4 * 5, "richardson": 0}[method]
    if method == "richardson":
        assert 8 * 5 <= noise - 8 <= 8 + RICHARDSON_MAX_LEVELS * 2 * 5  # 4 or more levels
    else:
        assert noise == {"complex": 0, "central": 8}[method] or noise == 16


def test_f0_is_used_as_given():
    theta = np.array([0.3, 0.7])
    f = lambda x: np.sum(np.sin(x))
    a = numerical_gradient(f, theta)
    b = numerical_gradient(f, theta, f0=f(theta))
    np.testing.assert_array_equal(a.gradient, b.gradient)
    assert b.n_evaluations == a.n_evaluations - 1


def test_numerical_is_the_engine_and_knows_nothing_of_the_check():
    # the check builds on the engine, never the other way round (no import cycle, no re-exports)
    from gradcheck.fd import numerical

    source = Path(numerical.__file__).read_text()
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "gradcheck.fd.check" not in imported
    assert not hasattr(numerical, "check_gradient")


# ----------------------------------------------------------------------------- vectorized


@pytest.mark.parametrize("method", METHODS)
def test_vectorized_path_equals_the_loop_exactly(method):
    f, _, theta = _case("net", seed=1)
    rows = lambda X: np.array([f(x) for x in X])  # the same f, one row at a time
    a = numerical_gradient(f, theta, method=method)
    b = numerical_gradient(rows, theta, method=method, vectorized=True, max_batch=7)
    for field in ["gradient", "error", "step"]:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.n_evaluations == b.n_evaluations


@pytest.mark.parametrize("method", METHODS)
def test_vectorized_function_agrees_to_rounding(method):
    rng = np.random.default_rng(2)
    A, theta = rng.normal(size=(7, 10)), rng.normal(size=10)
    one = lambda x: np.sum(np.tanh(A @ x)) ** 2
    many = lambda X: np.sum(np.tanh(X @ A.T), axis=1) ** 2  # same math, other rounding
    a = numerical_gradient(one, theta, method=method)
    b = numerical_gradient(many, theta, method=method, vectorized=True)
    assert np.all(np.abs(a.gradient - b.gradient) <= a.error + b.error)


def test_vectorized_calls_f_once_per_chunk():
    f, calls = _counting(lambda X: np.sum(X**2, axis=1))
    ng = numerical_gradient(f, np.ones(6), method="complex", vectorized=True, max_batch=4)
    assert calls == [(1, 6), (4, 6), (2, 6)]  # θ, then the 6 entries in chunks of 4
    assert ng.n_evaluations == 1 + 6
    np.testing.assert_allclose(ng.gradient, 2 * np.ones(6), rtol=1e-15)
    f, calls = _counting(lambda X: np.sum(np.sin(X), axis=1))
    ng = numerical_gradient(f, np.ones(6), vectorized=True, max_batch=5)
    assert max(shape[0] for shape in calls) <= 5
    assert sum(shape[0] for shape in calls) == ng.n_evaluations


# ----------------------------------------------------------------------------- caller's data


def test_integer_theta_is_converted():
    ng = numerical_gradient(lambda x: float(np.sum(x**2)), [1, 2, 3])
    np.testing.assert_allclose(ng.gradient, [2.0, 4.0, 6.0], rtol=1e-12)


# ----------------------------------------------------------------------------- validation


NUMERICAL_GRADIENT_ERRORS = [
    (dict(theta=[1.0, np.nan]), ValueError, "`theta` must be finite, got nan at index 1"),
    (dict(theta=[np.inf, 1.0]), ValueError, "`theta` must be finite, got inf at index 0"),
    (dict(theta="abc"), TypeError, "`theta` must be a 1-D array of real numbers, got a string"),
    (
        dict(theta=["a", "b"]),
        TypeError,
        "`theta` must be a 1-D array of real numbers, got dtype <U1",
    ),
    (
        dict(theta=[object()]),
        TypeError,
        "`theta` must be a 1-D array of real numbers, got dtype object",
    ),
    (dict(theta=[1j, 2.0]), TypeError, "`theta` must be real, got complex dtype complex128"),
    (
        dict(theta=np.ones((2, 3))),
        ValueError,
        "`theta` must be 1-D (a flat vector), got shape (2, 3)",
    ),
    (dict(theta=[]), ValueError, "`theta` must not be empty"),
    (dict(f=3), TypeError, "`f` must be callable, got int"),
    (dict(f=lambda x: x), ValueError, "`f` must return a scalar, got shape (3,)"),
    (
        dict(f=lambda x: np.nan),
        ValueError,
        "`f` returned nan at `theta`: the gradient is not defined there",
    ),
    (dict(f=lambda x: None), TypeError, "`f` must return a number, got dtype object"),
    (
        dict(f=lambda x: 1j),
        TypeError,
        "`f` must return a real value for real input, got dtype complex128",
    ),
    (
        dict(method="forward"),
        ValueError,
        "`method` must be one of 'richardson', 'central', 'complex', got 'forward'",
    ),
    (dict(step=-1.0), ValueError, "`step` must be positive, got -1.0"),
    (dict(step=0.0), ValueError, "`step` must be positive, got 0.0"),
    (dict(step=np.inf), ValueError, "`step` must be finite, got inf"),
    (dict(step=[1e-3, np.nan, 1e-3]), ValueError, "`step` must be finite, got nan at index 1"),
    (
        dict(step=[1e-3, 1e-3]),
        ValueError,
        "`step` must be a scalar or have the shape of `theta`, (3,), got shape (2,)",
    ),
    (
        dict(step="big"),
        TypeError,
        "`step` must be a positive number or an array of them, got 'big'",
    ),
    (dict(vectorized="yes"), TypeError, "`vectorized` must be True or False, got 'yes'"),
    (dict(max_batch=0), ValueError, "`max_batch` must be a positive integer, got 0"),
    (dict(f0=np.nan), ValueError, "`f0` must be a finite real number, f(theta), got nan"),
    (
        dict(f=lambda X: np.sum(X, axis=1, keepdims=True), vectorized=True),
        ValueError,
        "`f` (vectorized) must return one value per row, shape (1,) for input of shape (1, 3), "
        "got shape (1, 1)",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), NUMERICAL_GRADIENT_ERRORS)
def test_numerical_gradient_validation_messages(kwargs, error, message):
    args = dict(f=sum_squares, theta=[1.0, 2.0, 3.0]) | kwargs
    with pytest.raises(error, match=re.escape(message)):
        numerical_gradient(args.pop("f"), args.pop("theta"), **args)


@pytest.mark.parametrize(
    ("f", "reason"),
    [
        (lambda x: math.fsum(x.tolist()), "it raised TypeError"),
        (lambda x: np.sum(np.asarray(x, dtype=np.float64) ** 2), "it raised ComplexWarning"),
        (lambda x: np.sum(np.real(x) ** 2), "it returned a real value for complex input"),
    ],
)
def test_complex_step_needs_complex_support(f, reason):
    with pytest.raises(TypeError, match=r"`f` does not support complex input") as info:
        numerical_gradient(f, [1.0, 2.0], method="complex")
    assert reason in str(info.value) and "use method='richardson'" in str(info.value)


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: numerical_gradient(sum_sin, [True, False]),
        TypeError,
        "`theta` must be a 1-D array of real numbers, got dtype bool",
        id="numerical_gradient-theta-bool",
    ),
    pytest.param(
        lambda: numerical_gradient(sum_sin, [[1.0], [1.0, 2.0]]),
        TypeError,
        "`theta` must be a 1-D array of real numbers (",
        id="numerical_gradient-theta-ragged",
    ),
    pytest.param(
        lambda: numerical_gradient(sum_sin, 1.0),
        ValueError,
        "`theta` must be 1-D (a flat vector), got shape ()",
        id="numerical_gradient-theta-scalar",
    ),
    pytest.param(
        lambda: numerical_gradient(sum_sin, SIN_THETA, method=None),
        ValueError,
        "`method` must be one of 'richardson', 'central', 'complex', got None",
        id="numerical_gradient-method-None",
    ),
    pytest.param(
        lambda: numerical_gradient(sum_sin, SIN_THETA, max_batch=1.5),
        ValueError,
        "`max_batch` must be a positive integer, got 1.5",
        id="numerical_gradient-max_batch-float",
    ),
    pytest.param(
        lambda: numerical_gradient(sum_sin, SIN_THETA, max_batch=True),
        ValueError,
        "`max_batch` must be a positive integer, got True",
        id="numerical_gradient-max_batch-bool",
    ),
    pytest.param(
        lambda: numerical_gradient(sum_sin, SIN_THETA, f0="1"),
        ValueError,
        "`f0` must be a finite real number",
        id="numerical_gradient-f0-string",
    ),
    pytest.param(
        lambda: numerical_gradient(lambda x: "a", SIN_THETA),
        TypeError,
        "`f` must return a number, got dtype <U1",
        id="numerical_gradient-f-returns-str",
    ),
    pytest.param(
        lambda: numerical_gradient(lambda x: (v for v in x), SIN_THETA),
        TypeError,
        "`f` must return a number, got dtype object",
        id="numerical_gradient-f-returns-generator",
    ),
    pytest.param(
        lambda: numerical_gradient(lambda X: None, SIN_THETA, vectorized=True),
        ValueError,
        "`f` (vectorized) must return one value per row",
        id="numerical_gradient-vectorized-None",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "call, known",
    [
        (
            lambda: numerical_gradient(sum_sin, SIN_THETA, method="forward"),
            ["richardson", "central", "complex"],
        ),
    ],
    ids=["numerical_gradient-method"],
)
def test_an_unknown_name_is_refused_with_the_known_ones_listed(call, known):
    with pytest.raises(ValueError) as info:
        call()
    assert all(name in str(info.value) for name in known), str(info.value)


def test_complex_steps_are_refused():
    with pytest.raises(TypeError, match="must be real"):
        numerical_gradient(sum_sin, SIN_THETA, step=np.array([1e-3 + 1j, 1e-3, 1e-3]))


@FUZZ
@given(data=st.data())
def test_fuzz_numerical_gradient(data):
    options = draw_options(
        data,
        good={
            "theta": thetas(),
            "method": st.sampled_from(["richardson", "central", "complex"]),
            "step": st.sampled_from([None, 2.0**-5, 2.0**-20]),
            "vectorized": st.booleans(),
        },
        bad={
            "theta": junk(),
            "method": st.sampled_from(["forward", None, 3, "Central"]),
            "step": st.sampled_from([-1.0, 0.0, np.nan, np.inf, "a", [2.0**-5] * 5, [[1.0]]]),
            "vectorized": st.sampled_from(["yes", 1, None]),
        },
    )
    theta, method, step, vectorized = (
        options[k] for k in ("theta", "method", "step", "vectorized")
    )
    f = (
        (lambda rows: np.sin(rows).sum(axis=1))
        if vectorized is True
        else (lambda x: np.sin(x).sum())
    )
    t = expected_array(theta, 1)
    theta_ok = t is not None and t.size > 0 and np.asarray(theta).dtype.kind != "b"
    step_ok = step is None or (isinstance(step, float) and np.isfinite(step) and step > 0)
    valid = (
        theta_ok
        and method in ("richardson", "central", "complex")
        and step_ok
        and isinstance(vectorized, bool)
    )
    kind, result = outcome(
        lambda: numerical_gradient(f, theta, method=method, step=step, vectorized=vectorized)
    )
    assert kind == ("ok" if valid else "refused"), (kind, result)
    if kind == "ok":
        assert np.all(np.abs(result.gradient - np.cos(t)) <= 10 * result.error + 1e-12)


def test_complex_step_error_estimate_covers_a_large_step():
    ng = numerical_gradient(lambda x: np.sin(x).sum(), [0.0, 1.0], method="complex", step=2.0**-5)
    assert np.all(np.abs(ng.gradient - np.cos([0.0, 1.0])) <= ng.error)
