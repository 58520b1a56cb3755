"""Recognising known bugs from a mismatch: which bug of `gradcheck.diagnosis.bugs` a wrong gradient shows.

The method: compute the reference gradient *with* each known bug on purpose
and keep the bugs whose gradient the candidate equals to rounding. When none
does, cheaper explanations follow: the candidate is a constant times the
reference (or times a bug's gradient), some blocks are scaled, or only some
blocks are wrong (the biases, the weights, one layer).

    from gradcheck.diagnosis.diagnose import diagnose
    for diagnosis in diagnose(candidate, net, X, Y, rtol=1e-4):
        print(diagnosis)

Math of the bugs: `gradcheck.diagnosis.bugs`. This module is the matching only; what
wrong shapes suggest is `gradcheck.diagnosis.shapes`, and where a fault sits by the
article's equations is `gradcheck.diagnosis.localize`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcheck.diagnosis.bugs import BUGS, BUGS_BY_NAME, Bug, always
from gradcheck.diagnosis.localize import layer_listing
from gradcheck.results.causes import Cause
from gradcheck.tolerance.compare import scaled_norm
from gradcheck.tolerance.policy import (
    CLEARLY_WRONG,
    NAMED_CONSTANT_RTOL,
    NEGLIGIBLE,
    TIE,
    diagnosis_rtol,
)
from gradcheck.validate import check_network, check_rtol, checked_data, gradient_arrays
from reference import Gradients, Network, backprop

__all__ = ["DEFAULT_RTOL", "SCALED", "Diagnosis", "diagnose", "number_text"]

#: Rounding-level agreement for a float64 candidate (`policy.diagnosis_rtol` gives every dtype's).
DEFAULT_RTOL = diagnosis_rtol(np.float64)

Blocks = list[np.ndarray]  # [dJ/dW^0, dJ/db^0, dJ/dW^1, ...]: the flat order of NOTATION.md


def _reference(net: Network, X: Any, Y: Any) -> Gradients:
    return backprop(net, X, Y)


SCALED = Bug(
    "scaled",
    "the gradient is c times the reference",
    "look for a stray constant factor applied to every gradient (c = 1/d: averaged twice; "
    "a learning rate folded into the gradient; c < 0: a sign)",
    _reference,
    always,
)
"""The candidate is a constant `c` times the reference (`Diagnosis.scale` holds `c`)."""


# ----------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Diagnosis:
    """A likely cause of a mismatch: the candidate equals ``scale`` times ``bug``'s gradient.

    Attributes
    ----------
    bug : Bug
        The bug (from `gradcheck.diagnosis.bugs.BUGS`, or built here for the
        scale/place explanations).
    residual : float
        The normwise relative distance between the candidate and the buggy
        reference, the maximum over the blocks `W^L`, `b^L`. For "only some
        blocks are wrong", the distance over the blocks said to be right.
    layers : tuple of int
        The layers where the bug shows (where its gradient differs from the
        correct one); () when it shows in every layer.
    scale : float
        The fitted constant `c` when the candidate is `c` times the bug's
        gradient; 1.0 otherwise.
    constant : float or None
        The bug's own fitted constant (``bug.constant``, e.g. `eta`), if any.
    batch_size : int or None
        `d`, printed where the description speaks of it.
    """

    bug: Bug
    residual: float
    layers: tuple[int, ...] = ()
    scale: float = 1.0
    constant: float | None = None
    batch_size: int | None = None

    def __str__(self) -> str:
        text, facts = self.bug.description, []
        if self.scale != 1.0:
            if not _mentions(text, "c"):
                text += ", all times c"
            facts.append(f"c = {_constant_text(self.scale, self.batch_size)}")
        if self.constant is not None:
            facts.append(f"{self.bug.constant} = {self.constant:.4g}")
        if self.batch_size is not None and any(_mentions(t, "d") for t in [text, *facts]):
            facts.append(f"d = {self.batch_size}")
        if facts:
            text += f" ({'; '.join(facts)})"
        if self.layers and self.bug.name in BUGS_BY_NAME:  # the others name their blocks
            text += f", showing in layer{'s' if len(self.layers) > 1 else ''} "
            text += layer_listing(self.layers)
        return f"{text}?\n  Fix: {self.bug.fix}."

    def cause(self) -> Cause:
        """This diagnosis as a `gradcheck.results.causes.Cause` (one line of text, fix included)."""
        evidence: dict[str, Any] = {"residual": self.residual}
        if self.scale != 1.0:
            evidence["scale"] = self.scale
        if self.constant is not None:
            evidence[self.bug.constant or "constant"] = self.constant
        if self.batch_size is not None:
            evidence["d"] = self.batch_size
        catalogued = self.bug.name in BUGS_BY_NAME
        return Cause(
            bug=self.bug.name if catalogued else None,
            equation=self.bug.equation,
            layers=self.layers,
            text=str(self).replace("\n  Fix: ", " Fix: "),
            evidence=evidence,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: name, description, fix, residual, layers, scale, constant, text."""
        return {
            "name": self.bug.name,
            "description": self.bug.description,
            "fix": self.bug.fix,
            "residual": self.residual,
            "layers": list(self.layers),
            "scale": self.scale,
            "constant": self.constant,
            "text": str(self),
        }


def _mentions(text: str, symbol: str) -> bool:
    """Whether `text` uses the symbol `symbol` (``d``, ``c``) as a word, as in "by d"."""
    return re.search(rf"(?<![\w^]){symbol}(?!\w)", text) is not None


def _constant_text(c: float, d: int | None) -> str:
    """`c` in words where it is a telling constant: ``"1/d = 0.0625"``, ``"-1"``, else ``"0.3"``."""
    close = lambda value: abs(c - value) <= NAMED_CONSTANT_RTOL * abs(value)  # noqa: E731
    if d is not None and d > 2:  # d = 2 reads better as "2"
        for name, value in (("d", d), ("-d", -d), ("1/d", 1 / d), ("-1/d", -1 / d)):
            if close(value):
                return f"{name} = {value:.4g}"
    for name, value in (("2", 2.0), ("-1", -1.0), ("1/2", 0.5), ("-2", -2.0), ("-1/2", -0.5)):
        if close(value):
            return name
    return number_text(c)


def number_text(c: float) -> str:
    """`c` with enough digits to be true: within `NAMED_CONSTANT_RTOL` of itself (1.0005, not 1)."""
    for digits in range(4, 17):
        text = f"{c:.{digits}g}"
        if abs(float(text) - c) <= NAMED_CONSTANT_RTOL * abs(c):
            return text
    return repr(c)


# ------------------------------------------------------------------ diagnose


def diagnose(
    candidate: Gradients,
    net: Network,
    X: Any,
    Y: Any,
    *,
    reference: Gradients | None = None,
    rtol: float = DEFAULT_RTOL,
) -> list[Diagnosis]:
    """The known bugs whose gradient the candidate's equals, best first; [] if none.

    Parameters
    ----------
    candidate : Gradients
        The gradient under test, in the article's layout: ``weights[L]``
        `dJ/dW^L` (M, N), ``biases[L]`` `dJ/db^L` (N,). Other shapes are
        compared only with bugs that produce those shapes (transposed,
        reversed, `a^L` for `a^{L-1}`); see also `diagnose_shapes`.
    net : Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    reference : Gradients, optional
        `reference.backprop(net, X, Y)`, if the caller has it already.
    rtol : float
        The normwise relative distance, per block `W^L`, `b^L`, within which
        the candidate matches a buggy gradient: rounding level for the
        candidate's dtype (float32: ~1e-4).

    Returns
    -------
    list of Diagnosis
        Best first: the catalogue bugs that match exactly (ties in catalogue
        order); if none, the candidate as a constant times the reference or
        times a bug's gradient, then blocks scaled by constants, then "only
        these blocks are wrong". [] for a candidate within
        ``10 * rtol`` of the correct gradient, for an unknown bug, and for a
        candidate with NaN or Inf entries. A bug whose gradient equals the
        correct one on this input (h' missing where h is the identity) is
        never reported.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], seed=0)
    >>> X, Y = np.ones((8, 3)), np.zeros((8, 2))
    >>> summed = Gradients(*[[8 * g for g in gs] for gs in backprop(net, X, Y)])
    >>> diagnose(summed, net, X, Y)[0].bug.name
    'summed_not_averaged'
    """
    C, X, Y, R = _checked_diagnose(candidate, net, X, Y, reference, rtol)
    if not all(np.isfinite(block).all() for block in C):
        return []  # NaN/Inf: no known bug's, and the report says so already
    if _distance(C, R) <= CLEARLY_WRONG * rtol:
        return []  # right to rounding: nothing to diagnose
    d = X.shape[0]
    if _shapes(C) == _shapes(R) and _negligible(C, R):
        return [_vanishing(C, R, d)]  # no bug's gradient can be told from noise this small
    variants = _bug_gradients(net, X, Y, d)

    found = [m for bug, B in variants if (m := _match_bug(bug, B, C, R, net, X, Y, d, rtol))]
    if found:  # exact matches; residuals at rounding level tie, and the catalogue order decides
        order = {bug.name: k for k, bug in enumerate(BUGS)}
        return sorted(found, key=lambda m: (max(m.residual, TIE * rtol), order[m.bug.name]))
    if _shapes(C) != _shapes(R):
        return []  # no bug gives these shapes: diagnose_shapes says what they suggest
    return (
        _explain_by_scale(C, R, variants, d, rtol)
        or _explain_by_transposition(C, R, d, rtol)
        or _explain_by_place(C, R, d, rtol)
    )


def _bug_gradients(net: Network, X: np.ndarray, Y: np.ndarray, d: int) -> list[tuple[Bug, Blocks]]:
    """Every applicable bug with its gradient (a bug with a constant: at constant 0)."""
    out = []
    for bug in BUGS:
        if bug.applies(net, d):
            B = _buggy_blocks(bug, net, X, Y, 0.0)
            if all(np.isfinite(block).all() for block in B):
                out.append((bug, B))
    return out


def _buggy_blocks(bug: Bug, net: Network, X: np.ndarray, Y: np.ndarray, t: float) -> Blocks:
    """`bug`'s gradient as blocks; `t` is its constant, if it has one."""
    with np.errstate(all="ignore"):  # a bug's dJ/da may divide by a saturated a (1 - a)
        return _blocks(bug.gradient(net, X, Y, **({bug.constant: t} if bug.constant else {})))


def _match_bug(
    bug: Bug,
    B: Blocks,
    C: Blocks,
    R: Blocks,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    d: int,
    rtol: float,
) -> Diagnosis | None:
    """`bug` if the candidate `C` equals its gradient `B` to `rtol` (fitting its constant)."""
    if _shapes(B) != _shapes(C) or (_shapes(B) == _shapes(R) and _negligible(B, R)):
        return None  # a negligible gradient matches noise, not a bug
    t = None
    if bug.constant:  # B(t) = B(0) + t (B(1) - B(0)): t by least squares
        slope = _minus(_buggy_blocks(bug, net, X, Y, 1.0), B)
        t = _fit(_minus(C, B), slope)
        B = [b + t * s for b, s in zip(B, slope, strict=True)]
    residual = _distance(C, B)
    if not residual <= rtol:  # NaN (an overflow) is no match either
        return None
    return Diagnosis(bug, residual, _layers_differing(B, R, rtol), constant=t, batch_size=d)


def _explain_by_scale(
    C: Blocks, R: Blocks, variants: list[tuple[Bug, Blocks]], d: int, rtol: float
) -> list[Diagnosis]:
    """The candidate as `c` times the reference, `c` times a bug's gradient, or blocks scaled."""
    c = _fit(C, R)
    residual = _distance(C, [c * r for r in R])
    if residual <= rtol:
        return [Diagnosis(SCALED, residual, scale=c, batch_size=d)]

    found = []
    for bug, B in variants:  # e.g. the last example only, divided by d
        if bug.constant or _shapes(B) != _shapes(C) or _proportional_blockwise(B, R, rtol):
            continue  # a bug that only scales blocks of the reference: the block rule's
        c = _fit(C, B)
        residual = _distance(C, [c * b for b in B])
        if residual <= rtol:
            layers = _layers_differing(B, R, rtol)
            found.append(Diagnosis(bug, residual, layers, scale=c, batch_size=d))
    if found:
        return sorted(found, key=lambda m: m.residual)

    ratios = [_block_ratio(Cb, Rb, rtol) for Cb, Rb in zip(C, R, strict=True)]
    if None in ratios:
        return []
    return [_blocks_scaled(C, R, [float(r) for r in ratios if r is not None], d, rtol)]


def _blocks_scaled(C: Blocks, R: Blocks, ratios: list[float], d: int, rtol: float) -> Diagnosis:
    """Each block of the candidate is a constant times the reference's, not all the same one."""
    scaled = [k for k, r in enumerate(ratios) if abs(r - 1.0) > rtol]
    layers = tuple(sorted({k // 2 for k in scaled}))
    bug = _through_recursion(scaled, ratios, len(C) // 2 - 1, d) or _scaled_blocks_bug(
        scaled, ratios, d
    )
    bug = replace(bug, gradient=lambda net, X, Y: _scaled(backprop(net, X, Y), ratios))
    residual = max(_relative(Cb, r * Rb) for Cb, Rb, r in zip(C, R, ratios, strict=True))
    return Diagnosis(bug, residual, layers, batch_size=d)


def _scaled_blocks_bug(scaled: list[int], ratios: list[float], d: int) -> Bug:
    """Blocks scaled one by one: which blocks, by which constants (0: all zeros, never computed)."""
    groups: dict[str, list[str]] = {}
    for k in scaled:
        groups.setdefault(_times_text(ratios[k], d), []).append(_block_name(k))
    parts = [
        f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} {c}"
        for c, names in groups.items()
    ]
    zeros = all(ratios[k] == 0 for k in scaled)
    fix = (
        "look for the loop or the assignment that should fill these blocks (a loop range one "
        "short, a gradient initialised to zeros and never written)"
        if zeros
        else "look for the constant factor in the lines computing these blocks "
        "(a missing or extra 1/d, a 2, a minus sign, a learning rate)"
    )
    return Bug(
        "blocks_scaled",
        "; ".join(parts) + "; the other blocks are right",
        fix,
        _reference,
        always,
        equation=_block_equation(scaled),
    )


def _through_recursion(scaled: list[int], ratios: list[float], H: int, d: int) -> Bug | None:
    """Both blocks of layers 0 .. top off by one factor, every layer above right: delta^top is.

    A wrong `delta^top` spoils `dJ/dW^top` and `dJ/db^top` alike and is passed
    down, so the same factor in both blocks of layers 0 .. top, with layer
    top + 1 right, is the recursion into layer top (`gradcheck.diagnosis.localize`
    says the same from right and wrong blocks alone).
    """
    top = max(k // 2 for k in scaled)
    c = ratios[scaled[0]]
    if top >= H or scaled != list(range(2 * top + 2)):
        return None
    if any(abs(ratios[k] - c) > NAMED_CONSTANT_RTOL * max(abs(c), 1.0) for k in scaled):
        return None
    blocks = " and ".join(_block_name(k) for k in scaled)
    if c == 0:
        below = f"delta^{top}" if top == 0 else f"delta^{top} .. delta^0"
        return Bug(
            "blocks_scaled",
            f"{blocks} are all zeros while layer {top + 1} is right: {below} was never computed "
            f"(the recursion never reached layer {top})",
            f"look for a loop over layers one short, e.g. range(H, {top}, -1) where "
            "range(H, -1, -1) belongs: it must run down to layer 0",
            _reference,
            always,
            equation="recursion",
        )
    return Bug(
        "blocks_scaled",
        f"{blocks} are {_times_text(c, d)} while layer {top + 1} is right: delta^{top + 1} is "
        f"right and delta^{top} is off by that factor, so the recursion into layer {top} "
        f"carries it{' and every layer below inherits it' if top else ''}",
        f"look for the constant in delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top}) "
        "(a hand-written backward of a layer, such as a custom autograd Function returning a "
        "scaled grad_input)",
        _reference,
        always,
        equation="recursion",
    )


def _times_text(c: float, d: int) -> str:
    """ "1/2 times the reference", or "all zeros" for c = 0."""
    return "all zeros" if c == 0 else f"{_constant_text(c, d)} times the reference"


def _block_equation(blocks: list[int]) -> str | None:
    """ "dJ/dW" when only weight blocks are named, "dJ/db" when only bias blocks, else None."""
    if all(k % 2 == 0 for k in blocks):
        return "dJ/dW"
    return "dJ/db" if all(k % 2 == 1 for k in blocks) else None


def _negligible(B: Blocks, R: Blocks) -> bool:
    """Whether `B` is negligible next to `R`: below `NEGLIGIBLE` of it in every block's norm."""
    return all(
        scaled_norm(Bb) <= NEGLIGIBLE * scaled_norm(Rb) for Bb, Rb in zip(B, R, strict=True)
    ) and any(scaled_norm(Rb) > 0 for Rb in R)


def _vanishing(C: Blocks, R: Blocks, d: int) -> Diagnosis:
    """The candidate's gradient vanishes where the reference's does not: a finding of its own."""
    ratio = max(
        scaled_norm(Cb) / scaled_norm(Rb)
        for Cb, Rb in zip(C, R, strict=True)
        if scaled_norm(Rb) > 0
    )
    bug = Bug(
        "vanishing",
        f"the gradient vanishes where the reference's does not: its size is {ratio:.1e} of the "
        "reference's in every block",
        "look for a clip, saturation handled as zero (h'(z) set to 0 for large |z|, or exp "
        "underflowing in a hand-written h'), or a gradient zeroed, detached or never accumulated",
        _reference,
        always,
    )
    return Diagnosis(bug, ratio, batch_size=d)


def _scaled(g: Gradients, ratios: list[float]) -> Gradients:
    """`g` with block `k` (the flat order) times ``ratios[k]``."""
    return Gradients(
        [r * W for W, r in zip(g.weights, ratios[0::2], strict=True)],
        [r * b for b, r in zip(g.biases, ratios[1::2], strict=True)],
    )


def _explain_by_transposition(C: Blocks, R: Blocks, d: int, rtol: float) -> list[Diagnosis]:
    """Square `dJ/dW^L` blocks returned transposed, every other block right; [] otherwise.

    A transposed `dJ/dW^L` of a non-square layer has the wrong shape and
    `gradcheck.diagnosis.shapes` names it; on a square layer (M = N) only the
    numbers can tell, and they do: the block equals the reference's transpose.
    """
    wrong = [k for k, (Cb, Rb) in enumerate(zip(C, R, strict=True)) if _relative(Cb, Rb) > rtol]
    transposed = [
        k
        for k in wrong
        if k % 2 == 0 and C[k].shape[0] == C[k].shape[1] and _relative(C[k], R[k].T) <= rtol
    ]
    if not wrong or transposed != wrong:
        return []
    names = " and ".join(_block_name(k) for k in wrong)
    one = len(wrong) == 1
    bug = Bug(
        "square_dW_transposed",
        f"{names} {'is' if one else 'are'} transposed: {'it equals' if one else 'they equal'} "
        f"the reference's transpose (a square layer, M = N, so the shape could not tell); "
        "every other block is right",
        "dJ/dW^L = a^{L-1} (delta^L)^T, the outer product in this order: (M, N) in the "
        "article's layout, its transpose under layout='torch'",
        lambda net, X, Y: _transposed_at(backprop(net, X, Y), [k // 2 for k in wrong]),
        always,
        equation="dJ/dW",
    )
    residual = max(_relative(C[k], R[k].T if k in wrong else R[k]) for k in range(len(C)))
    return [Diagnosis(bug, residual, tuple(k // 2 for k in wrong), batch_size=d)]


def _transposed_at(g: Gradients, layers: list[int]) -> Gradients:
    """`g` with `dJ/dW^L` transposed at `layers`."""
    return Gradients([W.T if L in layers else W for L, W in enumerate(g.weights)], g.biases)


def _explain_by_place(C: Blocks, R: Blocks, d: int, rtol: float) -> list[Diagnosis]:
    """Where the candidate is wrong, when that narrows the search: only biases, one layer, ..."""
    wrong = [k for k, (Cb, Rb) in enumerate(zip(C, R, strict=True)) if _relative(Cb, Rb) > rtol]
    right = [k for k in range(len(C)) if k not in wrong]
    if not right:
        return []  # wrong everywhere: an unknown bug
    H = len(C) // 2 - 1
    layers = tuple(sorted({k // 2 for k in wrong}))
    names = ", ".join(_block_name(k) for k in wrong)
    if len(wrong) == 1:
        what = f"only {names} is wrong; every other block is right"
    elif all(k % 2 == 1 for k in wrong):
        what = f"only bias gradients are wrong ({names}); every dJ/dW^L is right"
    elif all(k % 2 == 0 for k in wrong):
        what = f"only weight gradients are wrong ({names}); every dJ/db^L is right"
    elif len(layers) == 1:
        what = f"only layer {layers[0]} is wrong ({names}); every other layer is right"
    elif H not in layers:
        what = f"dJ/dW^H and dJ/db^H are right but {names} are wrong: delta^H is right"
    else:
        what = f"{names} are wrong; the other blocks are right"
    bug = Bug("wrong_blocks", what, _where_to_look(wrong, layers, H), _reference, always)
    residual = max(_relative(C[k], R[k]) for k in right)
    return [Diagnosis(bug, residual, layers, batch_size=d)]


def _where_to_look(wrong: list[int], layers: tuple[int, ...], H: int) -> str:
    """The fix for "only these blocks are wrong": the equations that produce them."""
    if all(k % 2 == 1 for k in wrong):
        return "dJ/dW^L is right, so delta^L is: check dJ/db^L = (1/d) 1^T Delta^L"
    if all(k % 2 == 0 for k in wrong):
        return (
            "dJ/db^L = delta^L is right, so delta^L is: check dJ/dW^L = a^{L-1} (delta^L)^T "
            "(which activation, its transposition, its 1/d)"
        )
    top = max(layers)
    if top < H:
        return (
            f"errors flow from the output towards layer 0, and layer {top + 1} is right: check "
            f"delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top}), the recursion and h'"
        )
    return f"errors flow from the output towards layer 0: start at layer {top}, the last wrong one"


# ---------------------------------------------------------- block arithmetic


def _blocks(g: Gradients) -> Blocks:
    """`[dJ/dW^0, dJ/db^0, ...]` as float64 arrays (the flat order of NOTATION.md)."""
    out: Blocks = []
    for W, b in zip(g.weights, g.biases, strict=True):
        out += [np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)]
    return out


def _block_name(k: int) -> str:
    return f"dJ/d{'Wb'[k % 2]}^{k // 2}"


def _shapes(blocks: Blocks) -> list[tuple[int, ...]]:
    return [block.shape for block in blocks]


def _relative(C_block: np.ndarray, B_block: np.ndarray) -> float:
    """||C - B|| / max(||C||, ||B||) for one block; 0 when both are zero."""
    scale = max(scaled_norm(C_block), scaled_norm(B_block))
    if scale == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # past 1e308 the difference is inf: no match
        return float(scaled_norm(C_block - B_block) / scale)


def _distance(C: Blocks, B: Blocks) -> float:
    """The worst block's normwise relative distance; inf when the shapes differ."""
    if _shapes(C) != _shapes(B):
        return np.inf
    return max(_relative(Cb, Bb) for Cb, Bb in zip(C, B, strict=True))


def _minus(C: Blocks, B: Blocks) -> Blocks:
    return [c - b for c, b in zip(C, B, strict=True)]


def _fit(C: Blocks, B: Blocks) -> float:
    """The `c` that minimises ||C - c B|| over all blocks (0 when B is zero)."""
    sC = max((float(np.abs(c).max(initial=0.0)) for c in C), default=0.0)
    sB = max((float(np.abs(b).max(initial=0.0)) for b in B), default=0.0)
    if sB == 0 or sC == 0 or not np.isfinite(sC * 0 + sB):
        return 0.0
    # <C, B> / <B, B> on C / sC and B / sB: no overflow for entries past 1e154
    BB = sum(float(np.vdot(b / sB, b / sB)) for b in B)
    CB = sum(float(np.vdot(c / sC, b / sB)) for c, b in zip(C, B, strict=True))
    return sC / sB * CB / BB


def _block_ratio(C_block: np.ndarray, B_block: np.ndarray, rtol: float) -> float | None:
    """`c` with `C_block = c B_block` to `rtol`; 1.0 if both are zero; None if not proportional."""
    if _relative(C_block, B_block) <= rtol:
        return 1.0
    c = _fit([C_block], [B_block])
    return c if _relative(C_block, c * B_block) <= rtol else None


def _proportional_blockwise(B: Blocks, R: Blocks, rtol: float) -> bool:
    return all(_block_ratio(Bb, Rb, rtol) is not None for Bb, Rb in zip(B, R, strict=True))


def _layers_differing(B: Blocks, R: Blocks, rtol: float) -> tuple[int, ...]:
    """The layers whose blocks differ between `B` and `R`; () if every layer (or shapes) differ."""
    if _shapes(B) != _shapes(R):
        return ()
    pairs = enumerate(zip(B, R, strict=True))
    differ = {k // 2 for k, (Bb, Rb) in pairs if _relative(Bb, Rb) > rtol}
    return () if len(differ) == len(B) // 2 else tuple(sorted(differ))


# ---------------------------------------------------------------- validation


def _checked_diagnose(
    candidate: Any, net: Any, X: Any, Y: Any, reference: Any, rtol: Any
) -> tuple[Blocks, np.ndarray, np.ndarray, Blocks]:
    """Validated ``(candidate blocks, X, Y, reference blocks)`` for `diagnose`."""
    check_network(net)
    if not isinstance(candidate, Gradients):
        raise TypeError(
            f"`candidate` must be a reference.Gradients, got {type(candidate).__name__}; "
            "wrap a (dJ_dW, dJ_db) pair as Gradients(list(dJ_dW), list(dJ_db))"
        )
    check_rtol(rtol)
    X, Y = checked_data(net, X, Y)
    C = _blocks(Gradients(*gradient_arrays(candidate, "candidate")[:2]))
    if reference is None:
        return C, X, Y, _blocks(backprop(net, X, Y))
    if not isinstance(reference, Gradients):
        raise TypeError(
            f"`reference` must be a reference.Gradients or None, got {type(reference).__name__}"
        )
    R = _blocks(Gradients(*gradient_arrays(reference, "reference")[:2]))
    for k, block in enumerate(R):
        if not np.isfinite(block).all():
            raise ValueError(
                f"`reference` must be finite; its {_block_name(k)} has NaN or Inf entries: "
                "pass reference=backprop(net, X, Y) or leave it out"
            )
    want = _shapes(_blocks(Gradients(net.weights, net.biases)))
    if _shapes(R) != want:
        raise ValueError(
            f"`reference` has block shapes {_shapes(R)} but the network's are {want}; "
            "pass reference=backprop(net, X, Y) or leave it out"
        )
    return C, X, Y, R
