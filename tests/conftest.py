"""The test suite's hypothesis profile; shared data lives in _data.py, candidates in candidates.py."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# CI runs on a slow shared 2-core machine: no deadlines, a fixed database-free seed.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")
