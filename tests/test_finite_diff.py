"""Tests of `gradcheck.finite_diff` and the modules split from it (`steps`, `noise`,
`evaluation`, `gradient_check`): accuracy, honest error estimates, the check, validation.

Known answers come from analytic gradients evaluated in long double (where
the platform has it), so the true error of each numerical entry is measured,
not guessed.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.evaluation import Evaluator
from gradcheck.finite_diff import (
    METHODS,
    REPORT_ROWS,
    RICHARDSON_MAX_LEVELS,
    GradientCheck,
    NumericalGradient,
    check_gradient,
    compare_gradient,
    numerical_gradient,
)
from gradcheck.noise import EPS, NOISE_POINTS, ecnoise, noise_bound, noise_sigma
from gradcheck.steps import default_step, entry_scale, power_of_two, within_sign
from gradcheck.taylor import taylor_test

LD = np.longdouble
LD_EPS = float(np.finfo(np.longdouble).eps)  # the reference's own rounding


# ----------------------------------------------------------------------------- test functions
# Each maker returns f (works for real and complex 1-D input), its exact gradient in long
# double, and a point.  "mixed" spreads θ over six orders of magnitude, each entry with a
# natural scale of its own size; "offset" puts |θ| near 1e3 with a natural scale of 1.


def _exp(rng, n):
    a, theta = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    return (lambda x: np.sum(np.exp(a * x))), (lambda x: LD(a) * np.exp(LD(a) * LD(x))), theta


def _sin(rng, n):
    theta, c = rng.uniform(-5, 5, n), rng.uniform(0.5, 2, n)

    def grad(x):
        x = LD(x)
        g = LD(c) * np.cos(LD(c) * x) * np.cos(x[0])
        g[0] -= np.sum(np.sin(LD(c) * x)) * np.sin(x[0])
        return g

    return (lambda x: np.sum(np.sin(c * x)) * np.cos(x[0])), grad, theta


def _log(rng, n):
    theta = rng.uniform(0.01, 10, n)
    f = lambda x: np.sum(np.log(x) * x) + np.log(np.sum(x))
    return f, (lambda x: np.log(LD(x)) + 1 + 1 / np.sum(LD(x))), theta


def _poly(rng, n):
    theta, c = rng.normal(0, 2, n), rng.normal(size=n)
    f = lambda x: np.sum(c * x**3) + np.sum(x) ** 2 - 0.5 * np.sum(x**4) / n
    grad = lambda x: 3 * LD(c) * LD(x) ** 2 + 2 * np.sum(LD(x)) - 2 * LD(x) ** 3 / n
    return f, grad, theta


def _net(rng, n):
    A, theta = rng.normal(size=(max(3, n // 3), n)) / np.sqrt(n), rng.normal(size=n)

    def grad(x):
        t = np.tanh(LD(A) @ LD(x))
        return 2 * np.sum(t) * (LD(A).T @ (1 - t * t))

    return (lambda x: np.sum(np.tanh(A @ x)) ** 2), grad, theta


def _logsumexp(rng, n):
    A, b = rng.normal(size=(max(3, n // 2), n)), rng.normal(size=n)
    theta = rng.normal(size=n) / 2

    def grad(x):
        z = LD(A) @ LD(x)
        p = np.exp(z - z.max())
        return LD(A).T @ (p / p.sum()) - LD(b)

    return (lambda x: np.log(np.sum(np.exp(A @ x))) - b @ x), grad, theta


def _mixed(rng, n):
    theta = 10.0 ** rng.uniform(-3, 3, n) * rng.choice([-1.0, 1.0], n)
    s, c = np.abs(theta) * rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, n)
    f = lambda x: np.sum(c * (x / s) ** 3) + np.sum(np.sin(x / s)) + np.exp(0.1 * np.sum(x / s))

    def grad(x):
        u = LD(x) / LD(s)
        return (3 * LD(c) * u**2 + np.cos(u) + LD(0.1) * np.exp(LD(0.1) * np.sum(u))) / LD(s)

    return f, grad, theta


def _offset(rng, n):
    theta = rng.uniform(100, 1000, n) * rng.choice([-1.0, 1.0], n)
    return (lambda x: np.sum(np.sin(x)) + 10), (lambda x: np.cos(LD(x))), theta


def _rosenbrock(rng, n):
    theta = rng.uniform(-2, 2, n)

    def grad(x):
        x = LD(x)
        g = np.zeros_like(x)
        g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        g[1:] += 200 * (x[1:] - x[:-1] ** 2)
        return g

    f = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return f, grad, theta


FUNCTIONS = {
    "exp": _exp,
    "sin": _sin,
    "log": _log,
    "poly": _poly,
    "net": _net,
    "logsumexp": _logsumexp,
    "mixed": _mixed,
    "offset": _offset,
    "rosenbrock": _rosenbrock,
}
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


def test_steps_are_relative_and_never_cross_zero():
    theta = np.array([1e-3, 0.02, 3.0, -500.0])
    f = lambda x: sum(math.log(abs(v)) for v in x)  # math.log raises at 0: no step reaches it
    for method in ["richardson", "central"]:
        ng = numerical_gradient(f, theta, method=method)
        assert np.all(np.abs(ng.gradient - 1 / theta) <= ng.error)
        assert np.all(ng.step <= np.abs(theta) / 2)


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


def test_step_helpers_known_answers():
    theta = np.array([0.0, 0.3, -5.0, 1e-6])
    np.testing.assert_array_equal(entry_scale(theta), [1.0, 1.0, 5.0, 1.0])
    np.testing.assert_array_equal(power_of_two(np.array([0.3, -3.0, 1.0])), [0.25, 4.0, 1.0])
    # 0.3 would cross zero from 0.3: shortened to 0.15; 1e-6 is zero at the step's resolution
    np.testing.assert_array_equal(within_sign(theta, np.full(4, 0.3)), [0.3, 0.15, 0.3, 0.3])
    np.testing.assert_array_equal(default_step(theta, "richardson"), [2**-4, 2**-4, 2**-2, 2**-4])
    assert default_step(np.array([2.0]), "complex")[0] == power_of_two(np.array([2e-20]))[0]


def test_ecnoise_recovers_the_level_of_added_noise():
    rng = np.random.default_rng(5)
    x = np.linspace(-1, 1, NOISE_POINTS) * 1e-6
    for sigma in (1e-12, 1e-8):
        levels = [ecnoise(1 + x + x**2 + sigma * rng.normal(size=x.size)) for _ in range(200)]
        found = np.array([v for v in levels if v is not None])
        assert found.size > 150  # noise shows in most draws
        assert 0.5 * sigma < np.median(found) < 2 * sigma
    assert ecnoise(np.ones(5)) == 0.0
    assert ecnoise(np.array([1.0, np.nan, 1.0])) is None
    assert ecnoise(np.arange(9.0) ** 2) is None  # smooth curvature, no noise: no level


def test_noise_bound_is_rounding_or_measured_noise():
    np.testing.assert_array_equal(noise_bound(np.array([1.0, 0.0]), 0.0), [4 * EPS, 0.0])
    assert noise_bound(1.0, 1e-9) == 4e-9  # NOISE_SIGMAS standard deviations
    evaluate = Evaluator(
        lambda x: float(np.sum(x**2)), np.ones(3), vectorized=False, max_batch=None
    )
    assert noise_sigma(evaluate, np.ones(3), 3.0) == 0.0  # a smooth f shows no noise...
    assert evaluate.count == 2 * (NOISE_POINTS - 1)  # ...at either spacing (θ's value is given)
    constant = Evaluator(lambda x: 3.0, np.ones(3), vectorized=False, max_batch=None)
    assert noise_sigma(constant, np.ones(3), 3.0) == 0.0
    assert constant.count == NOISE_POINTS - 1  # equal values: settled at the first spacing


def test_evaluator_batches_counts_and_hands_out_fresh_rows():
    seen = []

    def f(rows):
        seen.append(rows.shape)
        rows[:] = np.nan  # f may alter what it is given
        return np.zeros(len(rows))

    theta = np.arange(3.0)
    evaluate = Evaluator(f, theta, vectorized=True, max_batch=2)
    values, taken = evaluate.along(np.array([0, 1, 2]), np.array([0.5, 0.5, 0.5]))
    assert seen == [(2, 3), (1, 3)] and evaluate.count == 3
    np.testing.assert_array_equal(taken, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(theta, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=re.escape("`f` returned nan at `theta`")):
        Evaluator(lambda x: np.nan, theta, vectorized=False, max_batch=None).at_theta()


def test_names_from_before_the_split_still_import():
    import gradcheck
    from gradcheck import finite_diff, gradient_check

    for name in ("check_gradient", "compare_gradient", "GradientCheck", "CANDIDATE_ULPS"):
        assert getattr(finite_diff, name) is getattr(gradient_check, name)
    assert finite_diff.power_of_two is power_of_two and finite_diff.EPS == EPS
    assert gradcheck.check_gradient is check_gradient
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        finite_diff.nothing  # noqa: B018


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


def test_caller_arrays_are_never_modified():
    theta = np.array([0.1, 0.2, 0.3])
    grad = 3 * theta**2

    def f(x):
        value = np.sum(x**3)
        x[:] = 1e9  # a careless f that scribbles on its input
        return value

    theta_before, grad_before = theta.copy(), grad.copy()
    check = check_gradient(f, grad, theta)
    assert check.passed
    np.testing.assert_array_equal(theta, theta_before)
    np.testing.assert_array_equal(grad, grad_before)
    assert check.gradient is not grad


def test_integer_theta_is_converted():
    ng = numerical_gradient(lambda x: float(np.sum(x**2)), [1, 2, 3])
    np.testing.assert_allclose(ng.gradient, [2.0, 4.0, 6.0], rtol=1e-12)


# ----------------------------------------------------------------------------- check_gradient


@pytest.mark.parametrize("kind", list(FUNCTIONS))
def test_check_passes_correct_gradients_and_catches_one_entry_1_percent_off(kind):
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        n = int(rng.integers(5, 300))
        f, true, theta = FUNCTIONS[kind](rng, n)
        grad = np.asarray(true(theta), dtype=np.float64)
        numerical = numerical_gradient(f, theta)
        assert compare_gradient(grad, numerical).passed, (kind, seed)
        for j in rng.choice(n, size=5, replace=False):
            wrong = grad.copy()
            wrong[j] *= 1.01
            check = compare_gradient(wrong, numerical)
            assert not check.passed and list(check.failures) == [j], (kind, seed, j)


def test_check_gradient_end_to_end_and_report():
    theta = np.linspace(-1, 1, 30)
    grad = np.cos(theta)
    grad[3] *= 1.01
    grad[20] += 1e-3
    grad[17] = np.nan
    names = lambda j: f"W^1[{j // 10},{j % 10}]"
    check = check_gradient(lambda x: np.sum(np.sin(x)), grad, theta, names=names)
    assert isinstance(check, GradientCheck) and not check.passed and not check
    assert list(check.failures) == [17, 3, 20]  # NaN first, then by error / tolerance
    text = str(check)
    assert "Gradient check FAILED" in text
    assert "3 of 30 entries mismatch" in text
    assert "rule: |grad - numerical| <= 10 x error estimate" in text
    assert re.search(r"W\^1\[1,7\]\s+nan", text)
    assert text.index("W^1[1,7]") < text.index("W^1[0,3]") < text.index("W^1[2,0]")


def test_report_lists_at_most_a_screenful():
    theta = np.linspace(0.1, 2, 50)
    check = check_gradient(lambda x: np.sum(x**2), 3 * theta, theta)
    text = str(check)
    assert "50 of 50 entries mismatch" in text
    assert f"... and {50 - REPORT_ROWS} more" in text
    assert len(text.splitlines()) <= REPORT_ROWS + 8


def test_exact_zeros_and_tiny_entries_pass():
    theta = np.concatenate([np.zeros(5), np.linspace(1, 2, 5)])
    f = lambda x: np.sum(x[:5] ** 2) + np.sum(np.exp(x[5:])) + 1e-12 * np.sum(x[:5] ** 3)
    grad = np.concatenate([np.zeros(5), np.exp(theta[5:])])
    for method in METHODS:
        assert check_gradient(f, grad, theta, method=method).passed, method


def test_float32_candidate_passes_and_rtol_loosens():
    theta = np.linspace(-2, 2, 40)
    f, true = (
        lambda x: np.sum(np.exp(x) * np.sin(x)),
        np.exp(theta) * (np.sin(theta) + np.cos(theta)),
    )
    assert check_gradient(f, true.astype(np.float32), theta).passed
    off = true * (1 + 1e-6)
    assert not check_gradient(f, off, theta).passed
    assert check_gradient(f, off, theta, rtol=1e-5).passed


def test_check_gradient_vectorized_and_methods():
    theta = np.linspace(-1, 1, 8)
    many = lambda X: np.sum(np.exp(X) * X, axis=1)
    grad = np.exp(theta) * (1 + theta)
    for method in METHODS:
        assert check_gradient(many, grad, theta, method=method, vectorized=True).passed
        wrong = grad.copy()
        wrong[2] += 1e-4
        check = check_gradient(many, wrong, theta, method=method, vectorized=True)
        assert list(check.failures) == [2] and check.numerical.method == method


def test_passing_report():
    theta = np.array([0.5, 1.5])
    check = check_gradient(lambda x: np.sum(x**2), 2 * theta, theta)
    assert check and "Gradient check passed" in str(check) and "0 of 2 entries" in str(check)


# ----------------------------------------------------------------------------- validation


def _ok(x):
    return float(np.sum(np.asarray(x) ** 2))


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
    args = dict(f=_ok, theta=[1.0, 2.0, 3.0]) | kwargs
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


CHECK_GRADIENT_ERRORS = [
    (
        dict(grad=[1.0, 2.0]),
        ValueError,
        "`grad` has shape (2,) but `theta` has shape (3,); they must match",
    ),
    (
        dict(grad=np.ones((3, 1))),
        ValueError,
        "`grad` must be 1-D (a flat vector), got shape (3, 1)",
    ),
    (dict(grad=[1j, 0, 0]), TypeError, "`grad` must be real, got complex dtype complex128"),
    (dict(names="W"), TypeError, "`names` must be callable, got str"),
    (dict(rtol=-1.0), ValueError, "`rtol` must be a non-negative number, got -1.0"),
    (dict(safety=0), ValueError, "`safety` must be a positive number, got 0"),
    (dict(theta=[1.0, np.nan, 2.0]), ValueError, "`theta` must be finite, got nan at index 1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), CHECK_GRADIENT_ERRORS)
def test_check_gradient_validation_messages(kwargs, error, message):
    args = dict(grad=[2.0, 4.0, 6.0], theta=[1.0, 2.0, 3.0]) | kwargs
    with pytest.raises(error, match=re.escape(message)):
        check_gradient(_ok, args.pop("grad"), args.pop("theta"), **args)


def test_compare_gradient_validation_messages():
    with pytest.raises(
        TypeError, match=re.escape("`numerical` must be a NumericalGradient, got ndarray")
    ):
        compare_gradient([1.0], np.ones(1))
    ng = NumericalGradient(np.ones(2), np.zeros(2), "central", np.ones(2), 0)
    with pytest.raises(
        ValueError, match=re.escape("`grad` has shape (3,) but `theta` has shape (2,)")
    ):
        compare_gradient([1.0, 2.0, 3.0], ng)


# ------------------------------------------------- grad as a callable (scipy's habit)


def _rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def test_check_gradient_accepts_grad_as_a_callable_like_scipy_check_grad():
    theta = np.array([0.3, -0.7, 1.1, 0.5])
    kept = theta.copy()
    assert check_gradient(_rosen, _rosen_grad, theta).passed
    assert not check_gradient(_rosen, lambda x: _rosen_grad(x) * 1.001, theta).passed

    def mutating(x):  # gets a copy: cannot move the caller's point
        g = _rosen_grad(x)
        x += 1.0
        return g

    assert check_gradient(_rosen, mutating, theta).passed
    np.testing.assert_array_equal(theta, kept)


@pytest.mark.parametrize(
    "grad, error, message",
    [
        (
            lambda x: x[:2],
            ValueError,
            "`grad` is a callable, but grad(theta) returned shape (2,); `theta` has shape (4,)",
        ),
        (lambda x: None, TypeError, "`grad` is a callable, but grad(theta) returned None"),
    ],
)
def test_callable_grad_validation_messages(grad, error, message):
    for check in (check_gradient, taylor_test):
        with pytest.raises(error) as info:
            check(_rosen, grad, np.zeros(4))
        assert message in str(info.value)


def test_taylor_test_accepts_grad_as_a_callable():
    theta = np.array([0.3, -0.7, 1.1, 0.5])
    assert taylor_test(_rosen, _rosen_grad, theta).passed
    assert not taylor_test(_rosen, lambda x: _rosen_grad(x) + [0, 0.05, 0, 0], theta).passed
