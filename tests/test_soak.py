"""The soak harness at a small size (python -m gradcheck.soak --cases 5000 runs it big)."""

from __future__ import annotations

import os

import pytest

from gradcheck.soak import broken_case, correct_case, run_soak

CASES = int(os.environ.get("GRADCHECK_SOAK_CASES", "60"))  # CI: 60 of each kind, ~10 s


@pytest.mark.slow
def test_no_false_alarm_and_no_miss():
    result = run_soak(CASES, seed=1)
    assert result.correct == CASES and result.broken == CASES
    assert not result.false_alarms and not result.misses, str(result)


def test_cases_reproduce_from_their_seed():
    a, b = correct_case(17), correct_case(17)
    assert a.description == b.description
    assert (a.X == b.X).all()
    c, d = broken_case(18), broken_case(18)
    assert (c is None) == (d is None)
    if c is not None:
        assert c.description == d.description
