"""Evaluating `f` at perturbations of θ: the interface the difference engines ask for, and `Evaluator`.

`gradcheck.fd.numerical`, `noise` and `taylor` ask for values of `f` through
a `FunctionEvaluator`: ``along`` (moves along coordinate axes), ``at``
(whole parameter vectors) and ``count``. `Evaluator` is the one for any
function: it builds the perturbed parameter vectors (fresh ones for every
call, so `f` may keep or alter them), checks what `f` returns (one real
number per vector, complex for complex input) and counts the evaluations.
`gradcheck.fd.network` and `gradcheck.fd.delta` pass their own, which exploit
a network's structure and report kinks (`KinkEvaluator`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["CHUNK_BYTES", "Evaluator", "FunctionEvaluator", "KinkEvaluator"]

CHUNK_BYTES = 256 * 2**20  # vectorized mode: memory of one batch of perturbed vectors, at most


@runtime_checkable
class FunctionEvaluator(Protocol):
    """What the difference engines need of an evaluator of `f` near θ (`Evaluator` is one)."""

    @property
    def theta(self) -> np.ndarray:
        """θ, shape (n,): the point the moves start from."""
        ...

    @property
    def count(self) -> int:
        """How many parameter vectors `f` was evaluated at so far."""
        ...

    def at(self, points: np.ndarray) -> np.ndarray:
        """f at each row of `points`, shape (k, n) -> (k,)."""
        ...

    def along(
        self, index: np.ndarray, step: np.ndarray, *, imaginary: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """f(θ + step_i e_{index_i}) (``imaginary``: θ + i step_i e_{index_i}), and the steps taken.

        A value may be NaN: that step is unusable (Richardson then takes smaller ones).
        """
        ...


@runtime_checkable
class KinkEvaluator(FunctionEvaluator, Protocol):
    """An evaluator of a function with kinks that says which moves crossed one.

    ``along`` returns NaN for a move that crossed a kink, unless called with
    ``mark_crossings=False``; ``last_crossed`` holds the flags of its last
    call, one per move (`gradcheck.fd.perturbed`'s ROUGH and KINK bits).
    """

    @property
    def last_crossed(self) -> np.ndarray:
        """int8 flags, one per move of the last ``along``: which kinds of kink it crossed."""
        ...

    def along(
        self,
        index: np.ndarray,
        step: np.ndarray,
        *,
        imaginary: bool = False,
        mark_crossings: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `FunctionEvaluator.along`; NaN where a move crossed a kink (if `mark_crossings`)."""
        ...


class Evaluator:
    """Evaluates `f` at perturbations of θ, in batches when vectorized, and counts them.

    ``along(index, step)`` returns ``f(θ + step_i e_{index_i})`` for every i
    and the steps actually taken, ``(θ_j + step_i) - θ_j``; with
    ``imaginary=True`` the move is ``i step_i e_{index_i}`` and the values
    complex.  ``at(points)`` evaluates f at the rows of `points`; ``count``
    is the number of parameter vectors evaluated so far.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float``, or ``f(rows) -> values`` when `vectorized`.
    theta : ndarray, shape (n,)
        The point (float64, not modified).
    vectorized : bool
        Whether `f` takes a stack of parameter vectors, shape (k, n).
    max_batch : int or None
        At most this many vectors per call of a vectorized `f`; None: as
        many as fit in `CHUNK_BYTES`.

    Examples
    --------
    >>> import numpy as np
    >>> evaluate = Evaluator(np.sum, np.zeros(2), vectorized=False, max_batch=None)
    >>> evaluate.along(np.array([0, 1]), np.array([0.5, 0.25]))[0].tolist()
    [0.5, 0.25]
    """

    def __init__(self, f, theta: np.ndarray, *, vectorized: bool, max_batch: int | None):
        self.f, self.theta, self.vectorized = f, theta, vectorized
        self.max_batch = max_batch or max(1, CHUNK_BYTES // (16 * theta.size))
        self.count = 0

    def at_theta(self) -> float:
        """f(θ), checked: a finite real number."""
        value = self.at(self.theta[None, :])[0]
        if not np.isfinite(value):
            raise ValueError(f"`f` returned {value} at `theta`: the gradient is not defined there")
        return float(value)

    def at(self, points: np.ndarray) -> np.ndarray:
        """f at each row of `points`, shape (k, n) -> (k,)."""
        return self._evaluate(len(points), lambda part: points[part].copy(), complex_input=False)

    def along(
        self, index: np.ndarray, step: np.ndarray, *, imaginary: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """f(θ + step_i e_{index_i}) (or θ + i step_i e_{index_i}), and the steps taken."""
        theta = self.theta
        if imaginary:
            moved, taken = theta[index] + 1j * step, np.array(step, dtype=np.float64)
        else:
            moved = theta[index] + step
            taken = moved - theta[index]

        def rows(part: slice) -> np.ndarray:  # θ, with entry index[i] set to moved[i] in row i
            X = np.repeat(theta[None, :].astype(moved.dtype), len(moved[part]), axis=0)
            X[np.arange(len(X)), index[part]] = moved[part]
            return X

        return self._evaluate(index.size, rows, complex_input=imaginary), taken

    def _evaluate(self, k: int, rows: Callable[[slice], np.ndarray], *, complex_input: bool):
        values = np.empty(k, dtype=np.complex128 if complex_input else np.float64)
        for start in range(0, k, self.max_batch):
            part = slice(start, min(start + self.max_batch, k))
            X = rows(part)  # fresh: f may keep or alter it
            if self.vectorized:
                values[part] = self._batch(X, complex_input)
            else:
                values[part] = [_scalar(_call(self.f, x, complex_input), complex_input) for x in X]
        self.count += k
        return values

    def _batch(self, X: np.ndarray, complex_input: bool) -> np.ndarray:
        values = np.asarray(_call(self.f, X, complex_input))
        if values.shape != (len(X),):
            raise ValueError(
                f"`f` (vectorized) must return one value per row, shape ({len(X)},) for input "
                f"of shape {X.shape}, got shape {values.shape}"
            )
        return _check_kind(values, complex_input)


_ComplexWarning = getattr(np, "exceptions", np).ComplexWarning


def _call(f, x: np.ndarray, complex_input: bool) -> Any:
    """f(x); for complex x, any failure is the complex input's (f(θ) worked)."""
    if not complex_input:
        return f(x)
    try:
        with warnings.catch_warnings():
            # f casting to real drops Im
            warnings.simplefilter("error", _ComplexWarning)
            return f(x)
    except Exception as exc:
        raise TypeError(
            f"`f` does not support complex input (it raised {type(exc).__name__}: {exc}); "
            "use method='richardson'"
        ) from exc


def _scalar(value: Any, complex_input: bool) -> Any:
    """One value of f, checked: a number (a size-1 array will do), real unless complex input."""
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f"`f` must return a scalar, got shape {array.shape}")
    return _check_kind(array.reshape(()), complex_input)[()]


def _check_kind(values: np.ndarray, complex_input: bool) -> np.ndarray:
    """`values` as float64 (complex128 for complex input), or a clear error on the wrong kind."""
    kind = values.dtype.kind
    if kind not in "biufc":
        raise TypeError(f"`f` must return a number, got dtype {values.dtype}")
    if complex_input and kind != "c":
        raise TypeError(
            "`f` does not support complex input: it returned a real value for complex "
            "input (it drops the imaginary part); use method='richardson'"
        )
    if not complex_input and kind == "c":
        raise TypeError(f"`f` must return a real value for real input, got dtype {values.dtype}")
    return values.astype(np.complex128 if complex_input else np.float64)
