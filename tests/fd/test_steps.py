"""gradcheck.fd.steps: finite-difference steps relative to each entry, never across zero."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.fd.numerical import numerical_gradient
from gradcheck.fd.steps import default_step, entry_scale, power_of_two, within_sign


def test_steps_are_relative_and_never_cross_zero():
    theta = np.array([1e-3, 0.02, 3.0, -500.0])
    f = lambda x: sum(math.log(abs(v)) for v in x)  # math.log raises at 0: no step reaches it
    for method in ["richardson", "central"]:
        ng = numerical_gradient(f, theta, method=method)
        assert np.all(np.abs(ng.gradient - 1 / theta) <= ng.error)
        assert np.all(ng.step <= np.abs(theta) / 2)


def test_step_helpers_known_answers():
    theta = np.array([0.0, 0.3, -5.0, 1e-6])
    np.testing.assert_array_equal(entry_scale(theta), [1.0, 1.0, 5.0, 1.0])
    np.testing.assert_array_equal(power_of_two(np.array([0.3, -3.0, 1.0])), [0.25, 4.0, 1.0])
    # 0.3 would cross zero from 0.3: shortened to 0.15; 1e-6 is zero at the step's resolution
    np.testing.assert_array_equal(within_sign(theta, np.full(4, 0.3)), [0.3, 0.15, 0.3, 0.3])
    np.testing.assert_array_equal(default_step(theta, "richardson"), [2**-4, 2**-4, 2**-2, 2**-4])
    assert default_step(np.array([2.0]), "complex")[0] == power_of_two(np.array([2e-20]))[0]
