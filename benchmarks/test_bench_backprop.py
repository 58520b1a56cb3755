"""Batch gradient averaging: the loop form against the vectorised forms (pytest-benchmark)."""

from __future__ import annotations

import numpy as np
import pytest

from reference import Network, backprop, backprop_examples, backprop_loops

CASES = [((4, 8, 3), 16), ((32, 64, 10), 128)]


def _case(sizes, d):
    rng = np.random.default_rng(0)
    net = Network.random(sizes, seed=rng)
    return net, rng.normal(size=(d, sizes[0])), rng.uniform(size=(d, sizes[-1]))


@pytest.mark.parametrize("sizes, d", CASES, ids=[f"{'-'.join(map(str, s))},d={d}" for s, d in CASES])
@pytest.mark.parametrize("form", [backprop, backprop_examples, backprop_loops], ids=lambda f: f.__name__)
def test_batch_gradient(benchmark, form, sizes, d):
    net, X, Y = _case(sizes, d)
    benchmark.group = f"backprop {'-'.join(map(str, sizes))},d={d}"
    g = benchmark(form, net, X, Y)
    np.testing.assert_allclose(g.flat(), backprop(net, X, Y).flat(), rtol=1e-10, atol=1e-14)
