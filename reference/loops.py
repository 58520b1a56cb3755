"""`backprop_loops`: the index form of NOTATION.md, line by line, with explicit Python loops.

Written from the index equations, not from the vector code: one loop over
examples `i`, one over neurons `n`, one over incoming weights `m`, plain
Python floats, no matrix products.  It is slow on purpose; it exists so that
the vectorised oracle is itself checked by a computation that shares none of
its array code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .network import Gradients, Network, checked_problem

__all__ = ["backprop_loops"]


def backprop_loops(net: Network, X: Any, Y: Any) -> Gradients:
    """The batch-averaged gradient by the index form, looping over `i`, `n`, `m`.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([2, 3, 1], seed=0)
    >>> backprop_loops(net, np.ones((2, 2)), np.zeros((2, 1))).weights[0].shape
    (2, 3)
    """
    X, Y = checked_problem(net, X, Y)
    d, H, sizes = X.shape[0], net.H, net.sizes
    w = [W.tolist() for W in net.weights]  # w[L][m][n] = w^L_{mn}
    b = [bL.tolist() for bL in net.biases]  # b[L][n] = b^L_n
    acts = net.activations
    sum_dW = [[[0.0] * sizes[L + 1] for _ in range(sizes[L])] for L in range(H + 1)]
    sum_db = [[0.0] * sizes[L + 1] for L in range(H + 1)]

    for i in range(d):
        x, y = X[i].tolist(), Y[i].tolist()

        # Forward pass, keeping every z^L and a^L.  a_prev is a^{L-1}, with a^{-1} = x.
        z: list[list[float]] = []
        a: list[list[float]] = []
        for L in range(H + 1):
            a_prev = x if L == 0 else a[L - 1]
            M, N = sizes[L], sizes[L + 1]
            # z^L_n = sum_m w^L_{mn} a^{L-1}_m + b^L_n
            z.append([sum(w[L][m][n] * a_prev[m] for m in range(M)) + b[L][n] for n in range(N)])
            a.append(_h(acts[L], z[L]))  # a^L_n = h(z^L_n)

        # Output layer: delta^H_n = dJ/da^H_n * h'(z^H_n), or its fused / Jacobian forms.
        delta = _delta_H(net, z[H], a[H], y)

        for L in range(H, -1, -1):
            a_prev = x if L == 0 else a[L - 1]
            M, N = sizes[L], sizes[L + 1]
            for n in range(N):
                sum_db[L][n] += delta[n]  # dJ/db^L_n = delta^L_n
                for m in range(M):
                    sum_dW[L][m][n] += a_prev[m] * delta[n]  # dJ/dw^L_{mn} = a^{L-1}_m delta^L_n
            if L > 0:
                # delta^{L-1}_m = h'(z^{L-1}_m) * sum_n w^L_{mn} delta^L_n
                delta = [
                    _h_prime(acts[L - 1], z[L - 1][m])
                    * sum(w[L][m][n] * delta[n] for n in range(N))
                    for m in range(M)
                ]

    lam = net.l2
    # the average over i, and the penalty's dJ/dw^L_{mn} term lam w^L_{mn}
    dJ_dW = [
        np.array([[sum_dW[L][m][n] / d + lam * w[L][m][n] for n in range(N)] for m in range(M)])
        for L, (M, N) in enumerate(zip(sizes, sizes[1:]))
    ]
    dJ_db = [np.array([s / d for s in S]) for S in sum_db]
    return Gradients(dJ_dW, dJ_db)


def _h(act, z: list[float]) -> list[float]:
    """a_n = h(z_n), one neuron at a time (the whole vector for softmax-like activations)."""
    if act.elementwise:
        return [_scalar(act.h(np.float64(z_n)), act) for z_n in z]
    return np.asarray(act.h(np.array([z])))[0].tolist()


def _h_prime(act, z_n: float) -> float:
    return 1.0 if act.is_identity else _scalar(act.h_prime(np.float64(z_n)), act, "h_prime")


def _scalar(value, act=None, label: str = "h") -> float:
    """A user's h or h' at one z as one float: a scalar, or a one-entry array (a constant
    h' of shape (1,) broadcasts anywhere, and the network's checks accept it)."""
    array = np.asarray(value, dtype=np.float64)
    if array.size != 1:
        name = getattr(act, "name", "?")
        raise ValueError(
            f"activation {name!r}: {label}(z) at one float64 z must return one number "
            f"(backprop_loops works neuron by neuron), got shape {array.shape}"
        )
    return float(array.reshape(-1)[0])


def _delta_H(net: Network, z: list[float], a: list[float], y: list[float]) -> list[float]:
    """delta^H_n, index by index."""
    N = len(z)
    pair = (net.output.name, net.cost_function.name)
    if pair == ("sigmoid", "cross_entropy"):
        return [a[n] - y[n] for n in range(N)]  # a(1-a) in h' cancels that of dJ/da
    if pair == ("sigmoid", "categorical_cross_entropy"):
        return [-y[n] * (1.0 - a[n]) for n in range(N)]  # -y_n/a_n * a_n (1 - a_n)
    if pair == ("softmax", "categorical_cross_entropy"):
        s = math.fsum(y)
        return [a[n] * s - y[n] for n in range(N)]  # a_n sum_k y_k - y_n
    dJ_da = net.cost_function.dJ_da(np.array([a]), np.array([y]))[0].tolist()
    if net.output.elementwise:
        return [dJ_da[n] * _h_prime(net.output, z[n]) for n in range(N)]  # dJ/da_n h'(z_n)
    assert net.output.jacobian is not None  # a non-element-wise activation gives its jacobian
    J = net.output.jacobian(np.array([z]))[0].tolist()  # J[k][n] = da_k/dz_n
    return [sum(J[k][n] * dJ_da[k] for k in range(N)) for n in range(N)]  # (J^T dJ/da)_n
