"""pytest-benchmark suite: `pytest --benchmark-only`."""
