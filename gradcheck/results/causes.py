"""Likely causes of a wrong gradient, as data: `Cause`, and the article's equations it may name.

`gradcheck.diagnosis` finds the causes (the catalogue of bugs, the article's
logic in `gradcheck.diagnosis.localize`); a report carries them as `Cause`
objects, which print as one sentence ending with the fix and convert to plain
data for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EQUATIONS", "Cause"]

#: The article's four equations, as `Cause.equation` names them.
EQUATIONS = ("delta^H", "recursion", "dJ/dW", "dJ/db")


@dataclass(frozen=True)
class Cause:
    """One likely cause of a mismatch.

    Attributes
    ----------
    bug : str or None
        A catalogue name from `gradcheck.diagnosis.bugs.BUGS` when the candidate equals
        that bug's gradient; None when no catalogue bug matches.
    equation : str or None
        Which of the article's equations the evidence points at: one of
        ``"delta^H"``, ``"recursion"``, ``"dJ/dW"``, ``"dJ/db"``, or None
        (a fault outside them: the batch average, the forward pass, the cost,
        the layer order).
    layers : tuple of int
        The layers where it shows; () when it shows in every layer.
    text : str
        The sentence for people, ending with its fix.
    evidence : dict
        The numbers the cause rests on (residuals, fitted constants, which
        blocks are right and wrong, relative errors).
    """

    bug: str | None
    equation: str | None
    layers: tuple[int, ...]
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.equation is not None and self.equation not in EQUATIONS:
            raise ValueError(
                f"`equation` must be one of {EQUATIONS} or None, got {self.equation!r}"
            )

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: bug, equation, layers (a list), text, evidence."""
        return {
            "bug": self.bug,
            "equation": self.equation,
            "layers": list(self.layers),
            "text": self.text,
            "evidence": dict(self.evidence),
        }
