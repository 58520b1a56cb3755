"""gradcheck.html.sections: each part of a page, from the report's data, escaped."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck.html.sections import (
    MAX_MAPPED_TRIALS,
    causes_section,
    entries_table,
    entry_dict,
    escape,
    maps_section,
    trials_section,
)
from gradcheck.results.causes import Cause
from gradcheck.results.error_maps import error_maps
from gradcheck.results.report import EntryReport
from reference import ParameterLayout

TRIAL = {
    "index": 0,
    "sizes": [3, 4, 2],
    "d": 5,
    "kind": "random",
    "seed": 7,
    "dtype": "float64",
    "passed": False,
    "excess_vs_reference": 250.0,
    "excess_vs_finite_differences": float("nan"),
    "excess_reference_vs_loops": 0.5,
    "blocks": [
        {"name": "W^0", "failing": 3, "entries": 12},
        {"name": "b^0", "failing": 0, "entries": 4},
    ],
    "problems": ["the candidate modified its inputs (X)"],
}


def test_escape_quotes_markup():
    assert escape('<b a="1">&') == "&lt;b a=&quot;1&quot;&gt;&amp;"


def test_trials_section_one_row_a_trial_with_its_numbers():
    page = trials_section([TRIAL, dict(TRIAL, index=1, passed=True, seed=-1, kind="given")])
    rows = re.findall(r"<tr class=\"(ok|fail)\">(.*?)</tr>", page)
    assert [kind for kind, _ in rows] == ["fail", "ok"]
    first = rows[0][1]
    assert "3-4-2 d=5 (random, seed 7)" in first and "W^0 3/12 wrong, b^0 ok" in first
    assert "<td class=num>2.5e+02</td><td class=num>-</td><td class=num>0.5</td>" in first
    assert "the candidate modified its inputs (X)" in first
    assert "3-4-2 d=5 (given)</td>" in rows[1][1]  # seed -1: a batch given, no seed shown


def test_causes_section_ranks_and_tags_and_escapes():
    cause = Cause("sign_flipped", "dJ/dW", (0, 1), "the sign is <flipped>. Fix: negate it", {})
    page = causes_section([cause, "a plain <text>"])
    assert (
        page.count('<li class="cause">') == 2
        and page.count('<span class="rank">most likely</span>') == 1
    )
    assert '<span class="tag bug">bug: sign_flipped</span>' in page
    assert '<span class="tag">layers: 0, 1</span>' in page
    assert "the sign is &lt;flipped&gt;." in page and "<b>Fix:</b> negate it" in page
    assert "a plain &lt;text&gt;" in page


def test_maps_section_draws_the_first_trials_only():
    layout = ParameterLayout((2, 2))
    r = np.ones(layout.size)
    maps = error_maps(2 * r, r, np.full(layout.size, 0.1), layout)
    many = {k: maps for k in range(MAX_MAPPED_TRIALS + 2)}
    page = maps_section(many, [dict(TRIAL, index=k) for k in many])
    assert page.count('<section class="trial"') == MAX_MAPPED_TRIALS
    assert f"Maps of the first {MAX_MAPPED_TRIALS} of {MAX_MAPPED_TRIALS + 2} trials" in page
    assert "<h3>Trial 0: 3-4-2 d=5 (random, seed 7)</h3>" in page
    assert "Maps of the first" not in maps_section({0: maps}, [TRIAL])


def test_entries_table_marks_failing_rows():
    entry = dict(name="W^0[1,2]", candidate=2.0, reference=1.0, tolerance=0.1, excess=10.0)
    ok = dict(entry, name="b^0[0]", candidate=1.0, excess=0.0, finite_difference=1.0)
    page = entries_table([entry, ok], caption="worst <entries>")
    assert "<caption>worst &lt;entries&gt;</caption>" in page
    assert '<tr class="fail"><td>W^0[1,2]</td>' in page and '<tr class="ok"><td>b^0[0]</td>' in page
    assert "<td class=num>1.00e+00</td><td class=num>1.0e-01</td><td class=num>10</td>" in page


def test_entry_dict_takes_entries_or_dicts_and_refuses_others():
    entry = EntryReport("W^0[0,0]", 1.0, 2.0, None, 0.1, 10.0)
    assert entry_dict(entry)["name"] == "W^0[0,0]"
    assert entry_dict({"name": "b^0[1]"}) == {"name": "b^0[1]"}
    with pytest.raises(TypeError) as info:
        entry_dict(("W^0[0,0]", 1.0))
    assert str(info.value) == "`worst_entries` must hold EntryReport objects or dicts, got tuple"
