"""A self-contained HTML report: the verdict, its causes, and per-layer maps of where the gradient is wrong.

The pattern of the wrong entries is often the fastest clue, and people see it
at a glance where they would never read it in a table:

- a whole column of `W^L` wrong: one unit's delta is wrong;
- a whole row wrong: one input's activation is wrong;
- everything off the diagonal of a square `W^L`: a transposition;
- every entry by the same factor: an averaging slip;
- a single cell: an indexing slip.

`error_maps` turns a candidate, the reference and the tolerances (plain
flat vectors in the order of NOTATION.md) into one `BlockMap` per block
`W^L`, `b^L`; `step_curve` computes the finite-difference V of one entry;
`render_html` assembles the page (inline CSS, SVG and a few lines of script:
nothing is fetched, the file opens from disk) and `write_html` writes it
atomically.  `trial_maps` and `write_report` do the plumbing for a
`BackpropReport` and its trial's network.
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reference import Network, backprop
from reference.network import ParameterLayout

from . import svg
from .compare import compare, rounding_tolerance
from .report import EntryReport
from .validate import as_vector, check_flag, check_int, check_network

__all__ = [
    "MAX_CELLS",
    "MAX_MAPPED_TRIALS",
    "PAGE_CELLS",
    "BlockMap",
    "StepCurve",
    "error_maps",
    "render_html",
    "render_report",
    "step_curve",
    "trial_maps",
    "write_html",
    "write_report",
]

#: A block with more entries than this (64 x 64) is summarised by row and column maxima.
MAX_CELLS = 64 * 64
#: Rows or columns of a summary strip: more are binned (each bar the maximum of its bin).
MAX_STRIP = 256
#: Worst entries kept per block (for the summary and the hover-free table).
WORST_PER_BLOCK = 8
#: Failing trials that get maps on a page: the first few tell the story; the page says so.
MAX_MAPPED_TRIALS = 5
#: Cells drawn one by one on a page (~300 bytes each, ~2.5 MB): later blocks are summarised.
PAGE_CELLS = 8_192
#: Steps of the finite-difference V: 2^-1 .. 2^-40 times the entry's scale.
STEPS = 2.0 ** -np.arange(1, 41)
#: Differences of a network bigger than this (parameters x examples) are skipped in `trial_maps`.
FD_BUDGET = 2_000_000


@dataclass(frozen=True, eq=False)
class BlockMap:
    """Where one block `W^L` (M x N) or `b^L` (N) of one trial is wrong.

    Attributes
    ----------
    name : str
        ``"W^L"`` or ``"b^L"``.
    shape : tuple of int
        ``(M, N)`` or ``(N,)``.
    excess : ndarray, shape `shape`, or None
        ``|c - r| / tolerance`` per entry (> 1 fails); None when the block
        has more than `MAX_CELLS` entries and is summarised.
    candidate, reference, tolerance : ndarray, shape `shape`, or None
        The values behind each cell (None when summarised).
    finite_difference : ndarray, shape `shape`, or None
        The finite difference of each entry, when given.
    row_max : ndarray, shape (M,)
        Worst excess of each row (``b^L``: one row).
    col_max : ndarray, shape (N,)
        Worst excess of each column.
    worst : list of EntryReport
        The block's worst entries, worst first (at most `WORST_PER_BLOCK`).
    failing : int
        How many entries exceed their tolerance.
    """

    name: str
    shape: tuple[int, ...]
    excess: np.ndarray | None
    candidate: np.ndarray | None
    reference: np.ndarray | None
    tolerance: np.ndarray | None
    finite_difference: np.ndarray | None
    row_max: np.ndarray
    col_max: np.ndarray
    worst: list[EntryReport]
    failing: int

    @property
    def summarised(self) -> bool:
        """True when only the row and column maxima and the worst entries are kept."""
        return self.excess is None

    @property
    def entries(self) -> int:
        return math.prod(self.shape)

    def entry_name(self, m: int, n: int) -> str:
        """The name of cell (m, n): ``W^L[m,n]``, or ``b^L[n]`` (m = 0)."""
        return f"{self.name}[{m},{n}]" if len(self.shape) == 2 else f"{self.name}[{n}]"


@dataclass(frozen=True, eq=False)
class StepCurve:
    """The centred difference of one entry against its step: the V of finite differences.

    ``error = |(J(θ + h e_j) - J(θ - h e_j)) / 2h - reference|`` falls as
    `h^2` (truncation, right arm) until rounding, which grows as `1/h`,
    takes over (left arm).  A candidate far above the V's bottom is wrong
    by more than any step can explain.
    """

    name: str  # W^L[m,n] or b^L[n]
    steps: np.ndarray  # h, decreasing
    differences: np.ndarray  # the centred difference at each h
    reference: float
    candidate: float | None = None

    @property
    def errors(self) -> np.ndarray:
        """``|difference - reference|`` at each step."""
        return np.abs(self.differences - self.reference)


# ------------------------------------------------------------------- data


def error_maps(
    candidate_flat: Any,
    reference_flat: Any,
    tolerance_flat: Any,
    layout: ParameterLayout,
    *,
    finite_difference: Any = None,
    max_cells: int = MAX_CELLS,
) -> list[BlockMap]:
    """Per block `W^L`, `b^L`: ``|candidate - reference| / tolerance``, with the values behind it.

    Parameters
    ----------
    candidate_flat, reference_flat, tolerance_flat : array_like, shape (P,)
        Flat gradients in the order of NOTATION.md (``net.layout``) and the
        allowed ``|c - r|`` of each entry (non-negative; inf allowed).
    layout : reference.ParameterLayout
        How the flat vectors split into blocks (``net.layout``).
    finite_difference : array_like, shape (P,), optional
        The finite difference of each entry, shown on hover.
    max_cells : int
        Blocks with more entries keep only row and column maxima and their
        worst entries, so that a 1024 x 1024 layer stays a few kB.

    Returns
    -------
    list of BlockMap
        ``W^0, b^0, W^1, b^1, ...``

    Examples
    --------
    >>> from reference import Network
    >>> layout = Network.random([2, 3, 1]).layout
    >>> c = np.zeros(layout.size); c[4] = 1.0              # W^0[1,1] off
    >>> maps = error_maps(c, np.zeros(layout.size), np.full(layout.size, 0.1), layout)
    >>> [(m.name, m.failing) for m in maps]
    [('W^0', 1), ('b^0', 0), ('W^1', 0), ('b^1', 0)]
    >>> maps[0].excess
    array([[ 0.,  0.,  0.],
           [ 0., 10.,  0.]])
    """
    c, r, tol, fd = _validated_maps(
        candidate_flat, reference_flat, tolerance_flat, layout, finite_difference, max_cells
    )
    excess = compare(c, r, tol).excess  # the oracle's own ratio: one quantity, one definition
    maps = []
    for name, block, shape in layout.blocks:
        grid = (1, shape[0]) if len(shape) == 1 else shape
        e = excess[block].reshape(grid)
        order = np.argsort(-e, axis=None, kind="stable")[:WORST_PER_BLOCK]
        worst = [
            EntryReport(
                name=layout.name(block.start + int(k)),
                candidate=float(c[block][k]),
                reference=float(r[block][k]),
                finite_difference=None if fd is None else float(fd[block][k]),
                tolerance=float(tol[block][k]),
                excess=float(e.flat[k]),
            )
            for k in order
        ]
        small = e.size <= max_cells

        maps.append(
            BlockMap(
                name=name,
                shape=tuple(shape),
                excess=e.reshape(shape).copy() if small else None,
                candidate=_values(c, block, shape, small),
                reference=_values(r, block, shape, small),
                tolerance=_values(tol, block, shape, small),
                finite_difference=_values(fd, block, shape, small),
                row_max=e.max(axis=1),
                col_max=e.max(axis=0),
                worst=worst,
                failing=int((~(e <= 1.0)).sum()),
            )
        )
    return maps


def trial_maps(
    net: Network,
    X: Any,
    Y: Any,
    candidate: Any,
    *,
    finite_differences: bool = True,
) -> list[BlockMap]:
    """`error_maps` of a candidate's gradient on one network and batch, with the oracle's tolerances.

    The reference is `reference.backprop`; the tolerance is the oracle's
    (rounding in float64, plus rounding in the candidate's dtype when that is
    narrower); the finite differences (`network_numerical_gradient`) are
    computed when `finite_differences` and the network is small enough.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    candidate : Gradients or array_like, shape (P,)
        The candidate's gradient, flat in the order of NOTATION.md or as
        `Gradients` (anything with ``.flat()``).

    Examples
    --------
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> g = backprop(net, X, Y).flat(); g[0] *= 2                     # W^0[0,0] doubled
    >>> [m.failing for m in trial_maps(net, X, Y, g)]
    [1, 0, 0, 0]
    """
    from .network_fd import network_numerical_gradient

    check_network(net)
    check_flag(finite_differences, "finite_differences")
    X, Y = net.check_data(X, Y)
    flat = (
        candidate.flat() if hasattr(candidate, "flat") and callable(candidate.flat) else candidate
    )
    c = as_vector(flat, "candidate")
    if c.shape != (net.layout.size,):
        raise ValueError(
            f"`candidate` has {c.size} entries but the network {list(net.sizes)} has "
            f"{net.layout.size} parameters"
        )
    tolerance = rounding_tolerance(net, X, Y, np.float64)
    if c.dtype != np.float64:
        tolerance = tolerance + rounding_tolerance(net, X, Y, c.dtype)
    fd = None
    if finite_differences and net.layout.size * X.shape[0] <= FD_BUDGET:
        fd = network_numerical_gradient(net, X, Y).flat()
    reference = backprop(net, X, Y).flat()
    return error_maps(c.astype(np.float64), reference, tolerance, net.layout, finite_difference=fd)


def step_curve(
    net: Network,
    X: Any,
    Y: Any,
    entry: int | str,
    *,
    candidate: float | None = None,
    steps: Any = None,
) -> StepCurve:
    """The centred difference of one gradient entry at steps 2^-1 .. 2^-40 (times its scale).

    Parameters
    ----------
    net : reference.Network
    X, Y : array_like
        The batch.
    entry : int or str
        A flat index or a name in the notation (``"W^1[3,0]"``, ``"b^2[4]"``).
    candidate : float, optional
        The candidate's value of that entry (drawn as a horizontal line).
    steps : array_like, optional
        The steps `h` (positive); default ``STEPS * max(1, |θ_j|)``.

    Examples
    --------
    >>> from reference import Network
    >>> net = Network.random([2, 3, 1], seed=0)
    >>> curve = step_curve(net, np.ones((4, 2)), np.zeros((4, 1)), "W^0[1,2]")
    >>> curve.name, bool(curve.errors.min() < 1e-9 * abs(curve.reference))
    ('W^0[1,2]', True)
    """
    check_network(net)
    X, Y = net.check_data(X, Y)
    layout = net.layout
    j = _flat_index(entry, layout)
    theta = net.flat()
    if steps is None:
        h = STEPS * max(1.0, abs(float(theta[j])))
    else:
        h = as_vector(steps, "steps").astype(np.float64)
        if not np.all(np.isfinite(h) & (h > 0)):
            raise ValueError("`steps` must be positive and finite")
    differences = np.empty(h.size)
    for k, step in enumerate(h):
        plus, minus = theta.copy(), theta.copy()
        plus[j] += step
        minus[j] -= step
        differences[k] = (net.cost(X, Y, theta=plus) - net.cost(X, Y, theta=minus)) / (
            plus[j] - minus[j]
        )  # the step actually taken, after rounding θ_j + h
    reference = float(backprop(net, X, Y).flat()[j])
    value = None if candidate is None else float(candidate)
    return StepCurve(layout.name(j), h, differences, reference, value)


# ------------------------------------------------------------------- page


def render_html(
    *,
    title: str,
    verdict: str,
    causes: Sequence[Any] = (),
    trials: Sequence[Mapping[str, Any]] = (),
    maps: Mapping[int, Sequence[BlockMap]] | None = None,
    worst_entries: Sequence[Any] = (),
    equation_table: str | None = None,
    step_curves: Sequence[StepCurve] = (),
    taylor: Any = None,
    notes: Sequence[tuple[str, str]] = (),
) -> str:
    """The report as one self-contained HTML page (a string).

    Parameters
    ----------
    title : str
        The page's heading (e.g. the candidate's name).
    verdict : str
        ``"PASSED"``, ``"FAILED"`` or a sentence; shown in green unless it
        contains "FAIL".
    causes : sequence of gradcheck.causes.Cause or str
        Likely causes, most likely first (their texts end with the fix).
    trials : sequence of dict
        As ``BackpropReport.to_dict()["trials"]`` gives them.
    maps : mapping of trial index -> list of BlockMap, optional
        `error_maps` of failing trials; the first `MAX_MAPPED_TRIALS` are
        drawn, and the page says how many more there were.
    worst_entries : sequence of EntryReport or dict
        The worst entries (name, candidate, reference, finite_difference,
        tolerance, excess).
    equation_table : str, optional
        The equation-by-equation table, when the candidate returned deltas.
    step_curves : sequence of StepCurve
        Finite-difference V of the worst entries.
    taylor : gradcheck.TaylorResult, optional
        Its remainder curves are drawn.
    notes : sequence of (heading, text)
        More preformatted sections (e.g. the self-check table).

    Examples
    --------
    >>> page = render_html(title="mine", verdict="PASSED")
    >>> page.startswith("<!DOCTYPE html>"), "PASSED" in page
    (True, True)
    """
    _validate_render(title, verdict, causes, trials, maps, step_curves, notes)
    body = [
        f"<h1>{_esc(title)}</h1>",
        f'<p class="verdict {"fail" if "FAIL" in verdict.upper() else "pass"}">{_esc(verdict)}</p>',
    ]
    if causes:
        body.append(_causes_section(causes))
    if trials:
        body.append(_trials_section(trials))
    if maps:
        body.append(_maps_section(maps, trials))
    if worst_entries:
        body.append("<h2>Worst entries</h2>" + _entries_table([_entry(e) for e in worst_entries]))
    if step_curves:
        body.append(_step_section(step_curves))
    if taylor is not None:
        body.append(_taylor_section(taylor))
    if equation_table:
        body.append(f"<h2>Equation by equation</h2><pre>{_esc(equation_table)}</pre>")
    for heading, text in notes:
        body.append(f"<h2>{_esc(heading)}</h2><pre>{_esc(text)}</pre>")
    return PAGE.format(title=_esc(title), style=STYLE, body="\n".join(body), script=SCRIPT)


def write_html(path: str | os.PathLike[str], page: str, *, force: bool = False) -> Path:
    """Write `page` to `path` atomically: a temporary file in the same directory, then a rename.

    Raises
    ------
    ValueError
        The directory of `path` does not exist, or `path` is a directory.
    FileExistsError
        `path` exists and `force` is False.

    Examples
    --------
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     page = render_html(title="mine", verdict="PASSED")
    ...     write_html(os.path.join(folder, "report.html"), page).name
    'report.html'
    """
    check_flag(force, "force")
    if not isinstance(page, str):
        raise TypeError(f"`page` must be the HTML text (str), got {type(page).__name__}")
    target = _checked_target(path, force)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(page)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def render_report(
    report: Any,
    *,
    maps: Mapping[int, Sequence[BlockMap]] | None = None,
    step_curves: Sequence[StepCurve] = (),
    equation_table: str | None = None,
) -> str:
    """`render_html` of a `BackpropReport`: its verdict, causes (or diagnosis), trials and worst entries.

    Examples
    --------
    >>> from gradcheck import check_backprop
    >>> from reference import Network, backprop
    >>> report = check_backprop(lambda W, b, X, Y: backprop(Network(W, b), X, Y),
    ...                         sizes=[2, 3, 1], trials=1, edge_cases=False)
    >>> "check_backprop PASSED" in render_report(report)
    True
    """
    data = report.to_dict()
    causes = getattr(report, "causes", None) or list(report.diagnosis)
    reference_problems = [f"reference problem: {p}" for p in data.get("reference_problems", [])]
    verdict = "check_backprop " + ("PASSED" if report.passed else "FAILED")
    options = data.get("options", {})
    shown = ("hidden", "output", "cost", "layout", "seed")
    setting = ", ".join(f"{k}={options[k]!r}" for k in shown if options.get(k) is not None)
    return render_html(
        title=str(data.get("candidate", "candidate")),
        verdict=f"{verdict} ({setting})" if setting else verdict,
        causes=list(causes) + reference_problems,
        trials=data["trials"],
        maps=maps,
        worst_entries=list(report.worst_entries),
        equation_table=equation_table,
        step_curves=step_curves,
    )


def write_report(
    report: Any,
    path: str | os.PathLike[str],
    *,
    maps: Mapping[int, Sequence[BlockMap]] | None = None,
    step_curves: Sequence[StepCurve] = (),
    equation_table: str | None = None,
    force: bool = False,
) -> Path:
    """`render_report`, written atomically with `write_html` (same errors)."""
    check_flag(force, "force")
    _checked_target(path, force)  # before the work of rendering
    page = render_report(report, maps=maps, step_curves=step_curves, equation_table=equation_table)
    return write_html(path, page, force=force)


# ---------------------------------------------------------------- sections


def _causes_section(causes: Sequence[Any]) -> str:
    items = []
    for k, cause in enumerate(causes):
        text = str(getattr(cause, "text", cause))
        said, _, fix = text.partition("Fix:")
        tags = ""
        if not isinstance(cause, str):
            bug, equation = getattr(cause, "bug", None), getattr(cause, "equation", None)
            layers = tuple(getattr(cause, "layers", ()))
            if bug:
                tags += f'<span class="tag bug">bug: {_esc(bug)}</span>'
            if equation:
                tags += f'<span class="tag">equation: {_esc(equation)}</span>'
            tags += f'<span class="tag">layers: {_esc(", ".join(map(str, layers)) or "all")}</span>'
        fix_html = f'<div class="fix"><b>Fix:</b> {_esc(fix.strip())}</div>' if fix else ""
        rank = "most likely" if k == 0 else ""
        items.append(
            f'<li class="cause">{tags}<span class="rank">{rank}</span>'
            f"<div>{_esc(said.strip())}</div>{fix_html}</li>"
        )
    return "<h2>Likely causes, most likely first</h2><ol class=causes>" + "".join(items) + "</ol>"


def _trials_section(trials: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for t in trials:
        passed = bool(t.get("passed"))
        blocks = ", ".join(
            f"{b['name']} "
            + ("ok" if b["failing"] == 0 else f"{b['failing']}/{b['entries']} wrong")
            for b in t.get("blocks", [])
        )
        problems = "; ".join(map(str, t.get("problems", [])))
        rows.append(
            f'<tr class="{"ok" if passed else "fail"}"><td>{t.get("index", "")}</td>'
            f"<td>{_esc(_label(t))}</td><td>{_esc(t.get('dtype', ''))}</td>"
            f"<td class=num>{_ratio(t.get('excess_vs_reference'))}</td>"
            f"<td class=num>{_ratio(t.get('excess_vs_finite_differences'))}</td>"
            f"<td class=num>{_ratio(t.get('excess_reference_vs_loops'))}</td>"
            f"<td>{'ok' if passed else 'FAIL'}</td><td class=small>{_esc(blocks)}"
            f"{'<br>' + _esc(problems) if problems else ''}</td></tr>"
        )
    return (
        "<h2>Trials</h2><p class=small>Columns: worst |error| / tolerance (&le; 1 passes).</p>"
        "<table><tr><th>#</th><th>trial</th><th>dtype</th><th>vs reference</th>"
        "<th>vs finite diff</th><th>ref vs loops</th><th>verdict</th><th>per block</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _maps_section(
    maps: Mapping[int, Sequence[BlockMap]], trials: Sequence[Mapping[str, Any]]
) -> str:
    labels = {t.get("index"): _label(t) for t in trials}
    keys = list(maps)
    out = [
        "<h2>Where the gradient is wrong</h2>",
        "<p class=small>Each cell is one entry's |candidate − reference| / tolerance on a log "
        "scale: blues pass, oranges to dark red fail; the hue changes at 1, the tolerance. "
        "Hover (or tap) a cell for its name and values. A column of W<sup>L</sup> wrong: one "
        "unit's delta; a row: one input's activation; everything off the diagonal: a "
        "transposition; a single cell: an indexing slip.</p>",
        svg.colour_bar(),
        '<div id="inspector" class="inspector">Hover a cell to see its entry.</div>',
    ]
    if len(keys) > MAX_MAPPED_TRIALS:
        out.append(
            f'<p class="note">Maps of the first {MAX_MAPPED_TRIALS} of {len(keys)} trials are '
            f"drawn; the other {len(keys) - MAX_MAPPED_TRIALS} are left out to keep the page "
            "small (their numbers are in the trials table).</p>"
        )
    budget = PAGE_CELLS
    for index in keys[:MAX_MAPPED_TRIALS]:
        label = labels.get(index, "")
        out.append(f'<section class="trial" data-trial="{_esc(index)}">')
        out.append(f"<h3>Trial {_esc(index)}{': ' + _esc(label) if label else ''}</h3>")
        out.append('<div class="maps">')
        for block in maps[index]:
            drawn = not block.summarised and block.entries <= budget
            if drawn:
                budget -= block.entries
            out.append(_block_figure(block, drawn))
        out.append("</div></section>")
    return "\n".join(out)


def _block_figure(block: BlockMap, drawn: bool) -> str:
    status = "ok" if block.failing == 0 else f"{block.failing}/{block.entries} wrong"
    shape = " × ".join(map(str, block.shape))
    caption = f"{block.name}  ({shape}): {status}"
    attrs = (
        f'class="block {"fail" if block.failing else "ok"}" data-block="{_esc(block.name)}" '
        f'data-failing="{block.failing}" data-summarised="{"false" if drawn else "true"}"'
    )
    if drawn:
        assert block.excess is not None and block.candidate is not None
        grid = block.excess.reshape(-1, block.shape[-1])
        R, C = grid.shape
        names = [[block.entry_name(m, n) for n in range(C)] for m in range(R)]
        tips = [[_tooltip(block, m, n, names[m][n]) for n in range(C)] for m in range(R)]
        row_axis = "m" if len(block.shape) == 2 else ""
        picture = svg.heatmap(grid, names=names, tooltips=tips, caption=caption, row_axis=row_axis)
        return f"<figure {attrs}>{picture}</figure>"
    why = (
        f"{block.entries} entries are more than the {MAX_CELLS} drawn one by one"
        if block.summarised
        else f"the page's budget of {PAGE_CELLS} cells drawn one by one is spent"
    )
    rows = _binned(block.row_max) if len(block.shape) == 2 else None
    cols = _binned(block.col_max)
    parts = [
        f"<figure {attrs}><figcaption><b>{_esc(caption)}</b> — summarised: {why}; each bar "
        "is the worst excess of its rows or columns.</figcaption>"
    ]
    for what, binned, kind in (("row", rows, "row-max"), ("column", cols, "col-max")):
        if binned is None:
            continue
        values, spans = binned
        name = "m" if what == "row" else "n"
        hover = [
            f"{block.name}, {what}s {name} = {s}: worst excess {v:.3g}"
            for v, s in zip(values, spans)
        ]
        parts.append(
            svg.strip(
                values, labels=spans, tooltips=hover, caption=f"{what} maxima ({name} →)", kind=kind
            )
        )
    parts.append(
        _entries_table([asdict(e) for e in block.worst], caption="worst entries of the block")
    )
    parts.append("</figure>")
    return "".join(parts)


def _step_section(curves: Sequence[StepCurve]) -> str:
    out = [
        "<h2>Finite differences against the step</h2>",
        "<p class=small>The error of the centred difference against the reference falls as "
        "h² until rounding (growing as 1/h) takes over: the V. A candidate far above its "
        "bottom is wrong by more than any step can explain.</p>",
    ]
    for curve in curves:
        series = [svg.Series("|centred difference − reference|", curve.steps, curve.errors)]
        hlines = []
        if curve.candidate is not None:
            gap = abs(curve.candidate - curve.reference)
            hlines.append((gap, f"candidate: |c − r| = {gap:.2e}", "#d62728"))
        out.append(
            f'<figure class="step-curve" data-entry="{_esc(curve.name)}">'
            + svg.line_plot(
                series,
                title=f"{curve.name}: reference {curve.reference:.6e}",
                xlabel="step h",
                ylabel="|error|",
                hlines=hlines,
            )
            + "</figure>"
        )
    return "\n".join(out)


def _taylor_section(result: Any) -> str:
    eps = np.asarray(result.epsilons)
    series = []
    for k, name in enumerate(result.direction_names):
        hue = svg.PALETTE[k % len(svg.PALETTE)]
        rate = float(result.rates[k])
        label = f"{name}: rate {rate:.2f}" if math.isfinite(rate) else f"{name}: exact to rounding"
        series.append(
            svg.Series(label, eps, np.asarray(result.remainders[k]), hue, markers=result.used[k])
        )
        series.append(
            svg.Series(
                f"{name} without the gradient term",
                eps,
                np.asarray(result.first_order[k]),
                hue,
                dash="2 3",
                legend=False,
            )
        )
    anchor = np.flatnonzero(result.used[0]) if len(result.direction_names) else np.array([], int)
    if anchor.size:
        e0, r0 = eps[anchor[0]], result.remainders[0][anchor[0]]
        series.append(
            svg.Series("slope 2 (right gradient)", eps, r0 * (eps / e0) ** 2, "#000", "6 3")
        )
        series.append(svg.Series("slope 1 (wrong gradient)", eps, r0 * (eps / e0), "#777", "2 2"))
    verdict = "PASSED" if result.passed else "FAILED"
    picture = svg.line_plot(
        series,
        title=f"Taylor test {verdict}",
        xlabel="step e",
        ylabel="|J(θ + e v) − J(θ) − e ∇J·v|",
        width=640,
        height=420,
    )
    return (
        "<h2>Taylor remainders</h2><p class=small>A right gradient leaves a remainder falling "
        "as e² (slope 2); a wrong one as e (slope 1). Dots: the points the rate was fitted on; "
        f"dotted: the remainder without the gradient term.</p><figure class=taylor>{picture}</figure>"
        f"<pre>{_esc(str(result))}</pre>"
    )


def _entries_table(entries: Sequence[Mapping[str, Any]], caption: str = "") -> str:
    rows = "".join(
        f'<tr class="{"fail" if not (e["excess"] <= 1) else "ok"}"><td>{_esc(e["name"])}</td>'
        f"<td class=num>{_value(e['candidate'])}</td><td class=num>{_value(e['reference'])}</td>"
        f"<td class=num>{_value(e.get('finite_difference'))}</td>"
        f"<td class=num>{_value(abs(e['candidate'] - e['reference']), 2)}</td>"
        f"<td class=num>{_value(e['tolerance'], 1)}</td><td class=num>{_ratio(e['excess'])}</td></tr>"
        for e in entries
    )
    head = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return (
        f"<table class=entries>{head}<tr><th>entry</th><th>candidate</th><th>reference</th>"
        "<th>finite diff</th><th>|c − r|</th><th>tolerance</th><th>|c − r| / tol</th></tr>"
        f"{rows}</table>"
    )


# ---------------------------------------------------------------- helpers


def _values(
    v: np.ndarray | None, block: slice, shape: tuple[int, ...], kept: bool
) -> np.ndarray | None:
    return None if v is None or not kept else v[block].reshape(shape).copy()


def _tooltip(block: BlockMap, m: int, n: int, name: str) -> str:
    assert block.candidate is not None and block.reference is not None
    assert block.excess is not None and block.tolerance is not None
    index = (m, n) if len(block.shape) == 2 else (n,)
    c, r = float(block.candidate[index]), float(block.reference[index])
    fd = "-" if block.finite_difference is None else f"{float(block.finite_difference[index]):.6e}"
    return (
        f"{name}\ncandidate {c:.6e}\nreference {r:.6e}\nfinite difference {fd}\n"
        f"|c − r| / tolerance = {float(block.excess[index]):.3g}"
    )


def _binned(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """At most MAX_STRIP bars: the maximum over bins of consecutive entries, and their spans."""
    K = values.size
    width = math.ceil(K / MAX_STRIP)
    starts = range(0, K, width)
    maxima = np.array([values[s : s + width].max() for s in starts])
    spans = [f"{s}" if width == 1 else f"{s}-{min(s + width, K) - 1}" for s in starts]
    return maxima, spans


def _entry(e: Any) -> dict[str, Any]:
    if is_dataclass(e) and not isinstance(e, type):
        return asdict(e)
    if isinstance(e, Mapping):
        return dict(e)
    raise TypeError(
        f"`worst_entries` must hold EntryReport objects or dicts, got {type(e).__name__}"
    )


def _label(t: Mapping[str, Any]) -> str:
    sizes = "-".join(map(str, t.get("sizes", [])))
    seed = t.get("seed")
    seed_text = "" if seed is None or seed < 0 else f", seed {seed}"
    return f"{sizes} d={t.get('d', '?')} ({t.get('kind', '')}{seed_text})"


def _ratio(value: Any) -> str:
    if value is None:
        return "-"
    value = float(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2g}" if value < 100 else f"{value:.1e}"


def _value(value: Any, digits: int = 6) -> str:
    return "-" if value is None else f"{float(value):.{digits}e}"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _flat_index(entry: Any, layout: ParameterLayout) -> int:
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
        j = int(entry)
        if not 0 <= j < layout.size:
            raise ValueError(f"`entry` {j} is out of range for {layout.size} parameters")
        return j
    if isinstance(entry, str):
        match = re.fullmatch(r"\s*([Wb])\^(\d+)\[(\d+)(?:,\s*(\d+))?\]\s*", entry)
        for name, block, shape in layout.blocks:
            if match and name == f"{match[1]}^{match[2]}":
                index = tuple(int(g) for g in match.groups()[2:] if g is not None)
                if len(index) == len(shape) and all(i < s for i, s in zip(index, shape)):
                    return block.start + int(np.ravel_multi_index(index, shape))
        raise ValueError(
            f"`entry` {entry!r} names no entry of a network of sizes {list(layout.sizes)}; "
            "use W^L[m,n] or b^L[n], e.g. 'W^0[0,0]'"
        )
    raise TypeError(f"`entry` must be a flat index or a name like 'W^0[1,2]', got {entry!r}")


def _validated_maps(candidate, reference, tolerance, layout, finite_difference, max_cells):
    if not isinstance(layout, ParameterLayout):
        raise TypeError(
            f"`layout` must be a reference.ParameterLayout (net.layout), got {type(layout).__name__}"
        )
    check_int(max_cells, "max_cells", low=1)
    arrays = []
    for name, value in (
        ("candidate_flat", candidate),
        ("reference_flat", reference),
        ("tolerance_flat", tolerance),
        ("finite_difference", finite_difference),
    ):
        if value is None and name == "finite_difference":
            arrays.append(None)
            continue
        array = as_vector(value, name).astype(np.float64)
        if array.shape != (layout.size,):
            raise ValueError(
                f"`{name}` has shape {array.shape} but the layout of sizes {list(layout.sizes)} "
                f"has {layout.size} parameters"
            )
        arrays.append(array)
    tol = arrays[2]
    bad = np.flatnonzero(~(tol >= 0))
    if bad.size:
        raise ValueError(
            f"`tolerance_flat` must be non-negative (inf allowed), got {tol[bad[0]]} "
            f"at {layout.name(int(bad[0]))}"
        )
    return tuple(arrays)


def _validate_render(title, verdict, causes, trials, maps, step_curves, notes) -> None:
    for name, value in (("title", title), ("verdict", verdict)):
        if not isinstance(value, str):
            raise TypeError(f"`{name}` must be a str, got {type(value).__name__}")
    for name, value in (("causes", causes), ("trials", trials), ("step_curves", step_curves)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"`{name}` must be a list, got {type(value).__name__}")
    if any(not isinstance(t, Mapping) for t in trials):
        raise TypeError(
            '`trials` must hold dicts, as BackpropReport.to_dict()["trials"] gives them'
        )
    if maps is not None:
        if not isinstance(maps, Mapping):
            raise TypeError(
                f"`maps` must map a trial index to its error_maps(...), got {type(maps).__name__}"
            )
        for index, blocks in maps.items():
            if not all(isinstance(b, BlockMap) for b in blocks):
                raise TypeError(f"`maps[{index!r}]` must be a list of BlockMap (from error_maps)")
    if any(not isinstance(c, StepCurve) for c in step_curves):
        raise TypeError("`step_curves` must hold StepCurve objects (from step_curve)")
    if any(not (isinstance(n, tuple) and len(n) == 2) for n in notes):
        raise TypeError("`notes` must hold (heading, text) pairs")


def _checked_target(path: Any, force: bool) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path, got {type(path).__name__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(
            f"cannot write the HTML report to {str(target)!r}: the directory "
            f"{str(target.parent)!r} does not exist"
        )
    if target.is_dir():
        raise ValueError(f"cannot write the HTML report to {str(target)!r}: it is a directory")
    if target.exists() and not force:
        raise FileExistsError(f"{str(target)!r} exists; pass force=True (--force) to overwrite it")
    return target


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style></head>
<body>
{body}
<script>{script}</script>
</body></html>
"""

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px;
       padding: 0 1em; color: #111; }
h1 { font-size: 1.35em; margin-bottom: .2em; word-break: break-all; }
h2 { font-size: 1.15em; border-bottom: 1px solid #ddd; margin-top: 1.6em; }
h3 { font-size: 1em; }
.verdict { font-weight: bold; font-size: 1.1em; padding: .4em .7em; border-radius: 4px;
           display: inline-block; }
.verdict.pass { background: #e2f3e4; color: #14532d; }
.verdict.fail { background: #fde2e1; color: #7f1d1d; }
ol.causes li { margin: .5em 0; }
.tag { display: inline-block; font-size: .8em; background: #eef; border-radius: 3px;
       padding: 0 .4em; margin-right: .4em; }
.tag.bug { background: #fde68a; }
.rank { font-size: .8em; color: #555; }
.fix { margin-top: .2em; color: #14532d; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td { background: #fff4f2; }
.small { font-size: .85em; color: #444; }
.note { background: #fff8db; padding: .3em .6em; }
.maps { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
figure { margin: 0; }
svg text { user-select: none; }
rect.cell:hover { stroke: #000; stroke-width: 1.5; }
.inspector { position: sticky; top: 0; background: #f7f7f9; border: 1px solid #ddd;
             padding: .3em .6em; font: 12px/1.4 ui-monospace, monospace; white-space: pre;
             z-index: 1; min-height: 1.4em; }
pre { background: #f7f7f9; padding: .6em; overflow-x: auto; font-size: .85em; }
"""

# Hover or tap a cell: its <title> goes to the inspector (titles alone appear slowly).
SCRIPT = """
(function () {
  var inspector = document.getElementById("inspector");
  function show(event) {
    var cell = event.target.closest ? event.target.closest("rect.cell") : null;
    if (!cell || !inspector) { return; }
    var title = cell.querySelector("title");
    inspector.textContent = title ? title.textContent : cell.getAttribute("data-entry");
  }
  document.addEventListener("mouseover", show);
  document.addEventListener("click", show);
  document.body.setAttribute("data-ready", "true");
})();
"""
