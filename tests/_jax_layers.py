"""Layers as ``jax.custom_vjp`` rules with hand-written backwards, each with one slip to catch.

`layer(slip=False)` returns a fresh custom_vjp function; ``slip=True`` puts in the
slip its docstring names.  The forwards are plain jax.numpy; the backwards are
written by hand, as a user writes them, never by jax.grad.  Shapes follow the
course convention: images (N, C, H, W), kernels (F, C, k, k).  Import it after
``pytest.importorskip("jax")``; without JAX it skips, as a test module would.
"""

from __future__ import annotations

import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

EPS = 1e-5  # the norms' epsilon under the square root


def affine(*, slip: bool = False):
    """out = x @ W + b.  Slip: dW transposed (W is square, so the shapes still fit)."""

    @jax.custom_vjp
    def f(x, W, b):
        return x @ W + b

    def fwd(x, W, b):
        return x @ W + b, (x, W)

    def bwd(res, g):
        x, W = res
        dW = x.T @ g  # dJ/dW = x^T g
        return g @ W.T, dW.T if slip else dW, g.sum(axis=0)

    f.defvjp(fwd, bwd)
    return f


def _patches(x, k: int, p: int):
    """im2col: cols[n, c, i, j, h, w] = x_padded[n, c, h + i, w + j] (stride 1)."""
    H, W = x.shape[2], x.shape[3]
    xp = jnp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho, Wo = H + 2 * p - k + 1, W + 2 * p - k + 1
    rows = [jnp.stack([xp[:, :, i : i + Ho, j : j + Wo] for j in range(k)], 2) for i in range(k)]
    return jnp.stack(rows, 2)


def conv2d(*, p: int = 1, slip: bool = False):
    """out[n, f] = sum_c x[n, c] * W[f, c] (cross-correlation, stride 1, padding p) + b[f].

    Slip: col2im stops one short of the last output row and column (an off-by-one loop
    bound), so only dx's entries at the bottom and right border go wrong."""

    def forward(x, W, b):
        cols = _patches(x, W.shape[2], p)
        return jnp.einsum("ncijhw,fcij->nfhw", cols, W) + b[None, :, None, None]

    @jax.custom_vjp
    def f(x, W, b):
        return forward(x, W, b)

    def fwd(x, W, b):
        return forward(x, W, b), (x, W)

    def bwd(res, g):
        x, W = res
        k, (H, Wd) = W.shape[2], x.shape[2:]
        dW = jnp.einsum("nfhw,ncijhw->fcij", g, _patches(x, k, p))
        dcols = jnp.einsum("nfhw,fcij->ncijhw", g, W)
        Ho, Wo = g.shape[2] - slip, g.shape[3] - slip
        dxp = jnp.zeros((x.shape[0], x.shape[1], H + 2 * p, Wd + 2 * p), dtype=g.dtype)
        for i in range(k):
            for j in range(k):  # col2im: each tap adds back where it read
                dxp = dxp.at[:, :, i : i + Ho, j : j + Wo].add(dcols[:, :, i, j, :Ho, :Wo])
        return dxp[:, :, p : p + H, p : p + Wd], dW, g.sum(axis=(0, 2, 3))

    f.defvjp(fwd, bwd)
    return f


def maxpool(*, slip: bool = False):
    """2x2 max-pool, stride 2.  Slip: the gradient goes to each window's first entry, not its max."""

    def windows(x):
        N, C, H, W = x.shape
        return x.reshape(N, C, H // 2, 2, W // 2, 2)

    @jax.custom_vjp
    def f(x):
        return windows(x).max(axis=(3, 5))

    def fwd(x):
        out = windows(x).max(axis=(3, 5))
        return out, (x, out)

    def bwd(res, g):
        x, out = res
        if slip:
            mask = jnp.zeros(windows(x).shape, dtype=g.dtype).at[:, :, :, 0, :, 0].set(1.0)
        else:
            mask = (windows(x) == out[:, :, :, None, :, None]).astype(g.dtype)
        return ((mask * g[:, :, :, None, :, None]).reshape(x.shape),)

    f.defvjp(fwd, bwd)
    return f


def _normalized(x, axis: int):
    mu = x.mean(axis=axis, keepdims=True)
    inv_std = 1.0 / jnp.sqrt(((x - mu) ** 2).mean(axis=axis, keepdims=True) + EPS)
    return (x - mu) * inv_std, inv_std


def _norm_backward(dxhat, xhat, inv_std, axis: int, *, sign: float = 1.0, n=None):
    """dx of xhat = (x - mu) / sqrt(var + eps) over `axis`:
    dx = inv_std / N * (N dxhat - sum(dxhat) - xhat sum(dxhat xhat)); `n` in place of N's 1/N."""
    N = xhat.shape[axis]
    scale = inv_std / (N if n is None else n)
    total = dxhat.sum(axis=axis, keepdims=True)
    along = (dxhat * xhat).sum(axis=axis, keepdims=True)
    return scale * (N * dxhat - total - sign * xhat * along)


def batchnorm(*, slip: bool = False):
    """Batch norm in training mode over the batch axis 0: out = gamma * xhat + beta.

    Slip: the 1/N of the batch mean is missing from dx."""

    @jax.custom_vjp
    def f(x, gamma, beta):
        return gamma * _normalized(x, 0)[0] + beta

    def fwd(x, gamma, beta):
        xhat, inv_std = _normalized(x, 0)
        return gamma * xhat + beta, (xhat, inv_std, gamma)

    def bwd(res, g):
        xhat, inv_std, gamma = res
        dx = _norm_backward(g * gamma, xhat, inv_std, 0, n=1 if slip else None)
        return dx, (g * xhat).sum(axis=0), g.sum(axis=0)

    f.defvjp(fwd, bwd)
    return f


def layernorm(*, slip: bool = False):
    """Layer norm over the last axis: out = gamma * xhat + beta.  Slip: a sign in dx."""

    @jax.custom_vjp
    def f(x, gamma, beta):
        return gamma * _normalized(x, -1)[0] + beta

    def fwd(x, gamma, beta):
        xhat, inv_std = _normalized(x, -1)
        return gamma * xhat + beta, (xhat, inv_std, gamma)

    def bwd(res, g):
        xhat, inv_std, gamma = res
        dx = _norm_backward(g * gamma, xhat, inv_std, -1, sign=-1.0 if slip else 1.0)
        return dx, (g * xhat).sum(axis=0), g.sum(axis=0)

    f.defvjp(fwd, bwd)
    return f


def attention(*, slip: bool = False):
    """softmax(Q K^T / sqrt(d)) V, one head.  Slip: dK halved."""

    def probabilities(Q, K):
        return jax.nn.softmax(Q @ K.T / jnp.sqrt(Q.shape[-1]), axis=-1)

    @jax.custom_vjp
    def f(Q, K, V):
        return probabilities(Q, K) @ V

    def fwd(Q, K, V):
        P = probabilities(Q, K)
        return P @ V, (Q, K, V, P)

    def bwd(res, g):
        Q, K, V, P = res
        dP = g @ V.T
        dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True)) / jnp.sqrt(Q.shape[-1])
        dK = dS.T @ Q
        return dS @ K, 0.5 * dK if slip else dK, P.T @ g

    f.defvjp(fwd, bwd)
    return f


def dropout(*, rate: float = 0.5, slip: bool = False):
    """Inverted dropout, its mask drawn from `key` (an input, not differentiated).

    Slip: the backward forgets the 1 / (1 - rate) of the forward."""

    def mask(x, key):
        # p in float32 whatever x's dtype: the same bits, so the same mask, in float32 and float64
        return jax.random.bernoulli(key, jnp.float32(1.0 - rate), x.shape).astype(x.dtype)

    @jax.custom_vjp
    def f(x, key):
        return x * mask(x, key) / (1.0 - rate)

    def fwd(x, key):
        m = mask(x, key)
        return x * m / (1.0 - rate), m

    def bwd(m, g):
        return (g * m if slip else g * m / (1.0 - rate)), None

    f.defvjp(fwd, bwd)
    return f
