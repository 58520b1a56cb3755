"""The test suite's hypothesis profile and the `small` trial fixture; shared data lives in _data.py, candidates in candidates.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from gradcheck import trial_case
from reference import backprop

# CI runs on a slow shared 2-core machine: no deadlines, a fixed database-free seed.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture(scope="module")
def small():
    """A small trial (sizes [3, 4, 2], d = 6): its network, batch and reference gradient (flat).

    Shared by the tests of the error maps (tests/results/) and of the page (tests/html/).
    """
    net, X, Y = trial_case([3, 4, 2], 6, seed=1)
    return net, X, Y, backprop(net, X, Y).flat()
