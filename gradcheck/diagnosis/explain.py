"""The likely causes of a failing trial, as `Cause` objects that never contradict the trial's evidence.

Three sources, in this order:

1. the catalogue (`gradcheck.diagnosis.diagnose`): the candidate equals a known bug's
   gradient, fitted constants and all; the strongest evidence there is;
2. the size of the difference: a tiny one (far above rounding, far below any
   slip of the four equations) is said first, with what usually causes it;
3. the article's logic (`gradcheck.diagnosis.localize.localize`): which equation, at
   which layer, from which blocks `dJ/dW^L`, `dJ/db^L` are right.

Every cause is then checked against the per-block verdicts
(`gradcheck.diagnosis.localize.contradicts`) and dropped if they rule it out; duplicates
go.  A catalogue match is an explanation on its own: the article's logic is
consulted only when no catalogue bug (or constant factor) fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradcheck.diagnosis.diagnose import diagnose
from gradcheck.diagnosis.localize import contradicts, localize
from gradcheck.results.causes import Cause
from gradcheck.results.report import BlockSummary
from gradcheck.tolerance.policy import TINY, diagnosis_rtol
from reference import Gradients, Network

__all__ = [
    "FEW_ENTRIES",
    "FEW_FRACTION",
    "block_verdicts",
    "explain_trial",
    "few_entries",
    "indexing_slip_text",
    "tiny_difference",
]


def block_verdicts(
    blocks: Sequence[BlockSummary], H: int
) -> tuple[list[bool], list[bool], dict[str, float]]:
    """Per layer, whether `dJ/dW^L` and `dJ/db^L` are right; and each block's relative error."""
    by_name = {b.name: b for b in blocks}
    W_ok = [by_name[f"W^{L}"].failing == 0 for L in range(H + 1)]
    b_ok = [by_name[f"b^{L}"].failing == 0 for L in range(H + 1)]
    errors = {b.name: b.relative_error for b in blocks if b.failing}
    return W_ok, b_ok, errors


def explain_trial(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    dtype: np.dtype,
    blocks: Sequence[BlockSummary],
) -> tuple[Cause, ...]:
    """The likely causes of a failing trial, most likely first (flat `candidate` and `reference`)."""
    rtol = diagnosis_rtol(dtype)  # rounding level for the candidate's dtype
    W_ok, b_ok, errors = block_verdicts(blocks, net.H)
    sizes = net.sizes
    matched = diagnose(
        Gradients.from_flat(candidate, sizes),
        net,
        X,
        Y,
        reference=Gradients.from_flat(reference, sizes),
        rtol=rtol,
    )
    # "only these blocks are wrong" is what `localize` says, by the article's logic
    causes = [m.cause() for m in matched if m.bug.name != "wrong_blocks"]
    if not causes:
        few = few_entries(blocks)
        size = max(errors.values(), default=0.0)
        if few is not None:
            causes.append(few)  # a smoothing constant moves every entry: not "tiny" then
        elif 0 < size < TINY:
            causes.append(tiny_difference(size))
        causes += localize(W_ok, b_ok, relative_errors=errors)
    return _consistent(causes, W_ok, b_ok)


#: At most this many wrong entries, and at most `FEW_FRACTION` of all, read as a slip in a few
#: cells (wording only: no verdict rests on it).
FEW_ENTRIES = 3
FEW_FRACTION = 0.1


def few_entries(blocks: Sequence[BlockSummary]) -> Cause | None:
    """A handful of wrong entries among many: an indexing slip, said first; None otherwise.

    A smoothing constant, a clip or a different cost moves every entry; a
    wrong index (off by one, a loop bound, one cell overwritten) moves one.
    """
    failing = sum(b.failing for b in blocks)
    total = sum(b.entries for b in blocks)
    if not 0 < failing <= min(FEW_ENTRIES, FEW_FRACTION * total):
        return None
    wrong = [b for b in blocks if b.failing]
    where = (
        wrong[0].worst_entry
        if failing == 1
        else ", ".join(f"{b.failing} in {b.name}, worst {b.worst_entry}" for b in wrong)
    )
    kinds = {b.name[0] for b in wrong}
    equation = {"W": "dJ/dW", "b": "dJ/db"}[kinds.pop()] if len(kinds) == 1 else None
    layers = tuple(sorted({int(b.name.split("^")[1]) for b in wrong}))
    text = indexing_slip_text(failing, total, where)
    return Cause(None, equation, layers, text, {"failing": failing, "entries": total})


def indexing_slip_text(failing: int, total: int, where: str) -> str:
    """The words for a handful of wrong entries among many (networks and layers alike)."""
    return (
        f"only {failing} of {total:,} entries {'is' if failing == 1 else 'are'} wrong ({where}): "
        "an indexing slip (an index off by one, a loop bound, one cell overwritten or "
        "skipped)? A smoothing constant, a clip or a different cost would move every entry. "
        "Fix: look at how the index of that entry is computed"
    )


def tiny_difference(relative_error: float) -> Cause:
    """A difference far above rounding but far below any slip: said with its size, first."""
    text = (
        f"the difference is tiny (relative error {relative_error:.1e}): far above rounding, "
        "but far below what a slip in the four equations gives (they change a gradient by "
        "O(1) relative). Usually a smoothing constant (an eps inside a log or a division), a "
        "clip, or a slightly different cost. Fix: if that is intended, check the candidate on "
        "its own terms by passing your cost as a custom reference.Cost (README: custom "
        "activations and costs)"
    )
    return Cause(None, None, (), text, {"relative_error": relative_error})


def _consistent(causes: Sequence[Cause], W_ok: list[bool], b_ok: list[bool]) -> tuple[Cause, ...]:
    """`causes` without those the per-block verdicts rule out, and without repeats."""
    kept: list[Cause] = []
    for cause in causes:
        if contradicts(cause, W_ok, b_ok):
            continue
        if any(cause.text == k.text for k in kept):
            continue
        if cause.bug is None and any(
            k.equation == cause.equation and k.layers == cause.layers and k.bug for k in kept
        ):
            continue  # a catalogue bug already names this equation and layer
        kept.append(cause)
    return tuple(kept)
