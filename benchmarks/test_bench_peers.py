"""What one would use instead of `backprop`: autograd of the same float64 network, where installed.

The peers join the groups of `test_bench_backprop.py` (``batch gradient
<shape>``): the same network, data and cost, forward pass plus backward
pass, float64, with as many threads as numpy's BLAS.  Each skips cleanly
when its library is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from ._cases import (
    BATCH_SHAPES,
    batch_group,
    case,
    case_params,
    check_batch_gradient,
    label,
    timed,
    torch_cost,
)


@pytest.mark.parametrize("sizes, d", case_params(BATCH_SHAPES))
def test_torch_autograd(benchmark, torch, sizes, d):
    c = case(sizes, d)
    weights = [torch.tensor(W, requires_grad=True) for W in c.net.weights]  # (M, N): article layout
    biases = [torch.tensor(b, requires_grad=True) for b in c.net.biases]
    X, Y = torch.from_numpy(c.X), torch.from_numpy(c.Y)

    def forward_backward():
        J = torch_cost(torch, weights, biases, X, Y)
        return torch.autograd.grad(J, weights + biases)

    forward_backward()  # first call initialises autograd: not the steady state being measured
    label(
        benchmark,
        group=batch_group(c),
        form="torch",
        kind="backprop",
        case=c,
        version=torch.__version__,
        torch_threads=torch.get_num_threads(),
    )
    grads = timed(benchmark, forward_backward)
    H = len(weights)
    check_batch_gradient(
        benchmark,
        c,
        c.net.layout.join([g.numpy() for g in grads[:H]], [g.numpy() for g in grads[H:]]),
    )


@pytest.mark.parametrize("sizes, d", case_params(BATCH_SHAPES))
def test_jax_grad(benchmark, jax, sizes, d):
    import jax.numpy as jnp

    c = case(sizes, d)

    def J(params, X, Y):
        A = X  # A^{-1} = X
        for W, b in params:
            A = jax.nn.sigmoid(A @ W + b)  # A^L = h(A^{L-1} W^L + 1 b^T)
        return 0.5 * jnp.mean(jnp.sum((A - Y) ** 2, axis=1))

    grad = jax.jit(jax.grad(J))
    params = [
        (jnp.asarray(W), jnp.asarray(b)) for W, b in zip(c.net.weights, c.net.biases, strict=True)
    ]
    X, Y = jnp.asarray(c.X), jnp.asarray(c.Y)

    def forward_backward():
        return jax.block_until_ready(grad(params, X, Y))

    forward_backward()  # compile outside the timing
    label(
        benchmark,
        group=batch_group(c),
        form="jax",
        kind="backprop",
        case=c,
        version=jax.__version__,
    )
    grads = timed(benchmark, forward_backward)
    check_batch_gradient(
        benchmark,
        c,
        c.net.layout.join([np.asarray(dW) for dW, _ in grads], [np.asarray(db) for _, db in grads]),
    )
