"""`check_grad_fn`: check a JAX gradient function of a params pytree ``[(W, b), ...]``, as JAX code holds them.

JAX users write ``grads = jax.grad(loss)(params, X, Y)`` with `params` a list
of ``(W, b)`` pairs (or of dicts, Flax style: ``{"kernel": W, "bias": b}``),
and put their hand-written derivatives in ``jax.custom_vjp`` functions or in
a ``jax.numpy`` backprop.  `check_grad_fn` calls that function the way it is
written, in the params' own dtype, and checks what it returns against the
reference and finite differences (`check_backprop_at` / `check_backprop`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

try:
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised only without JAX
    raise ImportError("gradcheck.jax needs JAX: pip install 'backprop-gradcheck[jax]'") from exc

from gradcheck.oracle.backprop import (
    DEFAULT_BATCH,
    DEFAULT_TRIALS,
    check_backprop,
    check_backprop_at,
)
from gradcheck.results.report import BackpropReport
from gradcheck.validate import batch_or_trials
from reference import Network, real_array

__all__ = ["check_grad_fn", "WEIGHT_KEYS", "BIAS_KEYS"]

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
