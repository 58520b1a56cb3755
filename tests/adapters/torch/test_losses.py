"""gradcheck.adapters.torch.losses: which reference cost a torch loss is, by what factor, and its targets."""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from gradcheck.adapters.torch.activations import LOG_SOFTMAX  # noqa: E402
from gradcheck.adapters.torch.losses import (  # noqa: E402
    drawn_targets,
    loss_targets,
    match_loss,
    reference_targets,
)
from reference import ACTIVATIONS, Network  # noqa: E402

D, N_IN, N_H = 6, 3, 4


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(N_IN, N_H)), rng.normal(size=N_H)
    X = rng.normal(size=(D, N_IN))
    return W, b, X


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(
    "loss_fn, last, labels",
    [
        (nn.MSELoss, "tanh", False),
        (nn.MSELoss, "softmax", False),
        (nn.BCELoss, "sigmoid", False),
        (nn.BCEWithLogitsLoss, "identity", False),
        (nn.CrossEntropyLoss, "identity", True),
        (nn.NLLLoss, "log_softmax", True),
    ],
    ids=["mse", "mse-softmax", "bce", "bce-logits", "cross-entropy", "nll"],
)
def test_the_torch_loss_is_scale_times_the_reference_cost(loss_fn, last, labels, reduction):
    loss_fn = loss_fn(reduction=reduction)
    activation = LOG_SOFTMAX if last == "log_softmax" else ACTIVATIONS[last]
    match = match_loss(loss_fn, activation, 1, N_H)
    W, b, X = _problem()
    rng = np.random.default_rng(1)
    Y = rng.integers(0, N_H, D) if labels else rng.uniform(size=(D, N_H))
    Y_torch = loss_targets(Y, match, torch.float64, D, N_H)
    a = activation.h(X @ W + b)
    torch_loss = float(loss_fn(torch.tensor(a), Y_torch))
    net = Network([W], [b], hidden=match.output.name, cost=match.cost)
    J = net.cost(X, reference_targets(Y_torch, match, N_H))
    assert torch_loss == pytest.approx(match.scale(D) * J, rel=1e-12)
    assert match.reduction == reduction and match.class_targets == labels


def test_label_smoothing_is_applied_as_torch_applies_it():
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    match = match_loss(loss_fn, ACTIVATIONS["identity"], 1, N_H)
    assert match.smoothing == 0.1 and "targets smoothed as (1 - 0.1) y + 0.1 / n_H" in match.note
    W, b, X = _problem()
    labels = torch.tensor([0, 3, 1, 2, 2, 0])
    logits = X @ W + b
    Y_ref = reference_targets(loss_targets(labels, match, torch.float64, D, N_H), match, N_H)
    np.testing.assert_allclose(Y_ref.sum(axis=1), 1.0, rtol=1e-15)
    net = Network([W], [b], hidden="softmax", cost="categorical_cross_entropy")
    assert float(loss_fn(torch.tensor(logits), labels)) == pytest.approx(
        net.cost(X, Y_ref), rel=1e-12
    )


def test_class_labels_round_trip_through_one_hot_rows():
    match = match_loss(nn.NLLLoss(), LOG_SOFTMAX, 2, 3)
    labels = loss_targets(np.array([2, 0, 1], dtype=np.int32), match, torch.float32, 3, 3)
    assert labels.dtype == torch.int64 and labels.tolist() == [2, 0, 1]
    one_hot = reference_targets(labels, match, 3)
    assert one_hot.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert drawn_targets(one_hot, match, torch.float32).tolist() == [2, 0, 1]
    mse = match_loss(nn.MSELoss(), ACTIVATIONS["tanh"], 2, 3)
    assert drawn_targets(one_hot, mse, torch.float32).dtype == torch.float32


@pytest.mark.parametrize(
    "loss_fn, last, error, message",
    [
        (
            nn.L1Loss(),
            "identity",
            TypeError,
            "`loss_fn` must be one of nn.MSELoss, nn.BCELoss, nn.BCEWithLogitsLoss, "
            "nn.CrossEntropyLoss, nn.NLLLoss (after nn.LogSoftmax) (a loss module, so that its "
            "reduction is known), got L1Loss",
        ),
        (
            nn.MSELoss(reduction="none"),
            "identity",
            ValueError,
            "`loss_fn` is MSELoss(reduction='none'); use reduction='mean' or 'sum' (backward() "
            "needs a scalar loss)",
        ),
        (
            nn.CrossEntropyLoss(weight=torch.ones(4)),
            "identity",
            ValueError,
            "`loss_fn` is CrossEntropyLoss with `weight`; check_module supports unweighted losses",
        ),
        (
            nn.CrossEntropyLoss(ignore_index=0),
            "identity",
            ValueError,
            "`loss_fn` is CrossEntropyLoss(ignore_index=0); check_module counts every example: "
            "leave ignore_index at its default (-100)",
        ),
        (
            nn.BCEWithLogitsLoss(),
            "sigmoid",
            ValueError,
            "`loss_fn` BCEWithLogitsLoss takes logits, but the model ends with an activation "
            "(model[1], sigmoid); drop it: BCEWithLogitsLoss applies its own",
        ),
        (
            nn.BCELoss(),
            "tanh",
            ValueError,
            "`loss_fn` nn.BCELoss needs probabilities: end the model with nn.Sigmoid (it ends "
            "with tanh), or use nn.BCEWithLogitsLoss on logits",
        ),
    ],
    ids=["type", "reduction", "weight", "ignore_index", "logits-after-sigmoid", "bce-after-tanh"],
)
def test_losses_the_check_cannot_model_are_refused(loss_fn, last, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        match_loss(loss_fn, ACTIVATIONS[last], 1, 4)


@pytest.mark.parametrize(
    "Y, error, message",
    [
        (np.array([0, 4]), ValueError, "`Y[1]` = 4 is not a class of the model's 4 outputs"),
        (np.array([0, 1, 2]), ValueError, "`Y` holds 3 class labels but `X` has 2 rows"),
        (np.zeros((2, 3)), ValueError, "`Y` must have shape (2, 4) or (d,) integer class labels"),
        (np.zeros((2, 4), complex), TypeError, "`Y` must hold real numbers, got dtype"),
    ],
)
def test_bad_targets_are_refused(Y, error, message):
    match = match_loss(nn.CrossEntropyLoss(), ACTIVATIONS["identity"], 1, 4)
    with pytest.raises(error, match=re.escape(message)):
        loss_targets(Y, match, torch.float64, 2, 4)
