"""Costs: the per-example cost `J_i` and its derivative `dJ/da^H`.

Rows are examples: `A` and `Y` have shape `(d, n_H)`. The cost of a batch is
the mean of the `J_i` (NOTATION.md), so every function here works per row and
leaves the averaging to the caller.  Every function works along the last
axis, so a stack of batches `(k, d, n_H)` (many perturbed networks at once,
as the finite-difference engine uses) works too.

Where an output activation and a cost combine into a simpler, more stable
form (sigmoid + binary cross-entropy, softmax + categorical cross-entropy,
sigmoid + categorical cross-entropy),
`FUSED_FORMS` holds that form: `J_i` computed from `z^H` (no `log 0` when the output
saturates) and `delta^H` directly (`a - y` instead of a 0/0).

As in `activations`, every `J_i` is analytic in `a` (or `z`), so complex-step
differentiation passes through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from ._validate import did_you_mean
from .activations import softplus

__all__ = ["Cost", "COSTS", "FUSED", "FUSED_FORMS", "Fused", "get_cost"]

PerExample = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Cost:
    """A cost: `J(A, Y)` gives `J_i` per row, `dJ_da(A, Y)` gives `dJ_i/da^H`.

    Build your own with ``Cost(name, J, dJ_da)``: `J` maps `A`, `Y` of shape
    ``(..., d, n_H)`` to the per-example costs ``(..., d)`` (work along the
    last axis: the finite-difference engine passes a stack of batches), and
    `dJ_da` to ``dJ_i/da^H`` of shape ``(..., d, n_H)``; the batch cost is the
    mean of the `J_i`. `name` must not be a built-in's.

    Examples
    --------
    >>> import numpy as np
    >>> EPS = 1e-12
    >>> eps_cross_entropy = Cost(
    ...     "eps_cross_entropy",
    ...     lambda A, Y: -(Y * np.log(A + EPS) + (1 - Y) * np.log(1 - A + EPS)).sum(axis=-1),
    ...     lambda A, Y: -Y / (A + EPS) + (1 - Y) / (1 - A + EPS),
    ...     probability_targets=True,
    ... )
    >>> float(eps_cross_entropy.J(np.array([[0.5]]), np.array([[1.0]]))[0])  # log 2
    0.6931471805579453
    """

    name: str
    J: PerExample
    dJ_da: PerExample
    #: targets must lie in [0, 1] (probabilities)
    probability_targets: bool = False
    #: the outputs must lie strictly inside this range for J to be finite
    needs_lower: float = -np.inf
    needs_upper: float = np.inf

    def __repr__(self) -> str:
        return f"Cost({self.name!r})"


def quadratic(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = 1/2 ||a - y||^2 (the article's cost); `(a - y)^2`, not `|a - y|^2`, so complex step works."""
    R = A - Y
    return 0.5 * np.einsum("...k,...k->...", R, R)


def quadratic_dJ_da(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return A - Y  # dJ/da^H = a^H - y


def mse(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = (1/n_H) ||a - y||^2: the mean over the outputs, no 1/2 (torch.nn.MSELoss, Keras).

    Averaged over the examples like every cost, `J` is then the mean over all
    `d n_H` squared errors, which is what `MSELoss()` and `mean_squared_error` compute.
    """
    R = A - Y
    return np.einsum("...k,...k->...", R, R) / R.shape[-1]


def mse_dJ_da(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return (2.0 / A.shape[-1]) * (A - Y)  # dJ/da^H = 2 (a^H - y) / n_H


def cross_entropy(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = -sum_n [y_n log a_n + (1 - y_n) log(1 - a_n)] (binary, per output)."""
    return -(xlogy(Y, A) + xlogy(1.0 - Y, 1.0 - A)).sum(axis=-1)


def cross_entropy_dJ_da(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return (A - Y) / (A * (1.0 - A))  # -y/a + (1 - y)/(1 - a)


def categorical_cross_entropy(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = -sum_n y_n log a_n."""
    return -xlogy(Y, A).sum(axis=-1)


def categorical_cross_entropy_dJ_da(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """-y / a, and 0 where y = 0 (that term is absent from J even where a = 0)."""
    return np.divide(-Y, A, out=np.zeros(np.broadcast_shapes(A.shape, Y.shape)), where=Y != 0)


COSTS: dict[str, Cost] = {
    c.name: c
    for c in (
        Cost("quadratic", quadratic, quadratic_dJ_da),
        Cost("mse", mse, mse_dJ_da),
        Cost(
            "cross_entropy",
            cross_entropy,
            cross_entropy_dJ_da,
            probability_targets=True,
            needs_lower=0.0,
            needs_upper=1.0,
        ),
        Cost(
            "categorical_cross_entropy",
            categorical_cross_entropy,
            categorical_cross_entropy_dJ_da,
            probability_targets=True,
            needs_lower=0.0,
        ),
    )
}
"""The built-in costs by name."""


# ------------------------------------------------------------ fused forms


def _logsumexp(Z: np.ndarray) -> np.ndarray:
    """log sum_n e^{z_n} per row, shifted by the row maximum of the real part."""
    real = Z.real if np.iscomplexobj(Z) else Z
    shift = real.max(axis=-1, keepdims=True)
    return np.log(np.exp(Z - shift).sum(axis=-1)) + shift[..., 0]


def sigmoid_cross_entropy_J(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = sum_n [softplus(z_n) - y_n z_n], since log a = -softplus(-z), log(1-a) = -softplus(z)."""
    return (softplus(Z) - Y * Z).sum(axis=-1)


def sigmoid_cross_entropy_delta(Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return A - Y  # delta^H = a - y: the a(1 - a) of h' cancels that of dJ/da


def sigmoid_categorical_J(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = sum_n y_n softplus(-z_n), since -log a = softplus(-z)."""
    return (Y * softplus(-Z)).sum(axis=-1)


def sigmoid_categorical_delta(Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return Y * (A - 1.0)  # delta^H = -y/a * a(1 - a) = -y (1 - a)


def softmax_categorical_J(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """J_i = (sum_n y_n) logsumexp(z) - y . z, since log a_n = z_n - logsumexp(z)."""
    return Y.sum(axis=-1) * _logsumexp(Z) - np.einsum("...k,...k->...", Y, Z)


def softmax_categorical_delta(Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """delta^H = a (sum_n y_n) - y; = a - y when each target row sums to 1."""
    return A * Y.sum(axis=-1, keepdims=True) - Y


@dataclass(frozen=True)
class Fused:
    """The simpler, stable form of one (output activation, cost) pair."""

    J_from_z: Callable[[np.ndarray, np.ndarray], np.ndarray]
    delta: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


FUSED_FORMS: dict[tuple[str, str], Fused] = {
    ("sigmoid", "cross_entropy"): Fused(sigmoid_cross_entropy_J, sigmoid_cross_entropy_delta),
    ("softmax", "categorical_cross_entropy"): Fused(
        softmax_categorical_J, softmax_categorical_delta
    ),
    ("sigmoid", "categorical_cross_entropy"): Fused(
        sigmoid_categorical_J, sigmoid_categorical_delta
    ),
}
"""(output activation name, cost name) -> the fused form."""

FUSED = FUSED_FORMS  # the first release's name, kept as an alias


def get_cost(spec: str | Cost) -> Cost:
    """The cost named by `spec` (a name or a `Cost`)."""
    if isinstance(spec, Cost):
        if spec.name in COSTS and COSTS[spec.name] is not spec:
            raise ValueError(
                f"a custom Cost may not take the built-in name {spec.name!r} (the stable "
                "fused forms are chosen by name); give it a name of its own"
            )
        return spec
    if isinstance(spec, str):
        try:
            return COSTS[spec]
        except KeyError:
            known = ", ".join(sorted(COSTS))
            raise ValueError(
                f"unknown cost {spec!r}; known costs: {known}{did_you_mean(spec, COSTS)}"
            ) from None
    raise TypeError(f"`cost` must be a cost name or a Cost, got {type(spec).__name__}")
