"""Shared pieces of the test suite: candidates, a small network and batch, a scalar function.

Two candidates in the article's layout, (weights, biases, X, Y) -> (dW_list, db_list):
`reference_candidate` wraps `reference.backprop`; `numpy_candidate` is a batch backprop in
float64 written from the equations, sharing no code with `reference` and stable at saturation.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np

from gradcheck.cli.main import main
from reference import Network, backprop


def reference_candidate(**network_options):
    """`reference.backprop` wrapped as a candidate in the article's layout."""

    def candidate(weights, biases, X, Y):
        g = backprop(Network(weights, biases, **network_options), X, Y)
        return g.weights, g.biases

    return candidate


# An independent float64 batch backprop: own formulas, stable at saturation.


def _sigmoid(z):
    e = np.exp(-np.abs(z))  # <= 1: never overflows
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def _sigmoid_prime(z):
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _tanh_prime(z):
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def _logsumexp(Z):
    m = Z.max(axis=1)
    return m + np.log(np.exp(Z - m[:, None]).sum(axis=1))


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


NUMPY_H = {
    "identity": (lambda z: z, np.ones_like),
    "sigmoid": (_sigmoid, _sigmoid_prime),
    "tanh": (np.tanh, _tanh_prime),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    "softplus": (_softplus, _sigmoid),
}


def _numpy_output_delta(Z, A, Y, output, cost):
    pair = (output, cost)
    if cost == "quadratic":
        G = A - Y
        if output == "softmax":
            return A * (G - (A * G).sum(axis=1, keepdims=True))
        return G * NUMPY_H[output][1](Z)
    if pair == ("sigmoid", "cross_entropy"):
        return A - Y
    if pair == ("sigmoid", "categorical_cross_entropy"):
        return Y * (A - 1.0)
    if pair == ("softmax", "categorical_cross_entropy"):
        return A * Y.sum(axis=1, keepdims=True) - Y
    if pair == ("softplus", "categorical_cross_entropy"):
        return -Y * _sigmoid(Z) / _softplus(Z)  # -y/a h'(z), the ratio taken first
    if pair == ("softmax", "cross_entropy"):
        # delta_n = N a_n - y_n - sum_{k != n} (1 - y_k) e^{z_n - L_k}, L_k = log sum_{j != k} e^{z_j}
        N = Z.shape[1]
        L = np.stack([_logsumexp(np.delete(Z, k, axis=1)) for k in range(N)], axis=1)
        ratio = np.exp(np.minimum(Z[:, :, None] - L[:, None, :], 0.0))  # [i, n, k]; <= 1 for n != k
        ratio[:, np.arange(N), np.arange(N)] = 0.0
        return N * A - Y - np.einsum("ink,ik->in", ratio, 1.0 - Y)
    raise NotImplementedError(pair)


def numpy_candidate(hidden, output=None, cost="quadratic"):
    """A batch backprop in float64 written from the equations, sharing no code with `reference`."""
    output = output or hidden

    def candidate(weights, biases, X, Y):
        Ws = [np.asarray(W, dtype=np.float64) for W in weights]
        bs = [np.asarray(b, dtype=np.float64) for b in biases]
        Zs, As = [], [np.asarray(X, dtype=np.float64)]  # As[L] is A^{L-1}
        for L, (W, b) in enumerate(zip(Ws, bs)):
            Z = As[-1] @ W + b
            name = output if L == len(Ws) - 1 else hidden
            Zs.append(Z)
            As.append(_softmax(Z) if name == "softmax" else NUMPY_H[name][0](Z))
        Delta = _numpy_output_delta(Zs[-1], As[-1], np.asarray(Y, float), output, cost) / len(X)
        dW, db = [None] * len(Ws), [None] * len(Ws)
        for L in range(len(Ws) - 1, -1, -1):
            dW[L] = As[L].T @ Delta
            db[L] = Delta.sum(axis=0)
            if L:
                Delta = (Delta @ Ws[L].T) * NUMPY_H[hidden][1](Zs[L - 1])
        return dW, db

    return candidate


# ---- a small network and batch (tanh, sizes 3-4-2, d = 5), zero parameters of that shape

_rng = np.random.default_rng(7)
TANH_NET = Network.random([3, 4, 2], hidden="tanh", seed=0)  # 26 parameters
TANH_X = _rng.normal(size=(5, 3))
TANH_Y = _rng.normal(size=(5, 2))
ZERO_W = [np.zeros((3, 4)), np.zeros((4, 2))]
ZERO_B = [np.zeros(4), np.zeros(2)]
TANH_CANDIDATE = reference_candidate(hidden="tanh")

#: the built-in activations, as an unknown name's message lists them
BUILTIN_ACTIVATIONS = [
    "elu",
    "identity",
    "leaky_relu",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]


# ---- a scalar function of theta, with its gradient at one point


def sum_sin(x):
    """A scalar function that only reads its argument."""
    return float(np.sum(np.sin(x)))


SIN_THETA = np.array([0.3, -1.2, 2.0])
SIN_GRAD = np.cos(SIN_THETA)


def big_logits(cost, gap):
    """A softmax network whose logits reach `gap`, a batch of 4 and targets valid for `cost`."""
    rng = np.random.default_rng(5)
    W0, X = rng.normal(size=(3, 4)), rng.normal(size=(4, 3))
    W1 = rng.normal(size=(4, 3))
    W1 *= gap / np.abs(np.tanh(X @ W0) @ W1).max()
    Y = np.eye(3)[[0, 1, 2, 0]] if cost != "quadratic" else rng.uniform(size=(4, 3))
    if cost == "cross_entropy":
        Y = 0.8 * Y + 0.1  # soft binary targets
    net = Network([W0, W1], [np.zeros(4), np.zeros(3)], hidden="tanh", output="softmax", cost=cost)
    return net, X, Y


def sum_squares(x):
    """A scalar function of theta that takes lists as well as arrays."""
    return float(np.sum(np.asarray(x) ** 2))


def rosen(x):
    """Rosenbrock's function, with `rosen_grad` its gradient (scipy's check_grad example)."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


# ---- the command line and the file system


def run_cli(argv):
    """``main(argv)`` -> (exit status, stdout); a SystemExit's code counts as the status."""
    out = io.StringIO()
    try:
        code = main(argv, out=out)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def tree(root: Path) -> dict[Path, bytes | None]:
    """Every path under `root`: file -> its bytes, directory -> None."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def process_gone(pid: int) -> bool:
    """Whether process `pid` is gone (killed, then reaped by whoever adopted it), polling 10 s."""
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
