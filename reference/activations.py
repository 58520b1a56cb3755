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
from functools import partial
from typing import Any

import numpy as np
from scipy.special import expit

from ._validate import check_activation_pair, did_you_mean

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "LEAKY_RELU_SLOPE",
    "ELU_ALPHA",
    "check_h_prime",
    "get_activation",
    "is_builtin",
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
    #: the values of its parameters, ``(("slope", 0.2),)``, for a parameterised family
    parameters: tuple[tuple[str, float], ...] = ()
    #: A factor `c` with |h''(z)| <= c |h'(z)| wherever h'' exists: how far an
    #: error in `z` can move h'(z) (0 for a piecewise-linear h; 1 for sigmoid,
    #: softplus and ELU; 2 for tanh). None: unknown, and the rounding model of
    #: `gradcheck.compare` assumes 2.
    h_second_bound: float | None = None

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


def leaky_relu(z: np.ndarray, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    return np.where(_real(z) > 0, z, slope * z)


def leaky_relu_prime(z: np.ndarray, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    return np.where(z > 0, 1.0, slope)


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


def elu(z: np.ndarray, alpha: float = ELU_ALPHA) -> np.ndarray:
    positive = _real(z) > 0
    return np.where(positive, z, alpha * np.expm1(np.where(positive, 0.0, z)))


def elu_prime(z: np.ndarray, alpha: float = ELU_ALPHA) -> np.ndarray:
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


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


@dataclass(frozen=True)
class _Family:
    """A registered activation with parameters: `h(z, **p)`, `h'(z, **p)`, defaults and traits."""

    h: Callable[..., np.ndarray]
    h_prime: Callable[..., np.ndarray]
    defaults: tuple[tuple[str, float], ...]
    kink: bool
    smooth: bool
    lower: float | Callable[..., float]
    upper: float | Callable[..., float]
    h_second_bound: float | None = None  # as Activation's, for every parameter value


def _build(name: str, family: _Family, parameters: dict[str, float]) -> Activation:
    """The `Activation` of `family` at `parameters` (`h` and `h'` with them bound)."""
    values = tuple((key, float(parameters[key])) for key, _ in family.defaults)
    bound = dict(values)
    lower = family.lower(**bound) if callable(family.lower) else family.lower
    upper = family.upper(**bound) if callable(family.upper) else family.upper
    defaults = values == family.defaults
    label = name if defaults else f"{name}({', '.join(f'{k}={v:g}' for k, v in values)})"
    return Activation(
        label,
        partial(family.h, **bound) if bound else family.h,
        partial(family.h_prime, **bound) if bound else family.h_prime,
        lower=lower,
        upper=upper,
        kink=family.kink,
        smooth=family.smooth and not family.kink,
        parameters=values,
        h_second_bound=family.h_second_bound,
    )


_FAMILIES: dict[str, _Family] = {
    "leaky_relu": _Family(
        leaky_relu,
        leaky_relu_prime,
        (("slope", LEAKY_RELU_SLOPE),),
        True,
        False,
        -np.inf,
        np.inf,
        h_second_bound=0.0,  # piecewise linear
    ),
    "elu": _Family(
        elu,
        elu_prime,
        (("alpha", ELU_ALPHA),),
        False,
        False,
        lambda alpha: -alpha,
        np.inf,
        h_second_bound=1.0,  # h'' = h' = alpha e^z below 0, whatever alpha
    ),
}
"""Activations with parameters, by name: ``get_activation("elu", alpha=0.1)``."""

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", identity, identity_prime, is_identity=True, h_second_bound=0.0),
        Activation("sigmoid", sigmoid, sigmoid_prime, lower=0.0, upper=1.0, h_second_bound=1.0),
        Activation("tanh", tanh, tanh_prime, lower=-1.0, upper=1.0, h_second_bound=2.0),
        Activation(
            "relu", relu, relu_prime, lower=0.0, kink=True, smooth=False, h_second_bound=0.0
        ),
        _build("leaky_relu", _FAMILIES["leaky_relu"], {"slope": LEAKY_RELU_SLOPE}),
        Activation("softplus", softplus, softplus_prime, lower=0.0, h_second_bound=1.0),
        _build("elu", _FAMILIES["elu"], {"alpha": ELU_ALPHA}),
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

_BUILTIN_NAMES = frozenset(ACTIVATIONS)


def is_builtin(act: Activation, *names: str) -> bool:
    """Is `act` one of `ACTIVATIONS` (of `names`, if given), not a user's of the same name?"""
    return ACTIVATIONS.get(act.name) is act and (not names or act.name in names)


#: where `register_activation` compares h' with differences of h: [-4, 4], off 0
#: (h' of a ReLU-like h is a convention there) and off any simple fraction
H_PRIME_GRID = np.linspace(-4.0, 4.0, 33) + 0.0123
H_PRIME_RTOL = 1e-6  # differences of h agree with a right h' to ~1e-9; a slip is off by O(1)


def register_activation(
    name: str,
    h: ArrayFn | Callable[..., np.ndarray],
    h_prime: ArrayFn | Callable[..., np.ndarray],
    *,
    kink: bool = False,
    smooth: bool | None = None,
    lower: float = -np.inf,
    upper: float = np.inf,
    parameters: dict[str, float] | None = None,
    overwrite: bool = False,
) -> Activation:
    """Register an element-wise activation `h` with its derivative `h'`, checked at registration.

    Parameters
    ----------
    name : str
        The name networks use for it (``hidden=name``).
    h, h_prime : callable
        Element-wise functions of an ndarray, returning an ndarray of the
        same shape; with `parameters`, also taking them as keywords
        (``h(z, slope=0.2)``). For complex-step checks, `h` should accept
        complex input.
    kink : bool
        True when `h'` jumps at z = 0 (ReLU-like): finite differences whose
        stencil straddles 0 are then reported unverifiable, not failed.
    smooth : bool, optional
        False when a higher derivative jumps at 0 (ELU's `h''`); defaults to
        ``not kink``.
    lower, upper : float
        The range of `h` (costs taking logarithms need outputs in (0, 1)).
    parameters : dict, optional
        Parameter names and their defaults, e.g. ``{"slope": 0.01}``; a
        network then asks for ``("name", {"slope": 0.2})``, ``"name:0.2"``
        or ``get_activation("name", slope=0.2)``.
    overwrite : bool
        Replace an activation of the same name (never a built-in).

    Returns
    -------
    Activation
        The activation at the default parameters, now in `ACTIVATIONS`.

    Raises
    ------
    ValueError
        If `h_prime` is not the derivative of `h`: it is compared with
        centred differences of `h` on 33 points of [-4, 4] (off 0), and the
        worst point is named.

    Examples
    --------
    >>> import numpy as np
    >>> act = register_activation("cube", lambda z: z**3, lambda z: 3 * z**2)
    >>> act.h(np.array([2.0]))
    array([8.])
    >>> scaled = register_activation(
    ...     "scaled_tanh", lambda z, c=1.0: np.tanh(c * z),
    ...     lambda z, c=1.0: c * (1 - np.tanh(c * z) ** 2), parameters={"c": 1.0})
    >>> get_activation("scaled_tanh", c=2.0).name
    'scaled_tanh(c=2)'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string, got {name!r}")
    for arg, fn in (("h", h), ("h_prime", h_prime)):
        if not callable(fn):
            raise TypeError(f"`{arg}` must be callable, got {type(fn).__name__}")
    if ":" in name or "(" in name or "," in name:
        raise ValueError(
            f"`name` {name!r} must not contain ':', ',' or '(' (they spell parameters)"
        )
    if name in _BUILTIN_NAMES:
        raise ValueError(f"`name` {name!r} is a built-in activation and cannot be replaced")
    if name in ACTIVATIONS and not overwrite:
        raise ValueError(
            f"an activation named {name!r} is already registered; pass overwrite=True to replace it"
        )
    for arg, flag in (("kink", kink), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise TypeError(f"`{arg}` must be True or False, got {flag!r}")
    if smooth is not None and not isinstance(smooth, bool):
        raise TypeError(f"`smooth` must be None, True or False, got {smooth!r}")
    for arg, bound in (("lower", lower), ("upper", upper)):
        if isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating)):
            raise TypeError(f"`{arg}` must be a number, got {bound!r}")
    if not lower < upper:
        raise ValueError(f"`lower` must be below `upper`, got {lower} and {upper}")
    defaults = _checked_parameters(name, parameters or {}, None, argument="parameters")
    family = _Family(
        h,
        h_prime,
        tuple(defaults.items()),
        kink,
        (not kink) if smooth is None else smooth and not kink,
        float(lower),
        float(upper),
    )
    activation = _build(name, family, defaults)
    check_h_prime(activation)
    ACTIVATIONS[name] = activation
    if parameters:
        _FAMILIES[name] = family
    else:
        _FAMILIES.pop(name, None)
    return activation


def check_h_prime(activation: Activation, *, role: str = "activation") -> None:
    """Refuse an element-wise activation whose `h'` is not the derivative of its `h`.

    `h'` is compared, on `H_PRIME_GRID`, with a Richardson-extrapolated
    centred difference of `h`; a disagreement beyond `H_PRIME_RTOL` (and the
    differences' own error estimate) raises a `ValueError` naming the worst
    point. Points where `h` or `h'` is not finite are skipped.
    """
    h_prime = activation.h_prime
    if not activation.elementwise or h_prime is None:
        return
    z = H_PRIME_GRID
    with np.errstate(all="ignore"):
        try:
            claimed = np.asarray(h_prime(z.copy()), dtype=np.float64)
            step = 2.0**-12 * np.maximum(np.abs(z), 1.0)
            f = [np.asarray(activation.h(z + k * step), dtype=np.float64) for k in (-2, -1, 1, 2)]
        except Exception as exc:  # the user's function failed on plain float arrays
            raise ValueError(
                f"the {role} {activation.name!r} could not be evaluated on a float64 array "
                f"of shape {z.shape}: {type(exc).__name__}: {exc}"
            ) from None
        if claimed.shape != z.shape or any(v.shape != z.shape for v in f):
            raise ValueError(
                f"the {role} {activation.name!r}: h and h_prime must return an array of the "
                f"shape of z, {z.shape}"
            )
        D1 = (f[2] - f[1]) / (2 * step)  # centred difference, step s
        D2 = (f[3] - f[0]) / (4 * step)  # centred difference, step 2s
        numerical = (4 * D1 - D2) / 3  # Richardson: the s^2 terms cancel
        size = np.maximum.reduce([np.abs(v) for v in f]) + np.abs(numerical)
        estimate = np.abs(D1 - D2) + 1e3 * np.finfo(np.float64).eps * size / step
        excess = np.abs(claimed - numerical) / (H_PRIME_RTOL * (1.0 + np.abs(numerical)) + estimate)
    usable = np.isfinite(excess) & np.isfinite(claimed) & np.isfinite(numerical)
    if kink := activation.kink:
        usable &= np.abs(z) > 2 * step  # a stencil across the kink measures no h'
    if not usable.any():
        raise ValueError(
            f"the {role} {activation.name!r}: h or h_prime is not finite anywhere on [-4, 4], "
            "so h_prime cannot be checked"
        )
    worst = int(np.argmax(np.where(usable, excess, -1.0)))
    if excess[worst] > 1.0:
        failing = int((usable & (excess > 1.0)).sum())
        raise ValueError(
            f"the {role} {activation.name!r}: h_prime is not the derivative of h; at z = "
            f"{z[worst]:.4g}, h_prime gives {claimed[worst]:.10g} but differences of h give "
            f"{numerical[worst]:.10g} ({failing} of {int(usable.sum())} points checked on "
            f"[-4, 4] disagree{', away from the kink at 0' if kink else ''})"
        )


def _checked_parameters(
    name: str, given: Any, defaults: dict[str, float] | None, *, argument: str
) -> dict[str, float]:
    """`given` as {parameter: float}: known names (when `defaults`), finite real values."""
    if not isinstance(given, dict):
        raise TypeError(f"`{argument}` must be a dict of parameter values, got {given!r}")
    out = dict(defaults or {})
    for key, value in given.items():
        if defaults is not None and key not in defaults:
            known = ", ".join(defaults) or "none"
            raise ValueError(
                f"activation {name!r} has no parameter {key!r}; its parameters: {known}"
            )
        if not isinstance(key, str) or not key.isidentifier():
            raise TypeError(f"`{argument}` names must be identifiers, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(
                f"parameter {key!r} of activation {name!r} must be a real number, got {value!r}"
            )
        if not np.isfinite(value):
            raise ValueError(
                f"parameter {key!r} of activation {name!r} must be finite, got {value!r}"
            )
        out[key] = float(value)
    return out


def _parse(spec: str) -> tuple[str, dict[str, float]]:
    """``"leaky_relu:0.2"`` or ``"elu:alpha=0.1"`` -> (name, parameters); a plain name -> (name, {})."""
    if ":" not in spec:
        return spec, {}
    name, _, text = spec.partition(":")
    family = _FAMILIES.get(name)
    if family is None:
        raise ValueError(f"activation {name!r} takes no parameters (in {spec!r}); {_known()}")
    parameters: dict[str, float] = {}
    for k, item in enumerate(text.split(";")):
        key, eq, value = item.partition("=")
        if not eq:
            key, value = family.defaults[min(k, len(family.defaults) - 1)][0], item
        try:
            parameters[key.strip()] = float(value)
        except ValueError:
            raise ValueError(
                f"activation {spec!r}: parameter {key.strip()!r} must be a number, got {value!r}"
            ) from None
    return name, parameters


def _known() -> str:
    names = ", ".join(sorted(ACTIVATIONS))
    with_parameters = ", ".join(
        f"{n}:{'/'.join(k for k, _ in f.defaults)}" for n, f in sorted(_FAMILIES.items())
    )
    return f"known activations: {names} (with parameters: {with_parameters})"


def get_activation(
    spec: str | Activation | tuple, *, argument: str = "activation", **parameters: float
) -> Activation:
    """The activation named by `spec`.

    `spec` is a name (``"tanh"``), a name with parameters (``"leaky_relu:0.2"``,
    ``"elu:alpha=0.1"``, or ``("leaky_relu", {"slope": 0.2})``, or keywords:
    ``get_activation("leaky_relu", slope=0.2)``), an `Activation`, or an
    ``(h, h')`` pair of callables.

    Examples
    --------
    >>> get_activation("leaky_relu", slope=0.2).name
    'leaky_relu(slope=0.2)'
    >>> get_activation("elu:0.1").lower
    -0.1
    """
    if isinstance(spec, Activation) and not parameters:
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        if not isinstance(spec[1], dict):
            raise TypeError(
                f"`{argument}` as (name, parameters) needs a dict of parameters, got "
                f"{type(spec[1]).__name__}: e.g. ('leaky_relu', {{'slope': 0.2}})"
            )
        return get_activation(spec[0], argument=argument, **{**spec[1], **parameters})
    if isinstance(spec, str):
        name, parsed = _parse(spec)
        parsed.update(parameters)
        if parsed:
            family = _FAMILIES.get(name)
            if family is None:
                raise ValueError(f"{argument} {name!r} takes no parameters; {_known()}")
            values = _checked_parameters(name, parsed, dict(family.defaults), argument=argument)
            activation = _build(name, family, values)
            if activation.parameters == family.defaults:
                return ACTIVATIONS[name]
            if name not in _BUILTIN_NAMES:
                check_h_prime(activation)
            return activation
        try:
            return ACTIVATIONS[name]
        except KeyError:
            raise ValueError(
                f"unknown {argument} {spec!r}; {_known()} "
                "(or pass an (h, h_prime) pair, or register one with register_activation)"
                + did_you_mean(name, ACTIVATIONS)
            ) from None
    if parameters:
        raise TypeError(f"parameters {sorted(parameters)} need an activation name, got {spec!r}")
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        h, h_prime = spec
        name = getattr(h, "__name__", "custom")
        check_activation_pair(h, h_prime, argument=argument)
        return Activation(name if name != "<lambda>" else "custom", h, h_prime)
    raise TypeError(
        f"`{argument}` must be an activation name, an Activation or an (h, h_prime) "
        f"pair of callables, got {type(spec).__name__}"
    )
