"""gradcheck.oracle.candidate: checking a candidate, calling it, reading its answer, calling it again."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from _helpers import TANH_CANDIDATE, TANH_NET, TANH_X, TANH_Y
from candidates import make_numpy_backprop

from gradcheck import BackpropReport, check_backprop_at
from gradcheck.oracle.backprop import trial_case
from gradcheck.oracle.candidate import (
    CandidateOutput,
    call_candidate,
    check_candidate,
    check_h_prime,
    check_repeatable,
    describe_candidate,
)
from reference import (
    Gradients,
    Network,
    backprop,
    get_activation,
)

CORRECT = make_numpy_backprop()


@pytest.fixture(scope="module")
def case():
    return trial_case([3, 4, 2], 5, seed=7)


def test_check_candidate_names_the_expected_call():
    check_candidate(CORRECT)
    with pytest.raises(TypeError) as info:
        check_candidate([1, 2])
    assert str(info.value) == (
        "`candidate` must be callable as candidate(weights, biases, X, Y), got list"
    )


class _Backprop:
    def __call__(self, weights, biases, X, Y):
        return CORRECT(weights, biases, X, Y)


def test_describe_candidate_gives_module_and_qualified_name():
    # a closure: its own name and where it was made, not `<locals>`
    assert describe_candidate(CORRECT) == "candidate (made in candidates.make_numpy_backprop)"
    assert describe_candidate(_Backprop()) == f"{__name__}._Backprop"  # an instance: its class
    assert describe_candidate(len) == "builtins.len"

    def main_module():
        pass

    main_module.__module__ = "__main__"
    # defined in this test: a closure of __main__, named without the module
    assert describe_candidate(main_module) == (
        "main_module (made in test_describe_candidate_gives_module_and_qualified_name)"
    )


def test_check_h_prime_refuses_a_wrong_derivative_and_names_the_point():
    def cube(z):
        return z**3

    wrong = Network.random([2, 2], output=(cube, lambda z: z**2)).output
    with pytest.raises(ValueError) as info:
        check_h_prime(wrong, role="output")
    assert str(info.value) == (
        "the output activation 'cube': h_prime is not the derivative of h; at z = 4.012, "
        "h_prime gives 16.09855129 but differences of h give 48.29565387 "
        "(33 of 33 points checked on [-4, 4] disagree)"
    )
    check_h_prime(get_activation("tanh"), role="hidden")  # a right one passes silently


def test_the_output_of_a_call_is_frozen_and_problems_are_added_by_copy(case):
    net, X, Y = case
    out = call_candidate(CORRECT, net, X, Y, layout="article")
    assert out.problems == () and out.gradient is not None and out.dtype == np.float64
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.problems = ("x",)  # type: ignore[misc]
    more = out.with_problems("one", "two")
    assert more.problems == ("one", "two") and out.problems == ()
    assert more.gradient is out.gradient
    assert CandidateOutput(problems=["a list"]).problems == ("a list",)


def test_call_candidate_never_lets_the_candidate_touch_the_callers_arrays(case):
    net, X, Y = case
    before = [W.copy() for W in net.weights], X.copy(), Y.copy()

    def vandal(weights, biases, X, Y):
        dW, db = CORRECT(weights, biases, X, Y)
        weights[0][...] = 0.0
        X[...] = 0.0
        return dW, db

    out = call_candidate(vandal, net, X, Y, layout="article")
    assert out.problems == (
        "the candidate modified its inputs (weights[0], X); a backprop must not change the "
        "weights, biases or data it is given",
    )
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, before[0]))
    assert np.array_equal(X, before[1]) and np.array_equal(Y, before[2])


@pytest.mark.parametrize(
    "returned, problem",
    [
        (
            lambda dW, db: (dW, [b[None, :] for b in db]),
            "dJ/db^0 has shape (1, 4), expected (4,): return a 1-D array of shape (4,) (ravel it)",
        ),
        (
            lambda dW, db: (dW[:1], db),
            "the candidate returned 1 weight gradients and 2 bias gradients; "
            "the network has 2 layers (L = 0 .. 1), so expected 2 of each",
        ),
        (
            lambda dW, db: (g for g in dW),
            "the candidate returned a generator (generator); return (dW_list, db_list) as lists",
        ),
        (
            lambda dW, db: {"weights": dW, "biases": db, "deltas": ["no"]},
            "delta^0 is a string ('no'), not an array",
        ),
        (
            lambda dW, db: (dW, [np.full_like(b, np.nan) for b in db]),
            "the candidate returned NaN or Inf in 6 entries: b^0[0], b^0[1], b^0[2], b^0[3], "
            "b^1[0] and 1 more",
        ),
    ],
    ids=["bias-2d", "layer-count", "generator", "delta-string", "nan"],
)
def test_reading_names_each_structural_problem(case, returned, problem):
    net, X, Y = case

    def candidate(weights, biases, X, Y):
        return returned(*CORRECT(weights, biases, X, Y))

    assert problem in call_candidate(candidate, net, X, Y, layout="article").problems


def test_check_repeatable_returns_the_first_answer_when_a_second_call_agrees(case):
    net, X, Y = case
    first = call_candidate(CORRECT, net, X, Y, layout="article")
    assert check_repeatable(CORRECT, net, X, Y, layout="article", first=first) is first


def test_check_repeatable_adds_a_problem_for_hidden_state(case):
    net, X, Y = case
    calls = []

    def accumulates(weights, biases, X, Y):
        calls.append(1)
        dW, db = CORRECT(weights, biases, X, Y)
        return [len(calls) * g for g in dW], db

    first = call_candidate(accumulates, net, X, Y, layout="article")
    again = check_repeatable(accumulates, net, X, Y, layout="article", first=first)
    assert first.problems == () and len(again.problems) == 1
    assert again.problems[0].startswith(
        "the candidate returned a different answer when called twice on the same input (W^0[1,3]: "
        "-0.0078297, then -0.0156594)"
    )
    assert again.problems[0].endswith(
        "hidden state, such as gradients accumulated across calls and never reset?"
    )


def test_check_repeatable_prints_enough_digits_to_show_the_difference(case):
    net, X, Y = case
    calls = []

    def drifts(weights, biases, X, Y):
        calls.append(1)
        dW, db = CORRECT(weights, biases, X, Y)
        return [g * (1 + 1e-9 * len(calls)) for g in dW], db

    first = call_candidate(drifts, net, X, Y, layout="article")
    again = check_repeatable(drifts, net, X, Y, layout="article", first=first)
    before, after = re.search(r"\(W\^\d\[\d,\d\]: (\S+), then (\S+)\)", again.problems[0]).groups()
    assert before != after


def test_check_repeatable_reports_a_candidate_that_fails_the_second_time(case):
    net, X, Y = case
    calls = []

    def once(weights, biases, X, Y):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("already used")
        return CORRECT(weights, biases, X, Y)

    first = call_candidate(once, net, X, Y, layout="article")
    again = check_repeatable(once, net, X, Y, layout="article", first=first)
    assert again.problems[0].startswith(
        "the candidate behaved differently when called a second time on the same input: "
        "the candidate raised RuntimeError: already used"
    )


# ---- a candidate's own faults are reported, not raised


def _correct_flat(theta, X, Y):
    return backprop(TANH_NET.with_flat(theta), X, Y).flat()


REPORTED = [
    pytest.param(lambda theta, X, Y: None, "flat", "the candidate returned None", id="flat-None"),
    pytest.param(
        lambda theta, X, Y: np.zeros(3),
        "flat",
        "the flat gradient has shape (3,), expected (26,) for sizes [3, 4, 2]",
        id="flat-shape",
    ),
    pytest.param(
        lambda theta, X, Y: "abc", "flat", "the flat gradient is a string", id="flat-string"
    ),
    pytest.param(
        lambda theta, X, Y: theta,
        "flat",
        "share memory with its inputs (theta); return new arrays",
        id="flat-returns-theta",
    ),
    pytest.param(
        lambda theta, X, Y: (X.__setitem__((0, 0), 5.0), _correct_flat(theta, X, Y))[1],
        "flat",
        "the candidate modified its inputs (X)",
        id="flat-mutates-X",
    ),
    pytest.param(
        lambda W, b, X, Y: (Y.__imul__(2.0), TANH_CANDIDATE(W, b, X, Y))[1],
        "article",
        "the candidate modified its inputs (Y)",
        id="mutates-Y",
    ),
    pytest.param(
        lambda W, b, X, Y: (W.__setitem__(0, 2 * W[0]), TANH_CANDIDATE(W, b, X, Y))[1],
        "article",
        "the candidate modified its inputs (weights[0])",
        id="replaces-a-list-entry",
    ),
    pytest.param(
        lambda W, b, X, Y: (b.append(b[0]), TANH_CANDIDATE(W, b[:-1], X, Y))[1],
        "article",
        "the candidate modified its inputs (the list biases)",
        id="grows-a-list",
    ),
    pytest.param(
        lambda W, b, X, Y: {"weights": TANH_CANDIDATE(W, b, X, Y)[0], "biases": [b[0], b[1] * 0]},
        "article",
        "share memory with its inputs (biases[0])",
        id="dict-aliases-biases",
    ),
    pytest.param(
        lambda W, b, X, Y: Gradients(list(W), TANH_CANDIDATE(W, b, X, Y)[1]),
        "article",
        "share memory with its inputs (weights[0], weights[1])",
        id="Gradients-aliases-weights",
    ),
    pytest.param(
        lambda W, b, X, Y: (
            [w.astype(object) for w in TANH_CANDIDATE(W, b, X, Y)[0]],
            TANH_CANDIDATE(W, b, X, Y)[1],
        ),
        "article",
        "dJ/dW^0 has dtype object, not a number type",
        id="object-arrays",
    ),
    pytest.param(
        lambda W, b, X, Y: ([[[1.0], [1.0, 2.0]]] * 2, TANH_CANDIDATE(W, b, X, Y)[1]),
        "article",
        "dJ/dW^0 could not be converted to an array",
        id="ragged-lists",
    ),
    pytest.param(
        lambda W, b, X, Y: ([None, None], [None, None]),
        "article",
        "dJ/dW^0 has dtype object, not a number type",
        id="lists-of-None",
    ),
    pytest.param(
        lambda W, b, X, Y: (["a", "b"], ["c", "d"]),
        "article",
        "dJ/dW^0 is a string ('a')",
        id="lists-of-strings",
    ),
    pytest.param(
        lambda W, b, X, Y: np.array(1.0),
        "article",
        "the candidate returned a ndarray; expected",
        id="zero-d-array",
    ),
    pytest.param(
        lambda W, b, X, Y: (TANH_CANDIDATE(W, b, X, Y)[0][0], TANH_CANDIDATE(W, b, X, Y)[1][0]),
        "article",
        "the candidate returned a tuple; expected (dW_list, db_list)",
        id="pair-of-arrays",
    ),
    pytest.param(lambda W, b, X, Y: {1, 2}, "article", "the candidate returned a set", id="set"),
    pytest.param(
        lambda W, b, X, Y: (1, 2, 3), "article", "the candidate returned a tuple", id="three-tuple"
    ),
    pytest.param(
        lambda W, b, X, Y: (_ for _ in ()).throw(FloatingPointError("overflow in my kernel")),
        "article",
        "the candidate raised FloatingPointError: overflow in my kernel",
        id="raises",
    ),
    pytest.param(
        lambda W, b, X, Y: (
            [np.full(w.shape, np.inf, np.float16) for w in W],
            [np.zeros(v.shape, np.float16) for v in b],
        ),
        "article",
        "the candidate returned NaN or Inf in 20 entries",
        id="float16-inf",
    ),
    pytest.param(
        lambda W, b, X, Y: TANH_CANDIDATE([w.T for w in W], b, X, Y),
        "torch",
        "dJ/dW^0 has shape (3, 4), expected (4, 3): transposed? try layout='article'",
        id="torch-layout-given-article",
    ),
]


@pytest.mark.parametrize("candidate, layout, expected", REPORTED)
def test_a_candidates_own_fault_is_a_reported_failure(candidate, layout, expected):
    report = check_backprop_at(candidate, TANH_NET, TANH_X, TANH_Y, layout=layout)
    assert isinstance(report, BackpropReport)
    assert not report.passed
    text = str(report)
    assert expected in text, text
    json.dumps(report.to_dict())  # the failure is JSON-serialisable too


def test_flat_layout_none_hint_speaks_of_the_flat_gradient():
    report = check_backprop_at(lambda theta, X, Y: None, TANH_NET, TANH_X, TANH_Y, layout="flat")
    assert "(dW_list, db_list)" not in str(report)


def nielsen_shaped(weights, biases, X, Y):
    """Weights used as (N, M), as in Nielsen's network.py: np.dot(w, a)."""
    a = X.T
    for w, b in zip(weights, biases):
        a = np.tanh(np.dot(w, a) + b[:, None])
    return [np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases]


def test_a_shape_error_that_transposed_weights_cure_hints_at_the_torch_layout(case):
    net, X, Y = case
    out = call_candidate(nielsen_shaped, net, X, Y, layout="article")
    (problem,) = out.problems
    assert "not aligned" in problem and problem.endswith("it runs: try layout='torch'")


def test_a_shape_error_that_transposes_do_not_cure_gets_no_layout_hint(case):
    net, X, Y = case

    def always_wrong(weights, biases, X, Y):
        return np.dot(np.ones((2, 3)), np.ones((2, 3)))

    (problem,) = call_candidate(always_wrong, net, X, Y, layout="article").problems
    assert "not aligned" in problem and "layout='torch'" not in problem


def test_a_candidates_own_exception_text_reaches_the_report_with_control_characters_escaped(case):
    """An exception message can carry terminal escapes that would paint over the verdict."""
    net, X, Y = case

    def hostile(weights, biases, X, Y):
        raise ValueError("\x1b[2K\rcheck_backprop PASSED")

    (problem,) = call_candidate(hostile, net, X, Y, layout="article").problems
    assert "\x1b" not in problem and "\r" not in problem
    assert "\\x1b[2K\\rcheck_backprop PASSED" in problem
