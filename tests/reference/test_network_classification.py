"""reference.network for classification: class labels as one-hot targets, and the cross-entropies equal to torch's losses on logits."""

from __future__ import annotations

import numpy as np
import pytest

from reference import (
    Network,
    backprop,
)


def test_class_labels_are_one_hot_targets_and_never_mutated():
    net = Network.random(
        [3, 5, 4], hidden="tanh", output="softmax", cost="categorical_cross_entropy", seed=0
    )
    X = np.random.default_rng(0).normal(size=(6, 3))
    labels = np.array([0, 3, 1, 1, 2, 0])
    kept = labels.copy()
    one_hot = np.eye(4)[labels]
    expected = backprop(net, X, one_hot).flat()
    for Y in (labels, labels[:, None], labels.astype(np.int32), labels.tolist()):
        np.testing.assert_array_equal(backprop(net, X, Y).flat(), expected)
        assert net.cost(X, Y) == net.cost(X, one_hot)
    np.testing.assert_array_equal(labels, kept)


@pytest.mark.parametrize(
    "Y, message",
    [
        (
            np.array([0, 4, 1]),
            "`Y` holds class labels, which must lie in [0, n_H) = [0, 4); "
            "Y[1] = 4 (1 of 3 out of range)",
        ),
        (np.array([0, -1, 1]), "Y[1] = -1"),
        (
            np.array([0.0, 1.0, 2.0]),
            "`Y` of shape (3,) with float dtype: give class labels as "
            "integers (0 .. 3), or targets of shape (d, 4)",
        ),
        (np.array([0, 1]), "`Y` must have shape (d, n_H) = (3, 4)"),
    ],
)
def test_class_label_validation_messages(Y, message):
    net = Network.random([2, 4], output="softmax", cost="categorical_cross_entropy")
    with pytest.raises(ValueError) as info:
        backprop(net, np.zeros((3, 2)), Y)
    assert message in str(info.value)


def test_softmax_categorical_cross_entropy_is_torch_cross_entropy_loss_on_logits():
    torch = pytest.importorskip("torch")
    net = Network.random(
        [3, 5, 4], hidden="relu", output="softmax", cost="categorical_cross_entropy", seed=4
    )
    X = np.random.default_rng(4).normal(size=(6, 3))
    labels = np.array([0, 3, 1, 1, 2, 0])
    params = [torch.tensor(p, requires_grad=True) for p in (*net.weights, *net.biases)]
    W0, W1, b0, b1 = params
    logits = torch.relu(torch.tensor(X) @ W0 + b0) @ W1 + b1  # z^H
    loss = torch.nn.CrossEntropyLoss()(logits, torch.tensor(labels))
    loss.backward()
    assert net.cost(X, labels) == pytest.approx(loss.item(), rel=1e-14)
    g = backprop(net, X, labels)
    for mine, theirs in zip((*g.weights, *g.biases), params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_sigmoid_cross_entropy_is_torch_bce_with_logits_for_one_output():
    torch = pytest.importorskip("torch")
    net = Network.random([3, 4, 1], hidden="tanh", output="sigmoid", cost="cross_entropy", seed=5)
    X = np.random.default_rng(5).normal(size=(6, 3))
    Y = np.random.default_rng(6).uniform(size=(6, 1))
    params = [torch.tensor(p, requires_grad=True) for p in (*net.weights, *net.biases)]
    W0, W1, b0, b1 = params
    logits = torch.tanh(torch.tensor(X) @ W0 + b0) @ W1 + b1
    loss = torch.nn.BCEWithLogitsLoss()(logits, torch.tensor(Y))
    loss.backward()
    assert net.cost(X, Y) == pytest.approx(loss.item(), rel=1e-14)
    g = backprop(net, X, Y)
    for mine, theirs in zip((*g.weights, *g.biases), params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)
