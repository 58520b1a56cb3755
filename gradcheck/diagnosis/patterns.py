"""The pattern of a layer's wrong entries, named: a factor, the sign, zeros, one entry or every
entry, the border, one channel or row, a transposition, two inputs' gradients swapped.

`check_vjp` hands each differentiated input's entries as an `InputMap` (candidate,
finite differences, bounds, failing and kink masks) under the cotangent where the
input fares worst; `pattern_causes` reads them and returns `Cause` objects, in the
network diagnosis's words where they apply (one entry wrong reads as in
`gradcheck.diagnosis.explain`, whose sentence it shares; constants print as in
`gradcheck.diagnosis.diagnose`).

What is named, per input:

- *what* the wrong entries are: ``k`` times the finite differences (a least-squares
  fit on the wrong entries, named only if every one of them agrees within its
  bound), the sign (k = -1), all zeros (never computed); the transpose of the
  differences (a square 2-D input); another input's differences (its gradient
  returned for this one, same shape, same cotangent);
- *where* they are: every entry, one entry (an indexing slip), only the border of
  a spatial input (within 1 or 2 of its edges, an edge line wholly wrong, the
  interior right), one slice along an axis (a channel, a row, a column).

Never a pattern the entries contradict: an entry that disagrees with a fitted
factor rules the factor out; a pattern needs its own evidence (a factor at least
two wrong entries; a border or a slice the share of entries said below); and
every cotangent must read the same pattern (a slip belongs to the backward, not
to one cotangent).  Kink entries take no part.  A correct input (no wrong
entry) gets nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.diagnosis.diagnose import number_text
from gradcheck.diagnosis.explain import FEW_ENTRIES, indexing_slip_text
from gradcheck.results.causes import Cause
from gradcheck.results.vjp_report import InputMap
from gradcheck.tolerance.policy import NAMED_CONSTANT_RTOL

__all__ = ["BORDER_WIDTHS", "SLICE_COVER", "input_causes", "pattern_causes"]

#: How deep a border band may be (a padding of 1 or 2, a kernel of 3 or 5): wording only.
BORDER_WIDTHS = (1, 2)
#: One slice (a channel, a row) is named when it holds every wrong entry and at least this share
#: of its own entries is wrong: two entries that merely share a row are no wrong row (wording only).
SLICE_COVER = 0.5

_FIXES = {
    "factor": "look for the constant factor in the lines computing it (a missing or extra 1/N, "
    "a 2, a learning rate)",
    "sign": "look for a minus sign: a difference written the other way round (y - x for x - y), "
    "or a negated term",
    "zeros": "look for the loop or the assignment that should fill these entries (a loop range "
    "one short, a gradient initialised to zeros and never written)",
    "every": "every entry is off, and by no single factor: derive the backward again from the "
    "forward, term by term",
    "border": "look at the padding and the stride in the backward: the loop over output "
    "positions must reach the last one, and the padded gradient must be cropped by the padding "
    "the forward used",
    "slice": "look at the lines that index that slice: a loop range, an index, a sum or a "
    "broadcast over the wrong axis",
    "transposed": "check the order of the product that computes it (x.T @ dout, not dout.T @ x) "
    "or a .T too many",
    "swapped": "return the gradients in the order of the inputs, and check which input each "
    "line differentiates by",
}


@dataclass(frozen=True)
class _Where:
    """Where the wrong entries are, in words: a phrase after the verb, a label, the evidence."""

    pattern: str  # "every", "border", "slice"
    phrase: str
    label: str
    evidence: dict[str, Any] = field(default_factory=dict)


def pattern_causes(
    maps: Sequence[InputMap], under: Sequence[Sequence[InputMap]]
) -> tuple[Cause, ...]:
    """The named patterns of every input's wrong entries, input by input; () for a correct layer.

    A pattern is read under the cotangent where the input fares worst and kept only if every
    other cotangent shows the same (the same factor, the same entries, the same slice): a slip
    is a property of the backward, not of one cotangent, and a cotangent that disagrees is
    evidence against it. A cotangent under which nothing is wrong agrees with a transposition
    where the transpose fits it too (a transposed `dW = x.T @ dout` is right wherever that
    product happens to be symmetric).

    Parameters
    ----------
    maps : sequence of InputMap
        Each differentiated input under the cotangent where it fares worst.
    under : sequence of sequences of InputMap
        ``under[c]``: every differentiated input under cotangent `c`, in the order of `maps`.

    Returns
    -------
    tuple of Cause
        Swapped gradients said once for the pair.
    """
    causes: list[Cause] = []
    pairs: set[frozenset[str]] = set()
    for k, entry_map in enumerate(maps):
        readings = [(under[c][k], _causes_under(under[c], k)) for c in range(len(under))]
        for cause in _causes_under(under[entry_map.cotangent], k):
            if not all(_consistent(cause, m, found) for m, found in readings):
                continue  # a cotangent that reads otherwise contradicts it
            if cause.evidence.get("pattern") == "swapped":
                pair = frozenset(cause.evidence["inputs"])
                if pair in pairs:
                    continue
                pairs.add(pair)
            causes.append(cause)
    return tuple(causes)


def _causes_under(inputs: Sequence[InputMap], k: int) -> list[Cause]:
    """Input `k`'s causes under one cotangent, the other inputs under it beside."""
    return input_causes(inputs[k], [o for j, o in enumerate(inputs) if j != k])


#: Evidence that must agree between cotangents for a pattern to stand (k: within
#: NAMED_CONSTANT_RTOL; the rest exactly).
_STABLE = ("pattern", "where", "axis", "index", "edges", "wrong", "inputs")


def _consistent(cause: Cause, m: InputMap, found: Sequence[Cause]) -> bool:
    """Whether one cotangent's map `m` (read as `found`) bears `cause` out."""
    if any(_same(cause, other) for other in found):
        return True
    nothing_wrong = not (m.failing & ~m.kinks).any()
    return nothing_wrong and cause.evidence.get("pattern") == "transposed" and _fits_transpose(m)


def _same(a: Cause, b: Cause) -> bool:
    """Whether two cotangents' readings name the same pattern (the same k, entries, slice)."""
    if any(a.evidence.get(key) != b.evidence.get(key) for key in _STABLE):
        return False
    ka, kb = a.evidence.get("k"), b.evidence.get("k")
    if ka is None or kb is None:
        return ka is kb
    return abs(ka - kb) <= NAMED_CONSTANT_RTOL * max(abs(ka), abs(kb))


def input_causes(entry_map: InputMap, others: Sequence[InputMap] = ()) -> list[Cause]:
    """The named pattern of one input's wrong entries (at most one cause); [] when none is wrong.

    `others`: the other inputs under the same cotangent (for the swapped-input test).
    """
    m = entry_map
    wrong = m.failing & ~m.kinks
    n = int(wrong.sum())
    if n == 0:
        return []
    partner = _swapped_with(m, wrong, others)
    if partner is not None:
        return [_swapped_cause(m, partner, n)]
    if _transposed(m, wrong):
        return [_transposed_cause(m, n)]
    if n == 1:
        return [_indexing_cause(m, wrong)]
    k = _factor(m, wrong)
    where = _where(m, wrong, k)
    if k is None and where is None:
        return [_indexing_cause(m, wrong)] if n <= FEW_ENTRIES else []
    return [_pattern_cause(m, n, k, where)]


def _agrees(values: np.ndarray, predicted: np.ndarray, bound: np.ndarray) -> bool:
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(values - predicted) <= bound))


def _factor(m: InputMap, wrong: np.ndarray) -> float | None:
    """`k` with candidate = k x differences on every wrong entry (each within (1 + |k|) x its
    bound: the differences' error, scaled); None when one entry disagrees."""
    c, r = m.candidate[wrong], m.numerical[wrong]
    if c.size < 2 or not np.isfinite(c).all():
        return None
    scale = float(np.abs(r).max())
    if scale == 0:
        return None
    k = float(np.vdot(c / scale, r / scale) / np.vdot(r / scale, r / scale))
    return k if _agrees(c, k * r, (1 + abs(k)) * m.bound[wrong]) else None


def _transposed(m: InputMap, wrong: np.ndarray) -> bool:
    """A square 2-D input whose every entry is the transpose's difference (the diagonal right)."""
    return wrong.sum() >= 2 and _fits_transpose(m)


def _fits_transpose(m: InputMap) -> bool:
    """A square 2-D input whose candidate is the transpose of its differences, entry by entry."""
    if len(m.shape) != 2 or m.shape[0] != m.shape[1]:
        return False
    ok = ~m.kinks & ~m.kinks.T
    return _agrees(m.candidate[ok], m.numerical.T[ok], (m.bound + m.bound.T)[ok])


def _swapped_with(m: InputMap, wrong: np.ndarray, others: Sequence[InputMap]) -> InputMap | None:
    """The other input (same shape, same cotangent) whose differences this one's candidate is."""
    for other in others:
        if other.shape != m.shape or other.cotangent != m.cotangent:
            continue
        ok = ~m.kinks & ~other.kinks
        if (wrong & ok).any() and _agrees(
            m.candidate[ok], other.numerical[ok], (m.bound + other.bound)[ok]
        ):
            return other
    return None


def _where(m: InputMap, wrong: np.ndarray, k: float | None) -> _Where | None:
    """Every entry, the border of a spatial input, or one slice; None when none holds."""
    usable = ~m.kinks
    agreeing = usable
    if k is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            fits = np.abs(m.candidate - k * m.numerical) <= (1 + abs(k)) * m.bound
        agreeing = usable & fits
    if np.array_equal(wrong, usable) or (k is not None and np.array_equal(agreeing, usable)):
        return _Where("every", "at every entry", "")
    return _border(m, wrong) or _slice(m, wrong)


def _spatial_axes(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of a spatial input's plane: (H, W) of (N, C, H, W); L of (N, C, L)."""
    if len(shape) >= 4:
        return (len(shape) - 2, len(shape) - 1)
    return (2,) if len(shape) == 3 else ()


def _along(axis: int, ndim: int, flags: np.ndarray) -> np.ndarray:
    """`flags` (one per index of `axis`) shaped to broadcast against the input."""
    shape = [1] * ndim
    shape[axis] = flags.size
    return flags.reshape(shape)


def _border(m: InputMap, wrong: np.ndarray) -> _Where | None:
    """Every wrong entry within `w` of the plane's edges, the interior right, and one example's
    whole edge (over its channels and the edge's length) wrong: a padding or stride slip."""
    axes, ndim = _spatial_axes(m.shape), len(m.shape)
    for w in BORDER_WIDTHS if axes else ():
        band = np.zeros(m.shape, dtype=bool)
        for a in axes:
            index = np.arange(m.shape[a])
            band = band | _along(a, ndim, (index < w) | (index >= m.shape[a] - w))
        if not (~band & ~m.kinks).any():
            return None  # no interior left at this width: a border cannot be told apart
        if (wrong & ~band).any():
            continue
        sides = _wrong_edges(m, wrong, axes, w)
        if not sides:
            return None
        plane = " × ".join(str(m.shape[a]) for a in axes)
        n = int(wrong.sum())
        return _Where(
            "border",
            f"only within {w} entr{'y' if w == 1 else 'ies'} of the border of its {plane} plane "
            f"({', '.join(sides)}; "
            f"{n} of {m.entries} entries, the interior right)",
            "a padding or stride slip",
            {"width": w, "edges": sides},
        )
    return None


def _wrong_edges(m: InputMap, wrong: np.ndarray, axes: tuple[int, ...], w: int) -> list[str]:
    """The edges (``"right edge"``, ...) with a line wholly wrong in one example (every channel,
    the edge's whole length, at least two wrong entries)."""
    names = {len(m.shape) - 1: ("left", "right"), len(m.shape) - 2: ("top", "bottom")}
    if len(axes) == 1:
        names = {axes[0]: ("start", "end")}
    settled = wrong | m.kinks
    edges = []
    for a in axes:
        for name, edge in zip(names[a], (range(w), range(m.shape[a] - w, m.shape[a]))):
            for i in edge:
                line = np.take(settled, i, axis=a).reshape(m.shape[0], -1).all(axis=1)
                has = np.take(wrong, i, axis=a).reshape(m.shape[0], -1).sum(axis=1) >= 2
                if (line & has).any():
                    edges.append(f"{name} edge")
                    break
    return edges


def _slice(m: InputMap, wrong: np.ndarray) -> _Where | None:
    """Every wrong entry in one slice along an axis, and at least `SLICE_COVER` of it wrong."""
    ndim, best = len(m.shape), None
    positions = np.nonzero(wrong)
    for a in range(ndim if ndim >= 2 else 0):
        indices = np.unique(positions[a])
        if m.shape[a] < 2 or indices.size != 1:
            continue
        i = int(indices[0])
        usable = int(np.take(~m.kinks, i, axis=a).sum())
        cover = int(np.take(wrong, i, axis=a).sum()) / max(usable, 1)
        if cover >= SLICE_COVER and (best is None or cover > best[2]):
            best = (a, i, cover)
    if best is None:
        return None
    a, i, _ = best
    word = _axis_word(ndim, a)
    index = ",".join(str(i) if axis == a else ":" for axis in range(ndim))
    n = int(wrong.sum())
    return _Where(
        "slice",
        f"only in {word} {i} (`{m.name}[{index}]`; {n} of {m.entries} entries, the rest right)",
        f"a slip in one {word}",
        {"axis": a, "index": i},
    )


def _axis_word(ndim: int, axis: int) -> str:
    """What one index along `axis` is called: a row or column of a matrix, a channel, ..."""
    if ndim == 2:
        return ("row", "column")[axis]
    if axis == 1:
        return "channel"
    if ndim >= 4 and axis >= ndim - 2:
        return ("row", "column")[axis - ndim + 2]
    return f"slice along axis {axis}"


def _cause(m: InputMap, text: str, fix: str, evidence: dict[str, Any]) -> Cause:
    return Cause(None, None, (), f"{text} Fix: {fix}", {"input": m.name, **evidence})


def _pattern_cause(m: InputMap, n: int, k: float | None, where: _Where | None) -> Cause:
    """A sentence of what the wrong entries are and where, labelled, with the fix."""
    if k is None:
        what, what_label = "is wrong, by no constant factor,", "the formula, not an index"
        kind = where.pattern if where else "every"
    elif k == 0 and not np.any(m.candidate[m.failing & ~m.kinks]):
        what, what_label, kind = "is all zeros", "never computed", "zeros"
    elif abs(k + 1) <= NAMED_CONSTANT_RTOL:
        what, what_label, kind = "has the wrong sign (k = -1)", "a minus sign", "sign"
    else:
        what = f"is k times the finite differences (k = {number_text(k)})"
        what_label, kind = "a constant factor", "factor"
    phrase = where.phrase if where else f"at {n} of {m.entries} entries, the others right"
    labels = [label for label in (where.label if where else "", what_label) if label]
    if where is not None and where.pattern != "every" and k is None:
        labels = [where.label]  # "by no constant factor" says all there is of the values
    fix = _FIXES[where.pattern if where and where.pattern != "every" else kind]
    # the pattern: what the values are (a factor, the sign, zeros), else where the wrong ones are
    evidence: dict[str, Any] = {"pattern": kind, "failing": n, "entries": m.entries}
    evidence["cotangent"] = m.cotangent
    if where is not None:
        evidence.update(where=where.pattern, **where.evidence)
    if k is not None:
        evidence["k"] = k
    text = f"the gradient of `{m.name}` {what} {phrase}: {', '.join(labels)}?"
    return _cause(m, text, fix, evidence)


def _indexing_cause(m: InputMap, wrong: np.ndarray) -> Cause:
    """One entry (or a handful) wrong: named, in the network diagnosis's words."""
    indices = list(zip(*np.nonzero(wrong), strict=True))
    names = ", ".join(m.entry_name(tuple(int(i) for i in index)) for index in indices)
    text = indexing_slip_text(len(indices), m.entries, names)
    evidence = {"input": m.name, "pattern": "indexing", "failing": len(indices)}
    evidence.update(entries=m.entries, cotangent=m.cotangent, wrong=names)
    return Cause(None, None, (), text, evidence)


def _transposed_cause(m: InputMap, n: int) -> Cause:
    M, N = m.shape
    text = (
        f"the gradient of `{m.name}` is transposed: it equals the transpose of the finite "
        f"differences ({n} of {m.entries} entries wrong, the diagonal right; a square weight, "
        f"{M} × {N}, so the shape could not tell)"
    )
    evidence = {"pattern": "transposed", "failing": n, "entries": m.entries}
    return _cause(m, text, _FIXES["transposed"], {**evidence, "cotangent": m.cotangent})


def _swapped_cause(m: InputMap, other: InputMap, n: int) -> Cause:
    wrong_other = other.failing & ~other.kinks
    both = wrong_other.any() and _swapped_with(other, wrong_other, [m]) is not None
    if both:
        text = (
            f"the gradients of `{m.name}` and `{other.name}` are swapped: each equals the "
            f"other's finite differences (both of shape {m.shape}): the backward returns them "
            "in the wrong order, or differentiates by the other input?"
        )
    else:
        text = (
            f"the gradient of `{m.name}` is `{other.name}`'s: it equals the finite differences "
            f"of `{other.name}` (same shape {m.shape}; {n} of {m.entries} entries wrong): the "
            "backward of the layer with its inputs swapped?"
        )
    evidence = {"pattern": "swapped", "inputs": [m.name, other.name], "both": bool(both)}
    return _cause(m, text, _FIXES["swapped"], {**evidence, "cotangent": m.cotangent})
