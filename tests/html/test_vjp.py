"""The page of a VJPReport: verdict, per-input table, causes, each input's map (failing, kink and
passing entries told apart; a 4-D tensor as a grid of 2-D slices; a large input summarised), and
every name escaped."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _layers import conv_forward
from _pattern_layers import CONV, conv_border_slip

from gradcheck import check_layer, check_vjp
from gradcheck.html import render_report, svg, write_report
from gradcheck.html.sections import PAGE_CELLS
from gradcheck.html.vjp import GRID_WIDTH
from gradcheck.results.error_maps import MAX_CELLS
from gradcheck.results.vjp_report import InputMap, InputSummary, VJPReport


def _statuses(page: str, name: str) -> dict[str, int]:
    """How many cells of input `name`'s figure are failing, on a kink, passing."""
    figure = page.split(f'data-input="{name}" data-failing')[1].split("</figure>")[0]
    return {s: figure.count(f'data-status="{s}"') for s in ("fail", "kink", "pass")}


def _report_of(maps: list[InputMap]) -> VJPReport:
    summaries = tuple(
        InputSummary(m.name, m.shape, True, m.entries, int(m.failing.sum()), int(m.kinks.sum()))
        for m in maps
    )
    failing = any(s.failing for s in summaries)
    return VJPReport(not failing, 0, 3, (1,), summaries, 10, maps=tuple(maps))


def _map(name: str, shape: tuple[int, ...], wrong: tuple[int, ...] | None = None) -> InputMap:
    r = np.arange(np.prod(shape), dtype=float).reshape(shape) + 1.0
    c = r.copy()
    if wrong is not None:
        c[wrong] += 1.0
    failing = np.abs(c - r) > 1e-9
    bound = np.full(shape, 1e-9)
    return InputMap(name, shape, 0, c, r, np.abs(c - r), bound, failing, np.zeros(shape, bool))


def test_a_failing_layer_gets_verdict_table_causes_and_maps(tmp_path):
    report = check_layer(conv_forward, conv_border_slip, CONV)
    path = write_report(report, tmp_path / "conv.html")
    page = path.read_text()
    assert "check_vjp FAILED (seed=0, 3 cotangents" in page and 'class="verdict fail"' in page
    assert "padding or stride slip" in page and "input: x" in page and "pattern: border" in page
    for summary in report.inputs:  # the per-input table: every input, its counts
        assert f'data-input="{summary.name}"><td>{summary.name}</td>' in page
    x_map = report.maps[0]
    assert _statuses(page, "x") == {
        "fail": int(x_map.failing.sum()),
        "kink": 0,
        "pass": x_map.entries - int(x_map.failing.sum()),
    }
    assert _statuses(page, "w") == {"fail": 0, "kink": 0, "pass": 36}
    # x is (1, 2, 6, 6): a grid of two 6 x 6 slices, named as numpy would
    assert "x[0,0,:,:]" in page and "x[0,1,:,:]" in page
    assert 'data-entry="x[0,1,2,5]"' in page and "likely cause:" in page


def test_a_passing_layer_is_green_and_kinks_are_drawn_apart():
    relu = check_layer(
        lambda x: (np.maximum(x, 0), x),
        lambda d, x: d * (x > 0),
        {"x": np.array([[0.0, 1.0, -1.0, 0.5]])},
    )
    page = render_report(relu)
    assert "check_vjp PASSED" in page and 'class="verdict pass"' in page
    assert _statuses(page, "x") == {"fail": 0, "kink": 1, "pass": 3}
    assert "Likely causes" not in page


def test_a_four_dimensional_input_is_a_grid_of_its_two_dimensional_slices():
    page = render_report(_report_of([_map("x", (2, 3, 4, 5), wrong=(1, 2, 3, 4))]))
    figure = page.split('data-input="x" data-failing')[1].split("</figure>")[0]
    assert "grid-template-columns:repeat(3," in figure  # one column per channel
    assert figure.count('class="heatmap"') == 6 and figure.count('class="cell"') == 120
    assert ">x[1,2,:,:]<" in figure and 'data-entry="x[1,2,3,4]"' in figure
    assert _statuses(page, "x")["fail"] == 1


def test_a_large_input_is_summarised_by_axis_with_its_worst_entries():
    shape = (2, 3, 30, 30)  # 5400 entries, more than MAX_CELLS
    assert np.prod(shape) > MAX_CELLS
    page = render_report(_report_of([_map("x", shape, wrong=(1, 0, 7, 29))]))
    figure = page.split('data-input="x" data-failing')[1].split("</figure>")[0]
    assert 'data-summarised="true"' in figure and 'class="cell"' in figure
    assert figure.count("data-status") == 0  # no cell per entry
    for axis in range(4):
        assert f'data-kind="axis-{axis}-max"' in figure
    assert "<td>x[1,0,7,29]</td>" in figure  # the wrong entry heads the worst entries


def test_inputs_past_the_page_budget_are_summarised():
    side = int(np.sqrt(MAX_CELLS))
    maps = [_map(f"x{k}", (side, side)) for k in range(PAGE_CELLS // (side * side) + 1)]
    page = render_report(_report_of(maps))
    assert page.count('data-summarised="false"') == PAGE_CELLS // (side * side)
    assert page.count('data-summarised="true"') == 1 and "budget" in page


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_a_hostile_input_name_is_escaped_everywhere(name):
    report = check_vjp(
        lambda x, w: x * w,
        lambda c, x, w: (2 * c * w, c * x),
        [np.ones(3), np.ones(3)],
        names=[name, "w"],
    )
    assert not report.passed and report.causes
    page = render_report(report)
    assert name not in page
    assert "<script>alert" not in page and "<img" not in page
    assert re.search(r"&lt;script&gt;|&quot;&gt;&lt;img", page)


def test_network_only_options_are_refused_for_a_vjp_report():
    report = _report_of([_map("x", (2, 2))])
    with pytest.raises(TypeError, match="`maps`, `step_curves` and `equation_table`"):
        render_report(report, maps={})


def test_a_row_of_many_slices_shrinks_its_cells_to_fit_the_page():
    page = render_report(_report_of([_map("x", (2, 8, 8, 8))]))
    figure = page.split('data-input="x" data-failing')[1].split("</figure>")[0]
    widths = [int(w) for w in re.findall(r'class="heatmap" width="(\d+)"', figure)]
    assert len(widths) == 16 and 8 * max(widths) <= GRID_WIDTH + 8 * svg.CELL_MAX
    # one slice alone keeps the full-size cells of a network block
    alone = render_report(_report_of([_map("W", (8, 8))]))
    assert f'width="{svg.cell_size(8, 8)}"' in alone.split('data-input="W" data-failing')[1]
