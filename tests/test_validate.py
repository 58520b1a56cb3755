"""gradcheck.validate: the package's one validation module; every message pinned here or beside its caller."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck.validate import (
    MAX_TIMEOUT,
    batch_or_trials,
    check_bytes,
    check_finite_cost,
    check_fits_in_memory,
    check_method,
    check_rtol,
    check_timeout,
    check_trial_options,
    delta_arrays,
    gradient_arrays,
    gradient_lists,
    real_block,
    total_memory,
)
from reference import Gradients, Network

SIZES = (3, 4, 2)
W = [np.ones((3, 4)), np.ones((4, 2))]
B = [np.ones(4), np.ones(2)]


@pytest.mark.parametrize(
    "gradients",
    [Gradients(W, B), (W, B), [W, B], {"weights": W, "biases": B}],
    ids=["Gradients", "tuple", "list", "dict"],
)
def test_gradient_lists_reads_every_structure_the_same(gradients):
    weights, biases = gradient_lists(gradients)
    assert [w is v for w, v in zip(weights, W)] == [True, True]
    assert [w is v for w, v in zip(biases, B)] == [True, True]


def test_gradient_arrays_copies_keeps_the_coarsest_eps_and_checks_shapes():
    weights, biases, eps = gradient_arrays(([w.astype(np.float32) for w in W], B), sizes=SIZES)
    assert all(w.dtype == np.float64 for w in weights + biases)
    assert eps == float(np.finfo(np.float32).eps)
    weights[0][0, 0] = 5.0
    assert W[0][0, 0] == 1.0  # a copy: the caller's array is never written


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: gradient_lists(3.0),
            TypeError,
            "`gradients` must be a Gradients, a (dJ_dW, dJ_db) pair of lists or a dict with "
            "'weights' and 'biases', got float",
        ),
        (
            lambda: gradient_lists((np.ones(3), B), "candidate"),
            TypeError,
            "`candidate.weights` must be a list of arrays, one dJ/dW^L per layer, got ndarray",
        ),
        (
            lambda: gradient_lists((W, B[:1]), layers=2, sizes=SIZES),
            ValueError,
            "`gradients.biases` must hold one dJ/db^L per layer L = 0 .. H, that is 2 arrays "
            "for sizes [3, 4, 2], got 1",
        ),
        (
            lambda: gradient_lists(([], [])),
            ValueError,
            "`gradients` must have one dJ/dW^L and one dJ/db^L per layer, got 0 weight and 0 "
            "bias arrays",
        ),
        (
            lambda: gradient_arrays((W, [B[0], np.ones(3)]), sizes=SIZES),
            ValueError,
            "`gradients.biases[1]` (dJ/db^1) has shape (3,) but must be (N,) like b^1 = (2,)",
        ),
        (
            lambda: gradient_arrays(([W[0], "ab"], B)),
            TypeError,
            "`gradients.weights[1]` (dJ/dW^1) must be a numeric array, got a string 'ab'",
        ),
        (
            lambda: delta_arrays([np.ones((5, 4))], SIZES, 5),
            ValueError,
            "`deltas` must hold one Delta^L per layer L = 0 .. H, that is 2 arrays for sizes "
            "[3, 4, 2], got 1",
        ),
        (
            lambda: delta_arrays([np.ones((5, 4)), [[1.0, 2.0], [3.0]]], SIZES, 5),
            TypeError,
            "`deltas[1]` (Delta^1) must be a numeric array; numpy could not convert it",
        ),
        (
            lambda: real_block(np.ones(3), "x", shape=(2, 3), expected="(d, N)"),
            ValueError,
            "`x` has shape (3,) but must be (d, N) = (2, 3)",
        ),
        (
            lambda: real_block([np.inf, 1.0], "x", symbol="b^0", shape=(2,)),
            ValueError,
            "`x` (b^0) must be finite; entry 0 is inf (shape (2,))",
        ),
        (lambda: check_rtol(True), TypeError, "`rtol` must be a real number, got bool"),
        (lambda: check_rtol(1.0), ValueError, "`rtol` must be a positive number below 1, got 1.0"),
        (
            lambda: check_method("forward", ("richardson", "central")),
            ValueError,
            "unknown `method` 'forward'; known methods: richardson, central",
        ),
        (
            lambda: check_trial_options(trials=0, batch_size=8, seed=0, edge_cases=True),
            ValueError,
            "`trials` must be at least 1, got 0",
        ),
        (
            lambda: check_trial_options(trials=1, batch_size=2.0, seed=0, edge_cases=True),
            TypeError,
            "`batch_size` must be an integer, got 2.0",
        ),
        (
            lambda: check_trial_options(trials=1, batch_size=8, seed=0, edge_cases={"wide"}),
            ValueError,
            "unknown `edge_cases` 'wide'; known edge cases: width1, no_hidden, batch1",
        ),
    ],
)
def test_validation_messages(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message)


def test_real_block_without_a_shape_lets_nan_and_any_shape_through():
    array, eps = real_block([[np.nan, 1], [2, 3]], "candidate.weights[0]")
    assert array.shape == (2, 2) and np.isnan(array[0, 0])
    assert eps == float(np.finfo(np.float64).eps)


@pytest.mark.parametrize(
    "edge_cases, recorded",
    [(True, True), (np.False_, False), ({"batch1", "width1"}, ["batch1", "width1"])],
)
def test_check_trial_options_gives_the_options_as_the_report_records_them(edge_cases, recorded):
    options = check_trial_options(
        trials=np.int64(2), batch_size=5, seed=np.int64(7), edge_cases=edge_cases
    )
    assert options == {"trials": 2, "seed": 7, "batch_size": 5, "edge_cases": recorded}
    assert list(options) == ["trials", "seed", "batch_size", "edge_cases"]
    assert type(options["trials"]) is int and type(options["seed"]) is int


# A whole problem: a front door's batch-or-trials choice, and a batch whose cost must be finite.

X_BATCH = np.ones((3, 2))  # batch_or_trials: a batch given
Y_BATCH = np.zeros((3, 1))


@pytest.mark.parametrize(
    "trials, X, Y, expected",
    [
        (
            None,
            X_BATCH,
            Y_BATCH,
            0,
        ),  # a batch given and no trials asked for: check at the batch only
        (None, None, None, 5),  # neither: the default number of random trials
        (2, X_BATCH, Y_BATCH, 2),  # both
        (np.int64(3), None, None, 3),  # numpy integers are integers
        (0, X_BATCH, Y_BATCH, 0),
    ],
)
def test_batch_or_trials_known_answers(trials, X, Y, expected):
    n = batch_or_trials(trials, X, Y, 5)
    assert n == expected and type(n) is int


@pytest.mark.parametrize(
    "trials, X, Y, message",
    [
        (
            None,
            X_BATCH,
            None,
            "give both `X` and `Y` (a batch to check at), or neither (random trials)",
        ),
        (
            None,
            None,
            Y_BATCH,
            "give both `X` and `Y` (a batch to check at), or neither (random trials)",
        ),
        (-1, X_BATCH, Y_BATCH, "`trials` must be a non-negative integer, got -1"),
        (True, X_BATCH, Y_BATCH, "`trials` must be a non-negative integer, got True"),
        (1.0, X_BATCH, Y_BATCH, "`trials` must be a non-negative integer, got 1.0"),
        ("2", X_BATCH, Y_BATCH, "`trials` must be a non-negative integer, got '2'"),
        (0, None, None, "nothing to check: give `X` and `Y`, or `trials` >= 1"),
    ],
)
def test_batch_or_trials_refusals(trials, X, Y, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        batch_or_trials(trials, X, Y, 5)


def test_check_finite_cost_passes_a_finite_cost():
    net = Network.random([2, 3, 1], hidden="tanh", output="identity", seed=0)
    assert check_finite_cost(net, np.ones((4, 2)), np.zeros((4, 1))) is None


def test_check_finite_cost_refuses_an_overflowing_cost():
    # identity layers: the output is about 1e200, so the quadratic cost (1e200)^2 / 2 overflows
    net = Network([np.eye(2)], [np.zeros(2)], hidden="identity", output="identity")
    X = np.full((2, 2), 1e200)
    with pytest.raises(ValueError) as info:
        check_finite_cost(net, X, np.zeros((2, 2)))
    assert str(info.value) == (
        "the cost J is inf at this network and batch (float64 overflow), so finite differences "
        "cannot check a gradient there: max |`X`| = 1e+200 (shape (2, 2)), max |`Y`| = 0 "
        "(shape (2, 2)); scale the data down"
    )


def test_check_bytes_counts_the_arrays_a_check_holds_at_once():
    # 3-4-2: 16 + 10 = 26 parameters; d = 5 rows of 3 + 5 x (3 + 4 + 2) values
    assert check_bytes([3, 4, 2], 5, trials=2, fd_chunk=100) == 8 * (7 * 26 + 5 * 48) + 100 + 2048
    assert check_bytes([3, "4"], 5) == check_bytes([3, 4], 0) == 0  # their own checks speak
    assert check_bytes([10**5, 10**5, 10], 8) > 80 * 10**9  # Python ints: no overflow


def test_check_fits_in_memory_refuses_beyond_this_machine(monkeypatch):
    memory = total_memory()
    assert memory is not None and memory > 2**20
    check_fits_in_memory(memory, "all of it")  # no more than the machine has: allowed
    monkeypatch.setattr("gradcheck.validate.total_memory", lambda: 24 * 10**9)
    with pytest.raises(ValueError) as info:
        check_fits_in_memory(80 * 10**9, "`sizes` [1, 2]")
    assert str(info.value) == (
        "`sizes` [1, 2] needs ~80 GB of memory at the least (weights, batch, Z^L, A^L and "
        "Delta^L per layer, finite-difference buffers, a record per trial); this machine has "
        "24 GB: use smaller sizes, a smaller batch or fewer trials"
    )


def test_check_timeout_refuses_what_the_waits_cannot_take():
    assert check_timeout(MAX_TIMEOUT) == MAX_TIMEOUT
    with pytest.raises(
        ValueError, match=r"^`timeout` must be at most 1e\+06 seconds \(11.6 days\)"
    ):
        check_timeout(1e7)
