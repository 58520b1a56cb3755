"""Input validation for `reference`: clear errors naming the argument, layer and shapes.

Plumbing only; the math lives elsewhere.  Every function returns a fresh
float64 array (a copy when the caller's array could otherwise be aliased),
so nothing downstream can mutate what the caller handed in.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "H_PRIME_GRID",
    "H_PRIME_RTOL",
    "batch_array",
    "check_activation_pair",
    "check_h_prime",
    "check_registration",
    "checked_l2",
    "checked_parameters",
    "checked_torch",
    "class_labels_to_one_hot",
    "data_arrays",
    "did_you_mean",
    "real_array",
    "refuse_masked",
]


def refuse_masked(value: Any, name: str) -> None:
    """Refuse a masked array with masked entries: numpy would silently use the values under the mask."""
    if isinstance(value, np.ma.MaskedArray) and np.ma.count_masked(value):
        raise ValueError(
            f"`{name}` is a masked array with {np.ma.count_masked(value)} masked "
            f"entr{'y' if np.ma.count_masked(value) == 1 else 'ies'} (shape {value.shape}); "
            "the values under the mask would be used: fill them (.filled(...)) or drop them"
        )


def real_array(
    value: Any,
    *,
    name: str,
    ndim: int,
    copy: bool = True,
    allow_complex: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """`value` as a finite float64 array with `ndim` dimensions, or a clear error.

    Integers and booleans are converted; strings, objects and complex numbers
    are refused with a `TypeError`, NaN/Inf and wrong dimensions with a
    `ValueError`.  With `allow_complex`, a complex array is kept as complex128
    (the complex step); with ``finite=False``, NaN/Inf entries are let through.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be a numeric array, got a string {value!r:.40}")
    refuse_masked(value, name)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise TypeError(
            f"`{name}` must be a numeric array; numpy could not convert it: {exc}"
        ) from None
    kind = array.dtype.kind
    if kind == "c" and not allow_complex:
        raise TypeError(
            f"`{name}` must be real, got complex dtype {array.dtype}; "
            "pass its real part if the imaginary part is zero"
        )
    if kind not in "biufc":
        raise TypeError(f"`{name}` must be a numeric array, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(
            f"`{name}` must be a {ndim}-D array, got {array.ndim}-D with shape {array.shape}"
        )
    dtype = np.complex128 if kind == "c" else np.float64
    array = np.array(array, dtype=dtype, copy=copy or None, order="C")
    if finite and not np.isfinite(array).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        where = bad[0] if len(bad) == 1 else bad
        raise ValueError(
            f"`{name}` must be finite; entry {where} is {array[bad]} (shape {array.shape})"
        )
    return array


#: where an (h, h_prime) pair is probed: a batch of 2 examples, 3 neurons, both signs
PAIR_PROBE = np.array([[-2.0, -0.5, 0.25], [0.75, 1.5, 3.0]])


def check_activation_pair(h: Any, h_prime: Any, *, argument: str) -> None:
    """Refuse an ``(h, h_prime)`` pair that would break backprop on a batch `Z` (d, N).

    `h(Z)` must return a real ndarray of the shape of `Z`, and `h_prime(Z)` one that
    broadcasts to it (a constant such as ``1.0`` is fine); neither may modify `Z`
    (the forward pass keeps `Z` for `h'`). Whether `h'` is the derivative of `h` is
    the harness's question, not this check's.
    """
    for label, fn, exact in (("h", h, True), ("h_prime", h_prime, False)):
        Z = PAIR_PROBE.copy()
        try:
            value = fn(Z)
        except Exception as exc:  # the user's function failed on a plain float64 batch
            raise ValueError(
                f"`{argument}`: {label}(Z) failed on a float64 batch Z of shape {Z.shape}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not np.array_equal(Z, PAIR_PROBE):
            raise ValueError(
                f"`{argument}`: {label}(Z) modified its input Z in place; backprop keeps Z "
                "for h'(Z): return a new array (e.g. np.tanh(z), not np.tanh(z, out=z))"
            )
        if not exact and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = np.float64(value)  # a constant h' such as 1.0
        kind = value.dtype.kind if isinstance(value, (np.ndarray, np.generic)) else None
        shape = np.shape(value) if kind else None
        fits = shape == Z.shape or (not exact and shape is not None and _broadcasts(shape, Z))
        if kind is None or kind not in "biuf" or not fits:
            got = f"dtype {value.dtype}, shape {shape}" if kind else type(value).__name__
            need = "of the shape of Z" if exact else "broadcasting to the shape of Z"
            raise ValueError(
                f"`{argument}`: {label}(Z) must return a real ndarray {need}, {Z.shape}, "
                f"for a float64 batch Z of shape {Z.shape}; got {got}"
            )


def _broadcasts(shape: tuple[int, ...], Z: np.ndarray) -> bool:
    try:
        return np.broadcast_shapes(shape, Z.shape) == Z.shape
    except ValueError:
        return False


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'sigmoid'?"`` for a near-miss `name` (case, spaces, a typo), else ``""``."""
    known = list(known)
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    matches = [k for k in known if k.lower() == key] or difflib.get_close_matches(
        key, known, n=1, cutoff=0.75
    )
    return f"; did you mean {matches[0]!r}?" if matches else ""


def batch_array(X: Any, *, n_in: int) -> np.ndarray:
    """A checked float64 batch `X` of shape (d, n_in), d >= 1 (not copied: it is only read)."""
    X = real_array(X, name="X", ndim=2, copy=False)
    if X.shape[0] == 0:
        raise ValueError(f"`X` is an empty batch (shape {X.shape}); give at least one example")
    if X.shape[1] != n_in:
        raise ValueError(
            f"`X` has {X.shape[1]} columns (shape {X.shape}) but the network's input layer "
            f"has n_in = {n_in} neurons; rows are examples, so X must be (d, {n_in})"
        )
    return X


def data_arrays(X: Any, Y: Any, *, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked float64 arrays of a batch `X` (d, n_in) and its targets `Y` (d, n_out).

    Not copied: the batch is only ever read, never written.
    """
    X = batch_array(X, n_in=n_in)
    Y = real_array(Y, name="Y", ndim=2, copy=False)
    if Y.shape != (X.shape[0], n_out):
        raise ValueError(
            f"`Y` must have shape (d, n_H) = ({X.shape[0]}, {n_out}) to match `X` {X.shape} "
            f"and the output layer's {n_out} neurons, got {Y.shape}"
        )
    return X, Y


def checked_l2(l2: Any) -> float:
    """`l2` (the penalty's `lam`) as a finite float >= 0, or a clear error."""
    if isinstance(l2, bool) or not isinstance(l2, (int, float, np.integer, np.floating)):
        raise TypeError(f"`l2` must be a non-negative finite number, got {l2!r}")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"`l2` must be a non-negative finite number, got {l2!r}")
    return float(l2)


def class_labels_to_one_hot(Y: Any, n_out: int) -> Any:
    """Integer class labels `Y` of shape (d,) (or (d, 1) when n_out > 1) as one-hot rows (d, n_out).

    Anything else (one-hot rows, probabilities) is returned unchanged for
    `data_arrays` to check. The caller's `Y` is never modified: the one-hot
    array is new.
    """
    if isinstance(Y, (str, bytes)):
        return Y
    refuse_masked(Y, "Y")
    try:
        labels = np.asarray(Y)
    except (ValueError, TypeError):
        return Y  # ragged: data_arrays says so
    if labels.dtype.kind not in "iu":
        if labels.ndim == 1 and labels.dtype.kind == "f":
            raise ValueError(
                f"`Y` of shape {labels.shape} with float dtype: give class labels as integers "
                f"(0 .. {n_out - 1}), or targets of shape (d, {n_out})"
            )
        return Y
    if labels.ndim == 2 and labels.shape[1] == 1 and n_out > 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        return Y
    if labels.size == 0:
        raise ValueError("`Y` is an empty array of class labels; give at least one example")
    bad = np.flatnonzero((labels < 0) | (labels >= n_out))
    if bad.size:
        raise ValueError(
            f"`Y` holds class labels, which must lie in [0, n_H) = [0, {n_out}); "
            f"Y[{bad[0]}] = {labels[bad[0]]} ({bad.size} of {labels.size} out of range)"
        )
    return np.eye(n_out)[labels]


#: where `register_activation` compares h' with differences of h: [-4, 4], off 0
#: (h' of a ReLU-like h is a convention there) and off any simple fraction
H_PRIME_GRID = np.linspace(-4.0, 4.0, 33) + 0.0123
H_PRIME_RTOL = 1e-6  # differences of h agree with a right h' to ~1e-9; a slip is off by O(1)


def check_h_prime(activation: Any, *, role: str = "activation") -> None:
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


def checked_parameters(
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


def check_registration(
    name: Any,
    h: Any,
    h_prime: Any,
    *,
    flags: dict[str, Any],
    bounds: tuple[Any, Any],
    builtin: bool,
    registered: bool,
) -> None:
    """Refuse `register_activation`'s name, functions, flags and range, naming the argument."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string, got {name!r}")
    for arg, fn in (("h", h), ("h_prime", h_prime)):
        if not callable(fn):
            raise TypeError(f"`{arg}` must be callable, got {type(fn).__name__}")
    if ":" in name or "(" in name or "," in name:
        raise ValueError(
            f"`name` {name!r} must not contain ':', ',' or '(' (they spell parameters)"
        )
    if builtin:
        raise ValueError(f"`name` {name!r} is a built-in activation and cannot be replaced")
    if registered and not flags["overwrite"]:
        raise ValueError(
            f"an activation named {name!r} is already registered; pass overwrite=True to replace it"
        )
    for arg in ("kink", "overwrite"):
        if not isinstance(flags[arg], bool):
            raise TypeError(f"`{arg}` must be True or False, got {flags[arg]!r}")
    if flags["smooth"] is not None and not isinstance(flags["smooth"], bool):
        raise TypeError(f"`smooth` must be None, True or False, got {flags['smooth']!r}")
    for arg, bound in zip(("lower", "upper"), bounds):
        if isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating)):
            raise TypeError(f"`{arg}` must be a number, got {bound!r}")
    if not bounds[0] < bounds[1]:
        raise ValueError(f"`lower` must be below `upper`, got {bounds[0]} and {bounds[1]}")


def checked_torch(
    torch: Any, torch_parameters: Any, parameters: list[str], claimed: dict[str, str]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """`register_activation`'s `torch` and `torch_parameters` as the `Activation` holds them.

    `torch`: `torch.nn` class names that no other activation `claimed`;
    `torch_parameters`: (parameter, module attribute) for each of `parameters`,
    the attribute of the parameter's own name unless given.
    """
    classes = (torch,) if isinstance(torch, str) else torch
    if not isinstance(classes, (tuple, list)) or not all(
        isinstance(c, str) and c.isidentifier() for c in classes
    ):
        raise TypeError(
            f"`torch` must name torch.nn module classes, e.g. 'SiLU' or ('SiLU',), got {torch!r}"
        )
    for c in classes:
        if c in claimed:
            raise ValueError(f"`torch`: nn.{c} already computes the activation {claimed[c]!r}")
    given = {} if torch_parameters is None else torch_parameters
    if not isinstance(given, dict) or not all(
        isinstance(a, str) and a.isidentifier() for a in given.values()
    ):
        raise TypeError(
            "`torch_parameters` must map parameter names to module attribute names, e.g. "
            f"{{'slope': 'negative_slope'}}, got {torch_parameters!r}"
        )
    unknown = sorted(set(given) - set(parameters))
    if unknown:
        known = ", ".join(parameters) or "none"
        raise ValueError(
            f"`torch_parameters` names {unknown[0]!r}, which is no parameter; `parameters`: {known}"
        )
    return tuple(classes), tuple((p, given.get(p, p)) for p in parameters)
