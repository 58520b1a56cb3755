"""gradcheck.diagnosis.shapes: what wrong gradient shapes suggest, one sentence per slip."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.diagnosis.shapes import diagnose_shapes
from reference import Network, backprop

DEEP = (3, 4, 3, 2)
NET = Network.random(DEEP, seed=0)
X0 = np.random.default_rng(0).normal(size=(5, 3))
Y0 = np.random.default_rng(1).uniform(size=(5, 2))


def case():
    return NET, X0, Y0


def shapes_of(g):
    return [np.shape(W) for W in g.weights], [np.shape(b) for b in g.biases]


def test_right_shapes_suggest_nothing():
    net, X, Y = case()
    assert diagnose_shapes(*shapes_of(backprop(net, X, Y)), net) == []


@pytest.mark.parametrize(
    "shapes_W, shapes_b, expected",
    [
        (
            [(4, 3), (3, 4), (2, 3)],
            None,
            [
                "every dJ/dW^L is transposed, (N, M) instead of (M, N): (N, M) is PyTorch's "
                "nn.Linear.weight layout; try layout='torch', or return a^{L-1} (delta^L)^T, "
                "not delta^L (a^{L-1})^T"
            ],
        ),
        (
            [(3, 4), (3, 4), (3, 2)],
            None,
            [
                "dJ/dW^1 has shape (3, 4), expected (M, N) = (4, 3): transposed? (N, M) is PyTorch's "
                "nn.Linear.weight layout; try layout='torch', or return a^{L-1} (delta^L)^T"
            ],
        ),
        (
            [(4, 4), (3, 3), (2, 2)],
            None,
            [
                f"dJ/dW^{L} has shape {s}, expected (M, N) = {w}: a^L used where a^{{L-1}} belongs in "
                "dJ/dW^L = a^{L-1} (delta^L)^T?"
                for L, s, w in [(0, (4, 4), (3, 4)), (1, (3, 3), (4, 3)), (2, (2, 2), (3, 2))]
            ],
        ),
        (
            [(3, 2), (4, 3), (3, 4)],
            [(2,), (3,), (4,)],
            [
                "the dJ/dW^L are in reverse order (the output layer's first)? "
                "Return [dJ/dW^0, ..., dJ/dW^2]: reverse the list built while going backwards",
                "the dJ/db^L are in reverse order (the output layer's first)? "
                "Return [dJ/db^0, ..., dJ/db^2]: reverse the list built while going backwards",
            ],
        ),
        (
            [(3, 3), (3, 4), (4, 3), (3, 2)],
            [(3,), (4,), (3,), (2,)],
            [
                "one dJ/dW too many (4 for the 3 layers L = 0 .. 2): the input layer counted as a layer? "
                "The input x is a^{-1}; it has no weights",
                "one dJ/db too many (4 for the 3 layers L = 0 .. 2): the input layer counted as a layer? "
                "The input x is a^{-1}; it has no weights",
            ],
        ),
        (
            [(4, 3), (3, 2)],
            [(3,), (2,)],
            [
                "dJ/dW^0 missing: the loop over layers stops before layer 0, e.g. range(H, 0, -1) where "
                "range(H, -1, -1) belongs?",
                "dJ/db^0 missing: the loop over layers stops before layer 0, e.g. range(H, 0, -1) where "
                "range(H, -1, -1) belongs?",
            ],
        ),
        (
            [(3, 4), (4, 3)],
            [(4,), (3,)],
            [
                "dJ/dW^2 of the output layer missing: the loop over layers starts at H - 1?",
                "dJ/db^2 of the output layer missing: the loop over layers starts at H - 1?",
            ],
        ),
        (
            [(3, 4)],
            [(4,)],
            [
                "1 dJ/dW arrays for the 3 layers L = 0 .. 2 (expected shapes "
                "[(3, 4), (4, 3), (3, 2)])",
                "1 dJ/db arrays for the 3 layers L = 0 .. 2 (expected shapes [(4,), (3,), (2,)])",
            ],
        ),
        (
            [(5, 3, 4), (4, 3), (3, 2)],
            None,
            [
                "dJ/dW^0 has shape (5, 3, 4), expected (M, N) = (3, 4): one gradient per example, not "
                "averaged? Take the mean over the examples (axis 0)"
            ],
        ),
        (
            [(3, 4), (3, 2), (3, 2)],
            None,
            [
                "dJ/dW^1 has shape (3, 2), expected (M, N) = (4, 3), the shape of W^2: a layer index off "
                "by one?"
            ],
        ),
        ([(3, 4), (4, 3), (3, 7)], None, ["dJ/dW^2 has shape (3, 7), expected (M, N) = (3, 2)"]),
        (
            None,
            [(1, 4), (3,), (2,)],
            [
                "dJ/db^0 has shape (1, 4), expected (N,) = (4,): keepdims=True or a row vector? Return "
                "shape (N,), e.g. Delta.sum(axis=0) / d without keepdims"
            ],
        ),
        (
            None,
            [(4, 1), (3,), (2,)],
            [
                "dJ/db^0 has shape (4, 1), expected (N,) = (4,): a column vector (as in Nielsen's "
                "network.py)? Return shape (N,), e.g. np.ravel"
            ],
        ),
        (
            None,
            [(4,), (5, 3), (2,)],
            [
                "dJ/db^1 has shape (5, 3), expected (N,) = (3,): one row per example, not averaged? "
                "dJ/db^L = (1/d) 1^T Delta^L, i.e. Delta.mean(axis=0)"
            ],
        ),
        (
            None,
            [(4,), (3,), ()],
            [
                "dJ/db^2 has shape (), expected (N,) = (2,): a scalar, summed over every axis? Sum over "
                "the examples only (axis=0)"
            ],
        ),
        (
            None,
            [(4,), (4,), (2,)],
            [
                "dJ/db^1 has shape (4,), expected (N,) = (3,), the shape of b^0: a layer index off by one?"
            ],
        ),
        (None, [(4,), (3,), (9,)], ["dJ/db^2 has shape (9,), expected (N,) = (2,)"]),
    ],
)
def test_shapes_suggest_a_cause(shapes_W, shapes_b, expected):
    net, X, Y = case()
    right_W, right_b = shapes_of(backprop(net, X, Y))
    assert diagnose_shapes(shapes_W or right_W, shapes_b or right_b, net) == expected


@pytest.mark.parametrize(
    "args, error, message",
    [
        (
            ([(3, 4)], [(4,)], "net"),
            TypeError,
            "`net` must be a reference.Network, got str; build one with Network(weights, biases, ...)",
        ),
        (
            ("(3, 4)", [(4,)], NET),
            TypeError,
            "`shapes_W` must be a list of shapes like [(3, 4), (4, 2)], got str",
        ),
        (
            ([(3, 4)], None, NET),
            TypeError,
            "`shapes_b` must be a list of shapes like [(3, 4), (4, 2)], got NoneType",
        ),
        (
            ([(3, 4.0)], [(4,)], NET),
            TypeError,
            "`shapes_W[0]` must be a shape, a tuple of non-negative integers, got (3, 4.0)",
        ),
        (
            ([(3, 4)], [4], NET),
            TypeError,
            "`shapes_b[0]` must be a shape, a tuple of non-negative integers, got 4",
        ),
        (
            ([(3, -4)], [(4,)], NET),
            TypeError,
            "`shapes_W[0]` must be a shape, a tuple of non-negative integers, got (3, -4)",
        ),
    ],
)
def test_diagnose_shapes_validation_messages(args, error, message):
    with pytest.raises(error) as info:
        diagnose_shapes(*args)
    assert str(info.value) == message


def test_torch_layout_swap_is_named():
    net, X, Y = case()
    g = backprop(net, X, Y)  # shapes as the oracle reads a torch candidate: weights transposed back
    shapes_W = [np.shape(b) for b in g.biases]  # "dW" are the biases: 1-D, transposing keeps them
    shapes_b = [np.shape(W.T) for W in g.weights]  # "db" are the torch (N, M) weights
    (text,) = diagnose_shapes(shapes_W, shapes_b, net, layout="torch")
    assert text.startswith("the weight and bias gradients swapped")
    assert diagnose_shapes(shapes_W, shapes_b, net) != [text]  # the article layout: not a swap


def test_torch_layout_messages_print_the_candidates_own_shapes():
    net, X, Y = case()
    shapes_W, shapes_b = shapes_of(backprop(net, X, Y))
    shapes_W[0] = (4, 4)  # read back from a torch candidate's (4, 4): a^L for a^{L-1}
    (text,) = diagnose_shapes(shapes_W, shapes_b, net, layout="torch")
    assert text.startswith("dJ/dW^0 has shape (4, 4), expected (N, M) = (4, 3)")


def test_diagnose_shapes_refuses_an_unknown_layout():
    net, X, Y = case()
    with pytest.raises(ValueError, match="`layout` must be 'article' or 'torch', got 'flat'"):
        diagnose_shapes(*shapes_of(backprop(net, X, Y)), net, layout="flat")
