"""Shared cases for the tests of gradcheck.oracle.backprop: a correct candidate and broken copies of it."""

from __future__ import annotations

from candidates import make_numpy_backprop

CORRECT = make_numpy_backprop()


def break_correct(change):
    """CORRECT with `change(dW, db)` applied to its gradients before they are returned."""

    def broken(weights, biases, X, Y):
        dW, db = CORRECT(weights, biases, X, Y)
        change(dW, db)
        return dW, db

    return broken


def force_oracle_disagreement(monkeypatch) -> None:
    """Make the oracle disagree with itself: the finite differences off by 1 at W^0[0,0], and
    nothing to escalate to (no second Richardson settles it, no extended-precision gradient)."""
    import gradcheck.oracle.fd_comparison as fd_comparison

    real = fd_comparison.network_numerical_gradient

    def off_by_one(net, X, Y, **kwargs):
        fd = real(net, X, Y, **kwargs)
        fd.weights[0][0, 0] += 1.0
        return fd

    monkeypatch.setattr(fd_comparison, "network_numerical_gradient", off_by_one)
    monkeypatch.setattr(fd_comparison, "_richardson_again", lambda *args: None)
    monkeypatch.setattr(fd_comparison, "_extended_applies", lambda net: False)
