"""gradcheck.oracle.backprop: the verdict itself; correct implementations pass, broken ones fail with the entry named."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _data import CONFIGS
from _helpers import (
    reference_candidate,
)
from _oracle_cases import CORRECT, break_correct
from candidates import make_numpy_backprop, sigmoid_einsum

from gradcheck import (
    check_backprop,
    check_backprop_at,
)
from reference import (
    Network,
    backprop,
)


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_correct_numpy_backprop_passes_every_activation_and_cost(hidden, output, cost):
    for seed in range(2):
        report = check_backprop(
            make_numpy_backprop(hidden, output, cost),
            sizes=[4, 6, 5, 3],
            hidden=hidden,
            output=output,
            cost=cost,
            seed=seed,
        )
        assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("hidden, output, cost", [c for c in CONFIGS if c[0] != "softplus"])
def test_correct_low_precision_candidates_pass(hidden, output, cost, dtype):
    if dtype == np.float16 and cost != "quadratic":
        pytest.skip("float16 logs of probabilities: covered by float32")
    report = check_backprop(
        make_numpy_backprop(hidden, output, cost, dtype=dtype),
        sizes=[5, 7, 3],
        hidden=hidden,
        output=output,
        cost=cost,
        seed=3,
    )
    assert report.passed, str(report)
    assert report.trials[0].dtype == np.dtype(dtype).name


def test_einsum_and_fortran_order_pass():
    assert check_backprop(sigmoid_einsum, sizes=[6, 9, 4], trials=4).passed


def test_one_wrong_entry_among_thousands_is_caught_and_named():
    def one_entry(dW, db):
        dW[0][17, 33] *= 1 + 1e-6

    report = check_backprop(
        break_correct(one_entry), sizes=[64, 128, 10], trials=1, edge_cases=False
    )
    assert not report.passed
    assert report.worst_entries[0].name == "W^0[17,33]"
    assert len(report.worst_entries) == 1
    blocks = {b.name: b for b in report.trials[0].blocks}
    assert blocks["W^0"].failing == 1 and blocks["b^0"].failing == 0


def test_exact_zero_gradients_do_not_cause_false_alarms():
    # relu units dead for every example: their gradient entries are exactly 0
    def dead(weights, biases, X, Y):
        return make_numpy_backprop("relu", "identity")(weights, biases, X, Y)

    report = check_backprop(dead, sizes=[3, 40, 2], hidden="relu", output="identity", trials=5)
    assert report.passed, str(report)


def test_a_custom_activation_with_a_wrong_derivative_is_refused():
    def cube(z):
        return z**3

    with pytest.raises(ValueError) as info:
        check_backprop(CORRECT, sizes=[3, 4, 2], hidden=(cube, lambda z: z**2))
    assert "the hidden activation 'cube': h_prime is not the derivative of h" in str(info.value)


def test_a_custom_activation_with_the_right_derivative_is_used():
    def soft(z):
        return z / (1 + z * z) ** 0.5

    def soft_prime(z):
        return (1 + z * z) ** -1.5

    def mine(W, b, X, Y):
        net = Network(W, b, hidden=(soft, soft_prime), output="identity")
        return backprop(net, X, Y)

    report = check_backprop(mine, sizes=[3, 4, 2], hidden=(soft, soft_prime), output="identity")
    assert report.passed, str(report)


def test_a_check_reports_every_trial_once_and_leaves_the_reference_blameless():
    lines = []
    report = check_backprop(CORRECT, sizes=[3, 4, 2], trials=2, progress=lines.append)
    kinds = [t.kind for t in report.trials]
    assert kinds == ["random", "random", "width-1", "no hidden layer", "batch of 1"]
    assert [t.index for t in report.trials] == list(range(5)) and len(lines) == 5
    assert [t.seed for t in report.trials] == [0, 1, 2, 3, 4]
    assert report.reference_problems == () and report.passed


def test_the_oracles_differences_run_on_any_executor_with_identical_reports():
    from concurrent.futures import ThreadPoolExecutor

    from reference import Network, backprop

    def mine(weights, biases, X, Y):
        g = backprop(Network(weights, biases, hidden="tanh"), X, Y)
        return [2 * W for W in g.weights], list(
            g.biases
        )  # wrong: the report has numbers to compare

    serial = check_backprop(mine, sizes=[4, 6, 3], hidden="tanh", trials=2, seed=1)
    with ThreadPoolExecutor(2) as pool:
        pooled = check_backprop(
            mine, sizes=[4, 6, 3], hidden="tanh", trials=2, seed=1, executor=pool
        )
    assert pooled.to_dict() == serial.to_dict()
    assert not serial.passed and serial.trials[0].finite_difference_method.endswith(
        "entry by entry"
    )


def test_integers_and_booleans_are_converted_not_refused():
    net = Network(
        [np.eye(3, dtype=int), np.ones((3, 2), dtype=bool)], [[0, 1, 0], [1, 0]], hidden="tanh"
    )
    X, Y = np.arange(6).reshape(2, 3), np.zeros((2, 2), dtype=bool)
    assert check_backprop_at(reference_candidate(hidden="tanh"), net, X, Y).passed


@pytest.mark.parametrize(
    "options, message",
    [
        # each ended in a raw MemoryError (one with an empty message) after validation
        (dict(sizes=[100000, 100000, 10]), "`sizes` [100000, 100000, 10] with `batch_size` 8 "),
        (
            dict(sizes=[4, 8, 3], batch_size=10**10),
            "`sizes` [4, 8, 3] with `batch_size` 10000000000 ",
        ),
        (
            dict(sizes=[4, 8, 3], trials=10**12),
            "`sizes` [4, 8, 3] with `batch_size` 8 and `trials` 1000000000000 ",
        ),
    ],
)
def test_a_check_that_cannot_fit_in_memory_is_refused_before_any_work_with_the_estimate(
    options, message
):
    with pytest.raises(ValueError) as info:
        check_backprop(reference_candidate(), **options)
    text = str(info.value)
    assert text.startswith(message), text
    assert re.search(r"needs ~\S+ GB of memory at the least .*; this machine has \S+ GB", text)


def test_check_backprop_at_refuses_what_this_machine_cannot_hold(monkeypatch):
    monkeypatch.setattr("gradcheck.validate.total_memory", lambda: 10_000)
    net = Network.random([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"^`sizes` \[3, 4, 2\] with `batch_size` 5 needs ~"):
        check_backprop_at(reference_candidate(), net, np.ones((5, 3)), np.zeros((5, 2)))


def test_an_l2_whose_penalty_overflows_is_refused_before_any_trial():
    # it gave RuntimeWarnings, then a failing report about a `reference=` nobody passed
    with pytest.raises(ValueError) as info:
        check_backprop(reference_candidate(), sizes=[4, 8, 3], l2=1e308)
    assert str(info.value).startswith(
        "`l2` = 1e+308 makes the penalty (lam/2) sum_L ||W^L||^2 = inf at these weights"
    )
    net = Network.random([3, 4, 2], seed=0, l2=1e308)
    with pytest.raises(ValueError, match=r"^`l2` = 1e\+308 makes the penalty"):
        check_backprop_at(reference_candidate(), net, np.ones((5, 3)), np.zeros((5, 2)))
    candidate = reference_candidate(l2=10.0)
    assert check_backprop(candidate, sizes=[3, 4, 2], l2=10.0, trials=1).passed
