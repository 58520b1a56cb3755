"""`backprop` (the batch matrix form, the oracle) and `backprop_examples` (one example at a time).

Both compute the batch-averaged gradient of NOTATION.md from the same four
equations; they differ only in whether the examples travel together as the
rows of a matrix or one by one as vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._workspace import buffer, forward_pass_into, multiply_by_h_prime
from .activations import Activation
from .costs import FUSED_FORMS, Cost
from .network import Gradients, Network, checked_problem

__all__ = ["backprop", "backprop_examples", "output_delta"]


def output_delta(
    Z_H: np.ndarray,
    A_H: np.ndarray,
    Y: np.ndarray,
    output: Activation,
    cost: Cost,
    *,
    fused: bool = True,
) -> np.ndarray:
    """`Delta^H` (rows are examples); a new array the caller may overwrite.

    Element-wise output:  `delta^H = dJ/da^H ⊙ h'(z^H)`.
    Softmax (components depend on all of `z^H`): `delta^H = J_h(z^H)^T dJ/da^H`.
    With ``fused=True`` a pair with a simpler stable form (sigmoid +
    cross-entropy, softmax + categorical cross-entropy) uses it instead.
    """
    pair = FUSED_FORMS.get((output.name, cost.name)) if fused else None
    if pair is not None:
        return pair.delta(Z_H, A_H, Y)
    G = cost.dJ_da(A_H, Y)  # dJ/da^H
    if not output.elementwise:
        assert output.vjp is not None  # a non-element-wise activation gives vjp
        return output.vjp(A_H, G)  # J_h(z^H)^T dJ/da^H, row by row
    if not output.is_identity:
        assert output.h_prime is not None  # checked by Network (_check_activations)
        G *= output.h_prime(Z_H)  # dJ/da^H ⊙ h'(z^H)
    return G


def backprop(net: Network, X: Any, Y: Any) -> Gradients:
    """The batch-averaged gradient by the batch matrix form (the oracle).

    Parameters
    ----------
    net : Network
    X : array_like, shape (d, n_in)
        The examples, one per row.
    Y : array_like, shape (d, n_H)
        Their targets.

    Returns
    -------
    Gradients
        ``weights[L]`` = `dJ/dW^L = (1/d) (A^{L-1})^T Delta^L` (`+ lam W^L`
        with ``net.l2 = lam``), shape (M, N);
        ``biases[L]`` = `dJ/db^L = (1/d) 1^T Delta^L`, shape (N,).

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([3, 5, 2], seed=0)
    >>> g = backprop(net, np.ones((4, 3)), np.zeros((4, 2)))
    >>> [W.shape for W in g.weights]
    [(3, 5), (5, 2)]
    """
    X, Y = checked_problem(net, X, Y)
    # Every Z^L, A^L and Delta^L lives in this thread's buffers (reference._workspace):
    # no fresh pages a call. The gradients returned are new arrays.
    fw = forward_pass_into(net.weights, net.biases, net.activations, X)
    d, H = X.shape[0], net.H
    Delta = output_delta(fw.Z[H], fw.A[H], Y, net.output, net.cost_function)
    # Scaling Delta^H by 1/d once averages every gradient below it: each
    # dJ/dW^L and dJ/db^L is linear in Delta^H (one multiply instead of 2(H+1)).
    Delta *= 1.0 / d
    dJ_dW: list[np.ndarray] = [np.empty(0)] * (H + 1)
    dJ_db: list[np.ndarray] = [np.empty(0)] * (H + 1)
    for L in range(H, -1, -1):
        a_prev = X if L == 0 else fw.A[L - 1]  # A^{L-1}, with A^{-1} = X (never stored at -1)
        dJ_dW[L] = a_prev.T @ Delta  # (1/d) (A^{L-1})^T Delta^L
        if net.l2:
            dJ_dW[L] += net.l2 * net.weights[L]  # + lam W^L, from (lam/2) ||W^L||^2
        dJ_db[L] = Delta.sum(axis=0)  # (1/d) 1^T Delta^L
        if L > 0:  # no delta for the input layer
            W = net.weights[L]
            Delta = np.matmul(
                Delta, W.T, out=buffer(f"Delta{L - 1}", (d, W.shape[0]))
            )  # Delta^L W^T ...
            hidden = net.activations[L - 1]
            if not hidden.is_identity:
                multiply_by_h_prime(Delta, hidden, fw, L - 1)  # ... ⊙ h'(Z^{L-1})
    return Gradients(dJ_dW, dJ_db)


def backprop_examples(net: Network, X: Any, Y: Any) -> Gradients:
    """The article's algorithm as written: one example at a time in vector form, then the average.

    For each example: the forward pass `z^L = (W^L)^T a^{L-1} + b^L`,
    `a^L = h(z^L)`; then `delta^H`, the recursion
    `delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)`, and the gradients
    `dJ/dW^L = a^{L-1} (delta^L)^T`, `dJ/db^L = delta^L`, summed; the sums
    are divided by `d` at the end.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([3, 5, 2], seed=0)
    >>> g = backprop_examples(net, np.ones((4, 3)), np.zeros((4, 2)))
    >>> g.biases[1].shape
    (2,)
    """
    X, Y = checked_problem(net, X, Y)
    H, d = net.H, X.shape[0]
    acts = net.activations
    sum_dW = [np.zeros_like(W) for W in net.weights]
    sum_db = [np.zeros_like(b) for b in net.biases]
    for x, y in zip(X, Y):
        # 1. forward pass, keeping every z^L and a^L
        zs, activations = [], []
        a = x  # a^{-1} = x
        for W, b, act in zip(net.weights, net.biases, acts):
            z = W.T @ a + b  # z^L = (W^L)^T a^{L-1} + b^L
            a = act.h(z)  # a^L = h(z^L)
            zs.append(z)
            activations.append(a)
        # 2. delta^H, then delta^L for L = H-1 .. 0
        delta = output_delta(
            zs[H][None], activations[H][None], y[None], net.output, net.cost_function
        )[0]
        for L in range(H, -1, -1):
            a_prev = x if L == 0 else activations[L - 1]
            # 3. the gradients of this example
            sum_dW[L] += np.outer(a_prev, delta)  # dJ/dW^L = a^{L-1} (delta^L)^T
            sum_db[L] += delta  # dJ/db^L = delta^L
            if L > 0:
                h_prime = acts[L - 1].h_prime
                assert h_prime is not None  # checked by Network (_check_activations)
                delta = (net.weights[L] @ delta) * h_prime(zs[L - 1])  # delta^{L-1}
    # 4. the average over the batch, and the penalty's lam W^L
    dJ_dW = [s / d + net.l2 * W for s, W in zip(sum_dW, net.weights)]  # + lam W^L
    return Gradients(dJ_dW, [s / d for s in sum_db])
