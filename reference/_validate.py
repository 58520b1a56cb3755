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
    "batch_array",
    "check_activation_pair",
    "checked_l2",
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
