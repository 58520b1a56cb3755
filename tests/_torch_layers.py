"""Layers as torch custom `autograd.Function`s with hand-written backwards, each with a slip.

Import it after ``pytest.importorskip("torch")``.  Each factory returns the
``apply`` of a Function; ``slip=True`` gives the same layer with the classic
mistake its docstring names, so that a test can show the checker catching it
(and naming the wrong entries) while it passes the correct one.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional


def affine(slip: bool = False):
    """``x @ W + b``; the slip: dW transposed (``dout^T x`` instead of ``x^T dout``)."""

    class Affine(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W, b):
            ctx.save_for_backward(x, W)
            return x @ W + b

        @staticmethod
        def backward(ctx, dout):
            x, W = ctx.saved_tensors
            dW = x.T @ dout
            return dout @ W.T, dW.T if slip else dW, dout.sum(0)

    return Affine.apply


def conv2d(slip: bool = False):
    """A 3x3 convolution with padding 1, stride 1; the slip: the top row of dx never written."""

    class Conv2d(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W, b):
            ctx.save_for_backward(x, W)
            return F.conv2d(x, W, b, padding=1)

        @staticmethod
        def backward(ctx, dout):
            x, W = ctx.saved_tensors
            dx = torch.nn.grad.conv2d_input(x.shape, W, dout, padding=1)
            if slip:
                dx[:, :, 0, :] = 0  # the border: a padding slip
            dW = torch.nn.grad.conv2d_weight(x, W.shape, dout, padding=1)
            return dx, dW, dout.sum((0, 2, 3))

    return Conv2d.apply


def max_pool(slip: bool = False):
    """2x2 max-pool, stride 2; the slip: each window's gradient sent to its top-left entry."""

    class MaxPool(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out, index = F.max_pool2d(x, 2, return_indices=True)
            ctx.save_for_backward(index)
            ctx.shape = x.shape
            return out

        @staticmethod
        def backward(ctx, dout):
            (index,) = ctx.saved_tensors
            N, C, H, W = ctx.shape
            if slip:
                rows, cols = index // W, index % W
                index = (rows - rows % 2) * W + (cols - cols % 2)
            dx = torch.zeros(N, C, H * W, dtype=dout.dtype)
            dx.scatter_add_(2, index.reshape(N, C, -1), dout.reshape(N, C, -1))
            return dx.reshape(N, C, H, W)

    return MaxPool.apply


def _normalized_backward(dxhat, xhat, inv_std, n, dim, slip):
    """dx of ``xhat = (x - mean) * inv_std`` over `dim` (n entries); the slip drops the 1/n."""
    scale = 1.0 if slip else 1.0 / n
    total = dxhat.sum(dim, keepdim=True)
    along = (dxhat * xhat).sum(dim, keepdim=True)
    return scale * inv_std * (n * dxhat - total - xhat * along)


def batch_norm(slip: bool = False):
    """Batch norm in training mode over the batch (rows); the slip: the 1/N missing in dx."""

    class BatchNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma, beta):
            mean, var = x.mean(0), x.var(0, unbiased=False)
            inv_std = 1 / torch.sqrt(var + 1e-5)
            xhat = (x - mean) * inv_std
            ctx.save_for_backward(xhat, inv_std, gamma)
            return gamma * xhat + beta

        @staticmethod
        def backward(ctx, dout):
            xhat, inv_std, gamma = ctx.saved_tensors
            dx = _normalized_backward(dout * gamma, xhat, inv_std, xhat.shape[0], 0, slip)
            return dx, (dout * xhat).sum(0), dout.sum(0)

    return BatchNorm.apply


def layer_norm(slip: bool = False):
    """Layer norm over the last axis; the slip: dx halved."""

    class LayerNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma, beta):
            mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
            inv_std = 1 / torch.sqrt(var + 1e-5)
            xhat = (x - mean) * inv_std
            ctx.save_for_backward(xhat, inv_std, gamma)
            return gamma * xhat + beta

        @staticmethod
        def backward(ctx, dout):
            xhat, inv_std, gamma = ctx.saved_tensors
            dx = _normalized_backward(dout * gamma, xhat, inv_std, xhat.shape[-1], -1, False)
            return dx / 2 if slip else dx, (dout * xhat).sum(0), dout.sum(0)

    return LayerNorm.apply


def attention(slip: bool = False):
    """``softmax(Q K^T / sqrt(d)) V``; the slip: dK without the 1/sqrt(d)."""

    class Attention(torch.autograd.Function):
        @staticmethod
        def forward(ctx, Q, K, V):
            scale = 1 / math.sqrt(Q.shape[-1])
            P = torch.softmax(Q @ K.T * scale, dim=-1)
            ctx.save_for_backward(Q, K, V, P)
            return P @ V

        @staticmethod
        def backward(ctx, dout):
            Q, K, V, P = ctx.saved_tensors
            scale = 1 / math.sqrt(Q.shape[-1])
            dP = dout @ V.T
            dS = P * (dP - (dP * P).sum(-1, keepdim=True))  # softmax's Jacobian
            dK = dS.T @ Q
            return dS @ K * scale, dK if slip else dK * scale, P.T @ dout

    return Attention.apply


def dropout(p: float = 0.5, slip: bool = False):
    """Inverted dropout, the mask drawn from torch's RNG; the slip: the 1/(1-p) missing in dx."""

    class Dropout(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            mask = (torch.rand_like(x) >= p).to(x.dtype) / (1 - p)
            ctx.save_for_backward(mask)
            return x * mask

        @staticmethod
        def backward(ctx, dout):
            (mask,) = ctx.saved_tensors
            return dout * (mask > 0) if slip else dout * mask

    return Dropout.apply


def tensors(*shapes, seed=0, dtype=torch.float64):
    """Seeded standard-normal tensors of `shapes`, each with requires_grad=True."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype).requires_grad_() for s in shapes]
