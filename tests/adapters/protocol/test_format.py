"""gradcheck.adapters.protocol.format: requests written, answers read back exactly, bad answers named."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck.adapters.protocol.format import (
    MAGIC,
    VERSION,
    format_answer,
    format_request,
    parse_answer,
    reported_error,
)
from reference import Network, backprop


def test_a_request_has_the_header_then_every_block_then_the_data():
    W = [np.array([[1.0, -2.0]]), np.array([[0.5], [0.25]])]
    b = [np.array([0.0, 3.0]), np.array([-1.0])]
    text = format_request(
        W, b, np.array([[2.0]]), np.array([[0.1]]), activations=["tanh", "identity"], cost="mse"
    )
    assert text == (
        f"{MAGIC} {VERSION}\nlayers 2\nsizes 1 2 1\nd 1\nactivations tanh identity\ncost mse\n"
        "W 0 1 2\n1.0 -2.0\nb 0 2\n0.0 3.0\n"
        "W 1 2 1\n0.5\n0.25\nb 1 1\n-1.0\n"
        "X 1 1\n2.0\nY 1 1\n0.1\nEND\n"
    )


def test_the_l2_line_appears_only_when_the_penalty_is_not_zero():
    args = ([np.ones((1, 1))], [np.zeros(1)], np.ones((1, 1)), np.zeros((1, 1)))
    options = dict(activations=["identity"], cost="quadratic")
    assert "l2" not in format_request(*args, **options)
    assert "cost quadratic\nl2 0.1\nW 0" in format_request(*args, **options, l2=0.1)


def test_every_double_reads_back_exactly():
    values = np.array([[0.1, 1 / 3, -1e-300, 2.0**-1074, 1.7976931348623157e308]])
    text = format_request(
        [values.T], [np.zeros(1)], values, np.zeros((1, 1)), activations=["identity"], cost="mse"
    )
    X_line = text.splitlines()[text.splitlines().index("X 1 5") + 1]
    assert np.array_equal(np.array(X_line.split(), dtype=np.float64), values[0])


def test_a_right_answer_round_trips_to_the_flat_gradient():
    net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(5, 3)), np.zeros((5, 2))
    g = backprop(net, X, Y)
    text = format_answer(g.weights, g.biases)
    assert text.endswith("\nEND\n") and len(text.splitlines()) == 3 + 1 + 4 + 1 + 1
    parsed = parse_answer(text, net.sizes)
    assert parsed.dtype == np.float64 and np.array_equal(parsed, g.flat())  # bit for bit


def test_any_whitespace_separates_numbers_and_end_is_optional():
    np.testing.assert_array_equal(parse_answer("1\t2\n\n  3", [2, 1]), [1.0, 2.0, 3.0])


def test_reported_error():
    assert reported_error("1 2\nERROR out of memory\n") == "out of memory"
    assert reported_error("  ERROR\n") == "(no message)"
    assert reported_error("1 2 3\nEND\n") is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("ERROR bad\n", "the program reported an error: bad"),
        ("1 2 3\nEND\nxx\n", "the program wrote more after its END line: 'xx'"),
        ("1 two 3\n", "the answer is not all numbers: 'two' (word 2, on line 1: '1 two 3')"),
        ("", "the answer has no numbers; expected 3 for sizes [2, 1]"),
        (
            "1 2\n",
            "the answer has 2 numbers, expected 3 for sizes [2, 1] (W^0 2x1=2, b^0 1=1, in this "
            "order); 1 short: it stops before b^0[0]",
        ),
        (
            "1 2 3 4\n",
            "the answer has 4 numbers, expected 3 for sizes [2, 1] (W^0 2x1=2, b^0 1=1, in this "
            "order); 1 too many",
        ),
        ("1 nan 3\n", "the answer has NaN or Inf in 1 entry: W^0[1,0] ('nan')"),
        (
            "inf -inf nan\n",
            "the answer has NaN or Inf in 3 entries: W^0[0,0] ('inf'), W^0[1,0] ('-inf'), "
            "b^0[0] ('nan')",
        ),
    ],
    ids=["error", "after-end", "word", "empty", "short", "long", "nan", "three-nonfinite"],
)
def test_a_bad_answer_is_refused_with_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_answer(text, [2, 1])
