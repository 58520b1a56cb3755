"""The screen (issue 20, "a million inputs"): `check_vjp` on a function of 10^6 inputs whose
backward has k entries wrong by 1e-3 of the input's largest gradient.

The issue's goal: one wrong entry named in at most 300 evaluations of f; k of them in O(k log n).
Each benchmark records in ``extra_info`` the evaluations of f (``n_evaluations``), the sets the
screen measured (``sets``), the bound it reports (``caught_above``) and whether it named exactly
the wrong entries; it checks that once.  One round of one call: each takes seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from _wide import Wide

from gradcheck import check_vjp

from ._cases import timed

N = 10**6
GOAL = 300  # evaluations of f for one wrong entry among a million (issue 20)
CASE = Wide(N)


@pytest.mark.parametrize("k", [0, 1, 3, 10], ids=lambda k: f"n=1e6,k={k}")
def test_screen_a_million_inputs(benchmark, k):
    wrong = sorted(np.random.default_rng(k).choice(N, k, replace=False).tolist())
    benchmark.group = "screen, n=1e6"
    report = timed(benchmark, check_vjp, CASE.f, CASE.slipped(wrong), {"x": CASE.x}, slow=True)
    (summary,) = report.inputs
    shown = {int(entry[2:-1]) for entry in report.failures}  # the worst few, by name
    benchmark.extra_info.update(
        k=k,
        n_evaluations=report.n_evaluations,
        sets=report.screen.sets,
        caught_above=summary.caught_above,
        named_exactly=summary.failing == k and shown <= set(wrong),
        goal=GOAL * max(k, 1),
    )
    assert report.method == "screen" and report.passed == (k == 0)
    assert summary.failing == k and shown <= set(wrong)
    if k == 1:
        assert report.n_evaluations <= GOAL
