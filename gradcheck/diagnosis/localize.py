"""Locating a fault in words: which step of the derivation goes wrong, and at which layer.

The diagnosis side of the equation check: `explain_equations` turns an
equation check's rows into a sentence naming the first wrong step, and
`localize_from_gradients` reads a pattern of right and wrong layer gradients
(when a candidate returns no deltas). Issue 11 rewrites this prose around
`gradcheck.results.causes`; the wording here is the first release's.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradcheck.results.causes import localize
from gradcheck.results.equation_report import (
    BIASES,
    FAIL,
    OUTPUT,
    RECURSION,
    UPSTREAM,
    WEIGHTS,
    EquationRow,
)
from gradcheck.validate import check_layer_ok

__all__ = ["explain_equations", "localize_from_gradients"]


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
        gradient is located from the pattern of layers
        (`localize_from_gradients`).
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
        # per block, not per layer: a right dJ/db^L clears delta^L (gradcheck.results.causes)
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


def localize_from_gradients(layer_ok: Sequence[bool]) -> str:
    """What a pattern of right and wrong layer gradients says about where backprop went wrong.

    When a candidate returns only gradients, its deltas cannot be checked;
    but a wrong `delta^L` spoils every layer's gradient at and below `L`
    (through the recursion), while a wrong outer product or bias equation
    spoils only its own layer.

    Parameters
    ----------
    layer_ok : sequence of bool, one per layer ``L = 0 .. H``
        Whether `dJ/dW^L` and `dJ/db^L` of layer `L` are right.

    Returns
    -------
    str
        A plain-words sentence naming the likely wrong equation and layer.

    Examples
    --------
    >>> "the recursion from layer 2 to layer 1" in localize_from_gradients([False, False, True])
    True
    """
    ok = check_layer_ok(layer_ok)
    H = len(ok) - 1
    wrong = [L for L in range(H + 1) if not ok[L]]
    if not wrong:
        return "every layer's dJ/dW^L and dJ/db^L is right: nothing to localize"
    top = max(wrong)
    if H == 0:
        return (
            "the only layer's gradient (layer 0, the output layer) is wrong: delta^H "
            "(dJ/da^H ⊙ h'(z^H)) or its outer product dJ/dW^0 = a^{-1} (delta^0)^T, "
            "dJ/db^0 = delta^0; with no layer below, gradients alone cannot tell them apart"
        )
    if len(wrong) == H + 1:
        return (
            "every layer's gradient is wrong: the likely culprit is delta^H itself "
            "(dJ/da^H ⊙ h'(z^H)), which every delta below inherits through the recursion; "
            "or a mistake common to every layer's dJ/dW^L and dJ/db^L, such as the "
            "averaging over the batch (1/d)"
        )
    if wrong == [H]:
        return (
            f"only the output layer's gradient is wrong (layer H = {H}), the layers below are "
            f"right: the error is in the output layer's outer product dJ/dW^{H} = "
            f"a^{H - 1} (delta^{H})^T or bias equation dJ/db^{H} = delta^{H}, or in the delta^{H} "
            f"used only there (a wrong delta^{H} that entered the recursion would have spoiled "
            "the layers below)"
        )
    if wrong == list(range(top + 1)):  # every layer at and below `top` wrong, the rest right
        if top == 0:
            return (
                "only layer 0's gradient is wrong, layers 1 and above are right: the recursion "
                "from layer 1 to layer 0 (delta^0 = (W^1 delta^1) ⊙ h'(z^0)) or layer 0's own "
                "dJ/dW^0 = a^{-1} (delta^0)^T or dJ/db^0 = delta^0; with no layer below, "
                "gradients alone cannot tell them apart"
            )
        return (
            f"layers {top + 1}..{H} are right and every layer from {top} down to 0 is wrong: "
            f"the recursion from layer {top + 1} to layer {top} is the likely culprit "
            f"(delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top})); the layers below "
            "inherit its error"
        )
    if len(wrong) == 1:
        return (
            f"only layer {top}'s gradient is wrong, the layers below it are right: the outer "
            f"product dJ/dW^{top} = a^{top - 1} (delta^{top})^T or the bias equation "
            f"dJ/db^{top} = delta^{top} of layer {top}, not the recursion (a wrong delta^{top} "
            "would have spoiled every layer below)"
        )
    return _several_wrong(ok, wrong, top)


def _several_wrong(ok: list[bool], wrong: list[int], top: int) -> str:
    """Several layers wrong in a pattern no single step explains: where to start."""
    H = len(ok) - 1
    right = [L for L in range(H + 1) if ok[L]]
    # the layer below the highest wrong one is right: a wrong delta^top would not be
    if ok[top - 1]:
        first = (
            f"layer {top - 1} below it is right, so look at its outer product dJ/dW^{top} = "
            f"a^{top - 1} (delta^{top})^T or bias equation dJ/db^{top} = delta^{top}"
        )
    elif top == H:
        first = "delta^H (dJ/da^H ⊙ h'(z^H)), which the layer below inherits"
    else:
        first = (
            f"the recursion into it from layer {top + 1} "
            f"(delta^{top} = (W^{top + 1} delta^{top + 1}) ⊙ h'(z^{top}))"
        )
    return (
        f"layers {_listing(wrong)} are wrong and {_listing(right)} right: no single step "
        "explains this, so more than one equation is wrong. Start with the highest wrong "
        f"layer, {top}: {first}"
    )


def _listing(layers: list[int]) -> str:
    return ", ".join(map(str, layers))
