"""Explanations you can trust (issue 11): every stated cause consistent with the report's evidence.

Each test runs the real oracle on a deliberately broken backprop and checks the
first cause's `bug`, `equation` and `layers`, and that no printed cause is one
its own per-block table rules out.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck import check_backprop, check_backprop_at
from gradcheck.diagnosis.bugs import BUGS
from gradcheck.diagnosis.explain import block_verdicts
from gradcheck.diagnosis.localize import contradicts
from reference import ACTIVATIONS, Activation, Gradients, Network, backprop

SIZES = [4, 5, 4, 3]  # H = 2, n_H = 3


def reference_candidate(hidden="tanh", output="identity", cost="quadratic"):
    def candidate(weights, biases, X, Y):
        return backprop(Network(weights, biases, hidden=hidden, output=output, cost=cost), X, Y)

    return candidate


def edited(edit, **net_options):
    """A candidate: the reference's gradient, then `edit(dW, db, X)` applied in place."""
    base = reference_candidate(**net_options)

    def candidate(weights, biases, X, Y):
        g = base(weights, biases, X, Y)
        dW, db = [W.copy() for W in g.weights], [b.copy() for b in g.biases]
        edit(dW, db, X)
        return dW, db

    return candidate


def first_cause(report):
    assert not report.passed
    assert report.causes, str(report)
    return report.causes[0]


def assert_consistent(report):
    """No cause of any failing trial is ruled out by that trial's per-block verdicts."""
    for trial in report.failed_trials:
        if not trial.blocks:
            continue
        H = len(trial.sizes) - 2
        W_ok, b_ok, _ = block_verdicts(trial.blocks, H)
        for cause in trial.causes:
            assert not contradicts(cause, W_ok, b_ok), (cause.text, W_ok, b_ok)


def check(candidate, **options):
    options.setdefault("sizes", SIZES)
    options.setdefault("hidden", "tanh")
    options.setdefault("output", "identity")
    report = check_backprop(candidate, trials=2, seed=3, edge_cases=False, **options)
    assert_consistent(report)
    return report


def _negate_b(dW, db, X, L):
    db[L] *= -1


def _scale_W(dW, db, X, L):
    dW[L] *= 1.5


def _one_entry(dW, db, X, L):
    dW[L][1, 2] += 0.1 * np.abs(dW[L]).max() + 1e-3


# The non-catalogue family: where each slip is in the article's equations.
@pytest.mark.parametrize(
    "edit, L, expected",
    [
        (_negate_b, 0, ("dJ/db", (0,))),
        (_negate_b, 1, ("dJ/db", (1,))),
        (_scale_W, 1, ("dJ/dW", (1,))),
        (_scale_W, 2, ("dJ/dW", (2,))),
        (_one_entry, 0, ("dJ/dW", (0,))),
    ],
)
def test_slips_outside_the_catalogue_are_located(edit, L, expected):
    report = check(edited(lambda dW, db, X: edit(dW, db, X, L)))
    cause = first_cause(report)
    assert (cause.equation, cause.layers) == expected, cause.text
    assert cause.bug is None
    assert "recursion" not in cause.text.split("Fix")[0]  # a right block clears the recursion


def wrong_layer_h_prime(weights, biases, X, Y):
    """The recursion uses h'(z^{L+1}) where h'(z^L) belongs (one layer off): a slip in delta^0."""
    net = Network(weights, biases, hidden="tanh", output="identity")
    A, Z = [X], []
    for W, b in zip(weights, biases):
        Z.append(A[-1] @ W + b)
        A.append(np.tanh(Z[-1]) if len(Z) < len(weights) else Z[-1])
    d = len(X)
    delta = (A[-1] - Y) / d
    dW, db = [None] * 3, [None] * 3
    for L in (2, 1, 0):
        dW[L], db[L] = A[L].T @ delta, delta.sum(axis=0)
        if L:
            wrong = Z[L] if L == 1 else Z[L - 1]  # layer 0 gets layer 1's z: same width here
            delta = (delta @ weights[L].T) * (1 - np.tanh(wrong) ** 2)
    assert net.H == 2
    return dW, db


def test_h_prime_of_the_wrong_layer_is_the_recursion_into_that_layer():
    report = check(wrong_layer_h_prime, sizes=[4, 5, 5, 3])
    cause = first_cause(report)
    assert (cause.equation, cause.layers) == ("recursion", (0,)), cause.text


def applicable(bug):
    for hidden, output, cost in [
        ("sigmoid", "sigmoid", "quadratic"),
        ("tanh", "softmax", "categorical_cross_entropy"),
        ("tanh", "sigmoid", "cross_entropy"),
        ("relu", "identity", "quadratic"),
    ]:
        net = Network.random([4, 4, 4, 4], hidden=hidden, output=output, cost=cost, seed=2)
        if bug.applies(net, 8):
            return net
    return None


@pytest.mark.parametrize(
    "bug", [b for b in BUGS if applicable(b) is not None], ids=lambda b: b.name
)
def test_every_catalogue_bug_is_named_first(bug):
    net = applicable(bug)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 4))
    Y = backprop  # placeholder, replaced below
    if net.cost_function.name == "quadratic":
        Y = rng.normal(size=(8, 4))
    else:
        Y = np.eye(4)[rng.integers(0, 4, 8)]
    options = {bug.constant: 0.05} if bug.constant else {}

    def candidate(weights, biases, X_, Y_):
        with np.errstate(all="ignore"):
            return bug.gradient(
                Network(
                    weights, biases, hidden=net.hidden, output=net.output, cost=net.cost_function
                ),
                X_,
                Y_,
                **options,
            )

    report = check_backprop_at(candidate, net, X, Y)
    assert_consistent(report)
    assert first_cause(report).bug == bug.name, report.diagnosis


def test_mse_loss_is_named_for_what_it_is():
    def mse(weights, biases, X, Y):  # torch.nn.MSELoss: the mean over outputs too, no 1/2
        g = reference_candidate()(weights, biases, X, Y)
        c = 2.0 / Y.shape[1]
        return [c * W for W in g.weights], [c * b for b in g.biases]

    cause = first_cause(check(mse))
    assert cause.bug == "mean_over_outputs"
    assert "MSELoss" in cause.text and "2/n_H" in cause.text


def test_swapped_gradients_are_named():
    def swapped(weights, biases, X, Y):
        g = reference_candidate()(weights, biases, X, Y)
        return list(g.biases), list(g.weights)

    report = check(swapped)
    assert first_cause(report).bug == "gradients_swapped"
    assert "one row per example" not in str(report)


def test_a_vanishing_gradient_is_a_finding_not_a_bug_match():
    def zeros(weights, biases, X, Y):
        return [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]

    cause = first_cause(check(zeros))
    assert cause.bug is None and "vanishes" in cause.text


def test_saturated_nets_never_match_noise_to_a_bug():
    # weights of scale 8: sigmoid units saturate; a candidate that clips h' to 0 past |z| > 4
    # gives ~0 where the reference is small but not negligible
    rng = np.random.default_rng(5)
    for seed in range(6):
        net = Network.random([4, 6, 3], hidden="sigmoid", output="sigmoid", seed=seed)
        net = Network([8 * W for W in net.weights], [8 * b for b in net.biases])
        X, Y = rng.normal(size=(8, 4)), rng.uniform(size=(8, 3))

        def clipped(weights, biases, X_, Y_):
            g = backprop(Network(weights, biases), X_, Y_)
            return [1e-40 * W for W in g.weights], [1e-40 * b for b in g.biases]

        report = check_backprop_at(clipped, net, X, Y)
        causes = report.causes
        assert causes and causes[0].bug is None, report.diagnosis
        assert "vanishes" in causes[0].text


def test_tiny_differences_are_said_with_their_size_first():
    def smoothed(weights, biases, X, Y):  # e.g. an eps inside a log: 1e-11 relative
        g = reference_candidate()(weights, biases, X, Y)
        return [W * (1 + 1e-11) + 1e-13 for W in g.weights], [b * (1 + 1e-11) for b in g.biases]

    report = check(smoothed)
    cause = first_cause(report)
    assert cause.text.startswith("the difference is tiny (relative error")
    assert "custom reference.Cost" in cause.text
    assert "every layer's gradient is wrong" not in str(report)


def relu_at_zero(value):
    relu = ACTIVATIONS["relu"]
    prime = lambda z: np.where(z > 0, 1.0, np.where(z < 0, 0.0, value))  # noqa: E731
    return Activation("relu", relu.h, prime, lower=0.0, kink=True, smooth=False)


def kinked_problem():
    """A ReLU net where the first example has every z^0 exactly 0."""
    net = Network.random([3, 5, 4, 2], hidden="relu", output="identity", seed=1)
    net = Network(net.weights, [np.zeros(5), *net.biases[1:]], hidden="relu", output="identity")
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    X[0] = 0.0
    return net, X, Y


def relu_candidate(value):
    act = relu_at_zero(value)

    def candidate(weights, biases, X, Y):
        return backprop(Network(weights, biases, hidden=act, output="identity"), X, Y)

    return candidate


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_a_subgradient_at_a_kink_passes_and_is_counted(value):
    report = check_backprop_at(relu_candidate(value), *kinked_problem())
    assert report.passed, str(report)
    assert report.trials[0].kinked > 0
    assert "depend on h' at a kink" in str(report)


@pytest.mark.parametrize("value", [5.0, -3.0, 1.5])
def test_a_slope_outside_the_subdifferential_fails(value):
    report = check_backprop_at(relu_candidate(value), *kinked_problem())
    assert not report.passed


def test_a_mutating_candidate_is_still_judged_on_its_gradient():
    def mutating(right):
        def candidate(weights, biases, X, Y):
            g = reference_candidate()(weights, biases, X, Y)
            X[0, 0] = 99.0  # writes into its input
            scale = 1.0 if right else 3.0
            return [scale * W for W in g.weights], list(g.biases)

        return candidate

    right, wrong = check(mutating(True)), check(mutating(False))
    for report in (right, wrong):
        assert not report.passed
        assert any("modified its inputs" in p for p in report.trials[0].problems)
    assert right.trials[0].excess_vs_reference <= 1.0
    assert wrong.trials[0].excess_vs_reference > 1.0
    assert first_cause(wrong).equation == "dJ/dW"


def test_each_block_is_judged_in_its_own_dtype():
    def mixed(weights, biases, X, Y):  # dW in float32, db in float64: both right
        g = reference_candidate()(weights, biases, X, Y)
        return [W.astype(np.float32) for W in g.weights], list(g.biases)

    report = check(mixed)
    assert report.passed, str(report)


def test_a_signature_that_cannot_take_the_call_is_refused_before_any_call():
    with pytest.raises(
        TypeError, match=r"the oracle calls candidate\(weights, biases, X, Y\) in layout 'article'"
    ):
        check_backprop(lambda weights, biases, X: None, sizes=[2, 3, 1])


def test_arguments_in_another_order_are_refused_with_the_wrapper():
    def backwards(X, Y, weights, biases):
        return reference_candidate()(weights, biases, X, Y)

    with pytest.raises(TypeError, match=r"data first, parameters after") as info:
        check_backprop(backwards, sizes=[2, 3, 1])
    assert "lambda weights, biases, X, Y: candidate(X, Y, weights, biases)" in str(info.value)


def test_every_failing_trial_is_explained():
    report = check_backprop(
        edited(lambda dW, db, X: _negate_b(dW, db, X, 0)),
        sizes=SIZES,
        hidden="tanh",
        output="identity",
        trials=3,
        seed=0,
    )
    assert len(report.failed_trials) >= 3
    assert all(t.causes for t in report.failed_trials)
    assert "Other failing trials:" in str(report)
    assert "the same first cause in" in str(report)


def test_causes_travel_as_data_in_the_json():
    report = check(edited(lambda dW, db, X: _scale_W(dW, db, X, 1)))
    data = json.loads(json.dumps(report.to_dict()))
    first = data["causes"][0]
    assert set(first) == {"bug", "equation", "layers", "text", "evidence"}
    assert (first["equation"], first["layers"]) == ("dJ/dW", [1])
    assert data["diagnosis"][0] == first["text"]
    assert "\n" not in first["text"]
    assert data["trials"][0]["causes"][0]["equation"] == "dJ/dW"


def test_a_right_candidate_has_no_causes():
    report = check(reference_candidate())
    assert report.passed and report.causes == [] and report.to_dict()["causes"] == []


def test_gradients_object_is_accepted_for_bug_candidates():
    # the catalogue's gradient functions return reference.Gradients: the oracle reads them
    assert isinstance(BUGS[0].gradient(*kinked_problem()), Gradients)


def test_a_python_candidate_that_hangs_fails_at_its_timeout():
    import threading

    release = threading.Event()

    def hangs(weights, biases, X, Y):
        release.wait(30)  # released at the end of the test: the thread never outlives it long
        return reference_candidate()(weights, biases, X, Y)

    try:
        report = check_backprop(hangs, sizes=[2, 3, 1], timeout=0.2, edge_cases=False)
    finally:
        release.set()
    assert not report.passed
    assert len(report.trials) == 1  # no gradient: the run stops, it would repeat
    assert "did not return within the timeout of 0.2 s" in str(report)


def test_a_timeout_that_is_met_changes_nothing():
    report = check_backprop(
        reference_candidate(),
        sizes=[2, 3, 1],
        timeout=30,
        hidden="tanh",
        output="identity",
        edge_cases=False,
    )
    assert report.passed


@pytest.mark.parametrize(
    "timeout, error, message",
    [
        (0, ValueError, "`timeout` must be a positive, finite number of seconds, got 0"),
        ("1", TypeError, "`timeout` must be a number of seconds, got '1'"),
    ],
)
def test_timeout_validation(timeout, error, message):
    with pytest.raises(error) as info:
        check_backprop(reference_candidate(), sizes=[2, 3, 1], timeout=timeout)
    assert str(info.value) == message


def test_a_single_wrong_entry_is_an_indexing_slip_not_a_smoothing_constant():
    def one_cell(dW, db, X):  # tiny next to the whole gradient, but in one cell only
        dW[0][1, 2] *= 1 + 1e-7

    report = check(edited(one_cell))
    cause = first_cause(report)
    assert cause.text.startswith("only 1 of 64 entries is wrong (W^0[1,2]): an indexing slip")
    assert "smoothing constant" not in cause.text.split("?")[0]
    assert (cause.equation, cause.layers) == ("dJ/dW", (0,))
    assert_consistent(report)


def test_every_entry_slightly_wrong_is_not_called_an_indexing_slip():
    def every_cell(dW, db, X):
        for W in dW:
            W *= 1 + 1e-4

    assert "indexing slip" not in str(check(edited(every_cell)))
