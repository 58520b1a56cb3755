"""`BackpropReport`: the oracle's verdict, as a screenful of text and as a dict for machines.

Entries are named in the notation (`W^1[3,0]`, `b^2[4]`); every trial carries
what is needed to reproduce it (sizes, batch size, seed).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BackpropReport", "TrialReport", "BlockSummary", "EntryReport", "GradientMismatch"]

MAX_ENTRIES = 8  # worst entries shown per failing trial: enough to see a pattern, still a screenful


class GradientMismatch(AssertionError):
    """A candidate's gradient is wrong; the message is the report."""

    def __init__(self, report: BackpropReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass
class EntryReport:
    """One entry of the gradient: candidate, reference and finite-difference values."""

    name: str  # W^L[m,n] or b^L[n]
    candidate: float
    reference: float
    finite_difference: float | None
    tolerance: float  # allowed |candidate - reference|
    excess: float  # |candidate - reference| / tolerance (> 1 fails)


@dataclass
class BlockSummary:
    """Worst agreement of one block `W^L` or `b^L` in one trial."""

    name: str
    entries: int
    failing: int
    worst_excess: float  # max |c - r| / tol over the block
    worst_entry: str
    relative_error: float  # ||c - r|| / ||r|| over the block


@dataclass
class TrialReport:
    """One call of the candidate on one seeded network and batch."""

    index: int
    sizes: list[int]
    d: int
    seed: int
    kind: str  # "random", "width-1", "no hidden layer", "batch of 1"
    dtype: str = "float64"
    problems: list[str] = field(default_factory=list)
    vs_reference: float = math.nan  # worst |c - r| / tol
    vs_finite_differences: float = math.nan  # worst |c - fd| / (fd tolerance)
    reference_vs_loops: float = math.nan  # the reference's own check, worst |r - loops| / tol
    finite_difference_method: str = ""
    unverifiable: int = 0  # entries no difference can verify (ReLU kinks)
    blocks: list[BlockSummary] = field(default_factory=list)
    worst: list[EntryReport] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        # A comparison that produced no number (NaN) is no pass: only "<= 1" passes.
        return not self.problems and all(
            v <= 1.0 for v in (self.vs_reference, self.vs_finite_differences)
        )

    @property
    def label(self) -> str:
        seed = "" if self.seed < 0 else f", seed {self.seed}"
        return f"{'-'.join(map(str, self.sizes))} d={self.d} ({self.kind}{seed})"


@dataclass
class BackpropReport:
    """The verdict of `check_backprop` on a candidate.

    ``passed`` is True when every trial passed. ``str(report)`` is a table of
    at most a screenful; ``to_dict()`` is JSON-serialisable.
    """

    candidate: str
    options: dict[str, Any]
    trials: list[TrialReport]
    reference_problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reference_problems and all(t.passed for t in self.trials)

    @property
    def failed_trials(self) -> list[TrialReport]:
        return [t for t in self.trials if not t.passed]

    @property
    def diagnosis(self) -> list[str]:
        """Plain-words likely causes, from the first failing trial that has any."""
        for trial in self.failed_trials:
            if trial.diagnosis:
                return trial.diagnosis
        return []

    @property
    def layer_errors(self) -> dict[str, float]:
        """Worst |candidate - reference| / tolerance per block `W^L`, `b^L` over all trials."""
        worst: dict[str, float] = {}
        for trial in self.trials:
            for block in trial.blocks:
                worst[block.name] = max(worst.get(block.name, 0.0), block.worst_excess)
        return worst

    @property
    def worst_entries(self) -> list[EntryReport]:
        """The worst entries of the first failing trial (empty when it passed)."""
        failed = self.failed_trials
        return failed[0].worst if failed else []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN becomes None)."""
        return _jsonable(
            {
                "passed": self.passed,
                "candidate": self.candidate,
                "options": self.options,
                "reference_problems": self.reference_problems,
                "diagnosis": self.diagnosis,
                "trials": [dict(asdict(t), passed=t.passed) for t in self.trials],
            }
        )

    def __str__(self) -> str:
        return _format(self)


# ------------------------------------------------------------- formatting


def _ratio(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2g}" if value < 100 else f"{value:.1e}"


def _format(report: BackpropReport) -> str:
    o = report.options
    verdict = "PASSED" if report.passed else "FAILED"
    head = (
        f"check_backprop {verdict}: {report.candidate}\n"
        f"  hidden={o['hidden']!r} output={o['output']!r} cost={o['cost']!r} "
        f"layout={o['layout']!r} seed={o['seed']}\n"
        "  columns: worst |error| / tolerance (<= 1 passes); tolerances are derived from "
        "the candidate's dtype and each entry's rounding scale, and from the finite "
        "differences' own error estimates"
    )
    lines = [head, ""]
    width = max([len(t.label) for t in report.trials] + [5]) + 2
    header = (
        f"  {'trial':<{width}}{'dtype':<9}{'vs reference':>13}{'vs finite diff':>16}"
        f"{'ref vs loops':>14}  verdict"
    )
    lines += [header, "  " + "-" * (len(header) - 2)]
    for t in report.trials:
        fd = _ratio(t.vs_finite_differences)
        lines.append(
            f"  {t.label:<{width}}{t.dtype:<9}{_ratio(t.vs_reference):>13}{fd:>16}"
            f"{_ratio(t.reference_vs_loops):>14}  {'ok' if t.passed else 'FAIL'}"
        )
    lines.extend(f"  reference problem: {p}" for p in report.reference_problems)
    failed = report.failed_trials
    if failed:
        first = failed[0]
        lines += ["", f"First failing trial: {first.label}"]
        lines.extend(f"  - {p}" for p in first.problems)
        if first.blocks:
            lines.append(
                "  per layer: "
                + ", ".join(
                    f"{b.name} {'ok' if b.failing == 0 else f'{b.failing}/{b.entries} wrong'}"
                    f" (rel err {b.relative_error:.1e})"
                    for b in first.blocks
                )
            )
        if first.worst:
            lines.append(
                f"  {'entry':<12}{'candidate':>14}{'reference':>14}{'finite diff':>14}"
                f"{'|c - r|':>11}{'tolerance':>11}"
            )
            for e in first.worst[:MAX_ENTRIES]:
                fd = "-" if e.finite_difference is None else f"{e.finite_difference:.6e}"
                lines.append(
                    f"  {e.name:<12}{e.candidate:>14.6e}{e.reference:>14.6e}{fd:>14}"
                    f"{abs(e.candidate - e.reference):>11.2e}{e.tolerance:>11.1e}"
                )
        if first.unverifiable:
            lines.append(
                f"  ({first.unverifiable} entries straddle a ReLU kink: not verifiable by differences)"
            )
        if report.diagnosis:
            lines += ["", "Likely cause:"] + [f"  - {d}" for d in report.diagnosis]
        if first.seed >= 0:
            lines += [
                "",
                f"Reproduce: net, X, Y = gradcheck.trial_case({first.sizes}, d={first.d}, "
                f"seed={first.seed}, hidden={o['hidden']!r}, output={o['output']!r}, cost={o['cost']!r}); "
                f"check_backprop(..., seed={o['seed']}) repeats the whole run.",
            ]
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else (str(value) if math.isinf(value) else value)
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value
