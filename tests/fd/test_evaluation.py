"""gradcheck.fd.evaluation: evaluating f at perturbations of theta, batched, checked, counted."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck.fd.evaluation import Evaluator


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
