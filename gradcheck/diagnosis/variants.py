"""The gradients of the known bugs: the reference's batch-form backprop with equations broken.

`backprop_variant` is the batch form of NOTATION.md whose keyword switches
each replace one equation by its broken form; with the defaults it *is* the
article's backprop. The functions after it change what is done with the right
gradient (the sign, the order of the layers, an update instead of a gradient).
`gradcheck.diagnosis.bugs` names each of them as a `Bug`, with where it can show.

    from gradcheck.diagnosis.variants import backprop_variant
    backprop_variant(net, X, Y, hidden_factor="1").flat()  # h' forgotten in the hidden layers
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference import Activation, Gradients, Network, forward_pass, output_delta
from reference.activations import is_builtin

__all__ = [
    "H_PRIME_IN_A",
    "LEARNING_RATE",
    "backprop_variant",
    "dW_transposed",
    "gradients_swapped",
    "is_builtin",
    "layers_reversed",
    "mean_over_outputs",
    "on_rows",
    "sign_flipped",
    "updated_weights",
]

#: The learning rate `Bug.gradient` uses for `updated_weights` when none is
#: given; `diagnose` fits it to the candidate instead.
LEARNING_RATE = 0.1


# The derivative of sigmoid and tanh written in terms of a = h(z), as courses
# teach it; the bugs "*_h_prime_formula_of_z" feed it z instead of a.
H_PRIME_IN_A: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda a: a * (1.0 - a),  # sigma'(z) = a (1 - a)
    "tanh": lambda a: 1.0 - a * a,  # tanh'(z) = 1 - a^2
}


def _factor(kind: str, h: Activation, Z: np.ndarray, A: np.ndarray) -> np.ndarray | float:
    """What multiplies `dJ/da^H` (output layer) or `W^{L+1} delta^{L+1}` (hidden), element-wise.

    ``"h'(z)"`` is the article's; every other `kind` is a bug. `Z` and `A` are
    the batch's `Z^L` and `A^L = h(Z^L)`, shape (d, N).
    """
    if kind == "h'(z)":
        return 1.0 if h.is_identity else _h_prime(h)(Z)  # h'(z^L): right
    if kind == "1":
        return 1.0  # h' forgotten
    if kind == "h'(a)":
        return _h_prime(h)(A)  # h' applied to a^L = h(z^L) instead of z^L
    if kind == "h(z)":
        return h.h(Z)  # h called where h' belongs
    if kind == "h'_in_a(z)":
        if not is_builtin(h, *H_PRIME_IN_A):  # a layer with another h: its h' is right
            return _factor("h'(z)", h, Z, A)
        return H_PRIME_IN_A[h.name](Z)  # a(1 - a) written for h', then fed z: z(1 - z)
    if kind == "a(1-a)":
        return A * (1.0 - A)  # softmax: only the diagonal of its Jacobian, da_n/dz_n
    raise ValueError(f"unknown derivative factor {kind!r}")


def _h_prime(h: Activation) -> Callable[[np.ndarray], np.ndarray]:
    if h.h_prime is None:
        raise ValueError(f"activation {h.name!r} is not element-wise; it has no h'")
    return h.h_prime


def _output_delta_variant(
    net: Network, Z_H: np.ndarray, A_H: np.ndarray, Y: np.ndarray, dJ_da: str, factor: str
) -> np.ndarray:
    """`Delta^H` (d, n_H), right (the reference's, fused where a fused form exists) or with a bug.

    `dJ_da`: ``"cost"`` (the network's cost), ``"a-y"`` (the quadratic
    cost's, used whatever the cost) or ``"2(a-y)"`` (the quadratic cost
    without its 1/2). `factor`: see `_factor`.
    """
    if dJ_da == "cost" and factor == "h'(z)":
        return output_delta(Z_H, A_H, Y, net.output, net.cost_function)  # the article's delta^H
    if dJ_da == "cost":
        G = net.cost_function.dJ_da(A_H, Y)  # dJ/da^H, not fused: the bug is in what follows
    elif dJ_da == "a-y":
        G = A_H - Y  # dJ/da^H of J_i = 1/2 ||a - y||^2, whatever the cost really is
    elif dJ_da == "2(a-y)":
        G = 2.0 * (A_H - Y)  # dJ/da^H of J_i = ||a - y||^2: the 1/2 forgotten
    else:
        raise ValueError(f"unknown dJ/da {dJ_da!r}")
    if factor == "h'(z)" and net.output.vjp is not None:
        return net.output.vjp(A_H, G)  # delta^H = J_h(z^H)^T dJ/da^H  (softmax)
    return G * _factor(factor, net.output, Z_H, A_H)  # delta^H = dJ/da^H ⊙ h'(z^H)


def _recursion_matrix(net: Network, L: int, recursion: str) -> np.ndarray:
    """The matrix `M` of the recursion `delta^L = (M delta^{L+1}) ⊙ h'(z^L)`, per-example form.

    Right: ``"W^{L+1}"``. Bugs: ``"(W^{L+1})^T"`` (needs `W^{L+1}` square),
    ``"W^L"`` (the previous layer's, needs the widths of layers `L-1, L, L+1`
    equal).
    """
    if recursion == "W^{L+1}":
        return net.weights[L + 1]
    if recursion == "(W^{L+1})^T":
        return net.weights[L + 1].T
    if recursion == "W^L":
        return net.weights[L]
    raise ValueError(f"unknown recursion {recursion!r}")


def backprop_variant(
    net: Network,
    X: Any,
    Y: Any,
    *,
    average: str = "all",
    dJ_da: str = "cost",
    output_factor: str = "h'(z)",
    hidden_factor: str = "h'(z)",
    recursion: str = "W^{L+1}",
    dW_uses: str = "a^{L-1}",
    bias_in_forward: bool = True,
    penalty: str = "lam W",
) -> Gradients:
    """The batch form of NOTATION.md with one or more equations deliberately broken.

    With the defaults it is the article's backprop (`reference.backprop`).
    It is not a reference and not independent of one: bugs are recognised by
    comparing a candidate with *the reference computed with a bug*, so each
    switch must change exactly one equation of the reference's own batch form
    and nothing else (same forward pass, same fused output deltas via
    `reference.output_delta`). The independent re-implementations, which
    check the reference, are in `gradcheck.tolerance.independent`.

    Parameters
    ----------
    net : Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    average : {"all", "none", "weights_only"}
        Which gradients are divided by `d`: all (right), none (summed over
        the batch), or only `dJ/dW^L` (`dJ/db^L` summed).
    dJ_da : {"cost", "a-y", "2(a-y)"}
        See `_output_delta_variant`.
    output_factor, hidden_factor : str
        What stands for `h'(z^H)` and `h'(z^L)`; see `_factor`.
    recursion : {"W^{L+1}", "(W^{L+1})^T", "W^L"}
        See `_recursion_matrix`.
    dW_uses : {"a^{L-1}", "a^L"}
        The activation in `dJ/dW^L = a^{L-1} (delta^L)^T`; ``"a^L"`` gives
        shape (N, N).
    bias_in_forward : bool
        False leaves `+ b^L` out of the forward pass.
    penalty : {"lam W", "lam W, lam b", "2 lam W", "none"}
        The L2 penalty's term in the gradient (``net.l2 = lam``): `lam W^L`
        in `dJ/dW^L` (right); also `lam b^L` in `dJ/db^L` (the biases
        penalised too); `2 lam W^L` (the 1/2 of `(lam/2) ||W||^2` missing);
        or left out.

    Returns
    -------
    Gradients
    """
    if average not in ("all", "none", "weights_only") or dW_uses not in ("a^{L-1}", "a^L"):
        raise ValueError(f"unknown average {average!r} or dW_uses {dW_uses!r}")
    if penalty not in _PENALTY_FACTORS:
        raise ValueError(f"unknown penalty {penalty!r}")
    X, Y = net.check_data(X, Y)
    d, H, h = X.shape[0], net.H, net.activations
    biases = net.biases if bias_in_forward else [np.zeros_like(b) for b in net.biases]
    forward = forward_pass(net.weights, biases, h, X)  # Z^L = A^{L-1} W^L + 1 (b^L)^T, A^L = h(Z^L)
    Z, A = forward.Z, forward.A

    Delta: list[np.ndarray] = [np.empty(0)] * (H + 1)
    Delta[H] = _output_delta_variant(net, Z[H], A[H], Y, dJ_da, output_factor)
    for L in range(H - 1, -1, -1):
        M = _recursion_matrix(net, L, recursion)
        Delta[L] = (Delta[L + 1] @ M.T) * _factor(hidden_factor, h[L], Z[L], A[L])
        # ^ delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L), one example per row

    d_W = 1 if average == "none" else d
    d_b = d if average == "all" else 1
    dJ_dW, dJ_db = [], []
    for L in range(H + 1):
        a_prev = X if L == 0 else A[L - 1]  # A^{L-1}, with A^{-1} = X (never stored at -1)
        a = A[L] if dW_uses == "a^L" else a_prev
        dJ_dW.append(a.T @ Delta[L] / d_W)  # dJ/dW^L = (1/d) (A^{L-1})^T Delta^L
        dJ_db.append(Delta[L].sum(axis=0) / d_b)  # dJ/db^L = (1/d) 1^T Delta^L
    on_W, on_b = _PENALTY_FACTORS[penalty]
    if net.l2 and (on_W or on_b):
        for L in range(H + 1):
            if dJ_dW[L].shape == net.weights[L].shape:  # not for a^L in dJ/dW^L: (N, N)
                dJ_dW[L] = dJ_dW[L] + on_W * net.l2 * net.weights[L]  # + lam W^L
            dJ_db[L] = dJ_db[L] + on_b * net.l2 * net.biases[L]  # + lam b^L: a bug
    return Gradients(dJ_dW, dJ_db)


#: penalty -> (factor of lam W^L in dJ/dW^L, factor of lam b^L in dJ/db^L)
_PENALTY_FACTORS = {
    "lam W": (1.0, 0.0),
    "lam W, lam b": (1.0, 1.0),
    "2 lam W": (2.0, 0.0),
    "none": (0.0, 0.0),
}


# Bugs in what is done with the right gradient.


def on_rows(rows: str, net: Network, X: Any, Y: Any) -> Gradients:
    """The right gradient of the ``"first"`` or ``"last"`` example, or of the ``"mean"`` example."""
    X, Y = net.check_data(X, Y)
    if rows == "first":
        return backprop_variant(net, X[:1], Y[:1])  # J_0 only
    if rows == "last":
        return backprop_variant(net, X[-1:], Y[-1:])  # J_{d-1} only
    return backprop_variant(net, X.mean(axis=0, keepdims=True), Y.mean(axis=0, keepdims=True))


def sign_flipped(net: Network, X: Any, Y: Any) -> Gradients:
    """The gradient of -J: every entry of the right gradient negated."""
    g = backprop_variant(net, X, Y)
    return Gradients([-dW for dW in g.weights], [-db for db in g.biases])  # dJ/dW of -J


def mean_over_outputs(net: Network, X: Any, Y: Any) -> Gradients:
    """The right gradient times 2/n_H: torch.nn.MSELoss's mean over the outputs."""
    g, c = backprop_variant(net, X, Y), 2.0 / net.sizes[-1]  # J_i = (1/n_H) ||a^H - y||^2
    return Gradients([c * dW for dW in g.weights], [c * db for db in g.biases])


def gradients_swapped(net: Network, X: Any, Y: Any) -> Gradients:
    """The right gradient with the lists swapped: (dJ/db, dJ/dW)."""
    g = backprop_variant(net, X, Y)
    return Gradients(list(g.biases), list(g.weights))  # (db, dW) for (dW, db)


def layers_reversed(net: Network, X: Any, Y: Any) -> Gradients:
    """The right gradient with the layers in reverse order: output layer first."""
    g = backprop_variant(net, X, Y)
    return Gradients(g.weights[::-1], g.biases[::-1])  # [dJ/dW^H, ..., dJ/dW^0]


def dW_transposed(net: Network, X: Any, Y: Any) -> Gradients:
    """The right gradient with every dJ/dW^L transposed, shape (N, M)."""
    g = backprop_variant(net, X, Y)
    return Gradients([dW.T.copy() for dW in g.weights], g.biases)  # delta^L (a^{L-1})^T, (N, M)


def updated_weights(net: Network, X: Any, Y: Any, *, eta: float = LEARNING_RATE) -> Gradients:
    """The parameters after one step of descent: W^L - eta dJ/dW^L and b^L - eta dJ/db^L."""
    g = backprop_variant(net, X, Y)
    return Gradients(
        [W - eta * dW for W, dW in zip(net.weights, g.weights, strict=True)],  # W^L - eta dJ/dW^L
        [b - eta * db for b, db in zip(net.biases, g.biases, strict=True)],  # b^L - eta dJ/db^L
    )
