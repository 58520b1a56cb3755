"""Where a gradient is wrong, as data: per-block error maps, and the finite-difference step curve.

The pattern of the wrong entries is often the fastest clue:

- a whole column of `W^L` wrong: one unit's delta is wrong;
- a whole row wrong: one input's activation is wrong;
- everything off the diagonal of a square `W^L`: a transposition;
- every entry by the same factor: an averaging slip;
- a single cell: an indexing slip.

`error_maps` turns a candidate, the reference and the tolerances (plain flat
vectors in the order of NOTATION.md) into one `BlockMap` per block `W^L`,
`b^L`; `step_curve` computes the finite-difference V of one entry;
`trial_maps` does both jobs' plumbing for a candidate's gradient on one
network and batch, and `failing_trial_maps` is what the oracle keeps of a
failing trial (`TrialReport.maps`) for `gradcheck.html.page` to draw.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcheck.tolerance.compare import compare, rounding_tolerance
from gradcheck.validate import as_vector, check_flag, check_int, check_network
from reference import Network, ParameterLayout, backprop

if TYPE_CHECKING:
    from gradcheck.tolerance.compare import Comparison

__all__ = [
    "FD_BUDGET",
    "MAX_CELLS",
    "STEPS",
    "BlockMap",
    "EntryReport",
    "StepCurve",
    "TrialMaps",
    "error_maps",
    "failing_trial_maps",
    "step_curve",
    "trial_maps",
]

#: A block with more entries than this (64 x 64) is summarised by row and column maxima.
MAX_CELLS = 64 * 64
#: Worst entries kept per block (for the summary and the hover-free table).
WORST_PER_BLOCK = 8
#: Steps of the finite-difference V: 2^-1 .. 2^-40 times the entry's scale.
STEPS = 2.0 ** -np.arange(1, 41)
#: Differences of a network bigger than this (parameters x examples) are skipped in `trial_maps`.
FD_BUDGET = 2_000_000


@dataclass(frozen=True)
class EntryReport:
    """One entry of the gradient: candidate, reference and finite-difference values."""

    name: str  # W^L[m,n] or b^L[n]
    candidate: float
    reference: float
    finite_difference: float | None
    tolerance: float  # allowed |candidate - reference|
    excess: float  # |candidate - reference| / tolerance (> 1 fails)


@dataclass(frozen=True, eq=False)
class BlockMap:
    """Where one block `W^L` (M x N) or `b^L` (N) of one trial is wrong.

    Attributes
    ----------
    name : str
        ``"W^L"`` or ``"b^L"``.
    shape : tuple of int
        ``(M, N)`` or ``(N,)``.
    excess : ndarray, shape `shape`, or None
        ``|c - r| / tolerance`` per entry (> 1 fails); None when the block
        has more than `MAX_CELLS` entries and is summarised.
    candidate, reference, tolerance : ndarray, shape `shape`, or None
        The values behind each cell (None when summarised).
    finite_difference : ndarray, shape `shape`, or None
        The finite difference of each entry, when given.
    row_max : ndarray, shape (M,)
        Worst excess of each row (``b^L``: one row).
    col_max : ndarray, shape (N,)
        Worst excess of each column.
    worst : list of EntryReport
        The block's worst entries, worst first (at most `WORST_PER_BLOCK`).
    failing : int
        How many entries exceed their tolerance.
    """

    name: str
    shape: tuple[int, ...]
    excess: np.ndarray | None
    candidate: np.ndarray | None
    reference: np.ndarray | None
    tolerance: np.ndarray | None
    finite_difference: np.ndarray | None
    row_max: np.ndarray
    col_max: np.ndarray
    worst: list[EntryReport]
    failing: int

    @property
    def summarised(self) -> bool:
        """True when only the row and column maxima and the worst entries are kept."""
        return self.excess is None

    @property
    def entries(self) -> int:
        return math.prod(self.shape)

    def entry_name(self, m: int, n: int) -> str:
        """The name of cell (m, n): ``W^L[m,n]``, or ``b^L[n]`` (m = 0)."""
        return f"{self.name}[{m},{n}]" if len(self.shape) == 2 else f"{self.name}[{n}]"


@dataclass(frozen=True, eq=False)
class StepCurve:
    """The centred difference of one entry against its step: the V of finite differences.

    ``error = |(J(θ + h e_j) - J(θ - h e_j)) / 2h - reference|`` falls as
    `h^2` (truncation, right arm) until rounding, which grows as `1/h`,
    takes over (left arm).  A candidate far above the V's bottom is wrong
    by more than any step can explain.
    """

    name: str  # W^L[m,n] or b^L[n]
    steps: np.ndarray  # h, decreasing
    differences: np.ndarray  # the centred difference at each h
    reference: float
    candidate: float | None = None

    @property
    def errors(self) -> np.ndarray:
        """``|difference - reference|`` at each step."""
        return np.abs(self.differences - self.reference)


def error_maps(
    candidate_flat: Any,
    reference_flat: Any,
    tolerance_flat: Any,
    layout: ParameterLayout,
    *,
    finite_difference: Any = None,
    max_cells: int = MAX_CELLS,
) -> list[BlockMap]:
    """Per block `W^L`, `b^L`: ``|candidate - reference| / tolerance``, with the values behind it.

    Parameters
    ----------
    candidate_flat, reference_flat, tolerance_flat : array_like, shape (P,)
        Flat gradients in the order of NOTATION.md (``net.layout``) and the
        allowed ``|c - r|`` of each entry (non-negative; inf allowed).
    layout : reference.ParameterLayout
        How the flat vectors split into blocks (``net.layout``).
    finite_difference : array_like, shape (P,), optional
        The finite difference of each entry, shown on hover.
    max_cells : int
        Blocks with more entries keep only row and column maxima and their
        worst entries, so that a 1024 x 1024 layer stays a few kB.

    Returns
    -------
    list of BlockMap
        ``W^0, b^0, W^1, b^1, ...``

    Examples
    --------
    >>> from reference import Network
    >>> layout = Network.random([2, 3, 1]).layout
    >>> c = np.zeros(layout.size); c[4] = 1.0              # W^0[1,1] off
    >>> maps = error_maps(c, np.zeros(layout.size), np.full(layout.size, 0.1), layout)
    >>> [(m.name, m.failing) for m in maps]
    [('W^0', 1), ('b^0', 0), ('W^1', 0), ('b^1', 0)]
    >>> maps[0].excess
    array([[ 0.,  0.,  0.],
           [ 0., 10.,  0.]])
    """
    c, r, tol, fd = _validated_maps(
        candidate_flat, reference_flat, tolerance_flat, layout, finite_difference, max_cells
    )
    excess = compare(c, r, tol).excess  # the oracle's own ratio: one quantity, one definition
    maps = []
    for name, block, shape in layout.blocks:
        grid = (1, shape[0]) if len(shape) == 1 else shape
        e = excess[block].reshape(grid)
        order = np.argsort(-e, axis=None, kind="stable")[:WORST_PER_BLOCK]
        worst = [
            EntryReport(
                name=layout.name(block.start + int(k)),
                candidate=float(c[block][k]),
                reference=float(r[block][k]),
                finite_difference=None if fd is None else float(fd[block][k]),
                tolerance=float(tol[block][k]),
                excess=float(e.flat[k]),
            )
            for k in order
        ]
        small = e.size <= max_cells

        maps.append(
            BlockMap(
                name=name,
                shape=tuple(shape),
                excess=e.reshape(shape).copy() if small else None,
                candidate=_values(c, block, shape, small),
                reference=_values(r, block, shape, small),
                tolerance=_values(tol, block, shape, small),
                finite_difference=_values(fd, block, shape, small),
                row_max=e.max(axis=1),
                col_max=e.max(axis=0),
                worst=worst,
                failing=int((~(e <= 1.0)).sum()),
            )
        )
    return maps


def trial_maps(
    net: Network,
    X: Any,
    Y: Any,
    candidate: Any,
    *,
    finite_differences: bool = True,
) -> list[BlockMap]:
    """`error_maps` of a candidate's gradient on one network and batch, with the oracle's tolerances.

    The reference is `reference.backprop`; the tolerance is the oracle's
    (rounding in float64, plus rounding in the candidate's dtype when that is
    narrower); the finite differences (`network_numerical_gradient`) are
    computed when `finite_differences` and the network is small enough.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    candidate : Gradients or array_like, shape (P,)
        The candidate's gradient, flat in the order of NOTATION.md or as
        `Gradients` (anything with ``.flat()``).

    Examples
    --------
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> g = backprop(net, X, Y).flat(); g[0] *= 2                     # W^0[0,0] doubled
    >>> [m.failing for m in trial_maps(net, X, Y, g)]
    [1, 0, 0, 0]
    """
    from gradcheck.fd.network import network_numerical_gradient

    check_network(net)
    check_flag(finite_differences, "finite_differences")
    X, Y = net.check_data(X, Y)
    flat = (
        candidate.flat() if hasattr(candidate, "flat") and callable(candidate.flat) else candidate
    )
    c = as_vector(flat, "candidate")
    if c.shape != (net.layout.size,):
        raise ValueError(
            f"`candidate` has {c.size} entries but the network {list(net.sizes)} has "
            f"{net.layout.size} parameters"
        )
    tolerance = rounding_tolerance(net, X, Y, np.float64)
    if c.dtype != np.float64:
        tolerance = tolerance + rounding_tolerance(net, X, Y, c.dtype)
    fd = None
    if finite_differences and net.layout.size * X.shape[0] <= FD_BUDGET:
        fd = network_numerical_gradient(net, X, Y).flat()
    reference = backprop(net, X, Y).flat()
    return error_maps(c.astype(np.float64), reference, tolerance, net.layout, finite_difference=fd)


def step_curve(
    net: Network,
    X: Any,
    Y: Any,
    entry: int | str,
    *,
    candidate: float | None = None,
    steps: Any = None,
) -> StepCurve:
    """The centred difference of one gradient entry at steps 2^-1 .. 2^-40 (times its scale).

    Parameters
    ----------
    net : reference.Network
    X, Y : array_like
        The batch.
    entry : int or str
        A flat index or a name in the notation (``"W^1[3,0]"``, ``"b^2[4]"``).
    candidate : float, optional
        The candidate's value of that entry (drawn as a horizontal line).
    steps : array_like, optional
        The steps `h` (positive); default ``STEPS * max(1, |θ_j|)``.

    Examples
    --------
    >>> from reference import Network
    >>> net = Network.random([2, 3, 1], seed=0)
    >>> curve = step_curve(net, np.ones((4, 2)), np.zeros((4, 1)), "W^0[1,2]")
    >>> curve.name, bool(curve.errors.min() < 1e-9 * abs(curve.reference))
    ('W^0[1,2]', True)
    """
    check_network(net)
    X, Y = net.check_data(X, Y)
    layout = net.layout
    j = _flat_index(entry, layout)
    theta = net.flat()
    if steps is None:
        h = STEPS * max(1.0, abs(float(theta[j])))
    else:
        h = as_vector(steps, "steps").astype(np.float64)
        if not np.all(np.isfinite(h) & (h > 0)):
            raise ValueError("`steps` must be positive and finite")
    differences = np.empty(h.size)
    for k, step in enumerate(h):
        plus, minus = theta.copy(), theta.copy()
        plus[j] += step
        minus[j] -= step
        differences[k] = (net.cost(X, Y, theta=plus) - net.cost(X, Y, theta=minus)) / (
            plus[j] - minus[j]
        )  # the step actually taken, after rounding θ_j + h
    reference = float(backprop(net, X, Y).flat()[j])
    value = None if candidate is None else float(candidate)
    return StepCurve(layout.name(j), h, differences, reference, value)


@dataclass(frozen=True, eq=False)
class TrialMaps:
    """What the HTML page draws of one failing trial, kept on its `TrialReport` (``.maps``).

    Attributes
    ----------
    blocks : tuple of BlockMap
        `error_maps` of the candidate against the reference: ``W^0, b^0, W^1, ...``
    step_curve : StepCurve or None
        The worst entry's finite-difference V, when the differences were taken
        entry by entry (None along directions, or when no entry fails against
        the reference).
    equation_table : str or None
        The equation-by-equation table, when the candidate returned its deltas.
    """

    blocks: tuple[BlockMap, ...]
    step_curve: StepCurve | None = None
    equation_table: str | None = None


def failing_trial_maps(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    vs_reference: Comparison,
    *,
    finite_differences: np.ndarray | None,
    equation_table: str | None = None,
) -> TrialMaps:
    """The maps of one failing trial, from the oracle's own comparison (no gradient recomputed).

    Parameters
    ----------
    net : reference.Network
    X : ndarray, shape (d, n_in)
    Y : ndarray, shape (d, n_H)
    vs_reference : gradcheck.tolerance.compare.Comparison
        The candidate against the reference, flat, with the oracle's tolerances.
    finite_differences : ndarray, shape (P,), or None
        Entry-by-entry finite differences (None when taken along directions:
        then there is no step curve either, since no entry was differenced).
    equation_table : str, optional
        The equation-by-equation table (``str(EquationReport)``).

    Examples
    --------
    >>> from gradcheck import trial_case
    >>> net, X, Y = trial_case([2, 3, 1], 4, seed=0)
    >>> r = backprop(net, X, Y).flat()
    >>> c = r.copy(); c[0] += 1.0
    >>> maps = failing_trial_maps(net, X, Y, compare(c, r, np.full(r.size, 1e-9)),
    ...                           finite_differences=r)
    >>> [b.failing for b in maps.blocks], maps.step_curve.name
    ([1, 0, 0, 0], 'W^0[0,0]')
    """
    c, r, tol = vs_reference.candidate, vs_reference.expected, vs_reference.tolerance
    blocks = error_maps(c, r, tol, net.layout, finite_difference=finite_differences)
    curve = None
    if finite_differences is not None and vs_reference.failing.size:
        worst = int(vs_reference.failing[0])
        curve = step_curve(net, X, Y, worst, candidate=float(c[worst]))
    return TrialMaps(tuple(blocks), curve, equation_table)


def _values(
    v: np.ndarray | None, block: slice, shape: tuple[int, ...], kept: bool
) -> np.ndarray | None:
    return None if v is None or not kept else v[block].reshape(shape).copy()


def _flat_index(entry: Any, layout: ParameterLayout) -> int:
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
        j = int(entry)
        if not 0 <= j < layout.size:
            raise ValueError(f"`entry` {j} is out of range for {layout.size} parameters")
        return j
    if isinstance(entry, str):
        match = re.fullmatch(r"\s*([Wb])\^(\d+)\[(\d+)(?:,\s*(\d+))?\]\s*", entry)
        for name, block, shape in layout.blocks:
            if match and name == f"{match[1]}^{match[2]}":
                index = tuple(int(g) for g in match.groups()[2:] if g is not None)
                if len(index) == len(shape) and all(i < s for i, s in zip(index, shape)):
                    return block.start + int(np.ravel_multi_index(index, shape))
        raise ValueError(
            f"`entry` {entry!r} names no entry of a network of sizes {list(layout.sizes)}; "
            "use W^L[m,n] or b^L[n], e.g. 'W^0[0,0]'"
        )
    raise TypeError(f"`entry` must be a flat index or a name like 'W^0[1,2]', got {entry!r}")


def _validated_maps(candidate, reference, tolerance, layout, finite_difference, max_cells):
    if not isinstance(layout, ParameterLayout):
        raise TypeError(
            f"`layout` must be a reference.ParameterLayout (net.layout), got {type(layout).__name__}"
        )
    check_int(max_cells, "max_cells", low=1)
    arrays = []
    for name, value in (
        ("candidate_flat", candidate),
        ("reference_flat", reference),
        ("tolerance_flat", tolerance),
        ("finite_difference", finite_difference),
    ):
        if value is None and name == "finite_difference":
            arrays.append(None)
            continue
        array = as_vector(value, name).astype(np.float64)
        if array.shape != (layout.size,):
            raise ValueError(
                f"`{name}` has shape {array.shape} but the layout of sizes {list(layout.sizes)} "
                f"has {layout.size} parameters"
            )
        arrays.append(array)
    tol = arrays[2]
    bad = np.flatnonzero(~(tol >= 0))
    if bad.size:
        raise ValueError(
            f"`tolerance_flat` must be non-negative (inf allowed), got {tol[bad[0]]} "
            f"at {layout.name(int(bad[0]))}"
        )
    return tuple(arrays)
