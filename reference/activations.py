"""Activation functions `h` and their derivatives `h'` (and the Jacobian of softmax).

Every `h` is written with analytic formulas only, so that it accepts complex
input and complex-step differentiation passes through it: where a branch is
needed for numerical stability it is chosen from the *real part* of `z`, and
each branch is itself analytic.  The derivatives `h'` are only ever evaluated
on real numbers and are written for accuracy: each is exact to a few ulps
even where the activation saturates (`sigmoid'(40)` is 4.2e-18, not 0).

No formula here overflows or warns for `|z|` up to 1e3 (and beyond).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "LEAKY_RELU_SLOPE",
    "ELU_ALPHA",
    "get_activation",
    "register_activation",
]

ArrayFn = Callable[[np.ndarray], np.ndarray]

LEAKY_RELU_SLOPE = 0.01  # the common default (PyTorch, Keras)
ELU_ALPHA = 1.0  # Clevert et al. 2015; PyTorch's default


@dataclass(frozen=True)
class Activation:
    """An activation `h` with its derivative.

    Element-wise activations give `h_prime`, with `h'(z)` element by element.
    A vector-valued activation (softmax) has ``elementwise=False`` and gives
    instead `jacobian` (rows of `Z` -> `J[i, k, n] = da_k/dz_n`) and `vjp`,
    the product `delta = J^T g` row by row without forming `J`.
    """

    name: str
    h: ArrayFn
    h_prime: ArrayFn | None = None
    elementwise: bool = True
    jacobian: ArrayFn | None = None
    vjp: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    #: the range of `h`, used to refuse a cost it cannot feed (log of a <= 0).
    lower: float = -np.inf
    upper: float = np.inf
    #: True when h'(z) is 1 everywhere, so backprop can skip the product.
    is_identity: bool = False
    #: True when h' jumps at z = 0 (ReLU-like): finite differences whose
    #: stencil straddles 0 measure an average of the two slopes, not h'.
    kink: bool = False
    #: False when h is not infinitely differentiable at z = 0 (ReLU-like, and
    #: ELU, whose h'' jumps): extrapolation across 0 is then unsound.
    smooth: bool = True

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _real(z: np.ndarray) -> np.ndarray:
    """The real part of `z` (a view for real input): used to choose branches."""
    return z.real if np.iscomplexobj(z) else z


# ---------------------------------------------------------------- identity


def identity(z: np.ndarray) -> np.ndarray:
    return z


def identity_prime(z: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


# ----------------------------------------------------------------- sigmoid


def sigmoid(z: np.ndarray) -> np.ndarray:
    """h(z) = 1 / (1 + e^-z), stable for any |z|, analytic for complex z."""
    if not np.iscomplexobj(z):
        return expit(z)
    positive = z.real >= 0
    e = np.exp(np.where(positive, -z, z))  # |e| <= 1: never overflows
    return np.where(positive, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """h'(z) = e / (1 + e)^2 with e = exp(-|z|).

    `a (1 - a)` from the cached activation loses all relative accuracy once
    `a` rounds to 1 (z > 37); this form is exact to a few ulps everywhere.
    Computed in place: two temporaries, whatever the size of `z`.
    """
    e = np.array(z, dtype=np.float64)  # a fresh array (0-d for a scalar), worked on in place
    np.abs(e, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    denominator = np.add(e, 1.0, out=np.empty_like(e))
    np.square(denominator, out=denominator)
    e /= denominator
    return e


# -------------------------------------------------------------------- tanh


def tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def tanh_prime(z: np.ndarray) -> np.ndarray:
    """h'(z) = 1 - tanh^2 z = 4 e / (1 + e)^2 with e = exp(-2|z|): exact when saturated."""
    e = np.array(z, dtype=np.float64)  # a fresh array (0-d for a scalar), worked on in place
    np.abs(e, out=e)
    e *= -2.0
    np.exp(e, out=e)
    denominator = np.add(e, 1.0, out=np.empty_like(e))
    np.square(denominator, out=denominator)
    e *= 4.0
    e /= denominator
    return e


# -------------------------------------------------------------------- relu


def relu(z: np.ndarray) -> np.ndarray:
    return np.where(_real(z) > 0, z, 0.0)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """h'(0) is taken as 0, as in PyTorch and JAX."""
    return (z > 0).astype(np.float64)


def leaky_relu(z: np.ndarray) -> np.ndarray:
    return np.where(_real(z) > 0, z, LEAKY_RELU_SLOPE * z)


def leaky_relu_prime(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, 1.0, LEAKY_RELU_SLOPE)


# ---------------------------------------------------------------- softplus


def softplus(z: np.ndarray) -> np.ndarray:
    """h(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|), stable for any |z|.

    Written out rather than np.logaddexp, which is off by up to 1e-12 relative
    for z < 0; the branch is chosen from the real part, so complex z works.
    """
    positive = _real(z) > 0
    return np.where(positive, z, 0.0) + np.log1p(np.exp(np.where(positive, -z, z)))


def softplus_prime(z: np.ndarray) -> np.ndarray:
    return expit(z)


# --------------------------------------------------------------------- elu


def elu(z: np.ndarray) -> np.ndarray:
    positive = _real(z) > 0
    return np.where(positive, z, ELU_ALPHA * np.expm1(np.where(positive, 0.0, z)))


def elu_prime(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(z, 0.0)))


# ----------------------------------------------------------------- softmax


def softmax(Z: np.ndarray) -> np.ndarray:
    """a_k = e^{z_k} / sum_n e^{z_n} along the last axis (rows are examples).

    The shift by the row maximum of the real part keeps every exponent <= 0.
    """
    shift = _real(Z).max(axis=-1, keepdims=True)
    E = np.exp(Z - shift)
    return E / E.sum(axis=-1, keepdims=True)


def softmax_jacobian(Z: np.ndarray) -> np.ndarray:
    """J[..., k, n] = da_k/dz_n = a_k (delta_kn - a_n)."""
    A = softmax(Z)
    J = -A[..., :, None] * A[..., None, :]
    diagonal = np.einsum("...kk->...k", J)  # a writable view of the diagonal
    diagonal += A
    return J


def softmax_vjp(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """delta = J^T g row by row, = a ⊙ (g - (a · g)), without forming J."""
    return A * (G - np.einsum("...k,...k->...", A, G)[..., None])


# ---------------------------------------------------------------- registry

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", identity, identity_prime, is_identity=True),
        Activation("sigmoid", sigmoid, sigmoid_prime, lower=0.0, upper=1.0),
        Activation("tanh", tanh, tanh_prime, lower=-1.0, upper=1.0),
        Activation("relu", relu, relu_prime, lower=0.0, kink=True, smooth=False),
        Activation("leaky_relu", leaky_relu, leaky_relu_prime, kink=True, smooth=False),
        Activation("softplus", softplus, softplus_prime, lower=0.0),
        Activation("elu", elu, elu_prime, lower=-ELU_ALPHA, smooth=False),
        Activation(
            "softmax",
            softmax,
            elementwise=False,
            jacobian=softmax_jacobian,
            vjp=softmax_vjp,
            lower=0.0,
            upper=1.0,
        ),
    )
}
"""The built-in activations by name; `register_activation` adds to it."""


def register_activation(
    name: str, h: ArrayFn, h_prime: ArrayFn, *, overwrite: bool = False
) -> Activation:
    """Register an element-wise activation `h` with its derivative `h'`.

    Parameters
    ----------
    name : str
        The name networks use for it (``hidden=name``).
    h, h_prime : callable
        Element-wise functions of an ndarray, returning an ndarray of the
        same shape. For complex-step checks, `h` should accept complex input.
    overwrite : bool
        Replace an activation of the same name (never a built-in).

    Examples
    --------
    >>> import numpy as np
    >>> act = register_activation("cube", lambda z: z**3, lambda z: 3 * z**2)
    >>> act.h(np.array([2.0]))
    array([8.])
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string, got {name!r}")
    for arg, fn in (("h", h), ("h_prime", h_prime)):
        if not callable(fn):
            raise TypeError(f"`{arg}` must be callable, got {type(fn).__name__}")
    if name in _BUILTIN_NAMES:
        raise ValueError(f"`name` {name!r} is a built-in activation and cannot be replaced")
    if name in ACTIVATIONS and not overwrite:
        raise ValueError(
            f"an activation named {name!r} is already registered; pass overwrite=True to replace it"
        )
    activation = Activation(name, h, h_prime)
    ACTIVATIONS[name] = activation
    return activation


_BUILTIN_NAMES = frozenset(ACTIVATIONS)


def get_activation(spec: str | Activation | tuple, *, argument: str = "activation") -> Activation:
    """The activation named by `spec`: a name, an `Activation`, or an ``(h, h')`` pair."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        try:
            return ACTIVATIONS[spec]
        except KeyError:
            known = ", ".join(sorted(ACTIVATIONS))
            raise ValueError(
                f"unknown {argument} {spec!r}; known activations: {known} "
                "(or pass an (h, h_prime) pair, or register one with register_activation)"
            ) from None
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        h, h_prime = spec
        name = getattr(h, "__name__", "custom")
        return Activation(name if name != "<lambda>" else "custom", h, h_prime)
    raise TypeError(
        f"`{argument}` must be an activation name, an Activation or an (h, h_prime) "
        f"pair of callables, got {type(spec).__name__}"
    )
