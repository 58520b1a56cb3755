"""Locating a fault in words: which step of the derivation goes wrong, and at which layer.

The diagnosis side of the equation check: `explain_equations` turns an
equation check's rows into a sentence naming the first wrong step.
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

__all__ = ["explain_equations"]


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
