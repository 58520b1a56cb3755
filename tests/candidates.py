"""Backprop implementations written the way users write them, for testing the oracle.

Independent of `reference`: own activation formulas, own loops. Each takes
(weights, biases, X, Y) in the article's layout and returns (dW_list, db_list).
"""

from __future__ import annotations

import numpy as np

H_AND_H_PRIME = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "sigmoid": (lambda z: 0.5 * (1 + np.tanh(z / 2)), lambda z: 0.25 / np.cosh(z / 2) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "softplus": (lambda z: np.log1p(np.exp(z)), lambda z: 1 / (1 + np.exp(-z))),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))),
    ),
}


def make_numpy_backprop(hidden="sigmoid", output=None, cost="quadratic", *, dtype=np.float64):
    """A per-example numpy backprop (the article's algorithm), in `dtype`."""
    output = output or hidden

    def candidate(weights, biases, X, Y):
        W = [np.asarray(w, dtype=dtype) for w in weights]
        b = [np.asarray(v, dtype=dtype) for v in biases]
        X, Y = np.asarray(X, dtype=dtype), np.asarray(Y, dtype=dtype)
        dW = [np.zeros_like(w) for w in W]
        db = [np.zeros_like(v) for v in b]
        for x, y in zip(X, Y):
            zs, acts = [], [x]
            for L, (w, v) in enumerate(zip(W, b)):
                z = w.T @ acts[-1] + v
                zs.append(z)
                if L == len(W) - 1 and output == "softmax":
                    e = np.exp(z - z.max())
                    acts.append(e / e.sum())
                else:
                    acts.append(H_AND_H_PRIME[hidden if L < len(W) - 1 else output][0](z))
            a = acts[-1]
            if output == "softmax" and cost == "categorical_cross_entropy":
                delta = a * y.sum() - y
            elif output == "sigmoid" and cost == "cross_entropy":
                delta = a - y
            else:
                g = a - y if cost == "quadratic" else -y / a
                if output == "softmax":
                    delta = a * (g - a @ g)
                else:
                    delta = g * H_AND_H_PRIME[output][1](zs[-1])
            for L in range(len(W) - 1, -1, -1):
                dW[L] += np.outer(acts[L], delta)
                db[L] += delta
                if L:
                    delta = (W[L] @ delta) * H_AND_H_PRIME[hidden][1](zs[L - 1])
        return [w / len(X) for w in dW], [v / len(X) for v in db]

    return candidate


def sigmoid_einsum(weights, biases, X, Y):
    """Batch form with einsum and Fortran-ordered arrays, sigmoid + quadratic."""
    A = [np.asfortranarray(X)]
    for W, b in zip(weights, biases):
        A.append(1 / (1 + np.exp(-(np.einsum("im,mn->in", A[-1], W) + b))))
    delta = (A[-1] - Y) * A[-1] * (1 - A[-1])
    dW, db = [], []
    for L in range(len(weights) - 1, -1, -1):
        dW.insert(0, np.asfortranarray(np.einsum("im,in->mn", A[L], delta) / len(X)))
        db.insert(0, delta.mean(axis=0))
        delta = np.einsum("in,mn->im", delta, weights[L]) * A[L] * (1 - A[L])
    return dW, db


def _parameterised(name):
    """``"leaky_relu:0.2"`` / ``"elu:0.1"`` -> (h, h'), written out here; else the table's pair."""
    if ":" not in name:
        return H_AND_H_PRIME[name]
    base, value = name.split(":")
    c = float(value)
    if base == "leaky_relu":
        return (lambda z: np.where(z > 0, z, c * z), lambda z: np.where(z > 0, 1.0, c))
    assert base == "elu"
    return (
        lambda z: np.where(z > 0, z, c * np.expm1(np.minimum(z, 0))),
        lambda z: np.where(z > 0, 1.0, c * np.exp(np.minimum(z, 0))),
    )


def make_layered_backprop(hidden, output, cost="quadratic", *, l2=0.0, slip=None):
    """A batch-form backprop with one activation per hidden layer, mse, and an L2 penalty.

    `hidden` lists one name per hidden layer (``"leaky_relu:0.2"`` for a
    slope); a network with fewer layers (an edge-case trial) uses none of it.
    `slip` types one known mistake in: ``"mse_mean_missing"`` (2 (a - y),
    no 1/n_H), ``"l2_missing"``, ``"l2_half_missing"`` (2 lam W),
    ``"l2_on_biases"``, ``"hidden_order_swapped"`` (the hidden activations
    applied in reverse order, in backprop only), ``"labels_as_probabilities"``.
    """

    def candidate(weights, biases, X, Y):
        W = [np.asarray(w, dtype=np.float64) for w in weights]
        b = [np.asarray(v, dtype=np.float64) for v in biases]
        H = len(W) - 1
        names = list(hidden) if len(hidden) == H else []
        forward = [_parameterised(n) for n in names] + [H_AND_H_PRIME.get(output)]
        backward = forward[:H][::-1] + forward[H:] if slip == "hidden_order_swapped" else forward
        d = X.shape[0]
        Z, A = [], []
        a = X
        for L in range(H + 1):
            z = a @ W[L] + b[L]
            if L == H and output == "softmax":
                e = np.exp(z - z.max(axis=1, keepdims=True))
                a = e / e.sum(axis=1, keepdims=True)
            else:
                a = forward[L][0](z)
            Z.append(z)
            A.append(a)
        a = A[H]
        if output == "softmax" and cost == "categorical_cross_entropy":
            delta = a - Y
        elif output == "sigmoid" and cost == "cross_entropy":
            delta = a - Y
        else:
            n_H = a.shape[1]
            g = {"quadratic": a - Y, "mse": 2 * (a - Y) / n_H}[cost]
            if slip == "mse_mean_missing":
                g = 2 * (a - Y)
            delta = g * backward[H][1](Z[H])
        dW, db = [None] * (H + 1), [None] * (H + 1)
        factor = {"l2_missing": 0.0, "l2_half_missing": 2.0}.get(slip, 1.0)
        for L in range(H, -1, -1):
            a_prev = X if L == 0 else A[L - 1]
            dW[L] = a_prev.T @ delta / d + factor * l2 * W[L]
            db[L] = delta.sum(axis=0) / d + (l2 * b[L] if slip == "l2_on_biases" else 0.0)
            if L:
                delta = (delta @ W[L].T) * backward[L - 1][1](Z[L - 1])
        return dW, db

    return candidate


def with_deltas(break_at=None):
    """A batch sigmoid backprop that also returns its per-example deltas (optionally broken)."""

    def candidate(weights, biases, X, Y):
        sig = lambda z: 1 / (1 + np.exp(-z))
        A, Z = [X], []
        for W, b in zip(weights, biases):
            Z.append(A[-1] @ W + b)
            A.append(sig(Z[-1]))
        H = len(weights) - 1
        deltas = [None] * (H + 1)
        deltas[H] = (A[-1] - Y) * A[-1] * (1 - A[-1])
        for L in range(H - 1, -1, -1):
            W_next = weights[L + 1] if L != break_at else weights[L + 1] * 1.5  # the bug
            deltas[L] = (deltas[L + 1] @ W_next.T) * A[L + 1] * (1 - A[L + 1])
        d = len(X)
        dW = [A[L].T @ deltas[L] / d for L in range(H + 1)]
        db = [deltas[L].mean(axis=0) for L in range(H + 1)]
        return {"weights": dW, "biases": db, "deltas": deltas}

    return candidate
