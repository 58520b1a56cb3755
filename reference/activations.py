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

import numpy as np
from scipy.special import expit

from ._validate import (
    check_activation_pair,
    check_h_prime,
    check_registration,
    checked_parameters,
    checked_torch,
    did_you_mean,
)

__all__ = [
    "Activation",
    "Coverage",
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
class Coverage:
    """Where the project's own jobs run an activation as the hidden one of a network.

    Each job iterates `ACTIVATIONS` in order and takes every activation whose
    coverage asks for it, so a built-in defined with a `Coverage` needs no
    edit anywhere else. ``(output, cost)`` pairs name the output activation
    (None: the activation itself) and the cost of its one row.
    """

    #: its row of the self-check table (`gradcheck.jobs.selfcheck`); None: no row
    selfcheck: tuple[str | None, str] | None = (None, "quadratic")
    #: its case among the golden vectors (`gradcheck.jobs.vectors`); None: no case
    vectors: tuple[str | None, str] | None = (None, "quadratic")
    #: among the soak's random hidden activations (`gradcheck.jobs.soak`), which needs
    #: an independent formula for it in `gradcheck.tolerance.independent.FORMULAS`
    soak: bool = True


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
    #: the project's jobs that run it (`Coverage`); None: none does (softmax, output
    #: only, has rows of its own; a user's, unless registered with `coverage`)
    coverage: Coverage | None = None
    #: the `torch.nn` module classes that compute it, by name (``("LeakyReLU",)``) ...
    torch: tuple[str, ...] = ()
    #: ... and the module attribute holding each parameter: ``(("slope", "negative_slope"),)``
    torch_parameters: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _real(z: np.ndarray) -> np.ndarray:
    """The real part of `z` (a view for real input): used to choose branches."""
    return z.real if np.iscomplexobj(z) else z


def identity(z: np.ndarray) -> np.ndarray:
    return z


def identity_prime(z: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


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


def relu(z: np.ndarray) -> np.ndarray:
    return np.where(_real(z) > 0, z, 0.0)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """h'(0) is taken as 0, as in PyTorch and JAX."""
    return (z > 0).astype(np.float64)


def leaky_relu(z: np.ndarray, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    return np.where(_real(z) > 0, z, slope * z)


def leaky_relu_prime(z: np.ndarray, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    return np.where(z > 0, 1.0, slope)


def softplus(z: np.ndarray) -> np.ndarray:
    """h(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|), stable for any |z|.

    Written out rather than np.logaddexp, which is off by up to 1e-12 relative
    for z < 0; the branch is chosen from the real part, so complex z works.
    """
    positive = _real(z) > 0
    return np.where(positive, z, 0.0) + np.log1p(np.exp(np.where(positive, -z, z)))


def softplus_prime(z: np.ndarray) -> np.ndarray:
    return expit(z)


def elu(z: np.ndarray, alpha: float = ELU_ALPHA) -> np.ndarray:
    positive = _real(z) > 0
    return np.where(positive, z, alpha * np.expm1(np.where(positive, 0.0, z)))


def elu_prime(z: np.ndarray, alpha: float = ELU_ALPHA) -> np.ndarray:
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


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
    kink: bool | Callable[..., bool]
    smooth: bool
    lower: float | Callable[..., float]
    upper: float | Callable[..., float]
    h_second_bound: float | None = None  # as Activation's, for every parameter value
    coverage: Coverage | None = None  # as Activation's
    torch: tuple[str, ...] = ()
    torch_parameters: tuple[tuple[str, str], ...] = ()


def _build(name: str, family: _Family, parameters: dict[str, float]) -> Activation:
    """The `Activation` of `family` at `parameters` (`h` and `h'` with them bound)."""
    values = tuple((key, float(parameters[key])) for key, _ in family.defaults)
    bound = dict(values)
    lower = family.lower(**bound) if callable(family.lower) else family.lower
    upper = family.upper(**bound) if callable(family.upper) else family.upper
    kink = family.kink(**bound) if callable(family.kink) else family.kink
    defaults = values == family.defaults
    label = name if defaults else f"{name}({', '.join(f'{k}={v:g}' for k, v in values)})"
    return Activation(
        label,
        partial(family.h, **bound) if bound else family.h,
        partial(family.h_prime, **bound) if bound else family.h_prime,
        lower=lower,
        upper=upper,
        kink=kink,
        smooth=family.smooth and not kink,
        parameters=values,
        h_second_bound=family.h_second_bound,
        coverage=family.coverage,
        torch=family.torch,
        torch_parameters=family.torch_parameters,
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
        # a kinked output would leave whole blocks unverifiable: an identity output
        coverage=Coverage(selfcheck=("identity", "quadratic"), vectors=("identity", "quadratic")),
        torch=("LeakyReLU",),
        torch_parameters=(("slope", "negative_slope"),),
    ),
    "elu": _Family(
        elu,
        elu_prime,
        (("alpha", ELU_ALPHA),),
        lambda alpha: alpha != 1.0,  # h'(0-) = alpha, h'(0+) = 1
        False,
        lambda alpha: -alpha,
        np.inf,
        h_second_bound=1.0,  # h'' = h' = alpha e^z below 0, whatever alpha
        coverage=Coverage(),
        torch=("ELU",),
        torch_parameters=(("alpha", "alpha"),),
    ),
}
"""Activations with parameters, by name: ``get_activation("elu", alpha=0.1)``."""

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "identity",
            identity,
            identity_prime,
            is_identity=True,
            h_second_bound=0.0,
            coverage=Coverage(),
            torch=("Identity",),
        ),
        Activation(
            "sigmoid",
            sigmoid,
            sigmoid_prime,
            lower=0.0,
            upper=1.0,
            h_second_bound=1.0,
            coverage=Coverage(),
            torch=("Sigmoid",),
        ),
        Activation(
            "tanh",
            tanh,
            tanh_prime,
            lower=-1.0,
            upper=1.0,
            h_second_bound=2.0,
            # the vectors' regression net: tanh hidden, identity output
            coverage=Coverage(vectors=("identity", "quadratic")),
            torch=("Tanh",),
        ),
        Activation(
            "relu",
            relu,
            relu_prime,
            lower=0.0,
            kink=True,
            smooth=False,
            h_second_bound=0.0,
            # the self-check's regression net as torch users write it: MSELoss
            coverage=Coverage(selfcheck=("identity", "mse"), vectors=("identity", "quadratic")),
            torch=("ReLU",),
        ),
        _build("leaky_relu", _FAMILIES["leaky_relu"], {"slope": LEAKY_RELU_SLOPE}),
        Activation(
            "softplus",
            softplus,
            softplus_prime,
            lower=0.0,
            h_second_bound=1.0,
            coverage=Coverage(),
            torch=("Softplus",),
        ),
        _build("elu", _FAMILIES["elu"], {"alpha": ELU_ALPHA}),
        Activation(
            "softmax",
            softmax,
            elementwise=False,
            jacobian=softmax_jacobian,
            vjp=softmax_vjp,
            lower=0.0,
            upper=1.0,
            torch=("Softmax",),
        ),
    )
}
"""The built-in activations by name; `register_activation` adds to it."""

_BUILTIN_NAMES = frozenset(ACTIVATIONS)


def is_builtin(act: Activation, *names: str) -> bool:
    """Is `act` one of `ACTIVATIONS` (of `names`, if given), not a user's of the same name?"""
    return ACTIVATIONS.get(act.name) is act and (not names or act.name in names)


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
    coverage: bool | Coverage = False,
    torch: str | tuple[str, ...] = (),
    torch_parameters: dict[str, str] | None = None,
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
    coverage : bool or Coverage
        The project's own jobs that run it, as they run every built-in:
        False (the default) keeps a user's activation out of the self-check,
        the golden vectors and the soak; True puts it in all three with the
        defaults of `Coverage`; a `Coverage` chooses. The soak also needs an
        independent formula in `gradcheck.tolerance.independent.FORMULAS`.
    torch : str or tuple of str
        The `torch.nn` module classes that compute it, by name (``"SiLU"``):
        `gradcheck.torch.check_module` then maps them to it.
    torch_parameters : dict, optional
        The module attribute holding each parameter, ``{"slope":
        "negative_slope"}``; default: the attribute of the parameter's name.
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
    check_registration(
        name,
        h,
        h_prime,
        flags={"kink": kink, "overwrite": overwrite, "smooth": smooth},
        bounds=(lower, upper),
        builtin=name in _BUILTIN_NAMES,
        registered=name in ACTIVATIONS,
    )
    if not isinstance(coverage, (bool, Coverage)):
        raise TypeError(f"`coverage` must be True, False or a Coverage, got {coverage!r}")
    defaults = checked_parameters(name, parameters or {}, None, argument="parameters")
    claimed = {c: a.name for a in ACTIVATIONS.values() for c in a.torch if a.name != name}
    classes, attributes = checked_torch(torch, torch_parameters, list(defaults), claimed)
    family = _Family(
        h,
        h_prime,
        tuple(defaults.items()),
        kink,
        (not kink) if smooth is None else smooth and not kink,
        float(lower),
        float(upper),
        coverage=Coverage() if coverage is True else coverage or None,
        torch=classes,
        torch_parameters=attributes,
    )
    activation = _build(name, family, defaults)
    check_h_prime(activation)
    ACTIVATIONS[name] = activation
    if parameters:
        _FAMILIES[name] = family
    else:
        _FAMILIES.pop(name, None)
    return activation


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
            values = checked_parameters(name, parsed, dict(family.defaults), argument=argument)
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
