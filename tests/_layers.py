"""Layers written by hand, course style, for the layer checks' tests: ``forward(*inputs) -> (out,
cache)`` and ``backward(dout, cache) -> grads``, each correct, and beside some the slip a person makes.

affine, relu, max-pool (2x2), conv (stride 1, padding 1, im2col), layer norm, batch norm in
training mode, softmax attention, dropout (its mask drawn from numpy's global RNG, so that only a
checker that replays the RNG state sees one function).
"""

from __future__ import annotations

import numpy as np


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def affine_backward_transposed_dw(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw.T, db


def affine_backward_one_slip(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    dw = dw.copy()
    dw[2, 1] = dw[2, 0]  # an indexing slip: one entry read from its neighbour
    return dx, dw, db


def affine_backward_swapped_dout(dout, cache):
    """Reads dout with columns 0 and 1 swapped: under an all-ones dout the error sums to zero."""
    x, w = cache
    return dout[:, [1, 0, 2]] @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return dout * (x > 0)


def maxpool_forward(x):
    n, c, h, w = x.shape
    out = x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    return out, x


def maxpool_backward(dout, x):
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for i in range(h // 2):
        for j in range(w // 2):
            window = x[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].reshape(n, c, 4)
            k = np.argmax(window, axis=2)  # the first maximum takes the whole gradient
            for a in range(n):
                for b in range(c):
                    dx[a, b, 2 * i + k[a, b] // 2, 2 * j + k[a, b] % 2] = dout[a, b, i, j]
    return dx


def _im2col(xp, k, ho, wo):
    n, c = xp.shape[:2]
    cols = np.empty((n, ho, wo, c * k * k))
    for i in range(ho):
        for j in range(wo):
            cols[:, i, j] = xp[:, :, i : i + k, j : j + k].reshape(n, -1)
    return cols


def conv_forward(x, w, b):
    """Stride 1, padding 1, through im2col."""
    f, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ho, wo = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    cols = _im2col(xp, k, ho, wo)
    out = cols @ w.reshape(f, -1).T + b  # (n, ho, wo, f)
    return out.transpose(0, 3, 1, 2), (x, w, cols)


def conv_backward(dout, cache, *, skip_last_column=False):
    x, w, cols = cache
    f, c, k, _ = w.shape
    d = dout.transpose(0, 2, 3, 1)  # (n, ho, wo, f)
    dw = np.einsum("nhwf,nhwp->fp", d, cols).reshape(w.shape)
    db = d.sum(axis=(0, 1, 2))
    dcols = d @ w.reshape(f, -1)
    dxp = np.zeros((x.shape[0], c, x.shape[2] + 2, x.shape[3] + 2))
    ho, wo = d.shape[1:3]
    for i in range(ho):
        for j in range(wo - 1 if skip_last_column else wo):  # the border bug: a range off by one
            dxp[:, :, i : i + k, j : j + k] += dcols[:, i, j].reshape(-1, c, k, k)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def layernorm_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mu) * inv
    return gamma * xhat + beta, (xhat, inv, gamma)


def layernorm_backward(dout, cache, *, n_factor=True):
    xhat, inv, gamma = cache
    n = xhat.shape[1]
    dxhat = dout * gamma
    inner = (
        n * dxhat
        - dxhat.sum(axis=1, keepdims=True)
        - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)
    )
    dx = (inv / n if n_factor else inv) * inner  # the slip: the 1/N of the mean forgotten
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training mode: the batch's own mean and variance, over axis 0."""
    mu = x.mean(axis=0)
    inv = 1.0 / np.sqrt(x.var(axis=0) + eps)
    xhat = (x - mu) * inv
    return gamma * xhat + beta, (xhat, inv, gamma)


def batchnorm_backward(dout, cache, *, n_factor=True):
    xhat, inv, gamma = cache
    n = xhat.shape[0]
    dxhat = dout * gamma
    inner = n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)
    dx = (inv / n if n_factor else inv) * inner  # the slip: the 1/N of the batch mean forgotten
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention_forward(q, k, v):
    """Softmax attention, one head: softmax(q k^T / sqrt(d)) v."""
    scale = 1.0 / np.sqrt(q.shape[-1])
    p = _softmax(q @ k.T * scale)
    return p @ v, (q, k, v, p, scale)


def attention_backward(dout, cache, *, softmax_jacobian=True):
    q, k, v, p, scale = cache
    dv = p.T @ dout
    dp = dout @ v.T
    # the slip: the softmax's Jacobian taken as its diagonal only, dS = p * dP
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) if softmax_jacobian else p * dp
    return ds @ k * scale, ds.T @ q * scale, dv


def dropout_forward(x, p=0.5):
    """Inverted dropout; the mask comes from numpy's global RNG, drawn anew at every call."""
    mask = (np.random.random_sample(x.shape) >= p) / (1 - p)  # noqa: NPY002 (on purpose)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask
