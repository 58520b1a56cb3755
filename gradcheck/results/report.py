"""`BackpropReport`: the oracle's verdict, as a screenful of text and as a dict for machines.

Entries are named in the notation (`W^1[3,0]`, `b^2[4]`); every trial carries
what is needed to reproduce it (sizes, batch size, seed). One number sums up
every comparison, under one name: the *excess* |c - r| / tolerance (> 1 fails).
All parts are frozen: a report is built once and never changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from gradcheck.results.causes import Cause
from gradcheck.results.error_maps import EntryReport, TrialMaps
from gradcheck.tolerance.compare import Comparison, scaled_norm
from reference import ParameterLayout

__all__ = [
    "BackpropReport",
    "TrialReport",
    "BlockSummary",
    "EntryReport",
    "GradientMismatch",
    "MAX_ENTRIES",
    "block_summaries",
    "summarize_trials",
    "worst_entries",
]

MAX_ENTRIES = 8  # worst entries shown per failing trial: enough to see a pattern, still a screenful


class GradientMismatch(AssertionError):
    """A candidate's gradient is wrong; the message is the report."""

    def __init__(self, report: BackpropReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True)
class BlockSummary:
    """Worst agreement of one block `W^L` or `b^L` in one trial."""

    name: str
    entries: int
    failing: int
    excess: float  # the block's worst |c - r| / tolerance (> 1 fails)
    worst_entry: str
    relative_error: float  # ||c - r|| / ||r|| over the block


@dataclass(frozen=True)
class TrialReport:
    """One call of the candidate on one seeded network and batch.

    Each ``excess_*`` is the worst |c - r| / tolerance of one comparison over
    the entries (> 1 fails; NaN: not compared). Sequences are stored as tuples.
    """

    index: int
    sizes: tuple[int, ...]
    d: int
    seed: int  # -1: a network and batch given by the caller (`check_backprop_at`)
    kind: str  # "random", "width-1", "no hidden layer", "batch of 1", "given"
    dtype: str = "float64"
    problems: tuple[str, ...] = ()
    excess_vs_reference: float = math.nan  # candidate vs reference
    excess_vs_finite_differences: float = math.nan  # candidate vs finite differences
    excess_reference_vs_loops: float = math.nan  # the reference's own check: vs its loop form
    finite_difference_method: str = ""
    # the reference and the finite differences disagree even after escalation: the oracle
    # cannot judge this trial (`status`)
    oracle_disagrees: bool = False
    unverifiable: int = 0  # entries no difference can verify (ReLU kinks)
    # entries whose allowed value spans an interval: h' at a kink may take any subgradient
    kinked: int = 0
    blocks: tuple[BlockSummary, ...] = ()
    worst: tuple[EntryReport, ...] = ()
    causes: tuple[Cause, ...] = ()  # likely causes, most likely first (gradcheck.results.causes)
    # A failing trial's error maps, for the HTML report; not data: left out of to_dict() and ==
    maps: TrialMaps | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("sizes", "problems", "blocks", "worst", "causes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def diagnosis(self) -> tuple[str, ...]:
        """The causes' texts (the first release's plain-words diagnosis)."""
        return tuple(c.text for c in self.causes)

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"inconclusive"``.

        Failed: a problem of the candidate's answer, or an excess above 1 (NaN, no number,
        is no pass). Where the oracle disagrees with itself (`oracle_disagrees`), only a
        candidate that agrees with neither the reference nor the differences fails; one
        that agrees with either is inconclusive, never failed for the oracle's fault.
        """
        vs_reference = self.excess_vs_reference <= 1.0
        vs_differences = self.excess_vs_finite_differences <= 1.0
        if self.problems:
            return "failed"
        if self.oracle_disagrees:
            return "inconclusive" if vs_reference or vs_differences else "failed"
        return "passed" if vs_reference and vs_differences else "failed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def label(self) -> str:
        seed = "" if self.seed < 0 else f", seed {self.seed}"
        return f"{'-'.join(map(str, self.sizes))} d={self.d} ({self.kind}{seed})"


@dataclass(frozen=True)
class BackpropReport:
    """The verdict of `check_backprop` on a candidate.

    ``status`` is ``"failed"`` when a trial failed, else ``"inconclusive"`` when a
    trial is or the reference has a problem of its own (the oracle's fault: it
    cannot vouch for the candidate, and does not fail it), else ``"passed"``.
    ``passed`` is ``status == "passed"``: False for an inconclusive verdict, so
    code that asks "may I trust this gradient?" gets no. ``str(report)`` is a
    table of at most a screenful; ``to_dict()`` is JSON-serialisable.
    """

    candidate: str
    options: dict[str, Any]
    trials: tuple[TrialReport, ...]
    reference_problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "trials", tuple(self.trials))
        object.__setattr__(self, "reference_problems", tuple(self.reference_problems))

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"inconclusive"`` (see the class docstring)."""
        statuses = {t.status for t in self.trials}
        if "failed" in statuses:
            return "failed"
        if "inconclusive" in statuses or self.reference_problems:
            return "inconclusive"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failed_trials(self) -> list[TrialReport]:
        return [t for t in self.trials if t.status == "failed"]

    @property
    def causes(self) -> list[Cause]:
        """The likely causes (`gradcheck.results.causes.Cause`), most likely first, of the first failing
        trial that has any; `str(report)` also says which later failing trials share them."""
        for trial in self.failed_trials:
            if trial.causes:
                return list(trial.causes)
        return []

    @property
    def diagnosis(self) -> list[str]:
        """The causes' texts: plain words, each with its fix."""
        return [c.text for c in self.causes]

    @property
    def layer_excess(self) -> dict[str, float]:
        """The worst |candidate - reference| / tolerance per block `W^L`, `b^L` over all trials."""
        worst: dict[str, float] = {}
        for trial in self.trials:
            for block in trial.blocks:
                worst[block.name] = max(worst.get(block.name, 0.0), block.excess)
        return worst

    @property
    def worst_entries(self) -> list[EntryReport]:
        """The worst entries of the first failing trial (empty when it passed)."""
        failed = self.failed_trials
        return list(failed[0].worst) if failed else []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN becomes None); the ratios are under ``excess*`` keys."""
        return _jsonable(
            {
                "passed": self.passed,
                "status": self.status,
                "candidate": self.candidate,
                "options": self.options,
                "reference_problems": self.reference_problems,
                "causes": [c.to_dict() for c in self.causes],
                "diagnosis": self.diagnosis,
                "trials": [_trial_dict(t) for t in self.trials],
            }
        )

    def __str__(self) -> str:
        return _format(self)


def block_summaries(c: Comparison, layout: ParameterLayout) -> tuple[BlockSummary, ...]:
    """Per block `W^L`, `b^L` of a comparison: failing entries, the worst excess and where, the
    relative error ||c - r|| / ||r||."""
    excess = c.excess
    out = []
    for name, block, _ in layout.blocks:
        e = excess[block]
        worst = int(np.argmax(e))
        ref = c.expected[block]
        with np.errstate(over="ignore", invalid="ignore"):
            diff = scaled_norm(c.candidate[block] - ref)
        norm = scaled_norm(ref)
        out.append(
            BlockSummary(
                name=name,
                entries=int(e.size),
                failing=int((~(e <= 1.0)).sum()),
                excess=float(e.max()),
                worst_entry=layout.name(block.start + worst),
                relative_error=float(diff / norm if norm > 0 else diff),
            )
        )
    return tuple(out)


def worst_entries(
    c: Comparison, layout: ParameterLayout, *, finite_differences: np.ndarray | None
) -> tuple[EntryReport, ...]:
    """The failing entries of a comparison, worst first, at most `MAX_ENTRIES` (none if it passed).

    `finite_differences` (flat, or None when they were taken along directions)
    gives each entry's finite-difference column.
    """
    fd = finite_differences
    return tuple(
        EntryReport(
            name=layout.name(int(j)),
            candidate=float(c.candidate[j]),
            reference=float(c.expected[j]),
            finite_difference=None if fd is None else float(fd[j]),
            tolerance=float(c.tolerance[j]),
            excess=float(c.excess[j]),
        )
        for j in c.failing[:MAX_ENTRIES]
    )


# Formatting: the text form of a report, at most a screenful.


_TRIAL_MARK = {"passed": "ok", "failed": "FAIL", "inconclusive": "INCONCLUSIVE"}


def _format_excess(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2g}" if value < 100 else f"{value:.1e}"


def _format(report: BackpropReport) -> str:
    o = report.options
    verdict = report.status.upper()
    head = (
        f"check_backprop {verdict}: {report.candidate}\n"
        f"  hidden={o['hidden']!r} output={o['output']!r} cost={o['cost']!r} "
        f"layout={o['layout']!r} seed={o['seed']}\n"
        "  columns: the worst excess |c - r| / tolerance of each comparison, c and r the two "
        "gradients compared (<= 1 passes); tolerances are derived from the candidate's dtype "
        "and each entry's rounding scale, and from the finite differences' own error estimates"
    )
    lines = [head, ""] + _format_trials(report.trials)
    lines.extend(f"  reference problem: {p}" for p in report.reference_problems)
    failed = report.failed_trials
    if failed:
        lines += _format_failure(failed[0], report.diagnosis, o)
        later = summarize_trials(failed)
        if later:
            lines += ["", "Other failing trials:"] + [f"  - {line}" for line in later]
    else:
        lines += _format_unverified(report.trials)
    return "\n".join(lines)


def _format_unverified(trials: Sequence[TrialReport]) -> list[str]:
    """What a passing report could not verify entry by entry, and why."""
    unverifiable = sum(t.unverifiable for t in trials)
    kinked = sum(t.kinked for t in trials)
    lines = []
    if unverifiable:
        lines.append(
            f"  note: {unverifiable} entries (over all trials) straddle a kink of h (ReLU at 0): "
            "finite differences cannot verify them; they were held to the reference alone"
        )
    if kinked:
        lines.append(
            f"  note: {kinked} entries depend on h' at a kink (z = 0 within rounding): any "
            "subgradient passes there ([0, 1] for ReLU), a value outside it fails"
        )
    return [""] + lines if lines else []


def _format_trials(trials: Sequence[TrialReport]) -> list[str]:
    """The table: one row per trial with its three excesses and its verdict."""
    width = max([len(t.label) for t in trials] + [5]) + 2
    header = (
        f"  {'trial':<{width}}{'dtype':<9}{'vs reference':>13}{'vs finite diff':>16}"
        f"{'ref vs loops':>14}  verdict"
    )
    lines = [header, "  " + "-" * (len(header) - 2)]
    for t in trials:
        fd = _format_excess(t.excess_vs_finite_differences)
        lines.append(
            f"  {t.label:<{width}}{t.dtype:<9}{_format_excess(t.excess_vs_reference):>13}{fd:>16}"
            f"{_format_excess(t.excess_reference_vs_loops):>14}  {_TRIAL_MARK[t.status]}"
        )
    return lines


def _format_failure(first: TrialReport, diagnosis: list[str], o: dict[str, Any]) -> list[str]:
    """The first failing trial: problems, blocks, worst entries, likely cause, how to rerun it."""
    lines = ["", f"First failing trial: {first.label}"]
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
        shown = first.worst[:MAX_ENTRIES]
        width = max([12] + [len(e.name) + 2 for e in shown])  # names in two layouts are long
        lines.append(
            f"  {'entry':<{width}}{'candidate':>14}{'reference':>14}{'finite diff':>14}"
            f"{'|c - r|':>11}{'tolerance':>11}"
        )
        for e in shown:
            fd = "-" if e.finite_difference is None else f"{e.finite_difference:.6e}"
            lines.append(
                f"  {e.name:<{width}}{e.candidate:>14.6e}{e.reference:>14.6e}{fd:>14}"
                f"{abs(e.candidate - e.reference):>11.2e}{e.tolerance:>11.1e}"
            )
    if first.unverifiable:
        lines.append(
            f"  ({first.unverifiable} entries straddle a ReLU kink: not verifiable by differences)"
        )
    if first.kinked:
        lines.append(
            f"  ({first.kinked} entries depend on h' at a kink: held to the interval any "
            "subgradient allows, shown as the reference)"
        )
    if diagnosis:
        lines += ["", "Likely cause:"] + [f"  - {_with_fix(d)}" for d in diagnosis]
    if first.seed >= 0:
        lines += [
            "",
            f"Reproduce: net, X, Y = gradcheck.trial_case({list(first.sizes)}, d={first.d}, "
            f"seed={first.seed}, hidden={o['hidden']!r}, output={o['output']!r}, "
            f"cost={o['cost']!r}); check_backprop(..., seed={o['seed']}) repeats the whole run.",
        ]
        command = command_line(o)
        if command:
            lines.append(f"From the command line: {command}")
    return lines


def command_line(o: dict[str, Any]) -> str | None:
    """``python -m gradcheck check ...`` that repeats the run of options `o` (a report's
    `options`); None where an option has no command-line form (a custom activation or cost)."""
    hidden = o.get("hidden")
    hidden = ",".join(hidden) if isinstance(hidden, list) else hidden
    if not all(isinstance(v, str) for v in (hidden, o.get("output"), o.get("cost"))):
        return None
    edge = o.get("edge_cases")
    edge = "all" if edge is True else "none" if edge is False or not edge else ",".join(edge)
    parts = [
        "python -m gradcheck check <module:function | --exec 'PROGRAM'>",
        f"--sizes {','.join(str(n) for n in o['sizes'])}",
        f"--hidden {hidden} --output {o['output']} --cost {o['cost']}",
        f"--layout {o['layout']} --trials {o['trials']} --seed {o['seed']}",
        f"--batch-size {o['batch_size']} --edge-cases {edge}",
    ]
    if o.get("l2"):
        parts.append(f"--l2 {o['l2']!r}")
    if o.get("weight_scale") is not None:
        parts.append(f"--weight-scale {o['weight_scale']!r}")
    if o.get("libm_ulps") is not None:
        parts.append(f"--libm-ulps {o['libm_ulps']!r}")
    return " ".join(parts)


def summarize_trials(failed: Sequence[TrialReport]) -> list[str]:
    """One line per group of later failing trials: the same first cause as the first, or their own."""
    if len(failed) < 2:
        return []
    key = lambda t: (t.causes[0].bug, t.causes[0].equation) if t.causes else (None, t.problems[:1])  # noqa: E731
    first = key(failed[0])
    same = [t for t in failed[1:] if key(t) == first]
    lines = []
    if same:
        lines.append(
            f"the same first cause in {len(same)} more failing trial"
            f"{'s' if len(same) > 1 else ''}: {', '.join(t.label for t in same)}"
        )
    groups: dict[object, list[TrialReport]] = {}
    for t in failed[1:]:
        if key(t) != first:
            groups.setdefault(key(t), []).append(t)
    for trials in groups.values():
        t = trials[0]
        what = t.causes[0].text if t.causes else "; ".join(t.problems[:1]) or "no cause found"
        labels = ", ".join(x.label for x in trials)
        lines.append(f"{labels}: {what}")
    return lines


def _with_fix(text: str) -> str:
    """A cause's text for the table: its fix on a line of its own."""
    return text.replace(" Fix: ", "\n  Fix: ", 1)


def _trial_dict(trial: TrialReport) -> dict[str, Any]:
    """A trial's fields as a dict, without its maps (drawn in HTML, not data), with its verdict."""
    data = asdict(replace(trial, maps=None))
    del data["maps"]
    causes = [c.to_dict() for c in trial.causes]
    return dict(data, passed=trial.passed, status=trial.status, causes=causes)


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
