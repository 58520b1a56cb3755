"""Backprop written again, apart from `reference`, where independence is the point.

Two checks in this package are only as good as the independence of what they
compare against, so each keeps its own small backprop here, in one place:

- `equation_deltas` (with `deltas_from_equations` and `delta_magnitudes`):
  the article's deltas, one line per equation, for `check_equations`, which
  confirms the equations themselves against finite differences in `z^L`.
  It uses `reference`'s activations and costs (`h`, `h'`, `dJ/da`: the
  functions the equations speak of) but none of `reference`'s backprop, so a
  slip in `reference.backprop` cannot hide in the check of the equations.
- `independent_backprop`: the soak's correct candidate, a batch backprop with
  its own activation formulas (sigmoid via tanh, softplus' derivative via
  tanh, ...) and its own softmax and costs, in float64 or float32. It shares
  no code with `reference`, so "zero false alarms" is a claim about the oracle,
  not about `reference` agreeing with itself.
- `extended_backprop`: the same backprop in `np.longdouble` with formulas
  exact where `h` saturates: the true gradient of a float64 problem (to
  ~1e-19), against which the soak measures what rounding actually did, so
  that its "undetectable" rule does not rest on the oracle's tolerance.

`gradcheck.diagnosis.variants.backprop_variant` is not here: it is the reference's backprop
with bugs switched in, and is meant to coincide with `reference.backprop`.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcheck.validate import checked_data
from reference import FUSED_FORMS, Activation, ForwardPass, Network, forward_pass

__all__ = [
    "delta_magnitudes",
    "deltas_from_equations",
    "equation_deltas",
    "extended_backprop",
    "perturbed_backprop",
    "stochastic_backprop",
    "SequentialSums",
    "h_prime_of",
    "independent_backprop",
]


# ------------------------------------------------------ the article's deltas


def equation_deltas(net: Network, X: Any, Y: Any) -> list[np.ndarray]:
    """The per-example deltas from the article's equations.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
        The examples, one per row.
    Y : array_like, shape (d, n_H)
        Their targets.

    Returns
    -------
    list of ndarray, ``Delta[L]`` of shape (d, N_L) for ``L = 0 .. H``
        ``Delta[L][i, n]`` is `delta^L_n = dJ_i/dz^L_n` of example `i`:
        `delta^H = dJ/da^H ⊙ h'(z^H)` (`J_h(z^H)^T dJ/da^H` for softmax; the
        fused form, e.g. `a^H - y`, where the output and cost have one), then
        `delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)`. Not divided by `d`.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([3, 5, 2], seed=0)
    >>> [D.shape for D in equation_deltas(net, np.ones((4, 3)), np.zeros((4, 2)))]
    [(4, 5), (4, 2)]
    """
    X, Y = checked_data(net, X, Y)
    return deltas_from_equations(net, forward_pass(net.weights, net.biases, net.activations, X), Y)


def deltas_from_equations(net: Network, fw: ForwardPass, Y: np.ndarray) -> list[np.ndarray]:
    """`equation_deltas` on a forward pass already run (`fw`) and checked targets `Y`."""
    H, acts = net.H, net.activations
    Delta: list[np.ndarray] = [np.empty(0)] * (H + 1)
    Delta[H] = _output_delta(net, fw, Y)
    for L in range(H - 1, -1, -1):
        # A row per example, so W^{L+1} delta^{L+1} is the row Delta^{L+1} (W^{L+1})^T.
        Delta[L] = (Delta[L + 1] @ net.weights[L + 1].T) * h_prime_of(acts[L], fw.Z[L])  # delta^L
    return Delta


def _output_delta(net: Network, fw: ForwardPass, Y: np.ndarray) -> np.ndarray:
    Z, A = fw.Z[net.H], fw.A[net.H]
    fused = net.fused
    if fused is not None:
        return fused.delta(Z, A, Y)  # the fused form, e.g. delta^H = a^H - y
    G = net.cost_function.dJ_da(A, Y)  # dJ/da^H
    if not net.output.elementwise:
        return np.einsum("ikn,ik->in", _jacobian(net.output, Z), G)  # J_h(z^H)^T dJ/da^H
    return G * h_prime_of(net.output, Z)  # dJ/da^H ⊙ h'(z^H)


def h_prime_of(act: Activation, Z: np.ndarray) -> np.ndarray:
    """`h'(z)` of an element-wise activation (a Network never holds one without `h'`)."""
    assert act.h_prime is not None
    return act.h_prime(Z)


def _jacobian(act: Activation, Z: np.ndarray) -> np.ndarray:
    """`J_h(z)` of a vector-valued activation, a (N, N) matrix per row of `Z`."""
    if act.jacobian is None:
        raise ValueError(f"output activation {act.name!r} is not element-wise and has no Jacobian")
    return act.jacobian(Z)


def delta_magnitudes(
    net: Network, fw: ForwardPass, Y: np.ndarray, Delta: list[np.ndarray]
) -> list[np.ndarray]:
    """Per entry, the size of the terms `delta^L_n` is built from: the scale of its rounding error.

    At the output, `a - y` (inside every built-in `dJ/da^H`) loses
    `eps (|a| + |y|)`, not `eps |a - y|`; below, the recursion with every term
    in absolute value, `(|W^{L+1}| |delta^{L+1}|) ⊙ |h'(z^L)|`.
    """
    H, acts = net.H, net.activations
    A = fw.A[H]
    if net.fused is not None or not net.output.elementwise:
        slope: np.ndarray | float = 1.0 if net.fused is not None else np.abs(A)
    else:
        slope = np.abs(h_prime_of(net.output, fw.Z[H]))
    size: list[np.ndarray] = [np.empty(0)] * (H + 1)
    size[H] = np.abs(Delta[H]) + (np.abs(A) + np.abs(Y)) * slope
    for L in range(H - 1, -1, -1):
        size[L] = (size[L + 1] @ np.abs(net.weights[L + 1]).T) * np.abs(
            h_prime_of(acts[L], fw.Z[L])
        )
    return size


# ------------------------------------------------ the soak's correct candidate

Formula = Callable[[np.ndarray], np.ndarray]
Derivative = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: h(z) and h'(z, a = h(z)), written here rather than taken from `reference.activations`.
FORMULAS: dict[str, tuple[Formula, Derivative]] = {
    "identity": (lambda z: z, lambda z, a: np.ones_like(z)),
    "sigmoid": (lambda z: 0.5 * (1 + np.tanh(0.5 * z)), lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, z * 0.01),
        lambda z, a: np.where(z > 0, 1, 0.01).astype(z.dtype),
    ),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z, a: 0.5 * (1 + np.tanh(0.5 * z))),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda z, a: np.where(z > 0, 1, a + 1).astype(z.dtype),  # torch's in-place form
    ),
}


def independent_backprop(
    hidden: str,
    output: str,
    cost: str,
    dtype: Any,
    *,
    formulas: Mapping[str, tuple[Formula, Derivative]] = FORMULAS,
    jitter: Callable[[np.ndarray], np.ndarray] | None = None,
    sums: Any = None,
    exp: Formula = np.exp,
) -> Callable[..., Any]:
    """A batch backprop written apart from `reference` (its own h, h' formulas), in `dtype`.

    Parameters
    ----------
    hidden, output, cost : str
        Built-in names (`FORMULAS`, ``"softmax"`` as output; the costs of
        `reference.COSTS`).
    dtype : numpy dtype
        float64 or float32: every array is cast to it and computed in it.
    formulas : dict, optional
        `h` and `h'` by name (`FORMULAS`; `EXACT_FORMULAS` for `extended_backprop`).
    jitter : callable, optional
        Applied to every `Z^L`, `A^L` and `Delta^L` as it is computed (e.g.
        one random rounding error each, as `perturbed_backprop` does).
    sums : optional
        How every matrix product and sum is added up: an object with
        ``matmul(P, Q)`` and ``total(x, axis)`` (keeping the axis). numpy's
        ``@`` and ``sum`` by default; `SequentialSums` adds each one in a
        float64 loop, as common code does (`stochastic_backprop`).
    exp : callable, optional
        The softmax's `exp` (`np.exp`; `directed_backprop` passes one that rounds one way).

    Returns
    -------
    callable ``candidate(weights, biases, X, Y) -> (dJ_dW, dJ_db)``
        In the article's layout: ``dJ_dW[L]`` of shape (M, N), ``dJ_db[L]``
        of shape (N,), averaged over the batch.

    Raises
    ------
    ValueError
        If `hidden` or `output` has no formula in `formulas` (a new
        activation needs its own here: independence is the point).

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> dJ_dW, dJ_db = independent_backprop("tanh", "tanh", "quadratic", np.float64)(
    ...     net.weights, net.biases, X, Y
    ... )
    >>> bool(np.allclose(dJ_dW[0], backprop(net, X, Y).weights[0]))
    True
    """

    missing = sorted({hidden, output} - {"softmax"} - set(formulas))
    if missing:
        raise ValueError(
            f"activation {missing[0]!r} has no independent formula: add its h(z) and "
            "h'(z, a) to `gradcheck.tolerance.independent.FORMULAS`"
        )
    jog = (lambda x: x) if jitter is None else jitter
    add = _NUMPY_SUMS if sums is None else sums

    def candidate(weights, biases, X, Y):
        W = [w.astype(dtype) for w in weights]
        b = [v.astype(dtype) for v in biases]
        A, Z = [X.astype(dtype)], []
        for L, (w, v) in enumerate(zip(W, b)):
            Z.append(jog(add.matmul(A[-1], w) + v))
            if L == len(W) - 1 and output == "softmax":
                e = exp(Z[-1] - Z[-1].max(axis=1, keepdims=True))
                A.append(jog(e / add.total(e, 1)))
            else:
                A.append(jog(formulas[hidden if L < len(W) - 1 else output][0](Z[-1])))
        delta = jog(_soak_output_delta(output, cost, Z[-1], A[-1], Y.astype(dtype), formulas, add))
        d = len(X)
        dW, db = [None] * len(W), [None] * len(W)
        for L in range(len(W) - 1, -1, -1):
            dW[L] = add.matmul(A[L].T, delta) / d
            db[L] = add.total(delta, 0)[0] / d
            if L:
                delta = jog(add.matmul(delta, W[L].T) * formulas[hidden][1](Z[L - 1], A[L]))
        return dW, db

    return candidate


def _soak_output_delta(
    output: str,
    cost: str,
    z: np.ndarray,
    a: np.ndarray,
    y: np.ndarray,
    formulas: Mapping[str, tuple[Formula, Derivative]],
    add: Any,
) -> np.ndarray:
    """`delta^H` of `independent_backprop`, with its own fused forms and softmax product."""
    if (output, cost) in FUSED_FORMS:
        if output == "softmax":
            return a * add.total(y, 1) - y
        if cost == "cross_entropy":
            return a - y
        # sigmoid + categorical: y (a - 1) = -y h(-z), which keeps e^-z where a rounds to 1
        extended = formulas is EXACT_FORMULAS or formulas is FLOAT64_DERIVATIVES
        return -y * formulas["sigmoid"][0](-z) if extended else y * (a - 1)
    g = a - y if cost == "quadratic" else -y / a
    if output == "softmax":
        return a * (g - add.total(a * g, 1))
    return g * formulas[output][1](z, a)


class _NumpySums:
    """numpy's own: BLAS products, pairwise sums."""

    @staticmethod
    def matmul(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
        return P @ Q

    @staticmethod
    def total(x: np.ndarray, axis: int) -> np.ndarray:
        return x.sum(axis=axis, keepdims=True)


_NUMPY_SUMS = _NumpySums()


#: The orders `SequentialSums` may add in: drawn at random (once per length of sum), or by value,
#: largest first or smallest first (all the terms of one sign before the other's: the largest
#: partial sums any order makes, `(sum |x| + |sum x|) / 2`, which the tolerance's bound holds).
SUM_ORDERS = ("random", "descending", "ascending")


class SequentialSums:
    """Every product and sum as a loop writes it (in `dtype`, float64 by default): each product
    rounded to nearest, the terms added one after another in an order drawn at random (or
    sorted by value: `SUM_ORDERS`), each partial sum rounded.

    BLAS and numpy's pairwise sums err by about `u log n` of the terms' magnitudes; a loop
    by up to `gamma_{n-1} sum |x_i|` (Higham 2002, eq. 4.4), the partial sums' rounding
    that the tolerance holds whole (`gradcheck.tolerance.compare._partial_sums`). A correct
    candidate may be such a loop (C, a course's index-by-index code), so the soak's floor of
    what correct code does must count one. Inputs may be longdouble: the terms are the
    float64 numbers they hold (`stochastic_backprop` stores float64 values).
    """

    def __init__(
        self, seed: int | Sequence[int], dtype: Any = np.float64, *, order: str = "random"
    ) -> None:
        if order not in SUM_ORDERS:
            raise ValueError(f"`order` must be one of {SUM_ORDERS}, not {order!r}")
        self.seed = [seed] if isinstance(seed, int) else list(seed)
        self.dtype = np.dtype(dtype)  # the loop's: float32 for a float32 candidate
        self.order = order

    def matmul(self, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
        terms = P.astype(self.dtype)[:, :, None] * Q.astype(self.dtype)[None, :, :]
        return self._loop(terms, 1).astype(np.result_type(P, Q))

    def total(self, x: np.ndarray, axis: int) -> np.ndarray:
        return np.expand_dims(self._loop(x.astype(self.dtype), axis), axis).astype(x.dtype)

    def _loop(self, terms: np.ndarray, axis: int) -> np.ndarray:
        # one order per length of sum, the same at every call: a candidate that adds in
        # another order each time is not repeatable, and near a kink its answers differ
        # (the soak's seed 18001699: -34.1 and then -1.09)
        n = terms.shape[axis]
        if self.order == "random":
            terms = np.take(terms, np.random.default_rng([*self.seed, n]).permutation(n), axis)
        else:  # by value: every term of one sign first, the partial sums as large as they get
            terms = np.sort(terms, axis=axis)
            terms = np.flip(terms, axis) if self.order == "descending" else terms
        running = np.cumsum(terms, axis=axis)  # one add at a time
        return np.take(running, -1, axis=axis)


# ------------------------------------------------- the true gradient, extended


def _exact_sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never overflows; 1/(1+e) or e/(1+e) keeps e^z for z << 0
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _exact_sigmoid_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return e / (1 + e) ** 2  # not a (1 - a), which is 0 once a rounds to 1


def _exact_tanh_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    e = np.exp(-2 * np.abs(z))
    return 4 * e / (1 + e) ** 2  # sech^2, not 1 - a^2


#: `FORMULAS` with derivatives exact to a few ulps where `h` saturates (a view: a formula
#: added to `FORMULAS` is here too unless overridden).
EXACT_FORMULAS: Mapping[str, tuple[Formula, Derivative]] = ChainMap(
    {
        "sigmoid": (_exact_sigmoid, _exact_sigmoid_prime),
        "tanh": (np.tanh, _exact_tanh_prime),
        "softplus": (lambda z: np.logaddexp(0, z), lambda z, a: _exact_sigmoid(z)),
    },
    FORMULAS,
)

#: `stochastic_backprop`: a value within 1/EXACT_NEAR of a float64 spacing from a float64 is it.
#: Measured: numpy's float32 tanh returns 1 - ulp where 1 - tanh(x) is 1/8 of an ulp, and
#: exactly 1 from 1/16 of an ulp down; float64's tanh, exp and expm1 are exact sooner.
EXACT_NEAR = 64.0

#: np.longdouble must be wider than float64 for `extended_backprop` to mean anything.
EXTENDED_EPS = 2.3e-16


def extended_backprop(net: Network, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The gradient of a float64 problem computed in `np.longdouble`: its true gradient.

    Parameters
    ----------
    net : reference.Network
        Built-in activations and costs (`FORMULAS`, softmax output).
    X : ndarray, shape (d, n_in)
    Y : ndarray, shape (d, n_H)

    Returns
    -------
    ndarray of np.longdouble, shape (P,)
        The flat gradient (NOTATION.md's order) from the same float64 numbers
        taken exactly, computed with `EXACT_FORMULAS` in 80-bit extended
        precision (x86_64: `u` = 5.4e-20, 2,000x below float64's).

    Raises
    ------
    RuntimeError
        Where `np.longdouble` is float64 (MSVC, Apple silicon): it is then no
        wider, and the result would be one more float64 backprop.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> g = extended_backprop(net, X, Y)
    >>> bool(np.max(np.abs(g - backprop(net, X, Y).flat())) < 1e-15)
    True
    """
    return _extended(net, X, Y, None)


def perturbed_backprop(net: Network, X: np.ndarray, Y: np.ndarray, *, seed: int) -> np.ndarray:
    """`extended_backprop` with every stored `z`, `a` and `delta` off by one float64 rounding.

    Monte Carlo arithmetic (Parker 1999): each is multiplied by `1 + u r`,
    `u = 2^-53`, `r` uniform in [-1, 1] (seeded), so the result is what a
    correct float64 backprop whose formulas round as well as possible may
    return, including where the reference's own formulas are exact by luck
    (a saturated softmax whose `a_k` rounds to exactly 1).
    """
    rng = np.random.default_rng(seed)
    u = np.longdouble(2.0**-53)

    def jitter(x: np.ndarray) -> np.ndarray:
        return x * (1 + u * rng.uniform(-1.0, 1.0, size=x.shape).astype(np.longdouble))

    return _extended(net, X, Y, jitter)


def stochastic_backprop(net: Network, X: np.ndarray, Y: np.ndarray, *, seed: int) -> np.ndarray:
    """A float64 backprop as common code writes it, with its roundings drawn at random.

    Every stored `z`, `a` and `delta` is a float64 number: the true one
    rounded to either neighbouring float64 at random (faithful rounding, as a
    libm accurate to 1 ulp may do), except that a value within
    `1 / EXACT_NEAR` of a spacing from a float64 is that float64 (numpy's
    tanh, exp and expm1 return exactly 1 or -1 once they are that near). `h'`
    is computed from it by the cancelling formulas of `FORMULAS` (`a (1 - a)`,
    `1 - a^2`, `a + 1`), in `np.longdouble`. Where a saturated `a` lies within
    a few ulps of its bound, a correct float64 code's `h'` may err by `u`, and
    this one does too; where `a` is far closer to its bound, it is the bound,
    as in float64 code, and `h'` is 0. Every product and sum is a float64 loop in an
    order drawn at random (`SequentialSums`), as common code adds: BLAS's and numpy's
    pairwise sums err far less than a loop over 34 terms may, and a floor of what correct
    code does that left the loop out put a bug the tolerance must pass (to pass the loop)
    above it (the soak's seed 15008181).
    """
    rng = np.random.default_rng(seed)
    return _extended(
        net, X, Y, lambda x: _stochastic_round(x, rng), formulas=FLOAT64_DERIVATIVES,
        sums=SequentialSums([seed, 1]),
    )  # fmt: skip


def _in_float64(derivative: Derivative) -> Derivative:
    def h_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return derivative(z.astype(np.float64), a.astype(np.float64)).astype(z.dtype)

    return h_prime


#: `FORMULAS` with each `h'` evaluated in float64 on the stored float64 `z` and `a`, as float64
#: code evaluates it: softplus' `(1 + tanh(z / 2)) / 2` errs by u where `h'` is 1e-14, through
#: the rounding of `tanh(z / 2)`, a value no backprop stores (the soak's seed 15001546: in
#: longdouble that error was gone, and the floor of what correct code does was 1/40 of it).
FLOAT64_DERIVATIVES: Mapping[str, tuple[Formula, Derivative]] = {
    name: (h, _in_float64(h_prime)) for name, (h, h_prime) in FORMULAS.items()
}


def _stochastic_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`x` (longdouble) rounded to either neighbouring float64 at random (see above)."""
    with np.errstate(all="ignore"):
        nearest = x.astype(np.float64)
        other = np.nextafter(nearest, np.where(nearest > x, -np.inf, np.inf))
        spacing = np.abs(other.astype(np.longdouble) - nearest)
        far = (rng.uniform(size=x.shape) < 0.5) & (np.abs(x - nearest) * EXACT_NEAR >= spacing)
        rounded = np.where(far, other, nearest).astype(np.longdouble)
    return np.where(np.isfinite(nearest) & np.isfinite(other), rounded, x)


def _extended(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    jitter: Callable[[np.ndarray], np.ndarray] | None,
    *,
    formulas: Mapping[str, tuple[Formula, Derivative]] | None = None,
    sums: Any = None,
) -> np.ndarray:
    if float(np.finfo(np.longdouble).eps) >= EXTENDED_EPS:
        raise RuntimeError(
            "np.longdouble is no wider than float64 on this platform "
            f"(eps {float(np.finfo(np.longdouble).eps):.1e}): no extended true gradient"
        )
    candidate = independent_backprop(
        net.hidden.name,
        net.output.name,
        net.cost_function.name,
        np.longdouble,
        formulas=EXACT_FORMULAS if formulas is None else formulas,
        jitter=jitter,
        sums=sums,
    )
    with np.errstate(all="ignore"):
        dJ_dW, dJ_db = candidate(net.weights, net.biases, X, Y)
    return net.layout.join(dJ_dW, dJ_db)
