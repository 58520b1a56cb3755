"""Footprints: which outputs of a vector-valued `f` each input entry reaches, measured from `f`.

The footprint of entry `j` is the set of outputs that change when `x_j` changes.
One entry's is measured by a probe (`probe`): `x_j` set to NaN (every output
computed from it turns NaN, whatever the function: a superset of the outputs it
reaches, unless `f` drops NaN on purpose), joined with the outputs that move
at all when `x_j` takes a step (for an `f` that hides NaN, `np.where(x > 0, x, 0)`).

Probing every entry would cost one evaluation each, so `hypothesise` probes a
few: per input array, its middle entry and one neighbour along each axis.  Each
axis is then read as *shared* (the neighbour reaches the same outputs: a
convolution's input channel, an affine layer's output column for `x`) or as a
*shift* by a fixed output offset (the next image of a batch, the next pixel of
a convolution, clipped at the borders as padding clips it), and every entry's
footprint follows from the middle one's, shifted.  An input whose probes fit
neither reading gets the *dense* footprint: every output.

That is a hypothesis: it only decides which entries `gradcheck.fd.grouped`
moves together.  The grouped differences verify every group from `f` itself
(`nan_reach` of the whole group, and the differences themselves), so a
footprint wider than hypothesised costs evaluations, never a verdict.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from gradcheck.fd.steps import default_step, within_sign

__all__ = ["Footprints", "hypothesise", "nan_reach", "probe"]

VectorF = Callable[[np.ndarray], np.ndarray]


def nan_reach(f_vec: VectorF, theta: np.ndarray, entries: np.ndarray, m: int) -> np.ndarray | None:
    """The outputs (of `m`) that are not finite when the `entries` of `theta` are NaN, as a
    boolean mask; None when `f` refuses NaN (raises) or returns another number of outputs."""
    point = theta.copy()
    point[entries] = np.nan
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.asarray(f_vec(point), dtype=float)
    except Exception:  # a function that validates its input: no NaN probe, the differences decide
        return None
    return ~np.isfinite(values) if values.shape == (m,) else None


def probe(f_vec: VectorF, theta: np.ndarray, f0: np.ndarray, j: int) -> np.ndarray:
    """The measured footprint of entry `j` (a boolean mask over the outputs): NaN reach, joined
    with the outputs that move when `theta_j` takes a step."""
    point = theta.copy()
    step = within_sign(theta[j : j + 1], default_step(theta[j : j + 1], "richardson"))
    point[j] += step[0]
    with np.errstate(all="ignore"):
        moved = np.asarray(f_vec(point), dtype=float) != f0
    reach = nan_reach(f_vec, theta, np.array([j]), f0.size)
    return moved if reach is None else moved | reach


class Footprints:
    """Hypothesised footprints of the entries of a flat `theta` made of several input arrays.

    ``of(j)`` returns the flat output indices of entry `j`, or None for the dense footprint
    (every output).  Per input: None (dense), or the middle entry's output coordinates and
    the output offset per input axis.
    """

    def __init__(
        self,
        out_shape: tuple[int, ...],
        shapes: Sequence[tuple[int, ...]],
        rules: Sequence[tuple[tuple[int, ...], np.ndarray, np.ndarray] | None],
    ) -> None:
        self.out_shape, self.shapes, self.rules = tuple(out_shape), list(shapes), list(rules)
        sizes = [int(np.prod(s, dtype=int)) for s in shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)

    def of(self, j: int) -> np.ndarray | None:
        k = int(np.searchsorted(self.offsets, j, side="right")) - 1
        rule = self.rules[k]
        if rule is None:
            return None
        middle, coords, shifts = rule
        index = np.array(np.unravel_index(j - self.offsets[k], self.shapes[k]))
        moved = coords + (index - np.array(middle)) @ shifts
        inside = np.all((moved >= 0) & (moved < np.array(self.out_shape)), axis=1)
        return np.ravel_multi_index(tuple(moved[inside].T), self.out_shape)

    def each(self) -> list[np.ndarray | None]:
        """`of(j)` for every entry, computed per input at once."""
        found: list[np.ndarray | None] = []
        for shape, rule in zip(self.shapes, self.rules, strict=True):
            size = int(np.prod(shape, dtype=int))
            if rule is None:
                found.extend([None] * size)
                continue
            middle, coords, shifts = rule
            index = np.indices(shape).reshape(len(shape), -1).T
            moved = coords[None] + ((index - np.array(middle)) @ shifts)[:, None, :]
            inside = np.all((moved >= 0) & (moved < np.array(self.out_shape)), axis=2)
            flat = np.ravel_multi_index(
                tuple(np.moveaxis(moved, 2, 0)), self.out_shape, mode="clip"
            )
            found.extend(row[keep] for row, keep in zip(flat, inside, strict=True))
        return found

    def dense(self) -> bool:
        """Whether every input got the dense footprint: nothing to group."""
        return all(rule is None for rule in self.rules)


def hypothesise(
    f_vec: VectorF,
    theta: np.ndarray,
    f0: np.ndarray,
    shapes: Sequence[tuple[int, ...]],
    out_shape: tuple[int, ...],
) -> Footprints:
    """Probe each input's middle entry and a neighbour along each axis; read the axes as shared
    or shifting (see the module docstring).  About ``2 (1 + axes)`` evaluations per input."""
    rules = []
    start = 0
    for shape in shapes:
        rules.append(_rule(f_vec, theta, f0, shape, start, tuple(out_shape)))
        start += int(np.prod(shape, dtype=int))
    return Footprints(out_shape, shapes, rules)


def _rule(f_vec, theta, f0, shape, start, out_shape):
    middle = tuple(s // 2 for s in shape)
    base = probe(f_vec, theta, f0, start + _flat(middle, shape)).reshape(out_shape)
    if not base.any() or base.all():
        return None  # reaches nothing (no structure to read) or everything: dense
    shifts = np.zeros((len(shape), len(out_shape)), dtype=int)
    for axis, size in enumerate(shape):
        if size == 1:
            continue
        sign = 1 if middle[axis] + 1 < size else -1
        near = list(middle)
        near[axis] += sign
        seen = probe(f_vec, theta, f0, start + _flat(tuple(near), shape)).reshape(out_shape)
        offset = _offset(base, seen)
        if offset is None:
            return None
        shifts[axis] = sign * offset
    return middle, np.argwhere(base), shifts


def _flat(index: tuple[int, ...], shape: tuple[int, ...]) -> int:
    return int(np.ravel_multi_index(index, shape)) if shape else 0


def _offset(base: np.ndarray, seen: np.ndarray) -> np.ndarray | None:
    """The output offset that carries `base` onto `seen` (clipped at the borders), or None."""
    if np.array_equal(base, seen):
        return np.zeros(base.ndim, dtype=int)
    if not seen.any():
        return None
    a, b = np.argwhere(base), np.argwhere(seen)
    per_axis = [
        sorted({int(b[:, i].min() - a[:, i].min()), int(b[:, i].max() - a[:, i].max())})
        for i in range(base.ndim)
    ]
    for offset in itertools.product(*per_axis):
        moved = a + np.array(offset)
        inside = np.all((moved >= 0) & (moved < np.array(base.shape)), axis=1)
        shifted = np.zeros_like(base)
        shifted[tuple(moved[inside].T)] = True
        if np.array_equal(shifted, seen):
            return np.array(offset, dtype=int)
    return None
