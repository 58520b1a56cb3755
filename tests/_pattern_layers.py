"""The slips whose patterns `gradcheck.diagnosis.patterns` names, on the layers of `_layers`, and
an element-wise product of two inputs (for the swapped-input pattern).

``forward(*inputs) -> (out, cache)``, ``backward(dout, cache) -> grads``.  Each slip is a
correct backward changed in one way: a factor, a sign, zeros, one entry, one row, one channel,
the border, a transposition, two inputs swapped.  Small shapes, so that a check takes a blink.
"""

from __future__ import annotations

import numpy as np
from _layers import affine_backward, conv_backward

RNG = np.random.default_rng(2020)
X, W, B = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 3)), RNG.standard_normal(3)
AFFINE = {"x": X, "W": W, "b": B}
CONV = {
    "x": RNG.standard_normal((1, 2, 6, 6)),
    "w": RNG.standard_normal((2, 2, 3, 3)),
    "b": RNG.standard_normal(2),
}
PRODUCT = {"x": RNG.standard_normal((3, 4)), "y": RNG.standard_normal((3, 4))}


# --- affine (tests/_layers.py): out = x W + b


def affine_with(change):
    """The affine backward with `change(dx, dW, db) -> (dx, dW, db)` applied to its result."""

    def backward(dout, cache):
        return change(*(g.copy() for g in affine_backward(dout, cache)))

    return backward


def one_entry(dx, dw, db):
    dw[2, 1] = dw[2, 0]  # an indexing slip: one entry read from its neighbour
    return dx, dw, db


def one_row(dw_row):
    def change(dx, dw, db):
        dw[1] = dw_row(dw[1])
        return dx, dw, db

    return change


def affine_dx_without_transpose(dout, cache):
    """dout @ W where dout @ W.T belongs (W is square): every entry of dx wrong, by no factor."""
    x, w = cache
    return dout @ w, x.T @ dout, dout.sum(axis=0)


# --- an element-wise product of two inputs of one shape: out = x * y


def product_forward(x, y):
    return x * y, (x, y)


def product_backward(dout, cache):
    x, y = cache
    return dout * y, dout * x


def product_backward_swapped(dout, cache):
    """The gradient of y returned for x and the other way round."""
    x, y = cache
    return dout * x, dout * y


def product_backward_x_from_y(dout, cache):
    """x's gradient is y's (dout * x), y's is right."""
    x, y = cache
    return dout * x, dout * x


# --- a 2-D convolution through im2col (tests/_layers.py): stride 1, padding 1


def conv_border_slip(dout, cache):
    """The loop over output columns one short: the input's last two columns miss a window."""
    return conv_backward(dout, cache, skip_last_column=True)


def conv_channel_slip(dout, cache):
    """Channel 1 of the input's gradient scaled by 2."""
    dx, dw, db = conv_backward(dout, cache)
    dx = dx.copy()
    dx[:, 1] *= 2.0
    return dx, dw, db
