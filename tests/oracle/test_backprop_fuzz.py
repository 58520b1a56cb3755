"""gradcheck.oracle.backprop: fuzzed options and candidates are checked or refused, and the same input gives the same report bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _fuzz import FUZZ, FUZZ_CONFIGS, draw_options, outcome
from _helpers import (
    TANH_CANDIDATE,
    numpy_candidate,
    reference_candidate,
)
from hypothesis import given
from hypothesis import strategies as st

from gradcheck import (
    check_backprop,
    check_backprop_at,
    trial_case,
)


def test_check_backprop_numpy_integer_seed_behaves_like_int():
    big = 10**17
    a = check_backprop(
        TANH_CANDIDATE, sizes=[3, 2], hidden="tanh", seed=np.int64(big), trials=1, edge_cases=False
    )
    b = check_backprop(
        TANH_CANDIDATE, sizes=[3, 2], hidden="tanh", seed=big, trials=1, edge_cases=False
    )
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


# candidates for the check_backprop fuzz, each built around a correct one
def _fuzz_candidate(name, correct):
    def offset(W, b, X, Y):
        dW, db = correct(W, b, X, Y)
        return [g + 0.01 for g in dW], [g + 0.01 for g in db]

    def nan(W, b, X, Y):
        dW, db = correct(W, b, X, Y)
        dW[0] = dW[0] * np.nan
        return dW, db

    def mutates(W, b, X, Y):
        out = correct(W, b, X, Y)
        X[...] = 0.0
        return out

    return {
        "correct": correct,
        "offset": offset,
        "nan": nan,
        "mutates": mutates,
        "aliases": lambda W, b, X, Y: (W, b),
        "raises": lambda W, b, X, Y: 1 / 0,
        "none": lambda W, b, X, Y: None,
        "string": lambda W, b, X, Y: "gradients",
        "generator": lambda W, b, X, Y: (g for g in correct(W, b, X, Y)),
        "transposed": lambda W, b, X, Y: (
            [g.T for g in correct(W, b, X, Y)[0]],
            correct(W, b, X, Y)[1],
        ),
        "layer_short": lambda W, b, X, Y: (
            correct(W, b, X, Y)[0][:-1],
            correct(W, b, X, Y)[1][:-1],
        ),
        "complex": lambda W, b, X, Y: (
            [g + 0j for g in correct(W, b, X, Y)[0]],
            correct(W, b, X, Y)[1],
        ),
    }[name]


@FUZZ
@given(data=st.data())
def test_fuzz_check_backprop(data):
    hidden, output, cost = data.draw(st.sampled_from(FUZZ_CONFIGS))
    name = data.draw(
        st.sampled_from(
            [
                "correct",
                "correct",
                "offset",
                "nan",
                "mutates",
                "aliases",
                "raises",
                "none",
                "string",
                "generator",
                "transposed",
                "layer_short",
                "complex",
            ]
        )
    )
    candidate = _fuzz_candidate(name, reference_candidate(hidden=hidden, output=output, cost=cost))
    good = {
        "sizes": st.lists(st.integers(2, 3), min_size=2, max_size=3),
        "trials": st.sampled_from([1, 2]),
        "batch_size": st.sampled_from([1, 3]),
        "seed": st.sampled_from([0, 5, 2**40]),
        "layout": st.just("article"),
        "edge_cases": st.booleans(),
    }
    bad = {
        "sizes": st.sampled_from([[3], [3, 0], [3, 2.0], "3,2", None, [3, -1], [True, 2], []]),
        "trials": st.sampled_from([0, -1, 1.0, True, "1", None]),
        "batch_size": st.sampled_from([0, -3, 2.5, None, "3"]),
        "seed": st.sampled_from([-1, 1.5, True, "0", None]),
        "layout": st.sampled_from(["keras", None, 3, "Article"]),
        "edge_cases": st.sampled_from(["yes", 1, None]),
    }
    options = draw_options(data, good, bad)
    sizes, trials, batch, seed, layout, edge_cases = (
        options[k] for k in ("sizes", "trials", "batch_size", "seed", "layout", "edge_cases")
    )
    valid = (
        isinstance(sizes, list)
        and len(sizes) >= 2
        and all(type(n) is int and n >= 1 for n in sizes)
        and type(trials) is int
        and trials >= 1
        and type(batch) is int
        and batch >= 1
        and type(seed) is int
        and seed >= 0
        and layout == "article"
        and isinstance(edge_cases, bool)
    )
    kind, report = outcome(
        lambda: check_backprop(
            candidate,
            sizes=sizes,
            hidden=hidden,
            output=output,
            cost=cost,
            layout=layout,
            trials=trials,
            seed=seed,
            batch_size=batch,
            edge_cases=edge_cases,
        )
    )
    assert kind == ("ok" if valid else "refused"), (kind, report)
    if kind == "ok":
        assert report.passed == (name == "correct"), str(report)
        json.dumps(report.to_dict())
        assert len(str(report).splitlines()) <= 60


@pytest.mark.parametrize("name", ["correct", "offset", "raises", "nan"])
def test_check_backprop_same_seed_same_report_bit_for_bit(name):
    candidate = _fuzz_candidate(
        name, reference_candidate(hidden="tanh", output="softmax", cost="categorical_cross_entropy")
    )
    options = dict(
        sizes=[4, 5, 3], hidden="tanh", output="softmax", cost="categorical_cross_entropy", seed=11
    )
    first = json.dumps(check_backprop(candidate, **options).to_dict())
    second = json.dumps(check_backprop(candidate, **options).to_dict())
    assert first == second
    other = json.dumps(check_backprop(candidate, **(options | {"seed": 12})).to_dict())
    assert other != first  # the seed does reach the report


def test_check_backprop_at_same_input_same_report_bit_for_bit():
    net, X, Y = trial_case([3, 4, 4, 2], 5, 9, hidden="relu", output="identity")
    candidate = numpy_candidate("relu", "identity")
    first = json.dumps(check_backprop_at(candidate, net, X, Y).to_dict())
    assert json.dumps(check_backprop_at(candidate, net, X, Y).to_dict()) == first
