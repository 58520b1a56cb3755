"""The sections of the HTML report: each a fragment of HTML built from plain data.

`gradcheck.html.page` assembles them into a page; each function here draws
one section (the likely causes, the trials table, the error maps, the
finite-difference step curves, the Taylor remainders, an entries table) with
`gradcheck.html.svg`, and escapes every text it is given.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np

from gradcheck.html import svg
from gradcheck.results.error_maps import MAX_CELLS, BlockMap, StepCurve

__all__ = [
    "MAX_MAPPED_TRIALS",
    "MAX_STRIP",
    "PAGE_CELLS",
    "binned",
    "causes_section",
    "entries_table",
    "entry_dict",
    "escape",
    "maps_section",
    "step_section",
    "taylor_section",
    "trials_section",
]

#: Failing trials that get maps on a page: the first few tell the story; the page says so.
MAX_MAPPED_TRIALS = 5
#: Cells drawn one by one on a page (~300 bytes each, ~2.5 MB): later blocks are summarised.
PAGE_CELLS = 8_192
#: Rows or columns of a summary strip: more are binned (each bar the maximum of its bin).
MAX_STRIP = 256


def causes_section(causes: Sequence[Any]) -> str:
    items = []
    for k, cause in enumerate(causes):
        text = str(getattr(cause, "text", cause))
        said, _, fix = text.partition("Fix:")
        tags = ""
        if not isinstance(cause, str):
            bug, equation = getattr(cause, "bug", None), getattr(cause, "equation", None)
            layers = tuple(getattr(cause, "layers", ()))
            if bug:
                tags += f'<span class="tag bug">bug: {escape(bug)}</span>'
            if equation:
                tags += f'<span class="tag">equation: {escape(equation)}</span>'
            evidence = getattr(cause, "evidence", None) or {}
            if "input" in evidence:  # a layer's cause (gradcheck.diagnosis.patterns): no layers
                tags += f'<span class="tag">input: {escape(evidence["input"])}</span>'
                tags += f'<span class="tag">pattern: {escape(evidence.get("pattern"))}</span>'
            else:
                tags += f'<span class="tag">layers: {escape(", ".join(map(str, layers)) or "all")}</span>'
        fix_html = f'<div class="fix"><b>Fix:</b> {escape(fix.strip())}</div>' if fix else ""
        rank = "most likely" if k == 0 else ""
        items.append(
            f'<li class="cause">{tags}<span class="rank">{rank}</span>'
            f"<div>{escape(said.strip())}</div>{fix_html}</li>"
        )
    return "<h2>Likely causes, most likely first</h2><ol class=causes>" + "".join(items) + "</ol>"


def trials_section(trials: Sequence[Mapping[str, Any]]) -> str:
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
            f"<td>{escape(_label(t))}</td><td>{escape(t.get('dtype', ''))}</td>"
            f"<td class=num>{_ratio(t.get('excess_vs_reference'))}</td>"
            f"<td class=num>{_ratio(t.get('excess_vs_finite_differences'))}</td>"
            f"<td class=num>{_ratio(t.get('excess_reference_vs_loops'))}</td>"
            f"<td>{'ok' if passed else 'FAIL'}</td><td class=small>{escape(blocks)}"
            f"{'<br>' + escape(problems) if problems else ''}</td></tr>"
        )
    return (
        "<h2>Trials</h2><p class=small>Columns: worst |error| / tolerance (&le; 1 passes).</p>"
        "<table><tr><th>#</th><th>trial</th><th>dtype</th><th>vs reference</th>"
        "<th>vs finite diff</th><th>ref vs loops</th><th>verdict</th><th>per block</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def maps_section(
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
        out.append(f'<section class="trial" data-trial="{escape(index)}">')
        out.append(f"<h3>Trial {escape(index)}{': ' + escape(label) if label else ''}</h3>")
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
        f'class="block {"fail" if block.failing else "ok"}" data-block="{escape(block.name)}" '
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
    rows = binned(block.row_max) if len(block.shape) == 2 else None
    cols = binned(block.col_max)
    parts = [
        f"<figure {attrs}><figcaption><b>{escape(caption)}</b> — summarised: {why}; each bar "
        "is the worst excess of its rows or columns.</figcaption>"
    ]
    for what, bars, kind in (("row", rows, "row-max"), ("column", cols, "col-max")):
        if bars is None:
            continue
        values, spans = bars
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
        entries_table([asdict(e) for e in block.worst], caption="worst entries of the block")
    )
    parts.append("</figure>")
    return "".join(parts)


def step_section(curves: Sequence[StepCurve]) -> str:
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
            f'<figure class="step-curve" data-entry="{escape(curve.name)}">'
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


def taylor_section(result: Any) -> str:
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
        f"<pre>{escape(str(result))}</pre>"
    )


def entries_table(entries: Sequence[Mapping[str, Any]], caption: str = "") -> str:
    rows = "".join(
        f'<tr class="{"fail" if not (e["excess"] <= 1) else "ok"}"><td>{escape(e["name"])}</td>'
        f"<td class=num>{_value(e['candidate'])}</td><td class=num>{_value(e['reference'])}</td>"
        f"<td class=num>{_value(e.get('finite_difference'))}</td>"
        f"<td class=num>{_value(abs(e['candidate'] - e['reference']), 2)}</td>"
        f"<td class=num>{_value(e['tolerance'], 1)}</td><td class=num>{_ratio(e['excess'])}</td></tr>"
        for e in entries
    )
    head = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f"<table class=entries>{head}<tr><th>entry</th><th>candidate</th><th>reference</th>"
        "<th>finite diff</th><th>|c − r|</th><th>tolerance</th><th>|c − r| / tol</th></tr>"
        f"{rows}</table>"
    )


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


def binned(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """At most MAX_STRIP bars: the maximum over bins of consecutive entries, and their spans."""
    K = values.size
    width = math.ceil(K / MAX_STRIP)
    starts = range(0, K, width)
    maxima = np.array([values[s : s + width].max() for s in starts])
    spans = [f"{s}" if width == 1 else f"{s}-{min(s + width, K) - 1}" for s in starts]
    return maxima, spans


def entry_dict(e: Any) -> dict[str, Any]:
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


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)
