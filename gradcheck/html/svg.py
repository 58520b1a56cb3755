"""Inline SVG pictures, with no plotting library: error heatmaps on a log colour scale, and log-log curves.

The HTML report draws with these, so it needs no optional extra and opens
from disk with nothing fetched.  Three kinds of picture:

- `heatmap`: one cell per entry of `|candidate - reference| / tolerance`
  (the "excess"; > 1 fails), coloured by `colour` on a log scale whose
  hue changes at 1, the tolerance: blues pass (paler the smaller), oranges
  to dark red fail (darker the larger).  Every cell carries its entry's
  name and excess as data attributes (``data-entry``, ``data-excess``,
  ``data-row``, ``data-col``) and a hover title with the values;
- `strip`: a row of cells (the row or column maxima of a large block);
- `line_plot`: log-log curves, for the finite-difference step curve (error
  against step, the V) and the Taylor remainders.

Every function returns the SVG as a string, ready to be inlined in HTML.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DECADES",
    "KINK",
    "Series",
    "colour",
    "colour_bar",
    "heatmap",
    "line_plot",
    "strip",
]

#: The colour scale spans 10^-DECADES .. 10^DECADES times the tolerance; beyond, its end colours.
DECADES = 4
EQUAL = "#f4f6f8"  # c == r exactly: paler than any passing colour
NOT_FINITE = "#2b0010"  # inf or NaN excess: a non-finite value, or no tolerance can hold it
KINK = "#b9b9b9"  # an entry on a kink: unverifiable by differences, neither passing nor failing
# Passing: pale grey-blue (1e-4 of the tolerance) to a strong blue (just under it).
PASS_RAMP = ((0xE3, 0xEA, 0xF2), (0x2C, 0x6B, 0xB0))
# Failing: light orange (just over the tolerance) to dark red (1e4 times it and beyond).
FAIL_RAMP = ((0xFD, 0xC0, 0x6B), (0x7F, 0x00, 0x10))
CELL_MIN, CELL_MAX = 4, 28  # pixels per heatmap cell: tiny blocks stay legible, wide ones fit
MAP_WIDTH = 640  # pixels a heatmap grows to before its cells shrink
FONT = "font-family='system-ui,sans-serif'"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


def colour(excess: np.ndarray | float) -> np.ndarray:
    """The colour of each excess `|c - r| / tolerance`, as ``"#rrggbb"`` strings.

    Log scale: ``log10(excess)`` clipped to ``[-DECADES, DECADES]``; at and
    below 1 a blue ramp, above 1 an orange-to-red one, so the tolerance is
    a visible boundary.  0 (exact agreement) is near-white; inf and NaN
    are near-black.

    Examples
    --------
    >>> colour([0.0, 0.5, 2.0, float("inf")]).tolist()
    ['#f4f6f8', '#3a75b5', '#f4b264', '#2b0010']
    """
    e = np.asarray(excess, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(np.log10(e), -DECADES, DECADES) / DECADES  # in [-1, 1]
    t = np.nan_to_num(t, nan=0.0)
    passing = e <= 1.0
    # Pass ramp from its pale end (t = -1) to its strong end (t = 0); fail ramp from t = 0 to 1.
    s = np.where(passing, t + 1.0, t)[..., None]
    low = np.where(passing[..., None], PASS_RAMP[0], FAIL_RAMP[0])
    high = np.where(passing[..., None], PASS_RAMP[1], FAIL_RAMP[1])
    rgb = np.rint(low + s * (high - low)).astype(int)
    out = np.array(
        [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb.reshape(-1, 3)], dtype=object
    ).reshape(e.shape)
    out = np.where(e == 0, EQUAL, out)
    return np.where(np.isfinite(e), out, NOT_FINITE)


def cell_size(rows: int, cols: int) -> int:
    """Pixels per cell so that the map fits `MAP_WIDTH` both ways (within CELL_MIN..CELL_MAX)."""
    return int(min(CELL_MAX, max(CELL_MIN, MAP_WIDTH // max(rows, cols, 1))))


def heatmap(
    excess: np.ndarray,
    *,
    names: Sequence[Sequence[str]],
    tooltips: Sequence[Sequence[str]],
    caption: str = "",
    row_axis: str = "m",
    col_axis: str = "n",
    kinks: np.ndarray | None = None,
    cell: int | None = None,
) -> str:
    """One cell per entry of a block, coloured by `colour`, with names and values on hover.

    Parameters
    ----------
    excess : ndarray, shape (R, C)
        ``|c - r| / tolerance`` of each entry (``W^L``: R = M, C = N; ``b^L``:
        R = 1, C = N).
    names : nested sequence of str, shape (R, C)
        Each entry's name, e.g. ``"W^1[3,0]"`` (the ``data-entry`` attribute).
    tooltips : nested sequence of str, shape (R, C)
        The hover text of each cell (the SVG ``<title>``).
    caption : str
        Drawn above the map.
    row_axis, col_axis : str
        Axis names (``m`` down, ``n`` across).
    kinks : ndarray of bool, shape (R, C), optional
        Entries on a kink, drawn grey (`KINK`); when given, every cell also carries
        ``data-status``: ``"fail"``, ``"kink"`` or ``"pass"``.
    cell : int, optional
        Pixels per cell (default `cell_size`: the map fits `MAP_WIDTH`); a grid of several
        maps side by side passes a smaller one.

    Returns
    -------
    str
        ``<svg class="heatmap">`` with one ``<rect class="cell">`` per entry.

    Examples
    --------
    >>> svg = heatmap(np.array([[0.1, 5.0]]), names=[["b^0[0]", "b^0[1]"]],
    ...               tooltips=[["ok", "bad"]])
    >>> svg.count('class="cell"'), 'data-entry="b^0[1]"' in svg, 'data-excess="5"' in svg
    (2, True, True)
    """
    excess = np.atleast_2d(np.asarray(excess, dtype=np.float64))
    R, C = excess.shape
    size = cell_size(R, C) if cell is None else cell
    tall = max(size, 14) if R == 1 else size  # a vector b^L: a row of cells tall enough to see
    left, top = 34, 36 if caption else 18
    # Wide enough for the caption too (bold 12 px: about 7.5 px a character).
    width = max(left + C * size + 8, left + int(7.5 * len(caption)))
    height = top + R * tall + 6
    fills = colour(excess)
    status = None
    if kinks is not None:
        kinks = np.asarray(kinks, dtype=bool).reshape(R, C)
        fills = np.where(kinks, KINK, fills)
        status = np.where(kinks, "kink", np.where(excess <= 1.0, "pass", "fail"))
    parts = [_svg_open(width, height, "heatmap")]
    if caption:
        parts.append(_text(left, 12, caption, size=12, weight="bold"))
    parts.append(_text(left, top - 4, f"{col_axis} →", size=10, colour="#555"))
    if row_axis:
        parts.append(_text(4, top + 10, f"{row_axis}↓", size=10, colour="#555"))
    parts += _ticks(R, C, size, left, top)
    for r in range(R):
        for c in range(C):
            parts.append(
                f'<rect class="cell" x="{left + c * size}" y="{top + r * tall}" width="{size}" '
                f'height="{tall}" fill="{fills[r, c]}" data-entry="{_esc(names[r][c])}" '
                f'data-row="{r}" data-col="{c}" data-excess="{_num(excess[r, c])}"'
                + ("" if status is None else f' data-status="{status[r, c]}"')
                + f"><title>{_esc(tooltips[r][c])}</title></rect>"
            )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{C * size}" height="{R * tall}" fill="none" '
        'stroke="#888" stroke-width="0.5"/></svg>'
    )
    return "".join(parts)


def strip(
    excess: np.ndarray,
    *,
    labels: Sequence[str],
    tooltips: Sequence[str],
    caption: str,
    kind: str,
) -> str:
    """A row of cells: the maxima of a large block's rows (``kind="row-max"``) or columns.

    Each cell carries ``data-kind``, ``data-index`` (its position), ``data-span``
    (the rows or columns it summarises, e.g. ``"0-3"``) and ``data-excess``.

    Examples
    --------
    >>> svg = strip(np.array([0.5, 3.0]), labels=["0", "1"], tooltips=["a", "b"],
    ...             caption="row maxima", kind="row-max")
    >>> svg.count('data-kind="row-max"')
    2
    """
    excess = np.asarray(excess, dtype=np.float64).ravel()
    K = excess.size
    size = max(2, min(CELL_MAX, MAP_WIDTH // max(K, 1)))
    left, top = 8, 22
    width, height = left + K * size + 8, top + 18 + 14
    fills = colour(excess)
    parts = [_svg_open(width, height, "strip"), _text(left, 12, caption, size=11, weight="bold")]
    for k in range(K):
        parts.append(
            f'<rect class="cell" x="{left + k * size}" y="{top}" width="{size}" height="18" '
            f'fill="{fills[k]}" data-kind="{kind}" data-index="{k}" data-span="{_esc(labels[k])}" '
            f'data-excess="{_num(excess[k])}"><title>{_esc(tooltips[k])}</title></rect>'
        )
    step = max(1, math.ceil(40 / size))
    for k in range(0, K, step):
        parts.append(
            _text(left + k * size, top + 30, labels[k].split("-")[0], size=9, colour="#555")
        )
    parts.append("</svg>")
    return "".join(parts)


def colour_bar(label: str = "|c − r| / tolerance   (1 = the tolerance)") -> str:
    """The colour scale's legend: 1e-4 .. 1e4 times the tolerance, with the boundary at 1 marked
    and `label` under it.

    Examples
    --------
    >>> "tolerance" in colour_bar()
    True
    """
    width, bar, left = 420, 16, 20
    steps = 64
    span = width - 2 * left
    parts = [_svg_open(width, 58, "colour-bar")]
    for k in range(steps):
        t = -DECADES + 2 * DECADES * (k + 0.5) / steps
        parts.append(
            f'<rect x="{left + k * span / steps:.1f}" y="8" width="{span / steps + 0.6:.1f}" '
            f'height="{bar}" fill="{colour(10.0**t)}"/>'
        )
    for p in range(-DECADES, DECADES + 1, 2):
        x = left + (p + DECADES) / (2 * DECADES) * span
        parts.append(_line(x, 8 + bar, x, 12 + bar, "#333"))
        parts.append(_text(x, 24 + bar, f"1e{p}" if p else "1", size=10, anchor="middle"))
    middle = left + span / 2
    parts.append(
        f'<line x1="{middle}" y1="4" x2="{middle}" y2="{12 + bar}" stroke="#000" stroke-width="2"/>'
    )
    parts.append(_text(middle, 38 + bar, label, size=10, anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    """One curve of a `line_plot`: points `(x, y)`, drawn where both are positive and finite."""

    label: str
    x: np.ndarray
    y: np.ndarray
    colour: str = PALETTE[0]
    dash: str = ""  # an SVG stroke-dasharray, e.g. "4 3"; "" is solid
    markers: np.ndarray | None = None  # bool per point: drawn as dots
    legend: bool = True
    extra: dict[str, str] = field(default_factory=dict)  # data attributes of the <path>


def line_plot(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    hlines: Sequence[tuple[float, str, str]] = (),
    width: int = 560,
    height: int = 360,
) -> str:
    """Log-log curves with decade grid lines, a legend and optional horizontal lines.

    Parameters
    ----------
    series : sequence of Series
    title, xlabel, ylabel : str
    hlines : sequence of (y, label, colour)
        Horizontal reference lines (e.g. the candidate's ``|c - r|``).

    Examples
    --------
    >>> x = 2.0 ** -np.arange(10)
    >>> svg = line_plot([Series("e^2", x, x**2)], title="t", xlabel="e", ylabel="R")
    >>> svg.count('class="curve"')
    1
    """
    xs = [s.x[_drawable(s.x, s.y)] for s in series]
    ys = [s.y[_drawable(s.x, s.y)] for s in series] + [np.array([y for y, _, _ in hlines])]
    x_lo, x_hi = _log_range(np.concatenate(xs) if xs else np.array([]))
    y_lo, y_hi = _log_range(np.concatenate(ys))
    left, right, top, bottom = 70, 16, 30, 46
    pw, ph = width - left - right, height - top - bottom

    def X(v: np.ndarray) -> np.ndarray:
        return left + (np.log10(v) - x_lo) / (x_hi - x_lo) * pw

    def Y(v: np.ndarray) -> np.ndarray:
        return top + (y_hi - np.log10(v)) / (y_hi - y_lo) * ph

    parts = [
        _svg_open(width, height, "plot"),
        _text(width / 2, 18, title, size=12, anchor="middle"),
    ]
    parts.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#888"/>'
    )
    for p in _decades(x_lo, x_hi):
        x = float(X(np.array(10.0**p)))
        parts.append(_line(x, top, x, top + ph, "#e4e4e4"))
        parts.append(_text(x, top + ph + 14, f"1e{p}", size=9, anchor="middle", colour="#444"))
    for p in _decades(y_lo, y_hi):
        y = float(Y(np.array(10.0**p)))
        parts.append(_line(left, y, left + pw, y, "#e4e4e4"))
        parts.append(_text(left - 4, y + 3, f"1e{p}", size=9, anchor="end", colour="#444"))
    parts.append(_text(left + pw / 2, height - 8, xlabel, size=11, anchor="middle"))
    parts.append(
        f'<text x="14" y="{top + ph / 2}" font-size="11" {FONT} text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2})">{_esc(ylabel)}</text>'
    )
    for y_value, label, hue in hlines:
        if y_value > 0 and math.isfinite(y_value):
            y = float(Y(np.array(y_value)))
            parts.append(
                f'<line class="hline" x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                f'stroke="{hue}" stroke-dasharray="6 3"/>'
            )
            parts.append(_text(left + pw - 4, y - 4, label, size=10, anchor="end", colour=hue))
    parts += _curves(series, X, Y, legend_at=(left, top))
    parts.append("</svg>")
    return "".join(parts)


def _curves(
    series: Sequence[Series],
    X: Callable[[np.ndarray], np.ndarray],
    Y: Callable[[np.ndarray], np.ndarray],
    *,
    legend_at: tuple[float, float],
) -> list[str]:
    """Each series as a path (with its markers), and the legend's entries, top left."""
    left, top = legend_at
    parts = []
    legend = 0
    for s in series:
        keep = _drawable(s.x, s.y)
        px, py = X(s.x[keep]), Y(s.y[keep])
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        extra = "".join(f' data-{k}="{_esc(v)}"' for k, v in s.extra.items())
        parts.append(
            f'<path class="curve" d="{_path(px, py)}" fill="none" stroke="{s.colour}" '
            f'stroke-width="1.5"{dash}{extra}><title>{_esc(s.label)}</title></path>'
        )
        if s.markers is not None:
            marked = np.asarray(s.markers, dtype=bool)[keep]
            parts += [
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{s.colour}"/>'
                for a, b in zip(px[marked], py[marked])
            ]
        if s.legend:
            y = top + 12 + 14 * legend
            parts.append(
                f'<line x1="{left + 8}" y1="{y - 4}" x2="{left + 30}" y2="{y - 4}" '
                f'stroke="{s.colour}" stroke-width="2"{dash}/>'
            )
            parts.append(_text(left + 34, y, s.label, size=10))
            legend += 1
    return parts


def _drawable(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)


def _log_range(values: np.ndarray) -> tuple[float, float]:
    """Whole decades around the positive finite `values` (1e-1 .. 1e1 when there are none)."""
    values = values[(values > 0) & np.isfinite(values)]
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = math.floor(np.log10(values.min())), math.ceil(np.log10(values.max()))
    return float(lo), float(hi if hi > lo else lo + 1)


def _decades(lo: float, hi: float) -> range:
    step = max(1, math.ceil((hi - lo) / 10))  # at most ~10 labelled decades
    return range(int(lo), int(hi) + 1, step)


def _path(px: np.ndarray, py: np.ndarray) -> str:
    return " ".join(
        f"{'M' if k == 0 else 'L'}{a:.1f},{b:.1f}" for k, (a, b) in enumerate(zip(px, py))
    )


def _ticks(R: int, C: int, size: int, left: int, top: int) -> list[str]:
    step = max(1, math.ceil(14 / size))  # labels no closer than 14 px
    out = [
        _text(
            left + c * size + size / 2, top - 4 - 10, str(c), size=9, anchor="middle", colour="#555"
        )
        for c in range(0, C, step)
        if C > 1
    ]
    out += [
        _text(left - 3, top + r * size + size / 2 + 3, str(r), size=9, anchor="end", colour="#555")
        for r in range(0, R, step)
        if R > 1
    ]
    return out


def _svg_open(width: float, height: float, cls: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 11,
    anchor: str = "start",
    weight: str = "normal",
    colour: str = "#111",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" {FONT} text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{colour}">{_esc(text)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'


def _num(value: float) -> str:
    """A float for a data attribute: short, and readable back by float() (inf, nan included)."""
    return "inf" if value == math.inf else ("nan" if math.isnan(value) else f"{value:.4g}")


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)
