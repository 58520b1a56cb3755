"""gradcheck.html.page and gradcheck.html.sections: the error maps and step curves drawn, the
self-contained page, its atomic write, the maps the oracle keeps of failing trials and
`write_report`, and the pages of known bugs rendered in headless Chromium (skipped
where no browser exists)."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from browser import dump_dom, find_chromium, screenshot  # tests/ is on sys.path
from html_bugs import BUGS, ENTRY, UNIT, bug_page

from gradcheck import check_backprop, check_backprop_at, taylor_test, trial_case
from gradcheck.html.page import render_html, render_report, write_html, write_report
from gradcheck.html.sections import MAX_MAPPED_TRIALS, PAGE_CELLS
from gradcheck.results.causes import Cause
from gradcheck.results.error_maps import (
    MAX_CELLS,
    BlockMap,
    TrialMaps,
    error_maps,
    step_curve,
    trial_maps,
)
from reference import Network, ParameterLayout, backprop

ROOT = Path(__file__).resolve().parents[2]


class Cells(HTMLParser):
    """Every `rect.cell` of a page: its block, trial and data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.blocks: list[dict[str, str]] = []
        self.body: dict[str, str] = {}
        self._block: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = attrs
        if tag == "figure" and "data-block" in attrs:
            self._block = attrs
            self.blocks.append(attrs)
        if tag == "rect" and attrs.get("class") == "cell":
            self.cells.append(dict(attrs, block=self._block.get("data-block", "")))


def cells_of(page: str) -> Cells:
    parser = Cells()
    parser.feed(page)
    return parser


def failing_mask(cells: list[dict[str, str]], block: str, shape: tuple[int, ...]) -> np.ndarray:
    grid = (1, shape[0]) if len(shape) == 1 else shape
    mask = np.zeros(grid, dtype=bool)
    seen = np.zeros(grid, dtype=bool)
    for cell in cells:
        if cell["block"] == block:
            m, n = int(cell["data-row"]), int(cell["data-col"])
            seen[m, n] = True
            mask[m, n] = not float(cell["data-excess"]) <= 1.0
    assert seen.all(), f"{block}: not every cell is drawn"
    return mask.reshape(shape)


def reference_candidate(weights, biases, X, Y):
    return backprop(Network(weights, biases), X, Y)


# ------------------------------------------------------- error maps on the page


def test_a_large_block_is_summarised_and_its_page_stays_small():
    layout = ParameterLayout((1024, 1024, 1))
    rng = np.random.default_rng(0)
    r = rng.normal(size=layout.size)
    c = r.copy()
    c[7 * 1024 : 8 * 1024] += 1.0  # row 7 of W^0 wrong (one input's activation)
    maps = error_maps(c, r, np.full(layout.size, 1e-6), layout)
    W0 = maps[0]
    assert W0.summarised and W0.excess is None and W0.candidate is None
    assert W0.failing == 1024 and W0.entries == 1024 * 1024
    assert np.flatnonzero(W0.row_max > 1).tolist() == [7]
    assert (W0.col_max > 1).all()
    assert all(e.name.startswith("W^0[7,") for e in W0.worst)
    assert not maps[2].summarised  # W^1 is 1024 x 1: as many cells as allowed
    page = render_html(title="big", verdict="FAILED", maps={0: maps})
    assert len(page.encode()) < 1_000_000  # a 1024 x 1024 layer: no 50 MB page
    parsed = cells_of(page)
    rows = [c for c in parsed.cells if c.get("data-kind") == "row-max"]
    assert len(rows) == 256  # 1024 rows binned by 4
    wrong = [c["data-span"] for c in rows if float(c["data-excess"]) > 1]
    assert wrong == ["4-7"]


def test_page_budget_summarises_later_blocks():
    layout = ParameterLayout((64, 64, 64, 64, 64, 64))  # five 64 x 64 blocks
    r = np.ones(layout.size)
    maps = error_maps(r * 2, r, np.full(layout.size, 0.1), layout)
    assert not any(m.summarised for m in maps)
    page = render_html(title="t", verdict="FAILED", maps={0: maps})
    parsed = cells_of(page)
    drawn = [b for b in parsed.blocks if b["data-summarised"] == "false"]
    drawn_cells = sum(
        int(np.prod(m.shape)) for m in maps if m.name in {b["data-block"] for b in drawn}
    )
    assert drawn_cells <= PAGE_CELLS
    assert any(b["data-summarised"] == "true" for b in parsed.blocks)


# --------------------------------------------------------------------- page


def test_page_is_self_contained_and_escapes_text():
    cause = Cause(
        "transposed_dW", "dJ/dW", (0, 1), "dJ/dW^L is transposed <M x N>. Fix: return it as (M, N)"
    )
    page = render_html(
        title="<script>alert(1)</script>",
        verdict="check_backprop FAILED",
        causes=[cause, "every layer is wrong\n  Fix: look at delta^H"],
        equation_table="delta^H  ok\nrecursion  WRONG at layer 0",
        notes=[("Self-check", "sigmoid  ok")],
    )
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    # Nothing is fetched: no external source, stylesheet or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert 'class="verdict fail"' in page
    assert "bug: transposed_dW" in page and "equation: dJ/dW" in page and "layers: 0, 1" in page
    assert "<b>Fix:</b> return it as (M, N)" in page and "<b>Fix:</b> look at delta^H" in page
    assert page.index("transposed &lt;M x N&gt;") < page.index("every layer is wrong")
    assert "recursion  WRONG at layer 0" in page and "Self-check" in page
    assert 'class="verdict pass"' in render_html(title="t", verdict="PASSED")


def test_report_page_from_the_oracle(small):
    net, X, Y, r = small

    def one_entry(weights, biases, X, Y):
        g = backprop(Network(weights, biases), X, Y)
        dW = [W.copy() for W in g.weights]
        dW[1][2, 1] += 1e-3
        return dW, g.biases

    report = check_backprop_at(one_entry, net, X, Y)
    assert not report.passed
    dW, db = one_entry(net.weights, net.biases, X, Y)
    maps = trial_maps(net, X, Y, net.layout.join(dW, db))
    worst = report.worst_entries[0]
    curve = step_curve(net, X, Y, worst.name, candidate=worst.candidate)
    page = render_report(report, maps={0: maps}, step_curves=[curve])
    parsed = cells_of(page)
    assert len(parsed.cells) == net.layout.size
    assert [c["data-entry"] for c in parsed.cells if float(c["data-excess"]) > 1] == ["W^1[2,1]"]
    assert "check_backprop FAILED" in page and worst.name == "W^1[2,1]"
    assert 'class="step-curve" data-entry="W^1[2,1]"' in page
    for text in report.diagnosis:
        assert text.split("\n")[0][:40] in page.replace("&#x27;", "'")


def test_only_the_first_failing_trials_get_maps_and_a_report_of_100_trials_stays_small():
    def scaled(weights, biases, X, Y):
        g = backprop(Network(weights, biases), X, Y)
        return [2 * W for W in g.weights], g.biases

    report = check_backprop(scaled, sizes=[64, 64, 10], trials=2, edge_cases=False)
    trials = report.to_dict()["trials"]
    trials = [dict(trials[k % 2], index=k) for k in range(100)]
    net, X, Y = trial_case([64, 64, 10], 8, seed=0)
    g = backprop(net, X, Y)
    maps = trial_maps(net, X, Y, net.layout.join([2 * W for W in g.weights], g.biases))
    page = render_html(
        title="scaled", verdict="FAILED", trials=trials, maps={k: maps for k in range(100)}
    )
    assert len(page.encode()) < 3_000_000
    sections = re.findall(r'<section class="trial" data-trial="(\d+)"', page)
    assert sections == [str(k) for k in range(MAX_MAPPED_TRIALS)]
    assert f"Maps of the first {MAX_MAPPED_TRIALS} of 100 trials are drawn" in page
    assert page.count('<tr class="fail"><td>') >= 100  # every trial in the table


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"title": 3}, TypeError, "`title` must be a str, got int"),
        ({"causes": "oops"}, TypeError, "`causes` must be a list, got str"),
        (
            {"trials": [3]},
            TypeError,
            '`trials` must hold dicts, as BackpropReport.to_dict()["trials"] gives them',
        ),
        (
            {"maps": [1]},
            TypeError,
            "`maps` must map a trial index to its error_maps(...), got list",
        ),
        ({"maps": {0: [1]}}, TypeError, "`maps[0]` must be a list of BlockMap (from error_maps)"),
        (
            {"step_curves": [1]},
            TypeError,
            "`step_curves` must hold StepCurve objects (from step_curve)",
        ),
        ({"notes": ["x"]}, TypeError, "`notes` must hold (heading, text) pairs"),
        (
            {"worst_entries": [1]},
            TypeError,
            "`worst_entries` must hold EntryReport objects or dicts, got int",
        ),
    ],
)
def test_render_validation(options, error, message):
    with pytest.raises(error) as info:
        render_html(**{"title": "t", "verdict": "FAILED", **options})
    assert str(info.value) == message


def test_taylor_page_draws_every_direction(small):
    net, X, Y, r = small
    wrong = r.copy()
    wrong[3] += 1e-3
    result = taylor_test(lambda t: net.cost(X, Y, theta=t), wrong, net.flat(), n_random=2)
    page = render_html(title="taylor", verdict="FAILED", taylor=result)
    curves = re.findall(r'<path class="curve"', page)
    assert len(curves) == 2 * len(result.direction_names) + 2  # remainders, first order, slopes
    assert "Taylor test FAILED" in page


# -------------------------------------------------------------------- write


def test_write_html_refuses_a_missing_directory_and_an_existing_file(tmp_path):
    page = render_html(title="t", verdict="PASSED")
    missing = tmp_path / "nope" / "r.html"
    with pytest.raises(ValueError) as info:
        write_html(missing, page)
    assert str(info.value) == (
        f"cannot write the HTML report to {str(missing)!r}: the directory "
        f"{str(missing.parent)!r} does not exist"
    )
    with pytest.raises(ValueError, match="it is a directory"):
        write_html(tmp_path, page)
    target = tmp_path / "r.html"
    target.write_text("keep me")
    with pytest.raises(FileExistsError) as info:
        write_html(target, page)
    assert str(info.value) == f"{str(target)!r} exists; pass force=True (--force) to overwrite it"
    assert target.read_text() == "keep me"
    assert write_html(str(target), page, force=True) == target
    assert target.read_text(encoding="utf-8") == page
    assert sorted(os.listdir(tmp_path)) == ["r.html"]  # no temporary left behind
    with pytest.raises(TypeError, match="^`page` must be the HTML text \\(str\\), got bytes$"):
        write_html(tmp_path / "b.html", page.encode())
    with pytest.raises(TypeError, match="^`force` must be True or False, got 'yes'$"):
        write_html(tmp_path / "b.html", page, force="yes")
    with pytest.raises(TypeError, match="^`path` must be a file path, got int$"):
        write_html(3, page)


def test_write_html_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_html(target, render_html(title="t", verdict="PASSED"), force=True)
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["r.html"]


def test_write_report_checks_the_path_before_rendering(tmp_path):
    report = check_backprop(reference_candidate, sizes=[2, 3, 1], trials=1, edge_cases=False)
    with pytest.raises(ValueError, match="does not exist"):
        write_report(report, tmp_path / "no" / "r.html")
    path = write_report(report, tmp_path / "r.html")
    assert "check_backprop PASSED" in path.read_text(encoding="utf-8")


def test_docs_html_example_runs(tmp_path, monkeypatch):
    guide = (ROOT / "docs" / "reports.md").read_text()
    block = re.search(r"## HTML reports.*?```python\n(.*?)```", guide, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/reports.md", "exec"), {})
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "check_backprop FAILED" in page and 'data-block="W^0"' in page


# ---------------------------------------------------------- in a real browser

chromium = pytest.mark.skipif(find_chromium() is None, reason="no chromium on PATH")


@pytest.fixture(scope="module", params=sorted(BUGS))
def rendered(request, tmp_path_factory):
    page = bug_page(request.param)
    path = tmp_path_factory.mktemp("html") / f"{request.param}.html"
    path.write_text(page.html, encoding="utf-8")
    return request.param, page, path


def test_bug_pages_put_the_wrong_cells_where_the_bug_does(rendered):
    """Without a browser: the page's own SVG data (the browser test reads the same from the DOM)."""
    name, page, _ = rendered
    assert not page.passed
    check_cells(name, cells_of(page.html).cells, page.maps)


def check_cells(name: str, cells: list[dict[str, str]], maps: list[BlockMap]) -> None:
    bug = BUGS[name]
    assert len(cells) == sum(m.entries for m in maps)  # every entry drawn
    for m in maps:
        wrong = failing_mask(cells, m.name, m.shape)
        if m.name == bug.block:
            np.testing.assert_array_equal(wrong, bug.wrong(m.shape), err_msg=f"{name}: {m.name}")
        elif name == "transposed_dW" and m.name.startswith("W"):
            np.testing.assert_array_equal(wrong, bug.wrong(m.shape), err_msg=f"{name}: {m.name}")
        elif name == "one_unit_delta" and m.name == "b^0":
            assert np.flatnonzero(wrong).tolist() == [UNIT]
        else:
            assert not wrong.any(), f"{name}: {m.name} has wrong cells"
    if name == "one_entry_off":
        assert [c["data-entry"] for c in cells if float(c["data-excess"]) > 1] == [
            f"W^1[{ENTRY[0]},{ENTRY[1]}]"
        ]


@chromium
def test_bug_pages_in_chromium(rendered):
    """The page loads with no console error, its script ran, and the drawn cells say where the bug is."""
    name, page, path = rendered
    dom, errors = dump_dom(path)
    assert errors == []
    parsed = cells_of(dom)
    assert parsed.body.get("data-ready") == "true"  # the page's script ran to its end
    check_cells(name, parsed.cells, page.maps)


@chromium
def test_console_errors_are_caught(tmp_path):
    """The test of the tester: a page that throws is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><script>throw new Error('boom');</script></body></html>"
    )
    _, errors = dump_dom(bad)
    assert any("Uncaught Error: boom" in line for line in errors)


@chromium
def test_screenshot_of_a_bug_page(tmp_path):
    page = bug_page("one_unit_delta")
    path = tmp_path / "p.html"
    path.write_text(page.html, encoding="utf-8")
    png = screenshot(path, tmp_path / "p.png")
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(head[16:20], "big") == 1200 and int.from_bytes(head[20:24], "big") == 1600
    image = pytest.importorskip("matplotlib.image").imread(png)[..., :3]
    # The failing column is drawn: some pixels of the failing end of the colour scale.
    dark_red = (image[..., 0] > 0.4) & (image[..., 1] < 0.1) & (image[..., 2] < 0.15)
    assert dark_red.sum() > 100


def test_docs_keep_one_screenshot_per_bug():
    for name in BUGS:
        assert (ROOT / "docs" / "html" / f"{name}.png").exists()
        assert f"(html/{name}.png)" in (ROOT / "docs" / "reports.md").read_text()


def test_summaries_keep_worst_entries_table():
    layout = ParameterLayout((MAX_CELLS + 1, 1))
    r = np.zeros(layout.size)
    c = r.copy()
    c[17] = 1.0
    page = render_html(
        title="t", verdict="FAILED", maps={0: error_maps(c, r, np.full(r.size, 0.5), layout)}
    )
    assert "W^0[17,0]" in page and 'data-summarised="true"' in page


# ------------------------------------------------- the oracle's maps, write_report


def doubled_dW(weights, biases, X, Y):
    g = backprop(Network(weights, biases), X, Y)
    return [2 * W for W in g.weights], g.biases


def test_failing_trials_keep_their_maps_out_of_the_data():
    report = check_backprop(doubled_dW, sizes=[3, 4, 2], trials=2, edge_cases=False)
    assert not report.passed
    for trial in report.trials:
        maps = trial.maps
        assert isinstance(maps, TrialMaps) and [b.name for b in maps.blocks] == [
            "W^0",
            "b^0",
            "W^1",
            "b^1",
        ]
        assert [b.failing for b in maps.blocks] == [12, 0, 8, 0]
        # the oracle's own numbers: the same excess as its block summaries
        assert [float(b.row_max.max()) for b in maps.blocks] == [b.excess for b in trial.blocks]
        assert maps.step_curve is not None and maps.step_curve.name == trial.worst[0].name
        assert maps.step_curve.candidate == trial.worst[0].candidate
        assert maps.equation_table is None  # no deltas returned
    data = report.to_dict()
    assert all("maps" not in t for t in data["trials"])
    assert report.trials[0] == replace(report.trials[0], maps=None)  # not part of equality
    assert "maps" not in repr(report.trials[0])
    right = check_backprop(reference_candidate, sizes=[3, 4, 2], trials=1)
    assert all(t.maps is None for t in right.trials)  # passing trials carry none


def test_write_report_of_a_failing_report_draws_its_maps(tmp_path):
    report = check_backprop(doubled_dW, sizes=[3, 4, 2], trials=2, edge_cases=False)
    path = write_report(report, tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    page = path.read_text(encoding="utf-8")
    parsed = cells_of(page)
    assert [b["data-block"] for b in parsed.blocks] == ["W^0", "b^0", "W^1", "b^1"] * 2
    wrong = {c["data-entry"] for c in parsed.cells if not float(c["data-excess"]) <= 1}
    assert len(wrong) == 12 + 8 and all(name.startswith("W^") for name in wrong)
    assert page.count('class="step-curve"') == 1  # the worst entry of the first failing trial
    assert f'data-entry="{report.trials[0].worst[0].name}"' in page
    assert "check_backprop FAILED" in page and "2 times the reference" in page
    assert page == render_report(report)  # write_report writes render_report


def test_write_report_of_a_passing_report_says_it_passed(tmp_path):
    report = check_backprop(reference_candidate, sizes=[3, 4, 2], trials=1)
    page = write_report(report, str(tmp_path / "ok.html")).read_text(encoding="utf-8")
    assert 'class="verdict pass">check_backprop PASSED' in page
    assert 'rect class="cell"' not in page and "<h2>Trials</h2>" in page


def test_write_report_refuses_a_missing_directory_or_an_existing_file(tmp_path):
    report = check_backprop(reference_candidate, sizes=[2, 2], trials=1, edge_cases=False)
    missing = tmp_path / "no" / "r.html"
    with pytest.raises(ValueError) as info:
        write_report(report, missing)
    assert str(info.value) == (
        f"cannot write the HTML report to {str(missing)!r}: the directory "
        f"{str(missing.parent)!r} does not exist"
    )
    target = tmp_path / "r.html"
    target.write_text("keep me")
    with pytest.raises(FileExistsError, match="pass force=True"):
        write_report(report, target)
    assert target.read_text() == "keep me"
    assert "check_backprop PASSED" in write_report(report, target, force=True).read_text()
    with pytest.raises(TypeError, match="^`force` must be True or False, got 1$"):
        write_report(report, target, force=1)


def test_a_candidate_with_deltas_gets_the_equation_table_on_its_page(tmp_path):
    from candidates import with_deltas

    report = check_backprop(with_deltas(break_at=1), sizes=[3, 5, 4, 2], trials=1, edge_cases=False)
    assert not report.passed
    table = report.trials[0].maps.equation_table
    assert table.startswith("Backprop equation by equation: 3-5-4-2")
    assert "the recursion from layer 2 to layer 1 is wrong" in table
    page = write_report(report, tmp_path / "eq.html").read_text(encoding="utf-8")
    shown = page[page.index("<h2>Equation by equation</h2>") :]
    assert "delta^1 = (W^2 delta^2) ⊙ h&#x27;(z^1)   2 -&gt; 1" in shown


def test_html_report_still_exports_the_data_it_first_published():
    import gradcheck.html.page as page
    import gradcheck.results.error_maps as data

    for name in ("BlockMap", "StepCurve", "error_maps", "trial_maps", "step_curve", "MAX_CELLS"):
        assert getattr(page, name) is getattr(data, name)


def test_write_html_gives_a_new_page_the_umask_mode_and_keeps_a_replaced_files(tmp_path):
    page = render_html(title="t", verdict="PASSED")
    old_umask = os.umask(0o022)
    try:
        fresh = write_html(tmp_path / "new.html", page)
        assert fresh.stat().st_mode & 0o777 == 0o644  # as open() gives: 0666 less the umask
        os.umask(0o077)
        assert write_html(tmp_path / "private.html", page).stat().st_mode & 0o777 == 0o600
        kept = tmp_path / "kept.html"
        kept.write_text("old")
        kept.chmod(0o640)
        assert write_html(kept, page, force=True).stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old_umask)


def test_write_html_refuses_a_dangling_symlink_and_an_unwritable_directory(tmp_path):
    page = render_html(title="t", verdict="PASSED")
    link = tmp_path / "r.html"
    link.symlink_to(tmp_path / "nowhere.html")
    with pytest.raises(FileExistsError, match="exists; pass force=True"):
        write_html(link, page)
    assert not (tmp_path / "nowhere.html").exists()
    # /proc takes no new files, even from root (a chmod-ed directory would not stop root)
    with pytest.raises(ValueError) as info:
        write_html("/proc/r.html", page)
    assert str(info.value).startswith(
        "cannot write the HTML report to '/proc/r.html': the directory '/proc' does not take new files"
    )


def test_an_inconclusive_report_is_shown_inconclusive_not_failed(monkeypatch):
    # the oracle disagreeing with itself is its own fault: the page must not say FAILED
    from _helpers import TANH_CANDIDATE
    from _oracle_cases import force_oracle_disagreement

    force_oracle_disagreement(monkeypatch)
    report = check_backprop(
        TANH_CANDIDATE, sizes=[3, 4, 2], hidden="tanh", trials=1, edge_cases=False
    )
    assert report.status == "inconclusive"
    page = render_report(report)
    assert '<p class="verdict inconclusive">check_backprop INCONCLUSIVE (' in page
    assert "FAILED" not in page
