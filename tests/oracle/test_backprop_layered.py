"""gradcheck.oracle.backprop: networks as people write them (a hidden activation per layer, mse, l2, weight_scale, a subset of the edge cases)."""

from __future__ import annotations

import numpy as np
import pytest
from candidates import make_layered_backprop

from gradcheck import (
    check_backprop,
    trial_case,
)

LAYERED = dict(sizes=[4, 6, 5, 3], hidden=["relu", "tanh"], output="identity", trials=1)


@pytest.mark.parametrize(
    "options",
    [
        dict(LAYERED, cost="mse"),
        dict(LAYERED, cost="quadratic", l2=0.1),
        dict(LAYERED, hidden=["leaky_relu:0.2", "elu:0.1"], cost="mse", l2=0.05),
        dict(LAYERED, output="softmax", cost="categorical_cross_entropy", l2=0.2),
    ],
    ids=["mse", "l2", "parameters", "softmax-l2"],
)
def test_a_correct_layered_backprop_passes(options):
    candidate = make_layered_backprop(
        options["hidden"], options["output"], options["cost"], l2=options.get("l2", 0.0)
    )
    report = check_backprop(candidate, **options)
    assert report.passed, str(report)
    assert [t.kind for t in report.trials] == [
        "random",
        "width-1",
        "no hidden layer",
        "batch of 1",
    ]
    assert report.options["hidden"] == [
        {"leaky_relu:0.2": "leaky_relu(slope=0.2)", "elu:0.1": "elu(alpha=0.1)"}.get(h, h)
        for h in options["hidden"]
    ]


@pytest.mark.parametrize(
    "slip, cost, bug",
    [
        ("l2_missing", "quadratic", "l2_missing"),
        ("l2_half_missing", "quadratic", "l2_half_missing"),
        ("l2_on_biases", "quadratic", "l2_on_biases"),
        ("mse_mean_missing", "mse", None),
        ("hidden_order_swapped", "quadratic", None),
    ],
)
def test_a_slipped_layered_backprop_fails_and_l2_slips_are_named(slip, cost, bug):
    l2 = 0.1
    candidate = make_layered_backprop(LAYERED["hidden"], "identity", cost, l2=l2, slip=slip)
    report = check_backprop(candidate, **dict(LAYERED, cost=cost, l2=l2))
    assert not report.passed
    if bug is not None:
        from gradcheck.diagnosis.bugs import BUGS_BY_NAME

        first = report.trials[0].diagnosis[0]
        assert first.startswith(BUGS_BY_NAME[bug].description), report.trials[0].diagnosis


def test_edge_cases_subset_runs_only_those_named():
    candidate = make_layered_backprop(["relu", "tanh"], "identity")
    for edge_cases, kinds in (
        ({"batch1"}, ["batch of 1"]),
        ({"width1", "batch1"}, ["width-1", "batch of 1"]),
        (["no_hidden"], ["no hidden layer"]),
        (set(), []),
        (False, []),
    ):
        report = check_backprop(candidate, **dict(LAYERED, cost="quadratic", edge_cases=edge_cases))
        assert [t.kind for t in report.trials] == ["random"] + kinds, edge_cases
        assert report.passed


def test_one_hidden_layer_only_implementation_skips_no_hidden_and_passes():
    def one_hidden_layer_only(W, b, X, Y):
        (W0, W1), (b0, b1) = W, b  # fails on a net without a hidden layer
        A0 = np.tanh(X @ W0 + b0)
        delta = (A0 @ W1 + b1 - Y) / len(X)
        hidden = (delta @ W1.T) * (1 - A0**2)
        return [X.T @ hidden, A0.T @ delta], [hidden.sum(axis=0), delta.sum(axis=0)]

    options = dict(sizes=[3, 4, 2], hidden="tanh", output="identity", trials=1)
    assert not check_backprop(one_hidden_layer_only, **options).passed
    report = check_backprop(one_hidden_layer_only, **options, edge_cases={"width1", "batch1"})
    assert report.passed and report.options["edge_cases"] == ["batch1", "width1"]


def _clipped_sigmoid_prime_backprop(W, b, X, Y):
    """sigmoid' of z clipped to [-6, 6] (a "stability" hack): wrong only where units saturate."""
    A, Z = [X], []
    for Wl, bl in zip(W, b):
        Z.append(A[-1] @ Wl + bl)
        A.append(1 / (1 + np.exp(-Z[-1])))

    def h_prime(z):
        s = 1 / (1 + np.exp(-np.clip(z, -6, 6)))
        return s * (1 - s)

    delta = (A[-1] - Y) * h_prime(Z[-1]) / len(X)
    dW, db = [None] * len(W), [None] * len(W)
    for L in range(len(W) - 1, -1, -1):
        dW[L], db[L] = A[L].T @ delta, delta.sum(axis=0)
        if L:
            delta = (delta @ W[L].T) * h_prime(Z[L - 1])
    return dW, db


def test_weight_scale_makes_a_saturation_bug_reachable():
    options = dict(sizes=[4, 8, 3], trials=2, edge_cases=False)
    assert check_backprop(_clipped_sigmoid_prime_backprop, **options).passed
    report = check_backprop(_clipped_sigmoid_prime_backprop, **options, weight_scale=8.0)
    assert not report.passed and report.options["weight_scale"] == 8.0


def test_trial_case_takes_l2_and_weight_scale():
    net, X, Y = trial_case([50, 40, 3], 4, seed=1, weight_scale=4.0, l2=0.5)
    base, _, _ = trial_case([50, 40, 3], 4, seed=1)
    np.testing.assert_allclose(net.weights[0], 4.0 * base.weights[0], rtol=1e-15)
    np.testing.assert_array_equal(net.biases[0], base.biases[0])
    assert net.l2 == 0.5 and base.l2 == 0.0
    np.testing.assert_array_equal(X, trial_case([50, 40, 3], 4, seed=1)[1])
