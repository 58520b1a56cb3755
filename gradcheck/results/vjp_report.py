"""`VJPReport`: the verdict of `check_vjp` and `check_layer`, as a screenful and as a dict.

Entries are named in the user's terms (`x[2,0,5,7]`, `W[3,1]`); the report says
which seeded random cotangents were used (`seed` reproduces them), per input how
many entries were checked, failed, or sat on a kink (counted, never failed), and
the worst entries with candidate, finite difference, |diff| and bound, and the
likely causes (`gradcheck.diagnosis.patterns` names the pattern of the wrong
entries).  Per input it also keeps an `InputMap`: every entry's candidate,
difference, |diff| and bound under the cotangent where the input fares worst,
for the HTML page and the patterns; `to_dict()` carries the maps of small
inputs whole and summarises the others.
All parts are frozen: a report is built once and never changes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from gradcheck.fd.check import aligned_columns
from gradcheck.results.causes import Cause
from gradcheck.tolerance.policy import NOISE_WORTH_SAYING, NOISY_CHECK_RESOLUTION

__all__ = [
    "DICT_ENTRIES",
    "EntryRow",
    "InputMap",
    "InputSummary",
    "ScreenSummary",
    "Unsteady",
    "VJPReport",
    "VJP_ROWS",
]

VJP_ROWS = 6  # worst entries shown per input: enough to see a pattern, still a screenful
#: An input map with at most this many entries goes into `to_dict()` whole; larger, summarised.
DICT_ENTRIES = 256


@dataclass(frozen=True)
class EntryRow:
    """One entry of one input under one cotangent: the candidate against the differences."""

    entry: str  # e.g. "W[3,1]"
    cotangent: int  # which of the seeded cotangents (0-based)
    candidate: float
    numerical: float
    difference: float  # |candidate - numerical|
    bound: float  # what the difference may be: the differences' error x safety + rounding


@dataclass(frozen=True)
class InputSummary:
    """One input's verdict over every cotangent."""

    name: str
    shape: tuple[int, ...]
    differentiated: bool  # False: the vjp returned None for it, nothing was checked
    entries: int  # entries checked (0 when not differentiated)
    failing: int  # entries beyond their bound under at least one cotangent
    kinks: int  # entries where the function is not smooth: unverifiable, never failed
    worst: tuple[EntryRow, ...] = ()  # failing entries, worst (largest |diff| / bound) first
    kink_entries: tuple[str, ...] = ()  # the first few kink entries, by name
    # screened (`VJPReport.method == "screen"`): any single entry wrong by more than this fraction
    # of the input's largest gradient (`largest`, the candidate's) would have been caught, from the
    # screen's own bounds on this input (the worst cotangent's); 0 when checked entry by entry
    caught_above: float = 0.0
    largest: float = 0.0


@dataclass(frozen=True)
class ScreenSummary:
    """How a screen went (`check_vjp(..., mode="screen")`, or "auto" above `SCREEN_ABOVE` entries):
    differences along seeded random directions, one per input, then bisection of the sets that
    failed; every entry it named was then checked by its own differences."""

    sets: int  # sets measured along the directions: one per input, then the bisection's
    miss_probability: float  # a single entry beyond `caught_above` escapes with at most this
    named: int  # entries the bisection named and the per-entry check then judged
    cleared: int  # of those, entries the per-entry check passed (the screen's false alarms)
    unlocalized: int  # entries of sets that failed the screen but were not pinned to an entry


@dataclass(frozen=True, eq=False)
class InputMap:
    """One differentiated input, entry by entry, under one cotangent (the one it fares worst under).

    Every array has the input's `shape`.  `failing` marks the entries beyond their bound under
    this cotangent (kinks aside); `kinks` the entries where `f` is not smooth (under any
    cotangent): unverifiable, never failed.
    """

    name: str
    shape: tuple[int, ...]
    cotangent: int  # which of the seeded cotangents (0-based)
    candidate: np.ndarray  # the vjp's entries
    numerical: np.ndarray  # the finite differences of sum(c * f)
    difference: np.ndarray  # |candidate - numerical|
    bound: np.ndarray  # what the difference may be
    failing: np.ndarray  # bool
    kinks: np.ndarray  # bool

    @property
    def entries(self) -> int:
        return math.prod(self.shape)

    @property
    def excess(self) -> np.ndarray:
        """``|diff| / bound`` per entry (> 1 fails): 0 where both are 0, inf where only the bound is."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.difference / self.bound
        return np.where(self.difference == 0, 0.0, np.where(np.isnan(ratio), np.inf, ratio))

    @property
    def worst_excess(self) -> float:
        """The largest ``|diff| / bound`` off the kinks (0 when every entry is on one)."""
        usable = self.excess[~self.kinks]
        return float(usable.max()) if usable.size else 0.0

    def entry_name(self, index: tuple[int, ...]) -> str:
        """``x[2,0,5,7]`` for an index of the input (its bare name for a scalar)."""
        return f"{self.name}[{','.join(str(int(n)) for n in index)}]" if index else self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the counts and the worst excess; the arrays too for a small input."""
        data: dict[str, Any] = {
            "name": self.name,
            "shape": list(self.shape),
            "cotangent": self.cotangent,
            "entries": self.entries,
            "failing": int(self.failing.sum()),
            "kinks": int(self.kinks.sum()),
            "worst_excess": self.worst_excess,
            "summarised": self.entries > DICT_ENTRIES,
        }
        if self.entries <= DICT_ENTRIES:
            for key in ("candidate", "numerical", "difference", "bound"):
                data[key] = getattr(self, key).tolist()
            data["failing_mask"], data["kink_mask"] = self.failing.tolist(), self.kinks.tolist()
        return data


@dataclass(frozen=True)
class Unsteady:
    """How much f and the vjp changed between two calls with the same arguments (0: they repeat).

    numpy's global RNG is replayed before every call, so only randomness it cannot replay (an
    unseeded generator, threads, the clock) or state kept between calls shows here.
    """

    f: float = 0.0  # max |f(x) - f(x)| over the output
    vjp: float = 0.0  # max |vjp(c, x) - vjp(c, x)| over every gradient


@dataclass(frozen=True)
class VJPReport:
    """The verdict of `check_vjp`: every differentiated input, entry by entry."""

    passed: bool
    seed: int
    cotangents: int
    output_shape: tuple[int, ...]
    inputs: tuple[InputSummary, ...]
    n_evaluations: int  # every evaluation of f: the differences, the kink tests, the repeat
    mutated: tuple[str, ...] = ()  # inputs that f or the vjp changed in place (they got copies)
    inconclusive: bool = False  # the noise of f hid errors the check must see (see check_gradient)
    # the least error the differences' share of the bounds can see, relative to an entry (median
    # over entries, the worst cotangent's; the candidate dtype's rounding aside): a kink or noise
    # in f widens the differences' error estimates of every entry
    resolution: float = 0.0
    unsteady: Unsteady = Unsteady()
    # likely causes, most likely first (gradcheck.diagnosis.patterns)
    causes: tuple[Cause, ...] = ()
    # per differentiated input, every entry under its worst cotangent: for the page and the patterns
    maps: tuple[InputMap, ...] = field(default=(), compare=False, repr=False)
    method: str = "entries"  # "entries": every entry by its own differences; "screen": screened
    screen: ScreenSummary | None = None  # how the screen went, when screened
    # entries differenced together in groups (`gradcheck.fd.grouped`), each still read and bounded
    # on its own; 0: each entry differenced alone
    groups: int = 0

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failures(self) -> tuple[str, ...]:
        """The failing entries shown in the report, by name, worst first per input."""
        return tuple(row.entry for summary in self.inputs for row in summary.worst)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: tuples become lists; the maps of large inputs summarised."""
        data = _plain(asdict(replace(self, causes=(), maps=())))
        data["causes"] = [cause.to_dict() for cause in self.causes]
        data["maps"] = [entry_map.to_dict() for entry_map in self.maps]
        return data

    def __str__(self) -> str:
        return _format(self)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _format(report: VJPReport) -> str:
    verdict = "INCONCLUSIVE" if report.inconclusive else "passed" if report.passed else "FAILED"
    lines = [
        f"VJP check {verdict}: output of shape {report.output_shape}, "
        f"{report.cotangents} random cotangents (seed={report.seed}), "
        f"{report.n_evaluations} evaluations of f"
        + (f", grouped differences ({report.groups} groups)" if report.groups else ""),
        "rule: |vjp(c) - d/dx sum(c * f(x))| <= safety x error estimate of the differences "
        "+ the candidate's rounding",
    ]
    if report.screen is not None:
        lines.append(_screen_line(report.screen))
        if report.inconclusive and not report.screen.unlocalized:
            lines.append(
                f"the screen cannot see an error of {100 * NOISY_CHECK_RESOLUTION:g}% of an input's "
                "largest gradient (its bounds below: noise in f, or a low-precision candidate's "
                'rounding summed over the input), and a pass must: check_vjp(..., mode="entries") '
                "checks each entry against its own bound"
            )
    for summary in report.inputs:
        lines.extend(_input_lines(summary, report.screen))
    if report.resolution > NOISE_WORTH_SAYING:
        lines.append(
            f"the differences' error estimates are wide (f has kinks or noise): an entry wrong by "
            f"less than ~{100 * report.resolution:.2g}% of itself (median) passes unseen"
        )
    for what, change in (("f", report.unsteady.f), ("the vjp", report.unsteady.vjp)):
        if change:
            lines.append(
                f"{what} is nondeterministic: two calls with the same arguments differ by up to "
                f"{change:.3g} (numpy's global RNG is replayed; seed any other generator)"
            )
    if report.mutated:
        names = ", ".join(f"`{name}`" for name in report.mutated)
        lines.append(f"changed in place by f or the vjp (each call got a copy): {names}")
    lines.extend(f"likely cause: {cause.text}" for cause in report.causes)
    return "\n".join(lines)


def _screen_line(screen: ScreenSummary) -> str:
    line = (
        f"screened, not checked entry by entry: {screen.sets} sets measured along seeded random "
        f"directions, {screen.named} entries named by bisection and checked by their own "
        "differences"
    )
    if screen.cleared:
        line += f" ({screen.cleared} passed there)"
    if screen.unlocalized:
        line += (
            f"; {screen.unlocalized} entries in sets that failed the screen were not pinned to an "
            'entry: check_vjp(..., mode="entries") checks each'
        )
    return line


def _caught_lines(summary: InputSummary, screen: ScreenSummary) -> list[str]:
    """What a screened input could not have missed: from the screen's own bounds on it."""
    return [
        f"    screened: any single entry wrong by more than {summary.caught_above:.2g} of the "
        f"input's largest gradient ({summary.largest:.3g}) would have been caught (probability "
        f">= 1 - {screen.miss_probability:.1g}); several wrong entries escape only if they cancel "
        "along the random direction, with probability <= 2 x that / (the largest one's error)"
    ]


def _input_lines(summary: InputSummary, screen: ScreenSummary | None = None) -> list[str]:
    head = f"  {summary.name} {summary.shape}: "
    if not summary.differentiated:
        return [head + "not differentiated (the vjp returned None)"]
    checked = "screened" if screen is not None else "checked"
    line = head + f"{summary.entries} entries {checked}, {summary.failing} failing"
    if summary.kinks:
        shown = ", ".join(summary.kink_entries)
        more = ", ..." if summary.kinks > len(summary.kink_entries) else ""
        line += f", {summary.kinks} on a kink (not smooth there: unverifiable): {shown}{more}"
    lines = [line]
    if screen is not None:
        lines.extend(_caught_lines(summary, screen))
    if summary.worst:
        lines.append(_table(summary.worst))
        if summary.failing > len(summary.worst):
            lines.append(f"    ... and {summary.failing - len(summary.worst)} more")
    return lines


def _table(rows: tuple[EntryRow, ...]) -> str:
    header = ("entry", "cotangent", "candidate", "finite diff", "|diff|", "bound")
    body = [
        (
            row.entry,
            str(row.cotangent),
            f"{row.candidate:.9g}",
            f"{row.numerical:.9g}",
            f"{row.difference:.3e}",
            f"{row.bound:.3e}",
        )
        for row in rows
    ]
    return aligned_columns(header, body, indent="    ")
