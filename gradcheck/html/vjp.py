"""The sections of a `VJPReport`'s page: the per-input table, and each input's map of |diff| / bound.

`gradcheck.html.page.render_report` puts them on the page with the causes (drawn
as a network's are).  A map draws one cell per entry, coloured by
``|vjp - finite difference| / bound`` (`gradcheck.html.svg.colour`: blues pass,
oranges to dark red fail) and grey for entries on a kink (unverifiable, never
failed); an input of more than two axes is a grid of 2-D slices over its last two
axes (a 4-D ``(N, C, H, W)`` tensor: one row per `N`, one column per `C`).  An
input of more than `MAX_CELLS` entries, or one past the page's budget of
`PAGE_CELLS` cells, is summarised as a network block is: per axis, a strip of the
worst excess of each index (binned), and the worst entries.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from gradcheck.html import svg
from gradcheck.html.sections import PAGE_CELLS, binned, escape
from gradcheck.results.error_maps import MAX_CELLS
from gradcheck.results.vjp_report import InputMap, InputSummary, VJPReport

__all__ = ["GRID_WIDTH", "WORST_SHOWN", "inputs_section", "maps_section"]

#: Entries listed under a summarised map, worst first.
WORST_SHOWN = 8
#: Pixels a row of slices grows to before its cells shrink (the page is ~1150 px wide).
GRID_WIDTH = 1100


def inputs_section(report: VJPReport) -> str:
    """One row per input: its shape, the entries checked, failing, on a kink, the worst excess."""
    worst = {m.name: m.worst_excess for m in report.maps}
    rows = []
    for s in report.inputs:
        status = "ok" if s.failing == 0 else "FAIL"
        if not s.differentiated:
            status = "not differentiated"
        excess = worst.get(s.name)
        rows.append(
            f'<tr class="{"fail" if s.failing else "ok"}" data-input="{escape(s.name)}">'
            f"<td>{escape(s.name)}</td><td>{escape(s.shape)}</td><td class=num>{s.entries}</td>"
            f"<td class=num>{s.failing}</td><td class=num>{s.kinks}</td>"
            f"<td class=num>{'-' if excess is None else f'{excess:.3g}'}</td>"
            f"<td>{status}</td></tr>"
        )
    tables = [_rows_table(s) for s in report.inputs if s.worst]
    return (
        "<h2>Inputs</h2><p class=small>Failing: entries beyond their bound under at least one "
        "cotangent; on a kink: f is not smooth there, so no difference can verify them (counted, "
        "never failed).</p><table class=inputs><tr><th>input</th><th>shape</th><th>entries</th>"
        "<th>failing</th><th>on a kink</th><th>worst |diff| / bound</th><th>verdict</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(tables)
    )


def _rows_table(summary: InputSummary) -> str:
    rows = "".join(
        f"<tr class=fail><td>{escape(r.entry)}</td><td class=num>{r.cotangent}</td>"
        f"<td class=num>{r.candidate:.9g}</td><td class=num>{r.numerical:.9g}</td>"
        f"<td class=num>{r.difference:.3e}</td><td class=num>{r.bound:.3e}</td></tr>"
        for r in summary.worst
    )
    more = summary.failing - len(summary.worst)
    caption = f"worst entries of {summary.name}" + (f" ({more} more failing)" if more > 0 else "")
    return (
        f"<table class=entries><caption>{escape(caption)}</caption><tr><th>entry</th>"
        "<th>cotangent</th><th>candidate</th><th>finite diff</th><th>|diff|</th><th>bound</th>"
        f"</tr>{rows}</table>"
    )


def maps_section(maps: Sequence[InputMap]) -> str:
    """Each input's map, drawn cell by cell while the page's budget lasts, else summarised."""
    out = [
        "<h2>Where the gradient is wrong</h2>",
        "<p class=small>Each cell is one entry's |vjp − finite difference| / bound on a log "
        "scale, under the cotangent where the input fares worst: blues pass, oranges to dark "
        "red fail; the hue changes at 1, the bound. Grey: on a kink (unverifiable, never "
        "failed). An input of more than two axes is a grid of 2-D slices over its last two "
        "axes. Hover (or tap) a cell for its name and values.</p>",
        svg.colour_bar("|diff| / bound   (1 = the bound)"),
        '<div id="inspector" class="inspector">Hover a cell to see its entry.</div>',
    ]
    budget = PAGE_CELLS
    for m in maps:
        drawn = m.entries <= MAX_CELLS and m.entries <= budget
        if drawn:
            budget -= m.entries
        out.append(_input_figure(m) if drawn else _summary_figure(m, m.entries > MAX_CELLS))
    return "\n".join(out)


def _caption(m: InputMap) -> str:
    shape = " × ".join(map(str, m.shape)) or "scalar"
    failing, kinks = int(m.failing.sum()), int(m.kinks.sum())
    status = "ok" if failing == 0 else f"{failing}/{m.entries} failing"
    on_kinks = f", {kinks} on a kink" if kinks else ""
    return f"{m.name} ({shape}): {status}{on_kinks}, cotangent {m.cotangent}"


def _attrs(m: InputMap, summarised: bool) -> str:
    failing = int(m.failing.sum())
    return (
        f'class="input {"fail" if failing else "ok"}" data-input="{escape(m.name)}" '
        f'data-failing="{failing}" data-kinks="{int(m.kinks.sum())}" '
        f'data-summarised="{"true" if summarised else "false"}"'
    )


def _input_figure(m: InputMap) -> str:
    """The input as 2-D slices over its last two axes (one slice for a matrix or a vector)."""
    shape = m.shape if len(m.shape) >= 2 else (1, max(m.entries, 1))
    leading, plane = shape[:-2], shape[-2:]
    excess = m.excess.reshape(shape)
    columns = leading[-1] if leading else 1
    # side by side, the slices share the page's width (each with its ~40 px of margins)
    cell = int(np.clip((GRID_WIDTH // columns - 40) // plane[1], svg.CELL_MIN, svg.CELL_MAX))
    slices = [
        _slice_map(m, excess, lead, plane, cell if leading else None)
        for lead in itertools.product(*(range(n) for n in leading))
    ]
    grid = (
        f'<div class="slices" style="display:grid;gap:.4em;overflow-x:auto;'
        f'grid-template-columns:repeat({columns},max-content)">{"".join(slices)}</div>'
    )
    return (
        f"<figure {_attrs(m, False)}><figcaption><b>{escape(_caption(m))}</b></figcaption>"
        f"{grid}</figure>"
    )


def _slice_map(
    m: InputMap, excess: np.ndarray, lead: tuple[int, ...], plane: tuple, cell: int | None
) -> str:
    """One 2-D slice ``x[n,c,:,:]`` as a heatmap, every cell named and explained on hover."""
    R, C = plane
    names, tips = [], []
    for r in range(R):
        row_names, row_tips = [], []
        for c in range(C):
            index = _index(m, (*lead, r, c))
            name = m.entry_name(index)
            row_names.append(name)
            row_tips.append(_tooltip(m, index, name))
        names.append(row_names)
        tips.append(row_tips)
    caption = f"{m.name}[{','.join(map(str, lead))},:,:]" if lead else m.name
    return svg.heatmap(
        excess[lead],
        names=names,
        tooltips=tips,
        caption=caption,
        row_axis="i" if len(m.shape) >= 2 else "",
        col_axis="j",
        kinks=m.kinks.reshape(excess.shape)[lead],
        cell=cell,
    )


def _index(m: InputMap, drawn: tuple[int, ...]) -> tuple[int, ...]:
    """The input's own index of a drawn cell (a vector is drawn as one row; a scalar as one cell)."""
    return drawn[-len(m.shape) :] if m.shape else ()


def _tooltip(m: InputMap, index: tuple[int, ...], name: str) -> str:
    status = (
        "on a kink: unverifiable, never failed"
        if m.kinks[index]
        else ("FAILING" if m.failing[index] else "passes")
    )
    return (
        f"{name}\ncandidate {float(m.candidate[index]):.9g}\nfinite difference "
        f"{float(m.numerical[index]):.9g}\n|diff| {float(m.difference[index]):.3e}\n"
        f"bound {float(m.bound[index]):.3e}\n|diff| / bound = {float(m.excess[index]):.3g}: {status}"
    )


def _summary_figure(m: InputMap, large: bool) -> str:
    """Per axis, the worst excess of each index (kinks aside), binned; the worst entries listed."""
    why = (
        f"{m.entries} entries are more than the {MAX_CELLS} drawn one by one"
        if large
        else f"the page's budget of {PAGE_CELLS} cells drawn one by one is spent"
    )
    excess = np.where(m.kinks, 0.0, m.excess).reshape(m.shape or (1,))
    parts = [
        f"<figure {_attrs(m, True)}><figcaption><b>{escape(_caption(m))}</b> — summarised: "
        f"{escape(why)}; each bar is the worst excess of its indices along one axis (kinks "
        "aside).</figcaption>"
    ]
    for axis in range(excess.ndim):
        others = tuple(a for a in range(excess.ndim) if a != axis)
        values, spans = binned(excess.max(axis=others) if others else excess)
        hover = [
            f"{m.name}, axis {axis} = {s}: worst excess {v:.3g}" for v, s in zip(values, spans)
        ]
        parts.append(
            svg.strip(
                values,
                labels=spans,
                tooltips=hover,
                caption=f"axis {axis} maxima (index →)",
                kind=f"axis-{axis}-max",
            )
        )
    parts.append(_worst_table(m, excess))
    parts.append("</figure>")
    return "".join(parts)


def _worst_table(m: InputMap, excess: np.ndarray) -> str:
    order = np.argsort(-excess, axis=None, kind="stable")[:WORST_SHOWN]
    rows = []
    for flat in order:
        index = tuple(int(i) for i in np.unravel_index(int(flat), m.shape)) if m.shape else ()
        e = float(excess.flat[int(flat)])
        rows.append(
            f'<tr class="{"fail" if m.failing[index] else "ok"}">'
            f"<td>{escape(m.entry_name(index))}</td>"
            f"<td class=num>{float(m.candidate[index]):.9g}</td>"
            f"<td class=num>{float(m.numerical[index]):.9g}</td>"
            f"<td class=num>{float(m.difference[index]):.3e}</td>"
            f"<td class=num>{float(m.bound[index]):.3e}</td><td class=num>{e:.3g}</td></tr>"
        )
    return (
        "<table class=entries><caption>worst entries of the input</caption><tr><th>entry</th>"
        "<th>candidate</th><th>finite diff</th><th>|diff|</th><th>bound</th>"
        f"<th>|diff| / bound</th></tr>{''.join(rows)}</table>"
    )
