"""JAX's gradients checked as JAX code holds them: `check_grad_fn` for a params pytree
``[(W, b), ...]``, `check_vjp_fn` for any function of arrays (a ``jax.custom_vjp`` rule).

JAX users write ``grads = jax.grad(loss)(params, X, Y)`` with `params` a list
of ``(W, b)`` pairs (or of dicts, Flax style: ``{"kernel": W, "bias": b}``),
and put their hand-written derivatives in ``jax.custom_vjp`` functions or in
a ``jax.numpy`` backprop.  `check_grad_fn` calls that function the way it is
written, in the params' own dtype, and checks what it returns against the
reference and finite differences (`check_backprop_at` / `check_backprop`).

`check_vjp_fn` checks ``jax.vjp(f, *primals)``, called in the primals' own
dtype, entry by entry with `gradcheck.oracle.layers.check_vjp`; the truth is
finite differences of `f` evaluated in float64 (64-bit JAX switched on only
for those calls, the caller's setting untouched).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised only without JAX
    raise ImportError("gradcheck.jax needs JAX: pip install 'backprop-gradcheck[jax]'") from exc

from gradcheck.oracle.backprop import (
    DEFAULT_BATCH,
    DEFAULT_TRIALS,
    check_backprop,
    check_backprop_at,
)
from gradcheck.oracle.layers import check_vjp
from gradcheck.results.report import BackpropReport
from gradcheck.results.vjp_report import VJPReport
from gradcheck.tolerance.policy import DTYPE_AGREEMENT, XLA_LIBM_ULPS
from gradcheck.tolerance.saturation import libm_accuracy
from gradcheck.validate import batch_or_trials, check_callable
from reference import Network, real_array

__all__ = ["check_grad_fn", "check_vjp_fn", "WEIGHT_KEYS", "BIAS_KEYS"]

WEIGHT_KEYS = ("W", "w", "kernel", "weight")  # dict keys of a layer's weights (Flax: "kernel")
BIAS_KEYS = ("b", "bias")


def check_grad_fn(
    grad_fn: Callable[..., Any],
    params: Sequence[Any],
    X: Any = None,
    Y: Any = None,
    *,
    hidden: Any = "sigmoid",
    output: Any = None,
    cost: Any = "quadratic",
    layout: str = "article",
    trials: int | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
) -> BackpropReport:
    """Check ``grad_fn(params, X, Y)``, the gradient of the batch-averaged cost, against the reference.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(params, X, Y) -> grads`` with `grads` of the same structure
        as `params`, e.g. ``jax.grad(loss)`` or a hand-written backprop.
    params : list of (W, b) pairs, or of dicts
        Layer `L`'s ``W`` (shape (M, N) with ``layout="article"``, as in
        ``x @ W`` and Flax's ``kernel``; (N, M) with ``layout="torch"``) and
        ``b`` (N,).  Dicts use the keys of `WEIGHT_KEYS` and `BIAS_KEYS`.
        Their dtype is the dtype `grad_fn` is called in, and tolerances follow it.
    X : array, shape (d, n_in), optional
    Y : array, shape (d, n_H), optional
        The batch to check at, with `params` as the network.
    hidden, output, cost
        What `grad_fn` differentiates (names as in `reference.Network`).
    layout : {"article", "torch"}
    trials : int, optional
        Random networks of the same shape to check as well.  Default: 0 when
        `X` and `Y` are given, else `gradcheck.oracle.backprop.DEFAULT_TRIALS`.
    seed, batch_size
        As in `check_backprop`, for the random trials.

    Returns
    -------
    BackpropReport

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> def loss(params, X, Y):
    ...     A = X
    ...     for W, b in params:
    ...         A = jax.nn.sigmoid(A @ W + b)
    ...     return 0.5 * jnp.mean(jnp.sum((A - Y) ** 2, axis=1))
    >>> params = [(jnp.ones((3, 4)) / 4, jnp.zeros(4)), (jnp.ones((4, 2)) / 2, jnp.zeros(2))]
    >>> check_grad_fn(jax.grad(loss), params, jnp.ones((5, 3)), jnp.zeros((5, 2))).passed
    True
    """
    if not callable(grad_fn):
        raise TypeError(
            f"`grad_fn` must be callable as grad_fn(params, X, Y), got {type(grad_fn).__name__}"
        )
    if layout not in ("article", "torch"):
        raise ValueError(f"`layout` must be 'article' or 'torch', got {layout!r}")
    structure = _structure(params)
    weights, biases = _unpacked(params, "params")
    weights, biases = _real_params(weights, biases)
    dtype = jnp.result_type(*weights, *biases)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"`params` must hold floating-point arrays (grad_fn is called in their dtype), "
            f"got {dtype}; e.g. jnp.asarray(W, dtype=jnp.float32)"
        )
    trials = batch_or_trials(trials, X, Y, DEFAULT_TRIALS)

    candidate = _Candidate(grad_fn, structure, dtype, layout)
    spec = {"hidden": hidden, "output": output, "cost": cost}
    net = _network(weights, biases, layout=layout, spec=spec)
    with libm_accuracy(XLA_LIBM_ULPS):  # XLA's tanh errs by up to 7 u near -1 and 1
        return _checked(candidate, net, X, Y, dtype, layout, trials, seed, batch_size, spec)


def _checked(
    candidate: Callable[..., Any],
    net: Network,
    X: Any,
    Y: Any,
    dtype: Any,
    layout: str,
    trials: int,
    seed: int,
    batch_size: int,
    spec: dict[str, Any],
) -> BackpropReport:
    """`check_grad_fn`'s checks, at the batch given and on random trials."""
    reports = []
    if X is not None:
        # the batch as grad_fn sees it, in the params' dtype
        X64, Y64 = (_batch_in(v, name, dtype) for v, name in ((X, "X"), (Y, "Y")))
        reports.append(check_backprop_at(candidate, net, X64, Y64, layout=layout))
    if trials:
        reports.append(
            check_backprop(
                candidate,
                sizes=net.sizes,
                layout=layout,
                trials=int(trials),
                seed=seed,
                batch_size=batch_size,
                edge_cases=False,  # the params' structure is fixed: no width-1 or no-hidden networks
                **spec,
            )
        )
    return reports[0] if len(reports) == 1 else _merged(*reports)


def _real_params(weights: list[Any], biases: list[Any]) -> tuple[list[Any], list[Any]]:
    """Each `W` and `b` refused unless a finite real array (complex ones were cast silently)."""
    checked: tuple[list[Any], list[Any]] = ([], [])
    for L, (W, b) in enumerate(zip(weights, biases)):
        for out, value, ndim, symbol in ((checked[0], W, 2, "W"), (checked[1], b, 1, "b")):
            real_array(value, name=f"params[{L}] ({symbol}^{L})", ndim=ndim, copy=False)
            out.append(value if hasattr(value, "dtype") else np.asarray(value))
    return checked


def _batch_in(value: Any, name: str, dtype: Any) -> np.ndarray:
    """`X` or `Y` checked (real, finite), rounded to the params' `dtype` as grad_fn sees it."""
    try:
        ndim = np.ndim(value)
    except (ValueError, TypeError):  # ragged: real_array names it
        ndim = 0
    array = real_array(value, name=name, ndim=ndim, copy=False)
    with np.errstate(over="ignore"):  # an overflow is reported below, naming the entry
        rounded = np.asarray(jnp.asarray(array, dtype=dtype), dtype=np.float64)
    if not np.isfinite(rounded).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(rounded))[0])
        raise ValueError(
            f"`{name}` overflows {dtype}, the dtype of `params` that grad_fn is called in: "
            f"entry {bad} is {array[bad]:.3g} (shape {array.shape})"
        )
    return rounded


def _network(
    weights: list[Any], biases: list[Any], *, layout: str, spec: dict[str, Any]
) -> Network:
    """The network of `params`, in float64 and the article's layout (validated: shapes that
    chain, names that exist)."""
    as_article = [np.asarray(W, dtype=np.float64) for W in weights]
    if layout == "torch":
        as_article = [W.T for W in as_article]
    return Network(as_article, [np.asarray(b, dtype=np.float64) for b in biases], **spec)


def _merged(given: BackpropReport, drawn: BackpropReport) -> BackpropReport:
    """The report at the given batch and the drawn trials' report as one, trials renumbered."""
    return replace(
        drawn,
        trials=tuple(replace(t, index=k) for k, t in enumerate(given.trials + drawn.trials)),
        reference_problems=given.reference_problems + drawn.reference_problems,
    )


def _structure(params: Any) -> list[tuple[str, str] | None]:
    """Per layer: None for a (W, b) pair, or the (weight key, bias key) of a dict."""
    if isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Sequence) or not params:
        raise TypeError(
            "`params` must be a non-empty list with one (W, b) pair (or dict) per layer, got "
            f"{type(params).__name__}"
        )
    out: list[tuple[str, str] | None] = []
    for L, layer in enumerate(params):
        if isinstance(layer, Mapping):
            w = [k for k in WEIGHT_KEYS if k in layer]
            b = [k for k in BIAS_KEYS if k in layer]
            if len(w) != 1 or len(b) != 1 or len(layer) != 2:
                raise ValueError(
                    f"`params[{L}]` has keys {sorted(map(str, layer))}; a layer's dict needs one "
                    f"weight key ({', '.join(WEIGHT_KEYS)}) and one bias key ({', '.join(BIAS_KEYS)})"
                )
            out.append((w[0], b[0]))
        elif isinstance(layer, (tuple, list)) and len(layer) == 2:
            out.append(None)
        else:
            raise TypeError(
                f"`params[{L}]` must be a (W, b) pair or a dict like {{'W': W, 'b': b}}, got "
                f"{type(layer).__name__}"
            )
    return out


def _unpacked(tree: Any, name: str) -> tuple[list[Any], list[Any]]:
    """([W^L], [b^L]) of a params-like pytree (no copies)."""
    weights, biases = [], []
    for L, layer in enumerate(tree):
        if isinstance(layer, Mapping):
            weights.append(next(layer[k] for k in WEIGHT_KEYS if k in layer))
            biases.append(next(layer[k] for k in BIAS_KEYS if k in layer))
        elif isinstance(layer, (tuple, list)) and len(layer) == 2:
            weights.append(layer[0])
            biases.append(layer[1])
        else:
            raise TypeError(
                f"`{name}[{L}]` must be a (W, b) pair or a dict, got {type(layer).__name__}"
            )
    return weights, biases


class _Candidate:
    """The oracle's candidate(weights, biases, X, Y): grad_fn called on a params pytree of JAX arrays."""

    def __init__(
        self,
        grad_fn: Callable[..., Any],
        structure: list[tuple[str, str] | None],
        dtype: Any,
        layout: str,
    ) -> None:
        self.grad_fn, self.structure, self.dtype, self.layout = grad_fn, structure, dtype, layout
        name = getattr(grad_fn, "__qualname__", None) or type(grad_fn).__name__
        self.__name__ = self.__qualname__ = name
        self.__module__ = getattr(grad_fn, "__module__", None) or __name__

    def __call__(
        self, weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray, Y: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if len(weights) != len(self.structure):
            raise ValueError(
                f"the random network has {len(weights)} layers but `params` has {len(self.structure)}"
            )
        params: list[Any] = []
        for keys, W, b in zip(self.structure, weights, biases):
            W_j, b_j = jnp.asarray(W, dtype=self.dtype), jnp.asarray(b, dtype=self.dtype)
            params.append((W_j, b_j) if keys is None else {keys[0]: W_j, keys[1]: b_j})
        grads = self.grad_fn(
            params, jnp.asarray(X, dtype=self.dtype), jnp.asarray(Y, dtype=self.dtype)
        )
        if isinstance(grads, tuple) and not isinstance(grads, list):
            grads = list(grads)
        if not isinstance(grads, list) or len(grads) != len(params):
            raise ValueError(
                f"grad_fn returned {type(grads).__name__}; expected the structure of `params` "
                f"(a list of {len(params)} layers)"
            )
        dW, db = _unpacked(grads, "grads")
        return [np.asarray(g) for g in dW], [np.asarray(g) for g in db]


def check_vjp_fn(
    f: Callable[..., Any],
    *primals: Any,
    names: Sequence[str] | None = None,
    seed: int = 0,
    cotangents: int = 3,
    mode: str = "auto",
    executor: Executor | None = None,
) -> VJPReport:
    """Check the vector-Jacobian product JAX computes for `f` (a ``jax.custom_vjp`` rule with a
    hand-written backward, or any JAX function), entry by entry, by finite differences.

    The candidate is ``jax.vjp(f, *primals)[1](c)`` for a few seeded random
    cotangents `c`, computed in the primals' own dtype under the caller's JAX
    settings: float32 primals give float32 gradients, judged at float32
    rounding.  The truth is finite differences of ``sum(c * f(x))``, with `f`
    evaluated in float64 (``jax.enable_x64`` around those calls only; the
    caller's ``jax_enable_x64`` is never changed), compiled once with
    ``jax.jit`` (an `f` that cannot be traced is evaluated op by op).  This is
    `gradcheck.oracle.layers.check_vjp` with `f` and the VJP wrapped.

    JAX's randomness is explicit: a dropout mask comes from a key.  Pass the
    key as one of the `primals` (``jax.random.key(0)`` or
    ``jax.random.PRNGKey(0)``): it is not differentiated, and every evaluation
    gets the same key, so the mask repeats and the differences see one
    function.  A key drawn inside `f` from outside state would give a new mask
    on every call, and no difference could check it.  The draw's dtype must
    not follow the primals' either (``jax.random.bernoulli(key, 0.5, shape)``
    draws other bits in float64): `f` in float64 must be `f` in the primals'
    dtype, give or take rounding, or `check_vjp_fn` refuses it, saying where
    they differ.  Draw in a fixed dtype:
    ``jax.random.bernoulli(key, jnp.float32(0.5), shape)``.

    Parameters
    ----------
    f : callable
        ``f(*primals) -> array`` of any shape, in floating point.
    *primals : arrays (JAX or numpy), or one dict name -> array
        The point.  Floating-point primals are differentiated; integer and
        boolean arrays and PRNG keys are passed as they are and not
        differentiated (JAX's float0 cotangents).  A dict's values are passed
        to `f` positionally, in order, and its keys name them.  Never modified.
    names : sequence of str, optional
        The primals' names in the report.  Default: the dict's keys, else the
        names of `f`'s parameters (``W[3,1]``), else ``x0, x1, ...``.
    seed : int
        Seeds the random cotangents; the report prints it.
    cotangents : int
        How many random cotangents.  Default 3.
    mode : {"auto", "entries", "screen"}
        As `gradcheck.check_vjp`: every entry by its own (or grouped)
        differences, or a screen along random directions; "auto" screens
        above `SCREEN_ABOVE` entries.
    executor : concurrent.futures.Executor, optional
        Where the differences evaluate `f` in float64 (`gradcheck.check_vjp`): a
        thread pool here (a jitted function does not pickle for a process pool).

    Returns
    -------
    VJPReport
        As `check_vjp`: ``.passed``, per primal the entries checked, failing
        and on a kink, the worst entries named as ``W[3,1]``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> @jax.custom_vjp
    ... def affine(x, W):
    ...     return x @ W
    >>> affine.defvjp(lambda x, W: (x @ W, (x, W)), lambda res, g: (g @ res[1].T, res[0].T @ g))
    >>> check_vjp_fn(affine, jnp.ones((2, 3)), jnp.ones((3, 4)) / 3).passed
    True
    """
    check_callable(f, "f")
    values, names = _named_primals(f, primals, names)
    specs = [_primal_spec(value, name) for value, name in zip(values, names or _numbered(values))]
    if not any(spec.differentiated for spec in specs):
        raise ValueError(
            "`primals` holds no floating-point array, so there is nothing to differentiate: "
            "integer and boolean arrays and PRNG keys are passed to `f` as they are"
        )
    truth, pullback = _Truth(f, specs), _Pullback(f, specs)
    inputs = [spec.data for spec in specs]
    _check_one_function(truth, pullback, inputs)
    return check_vjp(
        truth,
        pullback,
        inputs,
        names=names,
        seed=seed,
        cotangents=cotangents,
        mode=mode,
        executor=executor,
    )


@contextmanager
def _float64() -> Iterator[None]:
    """64-bit JAX for the calls inside only (thread-local; the caller's setting comes back)."""
    enable: Any = getattr(jax, "enable_x64", None)
    if enable is None:  # pragma: no cover - JAX releases before jax.enable_x64
        enable = importlib.import_module("jax.experimental").enable_x64
    with enable(True):
        yield


def _named_primals(
    f: Callable[..., Any], primals: tuple[Any, ...], names: Sequence[str] | None
) -> tuple[list[Any], list[str] | None]:
    """The primals as a list, and their names: given, the dict's keys, or `f`'s parameters."""
    if not primals:
        raise ValueError(
            "`primals` is empty: give the arrays `f` is called with, check_vjp_fn(f, x, W), "
            "or one dict name -> array"
        )
    if len(primals) == 1 and isinstance(primals[0], Mapping):
        if names is not None:
            raise ValueError("`names` must be None when `primals` is a dict: the keys name them")
        if not primals[0]:
            raise ValueError("`primals` is an empty dict: give at least one array")
        return list(primals[0].values()), [str(k) for k in primals[0]]
    for i, value in enumerate(primals):
        if isinstance(value, (Mapping, list, tuple, str, bytes)) or value is None:
            raise TypeError(
                f"`primals[{i}]` must be an array (JAX or numpy) or a number, got "
                f"{type(value).__name__}; give each array as its own primal, "
                "check_vjp_fn(f, x, W), or one dict name -> array"
            )
    if names is None:
        return list(primals), _parameter_names(f, len(primals))
    if isinstance(names, str) or not isinstance(names, Sequence) or len(names) != len(primals):
        raise ValueError(f"`names` must be {len(primals)} strings, one per primal, got {names!r}")
    return list(primals), list(names)


def _parameter_names(f: Callable[..., Any], count: int) -> list[str] | None:
    """The names of `f`'s first `count` positional parameters, when it has exactly those."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters[:count] if p.kind in positional]
    return names if len(names) == count else None


def _numbered(values: list[Any]) -> list[str]:
    return [f"x{i}" for i in range(len(values))]  # check_vjp's default names


@dataclass(frozen=True)
class _PrimalSpec:
    """One primal as `check_vjp` gets it (`data`, a numpy array) and how `f` gets it back."""

    data: np.ndarray
    dtype: Any  # the dtype JAX holds it in: the candidate's dtype
    differentiated: bool
    key_impl: Any = None  # the PRNG implementation of a typed key (its data is `data`)

    def to_jax(self, x: np.ndarray, *, float64: bool = False) -> Any:
        """`check_vjp`'s float64 copy `x` as `f` takes it: floats in float64 for the truth (inside
        `_float64`) or in their own dtype for the candidate; the others as they were given."""
        if self.key_impl is not None:
            return jax.random.wrap_key_data(jnp.asarray(x.astype(self.dtype)), impl=self.key_impl)
        if not self.differentiated:
            return jnp.asarray(x.astype(self.dtype))
        return jnp.asarray(x, dtype=jnp.float64 if float64 else self.dtype)


def _primal_spec(value: Any, name: str) -> _PrimalSpec:
    """`value` refused unless a real array (or a number, or a key); its dtype as JAX holds it."""
    if isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(value))
        return _PrimalSpec(data, data.dtype, False, jax.random.key_impl(value))
    try:
        array = jnp.asarray(value)  # the caller's JAX settings: float64 becomes float32 without x64
    except TypeError as exc:
        raise TypeError(
            f"primal `{name}` must be an array (JAX or numpy) or a number, got "
            f"{type(value).__name__}"
        ) from exc
    dtype = array.dtype
    if jnp.issubdtype(dtype, jnp.floating):
        if np.dtype(dtype).kind != "f":
            raise TypeError(
                f"primal `{name}` has dtype {dtype}, whose rounding numpy cannot judge; "
                f"pass it as float32: jnp.asarray({name}, jnp.float32)"
            )
        return _PrimalSpec(np.asarray(array), dtype, True)
    if jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_:
        return _PrimalSpec(np.asarray(array).astype(np.int64), dtype, False)
    raise TypeError(f"primal `{name}` must be real numbers, got dtype {dtype}")


def _one_array(out: Any) -> Any:
    """`f`'s value, refused unless one floating-point array (a tuple would be stacked silently)."""
    if not isinstance(out, (jax.Array, np.ndarray, float, np.floating)):
        raise TypeError(
            f"`f` must return one array, got {type(out).__name__}; to check several outputs, "
            "check each in its own function (or concatenate them)"
        )
    if not jnp.issubdtype(jnp.result_type(out), jnp.floating):
        raise TypeError(f"`f` must return floating-point values, got dtype {jnp.result_type(out)}")
    return out


def _check_one_function(truth: _Truth, pullback: _Pullback, inputs: list[np.ndarray]) -> None:
    """Refuse an `f` whose float64 self (the truth) is another function than the candidate's,
    beyond the rounding of the candidate's dtype (`DTYPE_AGREEMENT`)."""
    wide = truth(*inputs)
    own = np.asarray(pullback.forward(*inputs))
    if own.shape != wide.shape:
        raise ValueError(
            f"`f` returns shape {wide.shape} in float64 but {own.shape} in {own.dtype}: "
            "the differences would check another function"
        )
    change = np.abs(wide - own.astype(np.float64))
    eps = float(np.finfo(own.dtype).eps)
    if change.max() > eps**DTYPE_AGREEMENT * np.abs(wide).max():
        at = ",".join(str(int(i)) for i in np.unravel_index(np.argmax(change), change.shape))
        raise ValueError(
            f"`f` in float64 is another function than `f` in {own.dtype}: at the primals their "
            f"values differ by {change.max():.3g} at f[{at}] (largest |f| "
            f"{np.abs(wide).max():.3g}), more than {own.dtype} rounding explains, so differences "
            f"in float64 cannot check the {own.dtype} gradient.  A random draw does this: one "
            "whose bits follow the dtype (jax.random.bernoulli(key, 0.5, shape) draws in float64 "
            "under 64-bit JAX; draw in a fixed dtype, jax.random.bernoulli(key, "
            "jnp.float32(0.5), shape)), or one whose key is not a primal (a new mask on every "
            "call; pass the key as a primal).  So does a computation that loses half its digits "
            f"in {own.dtype}: check it in float64 (float64 primals, jax_enable_x64 on)"
        )


#: what jax.jit raises for an `f` it cannot trace (Python branches on values, numpy inside)
_UNTRACEABLE = (jax.errors.JAXTypeError, jax.errors.JAXIndexError)


class _Truth:
    """`f` for `check_vjp`'s differences: the differentiated primals in float64, `f` evaluated
    with 64-bit JAX, its value as a float64 numpy array.

    `f` is compiled once (``jax.jit``): the differences evaluate it hundreds of times at one
    shape, and op-by-op dispatch would cost most of the check.  An `f` that cannot be traced is
    evaluated as it is.
    """

    def __init__(self, f: Callable[..., Any], specs: list[_PrimalSpec]) -> None:
        self.f, self.specs = f, specs
        self.compiled: Callable[..., Any] | None = jax.jit(lambda *args: f(*args))

    def __call__(self, *xs: np.ndarray) -> np.ndarray:
        with _float64():
            args = [spec.to_jax(x, float64=True) for spec, x in zip(self.specs, xs, strict=True)]
            return np.asarray(_one_array(self._evaluated(args)), dtype=np.float64)

    def _evaluated(self, args: list[Any]) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except _UNTRACEABLE:
                self.compiled = None  # from now on op by op
        return self.f(*args)


class _Pullback:
    """The candidate for `check_vjp`: ``jax.vjp`` of `f` in the primals' own dtype, under the
    caller's JAX settings; only the floating-point primals are differentiated (the others are
    closed over, so no float0 cotangent appears), None for the others."""

    def __init__(self, f: Callable[..., Any], specs: list[_PrimalSpec]) -> None:
        self.f, self.specs = f, specs

    def forward(self, *xs: np.ndarray) -> Any:
        """`f` at `xs` as the candidate computes it (the primals' dtype, the caller's settings)."""
        return _one_array(self.f(*(spec.to_jax(x) for spec, x in zip(self.specs, xs, strict=True))))

    def __call__(self, c: np.ndarray, *xs: np.ndarray) -> list[np.ndarray | None]:
        args = [spec.to_jax(x) for spec, x in zip(self.specs, xs, strict=True)]
        moving = [i for i, spec in enumerate(self.specs) if spec.differentiated]

        def f_of_moving(*values: Any) -> Any:
            merged = list(args)
            for i, value in zip(moving, values, strict=True):
                merged[i] = value
            return _one_array(self.f(*merged))

        out, pullback = jax.vjp(f_of_moving, *(args[i] for i in moving))
        grads = dict(zip(moving, pullback(jnp.asarray(c, dtype=out.dtype)), strict=True))
        return [np.asarray(grads[i]) if i in grads else None for i in range(len(args))]
