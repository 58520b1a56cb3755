"""gradcheck.html.svg: the log colour scale with its boundary at the tolerance, heatmaps, strips, log-log plots."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from gradcheck.html import svg

NS = "{http://www.w3.org/2000/svg}"


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[k : k + 2], 16) for k in (1, 3, 5)])


def luminance(hex_colour: str) -> float:
    return float(rgb(hex_colour) @ [0.299, 0.587, 0.114])


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)  # well-formed XML, or this raises


# ------------------------------------------------------------------ colour


def test_colour_special_values():
    assert svg.colour([0.0]).tolist() == [svg.EQUAL]
    assert svg.colour([np.inf, np.nan]).tolist() == [svg.NOT_FINITE, svg.NOT_FINITE]
    assert svg.colour(0.5).shape == ()


def test_colour_changes_hue_at_the_tolerance():
    below, at, above = svg.colour([0.999, 1.0, 1.001]).tolist()
    blue = lambda c: rgb(c)[2] > rgb(c)[0]
    red = lambda c: rgb(c)[0] > rgb(c)[2]
    assert blue(below) and blue(at) and red(above)
    # A boundary people see: the colours on either side of 1 are far apart.
    assert np.abs(rgb(at) - rgb(above)).sum() > 250


def test_colour_is_monotone_on_both_sides_of_the_boundary():
    passing = svg.colour(10.0 ** np.linspace(-svg.DECADES, 0, 9)).tolist()
    failing = svg.colour(10.0 ** np.linspace(0.01, svg.DECADES, 9)).tolist()
    assert np.all(np.diff([luminance(c) for c in passing]) < 0)  # darker towards the tolerance
    assert np.all(np.diff([luminance(c) for c in failing]) < 0)  # darker the worse
    # Beyond the scale: its end colours.
    assert svg.colour([1e-30, 1e30]).tolist() == [passing[0], failing[-1]]


# ----------------------------------------------------------------- heatmap


def test_heatmap_has_one_cell_per_entry_with_its_data():
    excess = np.array([[0.0, 0.5, 3.0], [np.inf, 1e-3, 2e5]])
    names = [[f"W^0[{m},{n}]" for n in range(3)] for m in range(2)]
    tips = [[f"tip {m} {n}" for n in range(3)] for m in range(2)]
    root = parse(svg.heatmap(excess, names=names, tooltips=tips, caption="W^0 (2 × 3)"))
    cells = root.findall(f".//{NS}rect[@class='cell']")
    assert len(cells) == 6
    for cell in cells:
        m, n = int(cell.get("data-row")), int(cell.get("data-col"))
        assert cell.get("data-entry") == names[m][n]
        assert float(cell.get("data-excess")) == pytest.approx(excess[m, n], rel=1e-3)
        assert cell.find(f"{NS}title").text == tips[m][n]
        assert cell.get("fill") == svg.colour(excess[m, n])
    assert "W^0 (2 × 3)" in "".join(root.itertext())


def test_heatmap_escapes_names_and_tooltips():
    text = svg.heatmap(
        np.array([[2.0]]), names=[['a"<b>&']], tooltips=[["<script>alert(1)</script>"]]
    )
    parse(text)
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_heatmap_cells_shrink_for_wide_blocks_within_bounds():
    assert svg.cell_size(2, 3) == svg.CELL_MAX
    assert svg.cell_size(64, 64) == svg.MAP_WIDTH // 64
    assert svg.cell_size(1, 4096) == svg.CELL_MIN


def test_strip_cells_name_their_span():
    root = parse(
        svg.strip(
            np.array([0.2, 7.0, 1.0]),
            labels=["0-3", "4-7", "8-9"],
            tooltips=["a", "b", "c"],
            caption="row maxima",
            kind="row-max",
        )
    )
    cells = root.findall(f".//{NS}rect[@class='cell']")
    assert [c.get("data-span") for c in cells] == ["0-3", "4-7", "8-9"]
    assert [c.get("data-kind") for c in cells] == ["row-max"] * 3
    assert [float(c.get("data-excess")) for c in cells] == [0.2, 7.0, 1.0]


def test_colour_bar_marks_the_tolerance():
    text = svg.colour_bar()
    parse(text)
    assert "1 = the tolerance" in text
    assert 'stroke-width="2"' in text  # the boundary line at 1


# --------------------------------------------------------------- line plot


def test_line_plot_draws_positive_finite_points_in_the_box():
    x = 2.0 ** -np.arange(20)
    y = x**2
    y[3] = 0.0  # dropped: no log of 0
    y[5] = np.nan
    text = svg.line_plot(
        [svg.Series("e^2", x, y, markers=x > 1e-3), svg.Series("e", x, x, dash="4 3")],
        title="V",
        xlabel="step",
        ylabel="error",
        hlines=[(1e-2, "candidate", "#d62728")],
    )
    root = parse(text)
    paths = root.findall(f".//{NS}path[@class='curve']")
    assert len(paths) == 2
    points = re.findall(r"[ML]([\d.]+),([\d.]+)", paths[0].get("d"))
    assert len(points) == 18
    width, height = float(root.get("width")), float(root.get("height"))
    assert all(0 <= float(a) <= width and 0 <= float(b) <= height for a, b in points)
    assert len(root.findall(f".//{NS}circle")) == int(((x > 1e-3) & (y > 0)).sum())
    assert root.findall(f".//{NS}line[@class='hline']")
    labels = "".join(root.itertext())
    assert "1e-5" in labels and "candidate" in labels


def test_line_plot_with_nothing_drawable_still_renders():
    text = svg.line_plot(
        [svg.Series("zero", np.ones(3), np.zeros(3))], title="t", xlabel="x", ylabel="y"
    )
    root = parse(text)
    assert root.find(f".//{NS}path").get("d") == ""
