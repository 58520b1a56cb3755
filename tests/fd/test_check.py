"""gradcheck.fd.check: `check_gradient` and `compare_gradient`, a candidate gradient
against finite differences: verdicts, the report, validation, fuzzing."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from _fuzz import FUZZ, draw_gradient_case, outcome
from _helpers import SIN_GRAD, SIN_THETA, rosen, rosen_grad, sum_sin, sum_squares
from _known_gradients import FUNCTIONS
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.fd.check import REPORT_ROWS, GradientCheck, check_gradient, compare_gradient
from gradcheck.fd.numerical import METHODS, NumericalGradient, numerical_gradient
from gradcheck.fd.taylor import taylor_test


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
        check_gradient(sum_squares, args.pop("grad"), args.pop("theta"), **args)


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


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: check_gradient(sum_sin, "ab", SIN_THETA),
        TypeError,
        "`grad` must be a 1-D array of real numbers, got a string",
        id="check_gradient-grad-string",
    ),
    pytest.param(
        lambda: check_gradient(sum_sin, np.array([None, 1.0, 2.0]), SIN_THETA),
        TypeError,
        "`grad` must be a 1-D array of real numbers, got dtype object",
        id="check_gradient-grad-object",
    ),
    pytest.param(
        lambda: check_gradient(sum_sin, [[1.0], [1.0, 2.0], [3.0]], SIN_THETA),
        TypeError,
        "`grad` must be a 1-D array of real numbers (",
        id="check_gradient-grad-ragged",
    ),
    pytest.param(
        lambda: check_gradient(sum_sin, SIN_GRAD, SIN_THETA, method="forward"),
        ValueError,
        "`method` must be one of",
        id="check_gradient-method",
    ),
    pytest.param(
        lambda: check_gradient(sum_sin, SIN_GRAD, SIN_THETA, vectorized="x"),
        TypeError,
        "`vectorized` must be True or False, got 'x'",
        id="check_gradient-vectorized",
    ),
    pytest.param(
        lambda: check_gradient(None, SIN_GRAD, SIN_THETA),
        TypeError,
        "`f` must be callable, got NoneType",
        id="check_gradient-f-None",
    ),
    pytest.param(
        lambda: check_gradient(sum_sin, SIN_GRAD, SIN_THETA, rtol="1"),
        ValueError,
        "`rtol` must be a non-negative number, got '1'",
        id="check_gradient-rtol-string",
    ),
    pytest.param(
        lambda: check_gradient(sum_sin, SIN_GRAD, SIN_THETA, safety=np.nan),
        ValueError,
        "`safety` must be a positive number, got nan",
        id="check_gradient-safety-nan",
    ),
    pytest.param(
        lambda: compare_gradient([], numerical_gradient(sum_sin, SIN_THETA)),
        ValueError,
        "`grad` must not be empty",
        id="compare_gradient-empty",
    ),
    pytest.param(
        lambda: compare_gradient(SIN_GRAD, numerical_gradient(sum_sin, SIN_THETA), names=3),
        TypeError,
        "`names` must be callable, got int",
        id="compare_gradient-names",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


def test_integers_are_converted_not_refused():
    assert check_gradient(sum_sin, [1, 1], [0, 0]).passed  # sin'(0) = 1


@pytest.mark.parametrize("huge", [1e155, 1e200, 1e308])
def test_check_gradient_never_passes_a_huge_wrong_entry(huge):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the user's default: warnings do not raise
        check = check_gradient(sum_sin, [huge, SIN_GRAD[1], SIN_GRAD[2]], SIN_THETA)
    assert not check.passed


@FUZZ
@given(data=st.data())
def test_fuzz_check_gradient(data):
    case = draw_gradient_case(data)
    kind, result = outcome(lambda: check_gradient(sum_sin, case.grad, case.theta))
    assert kind == ("ok" if case.grad_ok else "refused"), (kind, result)
    if kind == "ok":
        str(result)
        if case.truth is not None:
            assert result.passed == case.truth
        if not np.isfinite(case.g).all():
            assert not result.passed  # NaN/Inf entries fail, by name


# ------------------------------------------------- grad as a callable (scipy's habit)


def test_check_gradient_accepts_grad_as_a_callable_like_scipy_check_grad():
    theta = np.array([0.3, -0.7, 1.1, 0.5])
    kept = theta.copy()
    assert check_gradient(rosen, rosen_grad, theta).passed
    assert not check_gradient(rosen, lambda x: rosen_grad(x) * 1.001, theta).passed

    def mutating(x):  # gets a copy: cannot move the caller's point
        g = rosen_grad(x)
        x += 1.0
        return g

    assert check_gradient(rosen, mutating, theta).passed
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
            check(rosen, grad, np.zeros(4))
        assert message in str(info.value)


NOISY_THETA = np.linspace(-1.0, 1.0, 6) + 0.3
NOISY_GRAD = 2 * NOISY_THETA + np.cos(NOISY_THETA)  # of sum(x^2) + sum(sin x)


def _noisy(sigma: float, seed: int = 0):
    """sum(x^2) + sum(sin x) plus seeded noise of std `sigma` (a simulation, a sampled loss)."""
    rng = np.random.default_rng(seed)
    return lambda x: float(np.sum(x**2) + np.sum(np.sin(x)) + sigma * rng.standard_normal())


@pytest.mark.parametrize("seed", range(3))
def test_a_noisy_f_never_silently_passes_a_half_percent_wrong_gradient(seed):
    # noise 1e-5 widened the bounds to ~9%: a 0.5%-wrong gradient passed, with no mention
    wrong = check_gradient(_noisy(1e-5, seed), 1.005 * NOISY_GRAD, NOISY_THETA)
    right = check_gradient(_noisy(1e-5, seed), NOISY_GRAD, NOISY_THETA)
    for check in (wrong, right):
        assert not check.passed and not check and check.inconclusive
        assert 0.02 < check.resolution < 0.5  # what this noise lets through: a few % of an entry
        text = str(check)
        assert text.startswith("Gradient check INCONCLUSIVE")
        assert re.search(
            r"f is noisy: its values scatter by [\d.]+e-0[56] near theta \(ECnoise\)", text
        )
        assert "that widened the bounds: an entry wrong by less than ~" in text
        assert "cannot be told from one" in text and "reduce the noise of f" in text
    # the caller may state the precision they need: then the verdict is theirs
    assert check_gradient(_noisy(1e-5, seed), NOISY_GRAD, NOISY_THETA, rtol=0.5).passed


def test_a_mildly_noisy_f_still_decides_and_says_what_its_noise_hides():
    # noise 1e-9: the bounds widen to ~1e-5 of an entry; 0.5% is far beyond them
    wrong = check_gradient(_noisy(1e-9), 1.005 * NOISY_GRAD, NOISY_THETA)
    right = check_gradient(_noisy(1e-9), NOISY_GRAD, NOISY_THETA)
    assert not wrong.passed and not wrong.inconclusive and wrong.failures.size == 6
    assert right.passed and not right.inconclusive and 1e-6 < right.resolution < 1e-4
    for check in (wrong, right):
        assert check.numerical.noise_widening > 1e3
        assert "f is noisy: its values scatter by" in str(check)
    # a smooth f says nothing of noise
    smooth = check_gradient(lambda x: np.sum(x**2), 2 * NOISY_THETA, NOISY_THETA)
    assert smooth.passed and "noisy" not in str(smooth) and smooth.resolution < 1e-8


def test_a_smooth_f_whose_value_cancels_to_zero_is_not_called_noisy():
    # sum(sin(t) t^2) over a symmetric theta is ~1e-17: its float64 rounding scatter is eps times
    # its terms, far above eps |f|, which once made the report call this smooth f "noisy"
    theta = np.linspace(-1, 1, 7)
    f = lambda t: np.sum(np.sin(t) * t**2)
    grad = np.cos(theta) * theta**2 + 2 * theta * np.sin(theta)
    check = check_gradient(f, grad, theta)
    assert check.passed and "noisy" not in str(check)
    wrong = grad.copy()
    wrong[3] += 1e-3
    assert "noisy" not in str(check_gradient(f, wrong, theta))
