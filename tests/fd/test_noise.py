"""gradcheck.fd.noise: how far one value of f may be off, rounding or measured noise."""

from __future__ import annotations

import numpy as np

from gradcheck.fd.evaluation import Evaluator
from gradcheck.fd.noise import EPS, NOISE_POINTS, ecnoise, noise_bound, noise_sigma


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


def test_ecnoise_columns_is_ecnoise_of_every_column():
    from gradcheck.fd.noise import ecnoise_columns

    rng = np.random.default_rng(5)
    values = np.linspace(0, 1, 9)[:, None] + 1e-10 * rng.standard_normal((9, 3))
    values[:, 2] = 1.0  # a constant column: no noise
    expected = [ecnoise(values[:, i]) for i in range(3)]
    assert np.allclose(ecnoise_columns(values), expected, rtol=1e-12, atol=0)


def test_output_noise_sees_the_noise_of_each_output_apart():
    from gradcheck.fd.noise import output_noise

    rng = np.random.default_rng(6)
    theta = np.ones(4)

    def f_vec(t):  # output 1 is noisy at 1e-8, output 0 is smooth
        return np.array([np.sum(t**2), np.sum(t) + 1e-8 * rng.standard_normal()])

    sigma = output_noise(f_vec, theta, f_vec(theta))
    assert sigma[0] < 1e-13 and 1e-9 < sigma[1] < 1e-7
