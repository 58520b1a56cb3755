"""gradcheck.oracle.backprop: the layouts a candidate may return (torch, flat, Gradients, lists, tensors, deltas)."""

from __future__ import annotations

import pytest
from _oracle_cases import CORRECT
from candidates import with_deltas

from gradcheck import (
    check_backprop,
)
from reference import (
    Gradients,
    Network,
    backprop,
)


def test_torch_layout_and_flat_layout_and_other_return_types():
    def torch_layout(weights, biases, X, Y):
        dW, db = CORRECT([W.T for W in weights], biases, X, Y)
        return {"weights": [g.T for g in dW], "biases": db}

    def flat(theta, X, Y):
        net = Network.random([4, 6, 3], seed=0).with_flat(theta)
        return backprop(net, X, Y).flat()

    def as_gradients(weights, biases, X, Y):
        return Gradients(*CORRECT(weights, biases, X, Y))

    def nested_lists(weights, biases, X, Y):
        dW, db = CORRECT(weights, biases, X, Y)
        return [w.tolist() for w in dW], tuple(b.tolist() for b in db)

    assert check_backprop(torch_layout, sizes=[4, 6, 3], layout="torch").passed
    assert check_backprop(flat, sizes=[4, 6, 3], layout="flat", edge_cases=False).passed
    assert check_backprop(as_gradients, sizes=[4, 6, 3]).passed
    assert check_backprop(nested_lists, sizes=[4, 6, 3]).passed


def test_pytorch_candidate_passes():
    torch = pytest.importorskip("torch")

    def torch_backprop(weights, biases, X, Y):
        W = [torch.tensor(w, requires_grad=True) for w in weights]
        b = [torch.tensor(v, requires_grad=True) for v in biases]
        a = torch.tensor(X)
        for w, v in zip(W, b):
            a = torch.sigmoid(a @ w + v)
        J = 0.5 * ((a - torch.tensor(Y)) ** 2).sum(dim=1).mean()
        J.backward()
        return [w.grad for w in W], [v.grad for v in b]

    assert check_backprop(torch_backprop, sizes=[5, 8, 3]).passed


def test_returned_deltas_pin_the_broken_recursion():
    assert check_backprop(with_deltas(), sizes=[3, 5, 4, 4, 2]).passed
    report = check_backprop(with_deltas(break_at=1), sizes=[3, 5, 4, 4, 2], edge_cases=False)
    assert not report.passed
    text = str(report)
    assert "delta^2 matches, delta^1 does not" in text, text
    assert "recursion from layer 2 to layer 1" in text


def test_returned_deltas_of_the_wrong_shape_are_reported():
    def wrong_shape(W, b, X, Y):
        out = with_deltas()(W, b, X, Y)
        out["deltas"][0] = out["deltas"][0].T
        return out

    report = check_backprop(wrong_shape, sizes=[3, 5, 2], edge_cases=False)
    assert "the candidate's deltas:" in str(report) and "Delta^0" in str(report)


def nielsen_order_torch(weights, biases, X, Y):
    """Nielsen's return order, (nabla_b, nabla_w), with torch's (N, M) weights."""
    dW, db = CORRECT([W.T for W in weights], biases, X, Y)
    return db, [g.T for g in dW]


def test_swapped_gradients_are_named_under_the_torch_layout():
    report = check_backprop(nielsen_order_torch, sizes=[4, 8, 8, 3], layout="torch")
    assert not report.passed
    assert report.causes[0].bug == "gradients_swapped", str(report)
    assert "(nabla_b, nabla_w)" in report.causes[0].text


def test_torch_shape_messages_speak_the_torch_layout():
    def one_layer_article(weights, biases, X, Y):  # W^1 returned (M, N), the article's way
        dW, db = CORRECT([W.T for W in weights], biases, X, Y)
        return [dW[0].T, dW[1], dW[2].T], db

    text = str(check_backprop(one_layer_article, sizes=[4, 8, 6, 3], layout="torch"))
    assert "dJ/dW^1 has shape (8, 6), expected (6, 8)" in text  # the per-block problem
    assert "dJ/dW^1 has shape (8, 6), expected (N, M) = (6, 8): transposed?" in text  # the cause
    assert "try layout='article'" in text and "(M, N) =" not in text


def test_torch_layout_names_entries_in_the_candidates_own_indices_too():
    def one_cell_off(weights, biases, X, Y):  # weights[1] is (8, 6): index [1, 5] is W^1[5,1]
        dW, db = CORRECT([W.T for W in weights], biases, X, Y)
        dW = [g.T.copy() for g in dW]
        dW[1][1, 5] += 1.0
        return dW, db

    report = check_backprop(one_cell_off, sizes=[4, 6, 8, 3], layout="torch", edge_cases=False)
    trial = report.failed_trials[0]
    assert trial.worst[0].name == "W^1[5,1] (= weights[1][1,5])"
    assert "W^1[5,1] (= weights[1][1,5])" in str(report)
    assert {b.name: b.worst_entry for b in trial.blocks}["W^1"] == "W^1[5,1] (= weights[1][1,5])"
    slip = next(c.text for c in trial.causes if "indexing slip" in c.text)
    assert "(W^1[5,1] (= weights[1][1,5]))" in slip  # the cause speaks the candidate's index too
    lines = str(report).splitlines()
    header = next(line for line in lines if line.strip().startswith("entry"))
    row = next(line for line in lines if line.strip().startswith("W^1[5,1] (="))
    # long names widen the column: every number still ends under its heading
    assert row.index("e+00") + 4 == header.index("candidate") + len("candidate")
