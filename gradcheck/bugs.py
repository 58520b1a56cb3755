"""The catalogue of known backprop bugs, each with the reference gradient computed *with* that bug.

`gradcheck.diagnose` recognises a wrong gradient by comparing it with every
gradient below: when a candidate equals, to rounding, the reference computed
with a bug on purpose, that bug is the likely cause.

The math of the bugs is one batch-form backprop, `_backprop_variant`, whose
keyword switches each replace one equation of NOTATION.md by its broken form;
with the defaults it *is* the article's backprop.  Each `Bug` is a thin
`partial` of it, or a small change of what is returned (the sign, the order
of the layers, an update instead of a gradient).

    from gradcheck.bugs import BUGS
    [bug.name for bug in BUGS if bug.applies(net, d)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from reference import ACTIVATIONS, Activation, Gradients, Network, forward_pass, output_delta

__all__ = ["BUGS", "BUGS_BY_NAME", "Bug", "always"]

#: The learning rate `Bug.gradient` uses for `updated_weights` when none is
#: given; `diagnose` fits it to the candidate instead.
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Bug:
    """One known backprop bug: what it looks like, how to fix it, and the gradient it produces.

    Attributes
    ----------
    name : str
        Identifier, e.g. ``"summed_not_averaged"``.
    description : str
        What the candidate's gradient is, in plain words and the article's
        notation. The symbol ``d`` is the batch size; ``c`` and ``eta`` are
        constants that `diagnose` fits and prints.
    fix : str
        What to change, in the article's notation.
    gradient : callable ``(net, X, Y) -> Gradients``
        The reference gradient computed *with* the bug, `X` (d, n_in) and
        `Y` (d, n_H) as for `reference.backprop`. A bug with a free constant
        takes it as a keyword too: ``gradient(net, X, Y, eta=0.5)``.
    applies : callable ``(net, d) -> bool``
        Whether the bug can show at all on this network with a batch of `d`
        examples (softmax bugs need a softmax output, hidden-layer bugs a
        hidden layer, batch bugs ``d >= 2``). Where it applies, the buggy
        gradient may still coincide with the correct one on some input
        (a ReLU's ``h'(a) = h'(z)``); `diagnose` never reports it there.
    constant : str or None
        The name of a free constant on which `gradient` depends affinely
        (``"eta"``), fitted to the candidate by `diagnose`; None if none.
    equation : str or None
        The article's equation the bug breaks (`gradcheck.causes.EQUATIONS`):
        ``"delta^H"``, ``"recursion"``, ``"dJ/dW"``, ``"dJ/db"``; None for a
        fault outside them (the batch average, the forward pass, the order).
    """

    name: str
    description: str
    fix: str
    gradient: Callable[..., Gradients]
    applies: Callable[[Network, int], bool]
    constant: str | None = None
    equation: str | None = None

    def __repr__(self) -> str:
        return f"Bug({self.name!r})"


# ------------------------------------------------------------------ the math

# The derivative of sigmoid and tanh written in terms of a = h(z), as courses
# teach it; the bugs "*_h_prime_formula_of_z" feed it z instead of a.
_H_PRIME_IN_A: dict[str, Callable[[np.ndarray], np.ndarray]] = {
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
        if not _builtin(h, *_H_PRIME_IN_A):  # a layer with another h: its h' is right
            return _factor("h'(z)", h, Z, A)
        return _H_PRIME_IN_A[h.name](Z)  # a(1 - a) written for h', then fed z: z(1 - z)
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


def _backprop_variant(
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
    check the reference, are in `gradcheck.independent`.

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


# ------------------------------------------- bugs in what is done with it


def _on_rows(rows: str, net: Network, X: Any, Y: Any) -> Gradients:
    """The right gradient of the ``"first"`` or ``"last"`` example, or of the ``"mean"`` example."""
    X, Y = net.check_data(X, Y)
    if rows == "first":
        return _backprop_variant(net, X[:1], Y[:1])  # J_0 only
    if rows == "last":
        return _backprop_variant(net, X[-1:], Y[-1:])  # J_{d-1} only
    return _backprop_variant(net, X.mean(axis=0, keepdims=True), Y.mean(axis=0, keepdims=True))


def _sign_flipped(net: Network, X: Any, Y: Any) -> Gradients:
    g = _backprop_variant(net, X, Y)
    return Gradients([-dW for dW in g.weights], [-db for db in g.biases])  # dJ/dW of -J


def _mean_over_outputs(net: Network, X: Any, Y: Any) -> Gradients:
    g, c = _backprop_variant(net, X, Y), 2.0 / net.sizes[-1]  # J_i = (1/n_H) ||a^H - y||^2
    return Gradients([c * dW for dW in g.weights], [c * db for db in g.biases])


def _gradients_swapped(net: Network, X: Any, Y: Any) -> Gradients:
    g = _backprop_variant(net, X, Y)
    return Gradients(list(g.biases), list(g.weights))  # (db, dW) for (dW, db)


def _layers_reversed(net: Network, X: Any, Y: Any) -> Gradients:
    g = _backprop_variant(net, X, Y)
    return Gradients(g.weights[::-1], g.biases[::-1])  # [dJ/dW^H, ..., dJ/dW^0]


def _dW_transposed(net: Network, X: Any, Y: Any) -> Gradients:
    g = _backprop_variant(net, X, Y)
    return Gradients([dW.T.copy() for dW in g.weights], g.biases)  # delta^L (a^{L-1})^T, (N, M)


def _updated_weights(net: Network, X: Any, Y: Any, *, eta: float = LEARNING_RATE) -> Gradients:
    g = _backprop_variant(net, X, Y)
    return Gradients(
        [W - eta * dW for W, dW in zip(net.weights, g.weights, strict=True)],  # W^L - eta dJ/dW^L
        [b - eta * db for b, db in zip(net.biases, g.biases, strict=True)],  # b^L - eta dJ/db^L
    )


# ------------------------------------------------------------ applicability


def always(net: Network, d: int) -> bool:
    """`Bug.applies` of a bug that can show on any network and batch."""
    return True


def _batch(net: Network, d: int) -> bool:
    return d >= 2


def _hidden(net: Network, d: int) -> bool:
    return net.H >= 1


def _hidden_nonlinear(net: Network, d: int) -> bool:
    return any(not h.is_identity for h in net.activations[:-1])


def _penalised(net: Network, d: int) -> bool:
    return net.l2 > 0


def _builtin(act: Activation, *names: str) -> bool:
    return act.name in names and ACTIVATIONS.get(act.name) is act


def _output_nonlinear(net: Network, d: int) -> bool:
    return not net.output.is_identity


def _output_elementwise(net: Network, d: int) -> bool:
    return net.output.elementwise


def _h_prime_of_a_differs(act: Activation) -> bool:
    # ReLU-like: h(z) > 0 exactly where z > 0, so h'(a) = h'(z) and the bug cannot show.
    return not act.is_identity and not _builtin(act, "relu", "leaky_relu")


def _square_recursion(net: Network, d: int) -> bool:
    # (W^{L+1})^T delta needs W^{L+1} square, and differs from W^{L+1} delta only beyond 1 x 1.
    Ws = net.weights[1:]
    return net.H >= 1 and all(W.shape[0] == W.shape[1] for W in Ws) and Ws[0].shape[0] > 1


def _equal_widths(net: Network, d: int) -> bool:
    return net.H >= 1 and len(set(net.sizes)) == 1


# ---------------------------------------------------------------- catalogue

BUGS: tuple[Bug, ...] = (
    Bug(
        "summed_not_averaged",
        "the gradient is d times the reference: summed over the batch instead of averaged",
        "divide dJ/dW^L and dJ/db^L by the batch size d (J is the mean of the J_i)",
        partial(_backprop_variant, average="none"),
        _batch,
    ),
    Bug(
        "sign_flipped",
        "the gradient is -1 times the reference: the gradient of -J (the ascent direction), "
        "e.g. y - a^H where a^H - y belongs",
        "dJ/da^H = a^H - y for the quadratic cost; the minus sign belongs to the update "
        "W^L <- W^L - eta dJ/dW^L, not to the gradient",
        _sign_flipped,
        always,
        equation="delta^H",
    ),
    Bug(
        "quadratic_half_missing",
        "the gradient is 2 times the reference: the 1/2 missing from the quadratic cost, "
        "dJ/da^H = 2 (a^H - y)",
        "J_i = 1/2 ||a^H - y||^2, so dJ/da^H = a^H - y",
        partial(_backprop_variant, dJ_da="2(a-y)"),
        lambda net, d: net.cost_function.name == "quadratic",
        equation="delta^H",
    ),
    Bug(
        "mean_over_outputs",
        "the cost averaged over the outputs as well, with no 1/2, as torch.nn.MSELoss does: the "
        "gradient is 2/n_H times the reference's, dJ/da^H = (2/n_H) (a^H - y)",
        "the article's quadratic cost is J_i = 1/2 ||a^H - y||^2 (no mean over outputs), so "
        "dJ/da^H = a^H - y; or check against cost='mse' if MSELoss is what you meant",
        _mean_over_outputs,
        lambda net, d: net.cost_function.name == "quadratic" and net.sizes[-1] > 2,
        equation="delta^H",
    ),
    Bug(
        "bias_not_averaged",
        "dJ/db^L is d times the reference while dJ/dW^L is right: the bias gradient summed "
        "over the batch, not averaged",
        "dJ/db^L = (1/d) 1^T Delta^L: divide by d, as for dJ/dW^L",
        partial(_backprop_variant, average="weights_only"),
        _batch,
        equation="dJ/db",
    ),
    Bug(
        "output_h_prime_missing",
        "h' missing in the output layer: delta^H = dJ/da^H, without the factor h'(z^H)",
        "delta^H = dJ/da^H ⊙ h'(z^H) (softmax: J_h(z^H)^T dJ/da^H; sigmoid or softmax with "
        "its cross-entropy: simply a^H - y)",
        partial(_backprop_variant, output_factor="1"),
        _output_nonlinear,
        equation="delta^H",
    ),
    Bug(
        "hidden_h_prime_missing",
        "h' missing in the hidden layers: delta^L = W^{L+1} delta^{L+1}, without ⊙ h'(z^L)",
        "delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)",
        partial(_backprop_variant, hidden_factor="1"),
        _hidden_nonlinear,
        equation="recursion",
    ),
    Bug(
        "softmax_elementwise",
        "softmax treated as element-wise: delta^H = dJ/da^H ⊙ a^H (1 - a^H), only the diagonal "
        "of its Jacobian",
        "delta^H = J_h(z^H)^T dJ/da^H = a ⊙ (g - (a · g)) with g = dJ/da^H; with categorical "
        "cross-entropy this is simply a^H - y",
        partial(_backprop_variant, output_factor="a(1-a)"),
        lambda net, d: not net.output.elementwise,
        equation="delta^H",
    ),
    Bug(
        "quadratic_delta_for_cross_entropy",
        "the quadratic cost's delta used with a cross-entropy cost: delta^H = (a^H - y) ⊙ h'(z^H)",
        "use the cost's own dJ/da^H; for sigmoid + cross-entropy or softmax + categorical "
        "cross-entropy, delta^H = a^H - y, without h'",
        partial(_backprop_variant, dJ_da="a-y"),
        lambda net, d: net.cost_function.name != "quadratic",
        equation="delta^H",
    ),
    Bug(
        "hidden_h_for_h_prime",
        "h used for h' in the hidden layers: delta^L = (W^{L+1} delta^{L+1}) ⊙ h(z^L)",
        "call the derivative: ⊙ h'(z^L), not h(z^L)",
        partial(_backprop_variant, hidden_factor="h(z)"),
        _hidden,
        equation="recursion",
    ),
    Bug(
        "output_h_for_h_prime",
        "h used for h' in the output layer: delta^H = dJ/da^H ⊙ h(z^H)",
        "call the derivative: delta^H = dJ/da^H ⊙ h'(z^H), not h(z^H)",
        partial(_backprop_variant, output_factor="h(z)"),
        _output_elementwise,
        equation="delta^H",
    ),
    Bug(
        "hidden_h_prime_of_a",
        "h' applied to a instead of z in the hidden layers: ⊙ h'(a^L) where h'(z^L) belongs "
        "(e.g. sigmoid_prime(a) where a (1 - a) was meant)",
        "⊙ h'(z^L); for sigmoid, either sigmoid_prime(z^L) or a^L (1 - a^L), not "
        "sigmoid_prime(a^L)",
        partial(_backprop_variant, hidden_factor="h'(a)"),
        lambda net, d: any(_h_prime_of_a_differs(h) for h in net.activations[:-1]),
        equation="recursion",
    ),
    Bug(
        "output_h_prime_of_a",
        "h' applied to a instead of z in the output layer: delta^H = dJ/da^H ⊙ h'(a^H)",
        "delta^H = dJ/da^H ⊙ h'(z^H); for sigmoid, a^H (1 - a^H) is h'(z^H), "
        "sigmoid_prime(a^H) is not",
        partial(_backprop_variant, output_factor="h'(a)"),
        lambda net, d: net.output.elementwise and _h_prime_of_a_differs(net.output),
        equation="delta^H",
    ),
    Bug(
        "hidden_h_prime_formula_of_z",
        "h' written in terms of a but fed z in the hidden layers: z^L (1 - z^L) for sigmoid "
        "(1 - (z^L)^2 for tanh) where a^L (1 - a^L) belongs",
        "feed the formula a^L = h(z^L), not z^L: h'(z^L) = a^L (1 - a^L) for sigmoid, "
        "1 - (a^L)^2 for tanh",
        partial(_backprop_variant, hidden_factor="h'_in_a(z)"),
        lambda net, d: any(_builtin(h, *_H_PRIME_IN_A) for h in net.activations[:-1]),
        equation="recursion",
    ),
    Bug(
        "output_h_prime_formula_of_z",
        "h' written in terms of a but fed z in the output layer: z^H (1 - z^H) for sigmoid "
        "(1 - (z^H)^2 for tanh) where a^H (1 - a^H) belongs",
        "feed the formula a^H = h(z^H), not z^H: h'(z^H) = a^H (1 - a^H) for sigmoid, "
        "1 - (a^H)^2 for tanh",
        partial(_backprop_variant, output_factor="h'_in_a(z)"),
        lambda net, d: _builtin(net.output, *_H_PRIME_IN_A),
        equation="delta^H",
    ),
    Bug(
        "recursion_untransposed",
        "the delta recursion with (W^{L+1})^T delta^{L+1} where W^{L+1} delta^{L+1} belongs "
        "(W^L is M x N in the article, the transpose of PyTorch's)",
        "delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L); batch form "
        "Delta^L = (Delta^{L+1} (W^{L+1})^T) ⊙ h'(Z^L)",
        partial(_backprop_variant, recursion="(W^{L+1})^T"),
        _square_recursion,
        equation="recursion",
    ),
    Bug(
        "recursion_wrong_layer",
        "the delta recursion with the wrong layer's weights: W^L delta^{L+1} where "
        "W^{L+1} delta^{L+1} belongs (an index off by one)",
        "delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L): the weights of the layer after L",
        partial(_backprop_variant, recursion="W^L"),
        _equal_widths,
        equation="recursion",
    ),
    Bug(
        "a_same_layer_in_dW",
        "a^L used where a^{L-1} belongs: dJ/dW^L = a^L (delta^L)^T",
        "dJ/dW^L = a^{L-1} (delta^L)^T, the activations of the layer before L "
        "(a^{-1} = x for layer 0)",
        partial(_backprop_variant, dW_uses="a^L"),
        always,
        equation="dJ/dW",
    ),
    Bug(
        "dW_transposed",
        "dJ/dW^L transposed: delta^L (a^{L-1})^T, shape (N, M), which is PyTorch's "
        "nn.Linear.weight layout",
        "dJ/dW^L = a^{L-1} (delta^L)^T, shape (M, N); or check with layout='torch'",
        _dW_transposed,
        always,
        equation="dJ/dW",
    ),
    Bug(
        "layers_reversed",
        "the layers in reverse order: the list starts with dJ/dW^H, the output layer",
        "return [dJ/dW^0, ..., dJ/dW^H]: reverse the lists built while going backwards",
        _layers_reversed,
        _hidden,
    ),
    Bug(
        "last_example_only",
        "the gradient of the last example only: the per-example gradients overwritten "
        "instead of accumulated",
        "accumulate (+=, not =) dJ_i/dW^L and dJ_i/db^L over all d examples, then divide by d",
        partial(_on_rows, "last"),
        _batch,
    ),
    Bug(
        "first_example_only",
        "the gradient of the first example only: a return or break inside the loop over examples",
        "loop over all d examples and average their gradients",
        partial(_on_rows, "first"),
        _batch,
    ),
    Bug(
        "mean_example",
        "the gradient at the averaged example (the mean of X and of Y): the inputs averaged "
        "instead of the gradients",
        "backprop every example (x_i, y_i) and average the gradients: "
        "J = (1/d) sum_i J_i, and backprop is not linear in x",
        partial(_on_rows, "mean"),
        _batch,
    ),
    Bug(
        "bias_missing_in_forward",
        "the bias left out of the forward pass: z^L = (W^L)^T a^{L-1}, without + b^L",
        "z^L = (W^L)^T a^{L-1} + b^L in the forward pass that backprop uses",
        partial(_backprop_variant, bias_in_forward=False),
        always,
    ),
    Bug(
        "l2_missing",
        "the L2 penalty left out: dJ/dW^L without its term lam W^L (the cost has "
        "(lam/2) sum_L ||W^L||^2)",
        "add lam W^L to every dJ/dW^L: the gradient of (lam/2) ||W^L||^2",
        partial(_backprop_variant, penalty="none"),
        _penalised,
        equation="dJ/dW",
    ),
    Bug(
        "l2_half_missing",
        "the L2 penalty's term doubled: 2 lam W^L in dJ/dW^L, the 1/2 of (lam/2) ||W^L||^2 missing",
        "the gradient of (lam/2) ||W^L||^2 is lam W^L, not 2 lam W^L",
        partial(_backprop_variant, penalty="2 lam W"),
        _penalised,
        equation="dJ/dW",
    ),
    Bug(
        "l2_on_biases",
        "the L2 penalty applied to the biases too: dJ/db^L has an extra lam b^L",
        "the penalty (lam/2) sum_L ||W^L||^2 is on the weights only: dJ/db^L = (1/d) 1^T Delta^L, "
        "without lam b^L",
        partial(_backprop_variant, penalty="lam W, lam b"),
        _penalised,
        equation="dJ/db",
    ),
    Bug(
        "updated_weights",
        "updated parameters returned instead of gradients: W^L - eta dJ/dW^L and "
        "b^L - eta dJ/db^L (with eta = 0, the parameters themselves)",
        "return dJ/dW^L and dJ/db^L themselves; the update W^L <- W^L - eta dJ/dW^L belongs "
        "to the training loop",
        _updated_weights,
        always,
        constant="eta",
    ),
    Bug(
        "gradients_swapped",
        "the weight and bias gradients swapped: (dJ/db, dJ/dW) returned where (dJ/dW, dJ/db) "
        "belongs",
        "return the weight gradients first: (dW_list, db_list), or a dict with 'weights' and "
        "'biases'",
        _gradients_swapped,
        # shapes only: gradcheck.shapes names it before any number is compared
        lambda net, d: False,
    ),
)
"""Every known bug, most common first; `diagnose` breaks ties between coinciding bugs so."""

BUGS_BY_NAME: dict[str, Bug] = {bug.name: bug for bug in BUGS}
"""The catalogue by name."""
