"""The HTML report: one self-contained page with the verdict, its causes, and where the gradient is wrong.

`render_html` assembles the page from plain data (inline CSS, SVG and a few
lines of script: nothing is fetched, the file opens from disk) out of the
sections of `gradcheck.html.sections`; `write_html` writes it atomically
(a temporary file, then a rename: nothing is ever half-written).
`render_report` and `write_report` do it for a `BackpropReport`, drawing the
maps its failing trials carry (`TrialReport.maps`, from
`gradcheck.results.error_maps`), and for a `VJPReport` (`check_vjp`,
`check_layer`): the verdict, the per-input table, the causes and each input's map
(`gradcheck.html.vjp`).

The data (`BlockMap`, `StepCurve`, `error_maps`, `trial_maps`, `step_curve`)
lives in `gradcheck.results.error_maps`; it is importable from here as well, where it
was first published.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gradcheck.html import sections, vjp
from gradcheck.html.sections import MAX_MAPPED_TRIALS, PAGE_CELLS, escape
from gradcheck.results.error_maps import (
    MAX_CELLS,
    BlockMap,
    StepCurve,
    error_maps,
    step_curve,
    trial_maps,
)
from gradcheck.results.vjp_report import VJPReport
from gradcheck.validate import check_flag, check_new_file

__all__ = [
    "render_html",
    "render_report",
    "render_vjp_report",
    "taylor_page",
    "write_html",
    "write_report",
    # first published here; they live in gradcheck.results.error_maps and gradcheck.html.sections
    "MAX_CELLS",
    "MAX_MAPPED_TRIALS",
    "PAGE_CELLS",
    "BlockMap",
    "StepCurve",
    "error_maps",
    "step_curve",
    "trial_maps",
]


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
        ``"PASSED"``, ``"FAILED"``, ``"INCONCLUSIVE"`` or a sentence; shown in red
        when it contains "FAIL", in amber when it contains "INCONCLUSIVE", else green.
    causes : sequence of gradcheck.results.causes.Cause or str
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
        f"<h1>{escape(title)}</h1>",
        f'<p class="verdict {_verdict_class(verdict)}">{escape(verdict)}</p>',
    ]
    if causes:
        body.append(sections.causes_section(causes))
    if trials:
        body.append(sections.trials_section(trials))
    if maps:
        body.append(sections.maps_section(maps, trials))
    if worst_entries:
        body.append(
            "<h2>Worst entries</h2>"
            + sections.entries_table([sections.entry_dict(e) for e in worst_entries])
        )
    if step_curves:
        body.append(sections.step_section(step_curves))
    if taylor is not None:
        body.append(sections.taylor_section(taylor))
    if equation_table:
        body.append(f"<h2>Equation by equation</h2><pre>{escape(equation_table)}</pre>")
    for heading, text in notes:
        body.append(f"<h2>{escape(heading)}</h2><pre>{escape(text)}</pre>")
    return _page(title, body)


def _page(title: str, body: Sequence[str]) -> str:
    return PAGE.format(title=escape(title), style=STYLE, body="\n".join(body), script=SCRIPT)


def render_vjp_report(report: VJPReport) -> str:
    """The page of a `VJPReport`: verdict, causes, the per-input table, each input's map, the text.

    Examples
    --------
    >>> import numpy as np
    >>> from gradcheck import check_vjp
    >>> report = check_vjp(lambda x: 2 * x, lambda c, x: (2 * c,), {"x": np.ones(3)})
    >>> "check_vjp PASSED" in render_vjp_report(report)
    True
    """
    if not isinstance(report, VJPReport):
        raise TypeError(f"`report` must be a VJPReport, got {type(report).__name__}")
    status = "INCONCLUSIVE" if report.inconclusive else "PASSED" if report.passed else "FAILED"
    verdict = (
        f"check_vjp {status} (seed={report.seed}, {report.cotangents} cotangents, "
        f"output {report.output_shape})"
    )
    body = [f"<h1>{escape('check_vjp')}</h1>"]
    body.append(f'<p class="verdict {_verdict_class(verdict)}">{escape(verdict)}</p>')
    if report.causes:
        body.append(sections.causes_section(report.causes))
    body.append(vjp.inputs_section(report))
    if report.maps:
        body.append(vjp.maps_section(report.maps))
    body.append(f"<h2>The report as text</h2><pre>{escape(str(report))}</pre>")
    return _page("check_vjp", body)


def write_html(path: str | os.PathLike[str], page: str, *, force: bool = False) -> Path:
    """Write `page` to `path` atomically: a temporary file in the same directory, then a rename.

    A new page gets the mode `open()` would give it (0666 less the umask); a page that
    replaces a file (``force=True``) keeps that file's mode.

    Raises
    ------
    ValueError
        The directory of `path` does not exist, or `path` is a directory.
    FileExistsError
        `path` exists (a dangling symbolic link included) and `force` is False.

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
    target = check_new_file(path, force=force, what="the HTML report")
    mode = _file_mode(target)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(page)
        os.chmod(temporary, mode)  # mkstemp's 0600 is for its own safety, not the page's
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _file_mode(target: Path) -> int:
    """The mode a page at `target` gets: the replaced file's, or what open() gives under the umask."""
    try:
        if not target.is_symlink():
            return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        pass
    umask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _verdict_class(verdict: str) -> str:
    """The verdict's colour class: a failure, an inconclusive check (the oracle's fault), or a pass."""
    upper = verdict.upper()
    if "FAIL" in upper:
        return "fail"
    return "inconclusive" if "INCONCLUSIVE" in upper else "pass"


def render_report(
    report: Any,
    *,
    maps: Mapping[int, Sequence[BlockMap]] | None = None,
    step_curves: Sequence[StepCurve] | None = None,
    equation_table: str | None = None,
) -> str:
    """`render_html` of a `BackpropReport`: verdict, causes (or diagnosis), trials, maps, worst entries;
    a `VJPReport`'s page (`render_vjp_report`).

    Parameters
    ----------
    report : BackpropReport or VJPReport
    maps : mapping of trial index -> list of BlockMap, optional
        Default: the maps the report's failing trials carry (``trial.maps``).
    step_curves : sequence of StepCurve, optional
        Default: the worst entry's step curve of the first failing trial that
        has one (differences taken entry by entry); ``[]`` for none.
    equation_table : str, optional
        Default: the first failing trial's equation table, when its candidate
        returned deltas.

    Examples
    --------
    >>> from gradcheck import check_backprop
    >>> from reference import Network, backprop
    >>> report = check_backprop(lambda W, b, X, Y: backprop(Network(W, b), X, Y),
    ...                         sizes=[2, 3, 1], trials=1, edge_cases=False)
    >>> "check_backprop PASSED" in render_report(report)
    True
    """
    if isinstance(report, VJPReport):
        if maps is not None or step_curves is not None or equation_table is not None:
            raise TypeError(
                "`maps`, `step_curves` and `equation_table` are a BackpropReport's: a VJPReport "
                "carries its own maps"
            )
        return render_vjp_report(report)
    data = report.to_dict()
    causes = getattr(report, "causes", None) or list(report.diagnosis)
    reference_problems = [f"reference problem: {p}" for p in data.get("reference_problems", [])]
    verdict = "check_backprop " + report.status.upper()  # PASSED, FAILED or INCONCLUSIVE
    options = data.get("options", {})
    shown = ("hidden", "output", "cost", "layout", "seed")
    setting = ", ".join(f"{k}={options[k]!r}" for k in shown if options.get(k) is not None)
    kept = [t.maps for t in report.failed_trials if getattr(t, "maps", None) is not None]
    if maps is None:
        maps = {t.index: list(t.maps.blocks) for t in report.failed_trials if t.maps is not None}
    if step_curves is None:
        step_curves = [m.step_curve for m in kept if m.step_curve is not None][:1]
    if equation_table is None:
        equation_table = next((m.equation_table for m in kept if m.equation_table), None)
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
    step_curves: Sequence[StepCurve] | None = None,
    equation_table: str | None = None,
    force: bool = False,
) -> Path:
    """`render_report`, written atomically with `write_html` (same errors); returns the path.

    Examples
    --------
    >>> from gradcheck import check_backprop
    >>> from reference import Network, backprop
    >>> report = check_backprop(lambda W, b, X, Y: backprop(Network(W, b), X, Y),
    ...                         sizes=[2, 3, 1], trials=1, edge_cases=False)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_report(report, os.path.join(folder, "report.html")).name
    'report.html'
    """
    check_flag(force, "force")
    check_new_file(path, force=force, what="the HTML report")  # before the work of rendering
    page = render_report(report, maps=maps, step_curves=step_curves, equation_table=equation_table)
    return write_html(path, page, force=force)


def taylor_page(result: Any, *, source: str, setting: str = "") -> str:
    """The page of ``python -m gradcheck taylor --html PATH``: the remainder curves and the table.

    Parameters
    ----------
    result : gradcheck.TaylorResult
        What `taylor_test` returned.
    source : str
        Whose gradient was tested (``"reference.backprop"``, ``"mymodule:my_backprop"``).
    setting : str
        The network and batch, in words.
    """
    verdict = "Taylor test " + ("PASSED" if result.passed else "FAILED")
    return render_html(
        title=f"Taylor test of {source}",
        verdict=f"{verdict}: {setting}" if setting else verdict,
        taylor=result,
    )


def _validate_render(title, verdict, causes, trials, maps, step_curves, notes) -> None:
    """`render_html`'s arguments: plain data of the right kinds, or a TypeError naming which."""
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
.verdict.inconclusive { background: #fef3c7; color: #78350f; }
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
