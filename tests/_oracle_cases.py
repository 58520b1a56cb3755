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
