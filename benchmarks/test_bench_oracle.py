"""The oracle end to end: `gradcheck.check_backprop` verifying a correct numpy backprop.

Skips cleanly until `check_backprop` exists.  The candidate is what a user
would hand in: a backprop written from the article's equations, sigmoid
layers and the quadratic cost, weights in the article's (M, N) layout.
"""

from __future__ import annotations

import numpy as np
import pytest

from ._cases import case, label, split_flat, timed, torch_cost

SIZES = [64, 128, 10]


def numpy_backprop(weights, biases, X, Y):
    """A user's correct backprop: ``(dJ/dW list, dJ/db list)``, averaged over the batch."""
    A = [X]  # A[L + 1] is A^L: the input sits at A[0], never at index -1
    for W, b in zip(weights, biases, strict=True):
        A.append(1.0 / (1.0 + np.exp(-(A[-1] @ W + b))))  # A^L = h(A^{L-1} W^L + 1 b^T)
    Delta = (
        (A[-1] - Y) * A[-1] * (1.0 - A[-1]) / X.shape[0]
    )  # (1/d) Delta^H, sigmoid h' = a (1 - a)
    dJ_dW, dJ_db = [], []
    for L in range(len(weights) - 1, -1, -1):
        dJ_dW.insert(0, A[L].T @ Delta)  # (1/d) (A^{L-1})^T Delta^L
        dJ_db.insert(0, Delta.sum(axis=0))  # (1/d) 1^T Delta^L
        if L > 0:  # no delta for the input layer
            Delta = (Delta @ weights[L].T) * A[L] * (1.0 - A[L])  # Delta^{L-1}
    return dJ_dW, dJ_db


def test_check_backprop(benchmark):
    try:
        from gradcheck import check_backprop
    except ImportError:
        pytest.skip("gradcheck.check_backprop does not exist yet")
    label(
        benchmark,
        group=f"oracle {'-'.join(map(str, SIZES))}",
        form="check_backprop",
        kind="oracle",
        shape="-".join(map(str, SIZES)),
    )
    report = timed(
        benchmark,
        check_backprop,
        numpy_backprop,
        sizes=SIZES,
        hidden="sigmoid",
        output="sigmoid",
        cost="quadratic",
    )
    assert report.passed, report


def test_candidate_is_correct():
    """The candidate agrees with the reference, so a failing oracle benchmark means the oracle."""
    c = case(tuple(SIZES), 16)
    dJ_dW, dJ_db = numpy_backprop(c.net.weights, c.net.biases, c.X, c.Y)
    np.testing.assert_allclose(
        c.net.layout.join(dJ_dW, dJ_db), c.expected.flat(), rtol=1e-10, atol=1e-14
    )


def test_torch_gradcheck_on_one_net(benchmark, torch):
    """torch's slow-mode gradcheck on one net of check_backprop's shape and batch."""
    from gradcheck.oracle.backprop import DEFAULT_BATCH

    label(
        benchmark,
        group=f"oracle {'-'.join(map(str, SIZES))}",
        form="torch gradcheck",
        kind="oracle",
        shape="-".join(map(str, SIZES)),
        d=DEFAULT_BATCH,
    )
    c = case(tuple(SIZES), DEFAULT_BATCH)
    X, Y = torch.from_numpy(c.X), torch.from_numpy(c.Y)

    def J(theta):  # the same float64 cost (sigmoid layers, quadratic), of the flat parameters
        return torch_cost(torch, *split_flat(theta, c.sizes), X, Y)

    theta = torch.tensor(c.net.flat(), requires_grad=True)
    torch.autograd.gradcheck(J, (theta,), fast_mode=True)  # initialises torch: not timed
    assert timed(benchmark, torch.autograd.gradcheck, J, (theta,), slow=True) is True
