"""Locating a fault by the article's logic: which equation, at which layer, in words.

The article computes every gradient from the deltas:

    delta^H = dJ/da^H ⊙ h'(z^H)                      (equation "delta^H")
    delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)         (equation "recursion")
    dJ/dW^L = a^{L-1} (delta^L)^T                     (equation "dJ/dW")
    dJ/db^L = delta^L                                 (equation "dJ/db")

so the per-block verdicts (is `dJ/dW^L` right? is `dJ/db^L`?) locate a fault
without seeing the deltas: a wrong `delta^L` spoils both `dJ/dW^L` and
`dJ/db^L` (and, through the recursion, every layer below); if either of them
is right, `delta^L` is right and the fault is in the other block's own
equation.  `localize` applies this from the output layer down, as
`gradcheck.results.causes.Cause` objects; `contradicts` is the same logic run
backwards, and every cause a report prints passes it.  `explain_equations`
words the equation check's rows: the first wrong step, or, for a candidate
that gave gradients only, what `localize` says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradcheck.results.causes import Cause
from gradcheck.results.equation_report import (
    BIASES,
    FAIL,
    OUTPUT,
    RECURSION,
    UPSTREAM,
    WEIGHTS,
    EquationRow,
)
from gradcheck.tolerance.policy import TINY

__all__ = [
    "SMALL",
    "contradicts",
    "explain_equations",
    "layer_listing",
    "localize",
    "size_words",
]

#: Relative errors from `TINY` up to this are called "small" (wording only: no verdict rests on it).
SMALL = 1e-2


def size_words(relative_error: float) -> str:
    """How big a normwise relative error is, in words that never overstate it."""
    if relative_error < TINY:
        return f"tiny (relative error {relative_error:.1e})"
    if relative_error < SMALL:
        return f"small (relative error {relative_error:.1e})"
    return f"relative error {relative_error:.1e}"


def localize(
    W_ok: Sequence[bool],
    b_ok: Sequence[bool],
    *,
    relative_errors: dict[str, float] | None = None,
) -> list[Cause]:
    """Where the fault is, from which blocks `dJ/dW^L`, `dJ/db^L` are right; [] if all are.

    Parameters
    ----------
    W_ok, b_ok : sequence of bool, one per layer ``L = 0 .. H``
        Whether `dJ/dW^L` (resp. `dJ/db^L`) is right.
    relative_errors : dict, optional
        Normwise relative error per block name (``"W^0"``, ``"b^0"``, ...),
        quoted in the texts and evidence.

    Returns
    -------
    list of Cause
        The highest wrong layer's fault first; faults the first one cannot
        explain follow (a wrong delta explains everything below it).

    Examples
    --------
    >>> [(c.equation, c.layers) for c in localize([False, True], [False, True])]
    [('recursion', (0,))]
    >>> [(c.equation, c.layers) for c in localize([True, True], [False, True])]
    [('dJ/db', (0,))]
    """
    W_ok, b_ok = [bool(x) for x in W_ok], [bool(x) for x in b_ok]
    if len(W_ok) != len(b_ok) or not W_ok:
        raise ValueError(
            f"`W_ok` and `b_ok` must have one entry per layer, got {len(W_ok)} and {len(b_ok)}"
        )
    errors = dict(relative_errors or {})
    causes: list[Cause] = []
    while not all(W_ok) or not all(b_ok):
        cause = _highest_fault(W_ok, b_ok, errors)
        causes.append(cause)
        if cause.equation in ("delta^H", "recursion"):
            break  # every layer below inherits a wrong delta: nothing more can be told apart
        for L in cause.layers:  # explained: look for what else is wrong
            (W_ok if cause.equation == "dJ/dW" else b_ok)[L] = True
    return causes


def _highest_fault(W_ok: list[bool], b_ok: list[bool], errors: dict[str, float]) -> Cause:
    H = len(W_ok) - 1
    top = max(L for L in range(H + 1) if not (W_ok[L] and b_ok[L]))
    evidence: dict[str, Any] = {
        "wrong": [
            f"{k}^{L}" for L in range(H + 1) for k, ok in (("W", W_ok), ("b", b_ok)) if not ok[L]
        ],
        "relative_errors": dict(errors),
    }
    size = _quoted(errors, f"W^{top}", f"b^{top}")
    if not W_ok[top] and not b_ok[top]:
        below_right = [L for L in range(top) if W_ok[L] and b_ok[L]]
        inherit = (
            f"; but layer{'s' if len(below_right) > 1 else ''} {layer_listing(below_right)} below "
            f"{'are' if len(below_right) > 1 else 'is'} right, so the wrong delta^{top} did not "
            "enter the recursion: the delta used for these gradients differs from the one passed down"
            if below_right
            else ""
        )
        if top == H:
            text = (
                f"dJ/dW^{H} and dJ/db^{H} are both wrong{size}: delta^H is wrong, and every layer "
                f"below inherits it{inherit}. Fix: delta^H = dJ/da^H ⊙ h'(z^H) (softmax: "
                "J_h(z^H)^T dJ/da^H); check the cost's dJ/da^H and h' of the output layer"
            )
            return Cause(None, "delta^H", (H,), text, evidence)
        text = (
            f"dJ/dW^{top} and dJ/db^{top} are both wrong{size} while layer {top + 1} is right: "
            f"delta^{top + 1} is right and the recursion into layer {top} is wrong{inherit}. "
            f"Fix: delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top}): the weights of "
            f"layer {top + 1} (M x N, untransposed in the article), h' of layer {top}, at z^{top}"
        )
        return Cause(None, "recursion", (top,), text, evidence)
    if not W_ok[top]:  # dJ/db^top = delta^top is right, so delta^top is
        layers = tuple(L for L in range(top + 1) if not W_ok[L] and b_ok[L])
        names = ", ".join(f"dJ/dW^{L}" for L in layers)
        text = (
            f"{names} wrong{_quoted(errors, *(f'W^{L}' for L in layers))} while "
            f"{'dJ/db^' + str(top) if len(layers) == 1 else 'the dJ/db^L of these layers'} "
            f"{'is' if len(layers) == 1 else 'are'} right: delta^L is right, so the outer "
            f"product is wrong. Fix: dJ/dW^L = (1/d) (A^{{L-1}})^T Delta^L: the activations of "
            "the layer before L (a^{-1} = x), shape (M, N), averaged over the batch"
        )
        return Cause(None, "dJ/dW", layers, text, evidence)
    layers = tuple(L for L in range(top + 1) if not b_ok[L] and W_ok[L])
    names = ", ".join(f"dJ/db^{L}" for L in layers)
    text = (
        f"{names} wrong{_quoted(errors, *(f'b^{L}' for L in layers))} while "
        f"{'dJ/dW^' + str(top) if len(layers) == 1 else 'the dJ/dW^L of these layers'} "
        f"{'is' if len(layers) == 1 else 'are'} right: delta^L is right, so the bias equation "
        "is wrong. Fix: dJ/db^L = (1/d) 1^T Delta^L, the mean of delta^L over the batch"
    )
    return Cause(None, "dJ/db", layers, text, evidence)


def contradicts(cause: Cause, W_ok: Sequence[bool], b_ok: Sequence[bool]) -> bool:
    """Whether the per-block verdicts rule `cause` out (the logic of `localize`, run backwards).

    A wrong `delta^L` ("delta^H" at H, "recursion" into L) makes both
    `dJ/dW^L` and `dJ/db^L` wrong; "dJ/dW" at L needs `dJ/dW^L` wrong and
    "dJ/db" needs `dJ/db^L` wrong. A cause with no equation, or one that
    names no layer, is checked against "something is wrong" only.
    """
    if all(W_ok) and all(b_ok):
        return True  # nothing is wrong: no cause can stand
    H = len(W_ok) - 1
    layers = cause.layers or tuple(range(H + 1))
    if cause.equation == "delta^H":
        return W_ok[H] or b_ok[H]
    if cause.equation == "recursion":
        top = max(layers)
        return top >= H or W_ok[top] or b_ok[top]
    if cause.equation == "dJ/dW":
        return all(W_ok[L] for L in layers)
    if cause.equation == "dJ/db":
        return all(b_ok[L] for L in layers)
    return False


def explain_equations(
    rows: Sequence[EquationRow], *, H: int, gradients_only: bool, broken_equation: str | None
) -> str:
    """Which equation first goes wrong, and at which layer, in words (`EquationReport.explanation`).

    Parameters
    ----------
    rows : sequence of EquationRow
        The equation check's rows, in the order of the derivation.
    H : int
        The output layer's index.
    gradients_only : bool
        Whether the candidate gave gradients without deltas: then a wrong
        gradient is located from the pattern of right and wrong blocks
        (`localize`).
    broken_equation : str or None
        Where the network's own equations fail, if they do (a wrong custom `h'`).

    Returns
    -------
    str
        One sentence, with the worst entry's numbers when a step fails.
    """
    if broken_equation is not None:
        return broken_equation + "; no candidate can be judged against them"
    row = next((r for r in rows if r.verdict == FAIL), None)
    if row is None:
        if any(r.verdict == UPSTREAM for r in rows):
            # only "upstream" rows: cannot happen without a FAIL before them
            return "some rows inherit an error, but no step is wrong on its own"
        kinks = sum(r.n_unverifiable for r in rows)
        return (
            "every equation holds: delta^H, the recursion into every layer, and dJ/dW^L, "
            "dJ/db^L at every layer match finite differences"
            + (f" ({kinks} entries unverifiable at ReLU kinks)" if kinks else "")
        )
    L = row.layer
    if row.kind in (WEIGHTS, BIASES) and gradients_only:
        # per block, not per layer: a right dJ/db^L clears delta^L (see `localize`)
        W_ok, b_ok = (
            [
                all(r.verdict != FAIL for r in rows if r.layer == K and r.kind == kind)
                for K in range(H + 1)
            ]
            for kind in (WEIGHTS, BIASES)
        )
        sentence = localize(W_ok, b_ok)[0].text
    elif row.kind == OUTPUT:
        form = "J_h(z^H)^T dJ/da^H" if "J_h" in row.equation else "dJ/da^H ⊙ h'(z^H)"
        sentence = f"delta^H is wrong (H = {H}): check {form}"
    elif row.kind == RECURSION:
        sentence = (
            f"delta^{L + 1} matches, delta^{L} does not: the recursion from layer {L + 1} to "
            f"layer {L} is wrong (delta^{L} = (W^{L + 1} delta^{L + 1}) ⊙ h'(z^{L}))"
        )
    elif row.kind == WEIGHTS:
        a_prev, A_prev = ("a^{-1} (= x)", "X") if L == 0 else (f"a^{L - 1}", f"A^{L - 1}")
        sentence = (
            f"the deltas are right but dJ/dW^{L} is not {a_prev} (delta^{L})^T "
            f"averaged over the batch, (1/d) ({A_prev})^T Delta^{L}"
        )
    else:
        sentence = (
            f"the deltas are right but dJ/db^{L} is not delta^{L} averaged over the batch, "
            f"(1/d) 1^T Delta^{L}"
        )
    c = row.governing
    source = "finite differences" if c.against == "FD" else "the equation on the same inputs"
    return (
        f"{sentence}. Worst entry {c.entry}: {c.value:.6g} where {source} gives "
        f"{c.expected:.6g} (error {c.error:.1e} > tolerance {c.tolerance:.1e}; "
        f"{c.n_failed} of {c.n_checked} entries off)"
    )


def _quoted(errors: dict[str, float], *names: str) -> str:
    values = [errors[n] for n in names if n in errors]
    return f" ({size_words(max(values))})" if values else ""


def layer_listing(layers: Sequence[int]) -> str:
    """Layer numbers as the texts list them: ``"0, 2"``."""
    return ", ".join(map(str, layers))
