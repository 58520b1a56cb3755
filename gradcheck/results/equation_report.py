"""The equation check's result: `EquationReport`, one `EquationRow` per equation and layer.

`gradcheck.oracle.equations.check_equations` builds these; `gradcheck.diagnosis.localize`
words them; ``str(report)`` prints one report as a compact table (the main
job's table over many configurations is `gradcheck.jobs.selfcheck`'s).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BIASES",
    "FAIL",
    "OK",
    "OUTPUT",
    "RECURSION",
    "UNVERIFIABLE",
    "UPSTREAM",
    "WEIGHTS",
    "EquationComparison",
    "EquationReport",
    "EquationRow",
]

#: The kinds of row: the article's four equations (the recursion once per layer below H).
OUTPUT, RECURSION, WEIGHTS, BIASES = "output", "recursion", "weights", "biases"
#: Row verdicts; "upstream": the step holds on its inputs, which inherit an earlier error.
OK, FAIL, UPSTREAM, UNVERIFIABLE = "ok", "FAIL", "upstream", "unverifiable"
MAX_TABLE_ROWS = 36  # a report prints at most this many rows (a screenful)


@dataclass(frozen=True)
class EquationComparison:
    """A quantity against what it should be, entry by entry, under a derived tolerance.

    ``entry`` names the worst entry (largest `excess`, error / tolerance), e.g.
    ``"Delta^1[3,2]"`` (example 3, neuron 2) or ``"W^0[1,4]"``; ``value``
    and ``expected`` are the two numbers there, ``error`` their distance and
    ``tolerance`` its bound.
    """

    against: str  # "FD" (finite differences) or "eq" (the equation applied to the same inputs)
    entry: str | None
    value: float
    expected: float
    error: float
    tolerance: float
    n_failed: int
    n_checked: int
    n_unverifiable: int

    @property
    def passed(self) -> bool:
        """No entry exceeds its tolerance."""
        return self.n_failed == 0

    @property
    def excess(self) -> float:
        """``error / tolerance`` at the worst entry: at most 1 passes."""
        return self.error / self.tolerance if self.tolerance > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "against": self.against,
            "entry": self.entry,
            "value": self.value,
            "expected": self.expected,
            "error": self.error,
            "tolerance": self.tolerance,
            "excess": self.excess,
            "passed": self.passed,
            "n_failed": self.n_failed,
            "n_checked": self.n_checked,
            "n_unverifiable": self.n_unverifiable,
        }


@dataclass(frozen=True)
class EquationRow:
    """One equation at one layer.

    ``numerical`` compares the quantity under test with finite differences;
    ``step`` (only for a candidate's own numbers) compares it with the
    equation applied to the candidate's inputs, e.g. its `delta^L` with
    `(W^{L+1} delta^{L+1}_cand) ⊙ h'(z^L)`. ``verdict`` is ``"ok"``,
    ``"FAIL"``, ``"upstream"`` (the step holds on the candidate's numbers, but
    they inherit an error from an earlier step) or ``"unverifiable"`` (every
    entry straddles a ReLU kink).
    """

    kind: str  # "output", "recursion", "weights", "biases"
    layer: int  # L; for the recursion, the layer it computes (from L+1)
    equation: str
    numerical: EquationComparison
    step: EquationComparison | None
    verdict: str

    @property
    def layer_label(self) -> str:
        """``"2"``, or ``"2 -> 1"`` for the recursion from layer 2 to layer 1."""
        return f"{self.layer + 1} -> {self.layer}" if self.kind == RECURSION else str(self.layer)

    @property
    def governing(self) -> EquationComparison:
        """The comparison that decides the verdict: the worse of the two (by excess)."""
        candidates = [c for c in (self.step, self.numerical) if c is not None]
        failing = [c for c in candidates if not c.passed]
        return max(failing or candidates, key=lambda c: c.excess)

    @property
    def error(self) -> float:
        """The worst entry's error (of the governing comparison)."""
        return self.governing.error

    @property
    def tolerance(self) -> float:
        """The worst entry's tolerance (of the governing comparison)."""
        return self.governing.tolerance

    @property
    def excess(self) -> float:
        """``error / tolerance``: at most 1 passes."""
        return self.governing.excess

    @property
    def n_unverifiable(self) -> int:
        """Entries no finite difference can verify (ReLU kinks)."""
        return self.numerical.n_unverifiable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "kind": self.kind,
            "layer": self.layer,
            "layer_label": self.layer_label,
            "equation": self.equation,
            "verdict": self.verdict,
            "error": self.error,
            "tolerance": self.tolerance,
            "excess": self.excess,
            "entry": self.governing.entry,
            "numerical": self.numerical.to_dict(),
            "step": None if self.step is None else self.step.to_dict(),
        }


@dataclass(frozen=True)
class EquationReport:
    """`check_equations`' verdict: one row per equation and layer, in the order of the derivation.

    Rows: `delta^H`; the recursion `L+1 -> L` for ``L = H-1 .. 0``; then
    `dJ/dW^L` and `dJ/db^L` for ``L = H .. 0``.
    """

    rows: list[EquationRow]
    sizes: tuple[int, ...]
    d: int
    configuration: str  # "hidden/output/cost"
    checked: str  # what was under test, in words
    gradients_only: bool  # a candidate's gradients without its deltas
    #: which equation first goes wrong, and at which layer, in words (`gradcheck.diagnosis.localize`)
    explanation: str
    #: with a candidate: where the network's own equations fail (a wrong custom h'), else None
    broken_equation: str | None = None

    @property
    def passed(self) -> bool:
        """Every row is ok (or unverifiable at kinks), and the equations themselves hold."""
        return self.broken_equation is None and all(
            row.verdict in (OK, UNVERIFIABLE) for row in self.rows
        )

    @property
    def first_failure(self) -> EquationRow | None:
        """The first row, in the order of the derivation, whose verdict is FAIL."""
        return next((row for row in self.rows if row.verdict == FAIL), None)

    @property
    def n_unverifiable(self) -> int:
        """Entries no finite difference can verify (ReLU kinks), over all rows."""
        return sum(row.n_unverifiable for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        failure = self.first_failure
        return {
            "sizes": list(self.sizes),
            "d": self.d,
            "configuration": self.configuration,
            "checked": self.checked,
            "passed": self.passed,
            "explanation": self.explanation,
            "first_failure": None if failure is None else failure.to_dict(),
            "broken_equation": self.broken_equation,
            "n_unverifiable": self.n_unverifiable,
            "rows": [row.to_dict() for row in self.rows],
        }

    def __str__(self) -> str:
        return _format_report(self)


def _format_report(report: EquationReport) -> str:
    sizes = "-".join(map(str, report.sizes))
    lines = [
        f"Backprop equation by equation: {sizes} ({report.configuration}), d = {report.d}, "
        f"H = {len(report.sizes) - 2}",
        f"checked: {report.checked}",
    ]
    header = (
        f"{'equation':<36}{'layer':<8}{'worst error':>12}{'tolerance':>11}  "
        f"{'vs':<3}{'worst entry':<16}verdict"
    )
    lines += [header, "-" * len(header)]
    rows = report.rows
    shown = rows if len(rows) <= MAX_TABLE_ROWS else [r for r in rows if r.verdict != OK]
    shown = shown[:MAX_TABLE_ROWS]
    for row in shown:
        c = row.governing
        lines.append(
            f"{row.equation:<36}{row.layer_label:<8}{c.error:>12.1e}{c.tolerance:>11.1e}  "
            f"{c.against:<3}{c.entry or '-':<16}{row.verdict}"
        )
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more rows not shown ({len(rows)} in all)")
    verdict = ("ok: " if report.passed else "FAIL: ") + report.explanation
    lines += textwrap.wrap(
        verdict, width=len(header), break_long_words=False, break_on_hyphens=False
    )
    return "\n".join(lines)
