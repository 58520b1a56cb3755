"""The ceiling: this machine's float64 matrix-multiply rate, same BLAS and threads as `backprop`.

Backprop's time is mostly matrix products, so the rate of a bare product of
the same shapes bounds what any backprop in numpy can reach; each batch
gradient benchmark records its own GFLOP/s for `benchmarks.report` to set
against the best rate here.
"""

from __future__ import annotations

import numpy as np
import pytest

from ._cases import label, record_rate, timed

#: C = A B with A (m, k), B (k, n): the square classic, then the big net's
#: ([1024,1024,1024,10], d=512) forward `A^{L-1} W^L` and backward `(A^{L-1})^T Delta^L`.
PRODUCTS = [
    pytest.param(1024, 1024, 1024, False, id="1024x1024@1024x1024"),
    pytest.param(512, 1024, 1024, False, id="512x1024@1024x1024"),
    pytest.param(1024, 512, 1024, True, id="(512x1024)^T@512x1024"),
]


@pytest.mark.parametrize("m, k, n, transpose", PRODUCTS)
def test_gemm(benchmark, request, m, k, n, transpose):
    rng = np.random.default_rng(0)
    A = (
        rng.normal(size=(k, m)).T if transpose else rng.normal(size=(m, k))
    )  # a transposed view, as in backprop
    B = rng.normal(size=(k, n))
    label(
        benchmark,
        group="GEMM ceiling (float64)",
        form="gemm",
        kind="gemm",
        shape=request.node.callspec.id,
        flops=2 * m * k * n,
    )
    C = timed(benchmark, np.matmul, A, B)
    rows, cols = rng.integers(0, m, 4), rng.integers(0, n, 4)
    np.testing.assert_allclose(
        C[rows, cols], np.einsum("ik,ki->i", A[rows], B[:, cols]), rtol=1e-12
    )
    record_rate(benchmark, 2 * m * k * n)
