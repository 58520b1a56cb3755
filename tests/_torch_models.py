"""Shared models and data for the tests of gradcheck.torch.check_module; import it after pytest.importorskip("torch")."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn


def make_data(d=8, n_in=4, n_out=3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, n_in, generator=g, dtype=dtype), torch.rand(
        d, n_out, generator=g, dtype=dtype
    )


def make_model(*modules, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(*modules).to(dtype)


class SlippedSigmoid(torch.autograd.Function):
    """sigmoid' computed as s (1 + s) instead of s (1 - s)."""

    @staticmethod
    def forward(ctx, z):
        s = torch.sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return grad_output * s * (1 + s)


def sigmoid_module(function):
    class Custom(nn.Sigmoid):
        def forward(self, z):
            return function.apply(z)

    return Custom()


class BiaslessLinear(torch.autograd.Function):
    """A hand-written linear layer whose backward forgets the bias gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        return grad_output @ weight, grad_output.T @ x, None
