"""gradcheck.oracle.equations: each step of the derivation confirmed; a broken step pinned to its place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _data import CONFIGS, problem
from _fuzz import FUZZ_SLOW, outcome
from _helpers import TANH_NET, TANH_X, TANH_Y
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import (
    trial_case,
)
from gradcheck.diagnosis.localize import localize
from gradcheck.fd.delta import numerical_deltas
from gradcheck.oracle.equations import EquationReport, check_equations
from gradcheck.tolerance.independent import equation_deltas
from reference import (
    Gradients,
    Network,
    backprop,
)

DEEP = (4, 6, 5, 6, 3)  # three hidden layers: H = 3


def _case(hidden, output, cost, sizes=DEEP, d=6, seed=0):
    return problem(hidden, output, cost, sizes, d, seed)


def _candidate(net, X, Y, *, dtype=np.float64, broken=None, at=None):
    """An independent backprop written out in `dtype`, with one step optionally broken.

    broken: "output" (delta^H without h'), "recursion" (delta^at without h'(z^at)),
    "outer" (dJ/dW^at pairs a^{at-1} of one example with delta^at of the next),
    "bias" (dJ/db^at summed over the batch instead of averaged).
    Returns (deltas, gradients) in `dtype`.
    """
    h, H = net.activations, net.H
    Ws = [W.astype(dtype) for W in net.weights]
    bs = [b.astype(dtype) for b in net.biases]
    X, Y = X.astype(dtype), Y.astype(dtype)
    Z, A, a = [], [], X
    for W, b, act in zip(Ws, bs, h, strict=True):
        z = (a @ W + b).astype(dtype)
        a = act.h(z).astype(dtype)
        Z.append(z)
        A.append(a)
    fused = net.fused
    if fused is not None:
        delta = fused.delta(Z[H], A[H], Y)
    elif not net.output.elementwise:
        delta = net.output.vjp(A[H], net.cost_function.dJ_da(A[H], Y))
    else:
        G = net.cost_function.dJ_da(A[H], Y)
        delta = G if broken == "output" else G * net.output.h_prime(Z[H])
    Delta = [None] * (H + 1)
    Delta[H] = delta.astype(dtype)
    for L in range(H - 1, -1, -1):
        back = Delta[L + 1] @ Ws[L + 1].T
        Delta[L] = (
            back if broken == "recursion" and L == at else back * h[L].h_prime(Z[L])
        ).astype(dtype)
    d = X.shape[0]
    dW, db = [], []
    for L in range(H + 1):
        a_prev = X if L == 0 else A[L - 1]
        if broken == "outer" and L == at:
            a_prev = np.roll(a_prev, 1, axis=0)
        dW.append((a_prev.T @ Delta[L] / d).astype(dtype))
        db.append((Delta[L].sum(axis=0) / (1 if broken == "bias" and L == at else d)).astype(dtype))
    return Delta, Gradients(dW, db)


def _rows(report, kind):
    return {row.layer: row for row in report.rows if row.kind == kind}


# ------------------------------------------------- the equations themselves


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_every_equation_holds_on_every_activation_and_cost(hidden, output, cost):
    for sizes, d, seed in ((DEEP, 6, 0), ((3, 4, 2), 1, 1), ((5, 3), 4, 2)):
        net, X, Y = _case(hidden, output, cost, sizes=sizes, d=d, seed=seed)
        report = check_equations(net, X, Y)
        H = net.H
        assert report.passed, str(report)
        assert report.first_failure is None
        assert [(r.kind, r.layer) for r in report.rows] == (
            [("output", H)]
            + [("recursion", L) for L in range(H - 1, -1, -1)]
            + [(kind, L) for L in range(H, -1, -1) for kind in ("weights", "biases")]
        )
        assert all(r.verdict == "ok" and r.excess <= 1.0 for r in report.rows)
        assert report.explanation.startswith("every equation holds")


def test_output_equation_is_written_in_jacobian_form_for_softmax():
    net, X, Y = _case("tanh", "softmax", "quadratic")
    report = check_equations(net, X, Y)
    assert report.rows[0].equation == "delta^3 = J_h(z^3)^T dJ/da^3"
    assert report.passed
    net, X, Y = _case("tanh", "sigmoid", "quadratic")
    assert check_equations(net, X, Y).rows[0].equation == "delta^3 = dJ/da^3 ⊙ h'(z^3)"


@settings(max_examples=25)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5),
    d=st.integers(1, 4),
    config=st.sampled_from(CONFIGS),
    seed=st.integers(0, 2**16),
)
def test_equations_hold_on_random_shapes(sizes, d, config, seed):
    hidden, output, cost = config
    if output == "softmax" and sizes[-1] == 1:
        sizes = sizes[:-1] + [2]
    net, X, Y = _case(hidden, output, cost, sizes=tuple(sizes), d=d, seed=seed)
    report = check_equations(net, X, Y)
    assert report.passed, str(report)


# -------------------------------------------------- a candidate's own numbers


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_correct_candidate_passes_in_its_own_dtype(hidden, output, cost, dtype):
    net, X, Y = _case(hidden, output, cost, seed=4)
    deltas, gradients = _candidate(net, X, Y, dtype=dtype)
    assert deltas[0].dtype == dtype
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    assert report.passed, str(report)
    assert all(row.step is not None for row in report.rows)
    assert np.dtype(dtype).name in report.checked


def test_float32_candidate_is_judged_at_float32_precision_not_float64():
    net, X, Y = _case("sigmoid", None, "quadratic")
    deltas, gradients = _candidate(net, X, Y, dtype=np.float32)
    # Upcast to float64 the same numbers claim float64 accuracy they do not have.
    as64 = [D.astype(np.float64) for D in deltas]
    assert check_equations(net, X, Y, deltas=deltas).passed
    assert not check_equations(net, X, Y, deltas=as64).passed


def test_broken_output_delta_is_pinned_to_delta_H():
    net, X, Y = _case("sigmoid", None, "quadratic")
    deltas, gradients = _candidate(net, X, Y, broken="output")
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    failure = report.first_failure
    assert (failure.kind, failure.layer) == ("output", 3)
    assert report.explanation.startswith("delta^H is wrong (H = 3): check dJ/da^H ⊙ h'(z^H)")
    # every step below holds on the candidate's numbers: they only inherit the error
    assert {row.verdict for row in report.rows[1:]} == {"upstream"}
    assert not report.passed


@pytest.mark.parametrize("L", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_broken_recursion_is_pinned_to_its_layer_not_a_lower_one(L, dtype):
    net, X, Y = _case("tanh", "identity", "quadratic", seed=5)
    deltas, gradients = _candidate(net, X, Y, dtype=dtype, broken="recursion", at=L)
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    failure = report.first_failure
    assert (failure.kind, failure.layer) == ("recursion", L)
    assert report.explanation.startswith(
        f"delta^{L + 1} matches, delta^{L} does not: "
        f"the recursion from layer {L + 1} to layer {L} is wrong"
    )
    recursion, weights = _rows(report, "recursion"), _rows(report, "weights")
    assert report.rows[0].verdict == "ok"
    for K in range(net.H - 1, -1, -1):
        assert recursion[K].verdict == ("ok" if K > L else "FAIL" if K == L else "upstream")
    for K in range(net.H + 1):
        assert weights[K].verdict == ("ok" if K > L else "upstream")
    # the same deltas without gradients: the same verdict
    alone = check_equations(net, X, Y, deltas=deltas).first_failure
    assert (alone.kind, alone.layer) == ("recursion", L)


@pytest.mark.parametrize("L", [0, 1, 3])
def test_broken_outer_product_is_pinned_to_its_layer(L):
    net, X, Y = _case("softplus", None, "quadratic", seed=6)
    deltas, gradients = _candidate(net, X, Y, broken="outer", at=L)
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    failure = report.first_failure
    assert (failure.kind, failure.layer) == ("weights", L)
    assert failure.governing.against == "eq"
    a_prev = "a^{-1} (= x)" if L == 0 else f"a^{L - 1}"
    assert report.explanation.startswith(
        f"the deltas are right but dJ/dW^{L} is not {a_prev} (delta^{L})^T"
    )
    assert [row for row in report.rows if row.verdict != "ok"] == [failure]


@pytest.mark.parametrize("L", [0, 2])
def test_broken_bias_equation_is_pinned_to_its_layer(L):
    net, X, Y = _case("leaky_relu", "identity", "quadratic", seed=7)
    deltas, gradients = _candidate(net, X, Y, broken="bias", at=L)
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    failure = report.first_failure
    assert (failure.kind, failure.layer) == ("biases", L)
    assert report.explanation.startswith(f"the deltas are right but dJ/db^{L} is not delta^{L}")
    assert f"b^{L}[" in failure.governing.entry


def test_gradients_alone_are_localized_from_the_pattern_of_layers():
    net, X, Y = _case("tanh", "identity", "quadratic", seed=8)
    _, gradients = _candidate(net, X, Y, broken="recursion", at=1)
    report = check_equations(net, X, Y, gradients=gradients)
    assert report.gradients_only
    first = localize([False, False, True, True], [False, False, True, True])[0]
    assert (first.equation, first.layers) == ("recursion", (1,))
    assert report.explanation.startswith(first.text)
    assert "the recursion into layer 1 is wrong" in report.explanation
    # the deltas rows are the equations' own, and they hold
    assert {row.verdict for row in report.rows if row.kind in ("output", "recursion")} == {"ok"}
    _, gradients = _candidate(net, X, Y, broken="outer", at=2)
    report = check_equations(net, X, Y, gradients=gradients)
    # dJ/db^2 is right, so delta^2 is: the outer product, never the recursion or delta^H
    assert report.explanation.startswith("dJ/dW^2 wrong")
    assert "the outer product is wrong" in report.explanation


def test_a_wrong_h_prime_is_pinned_to_the_recursion_it_enters():
    # A user's activation with a wrong derivative: the equations themselves fail, at its first use.
    wrong = (np.tanh, lambda z: 1.0 - np.tanh(z))  # should be 1 - tanh^2
    rng = np.random.default_rng(9)
    net = Network.random(DEEP, hidden=wrong, output="identity", seed=rng)
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    failure = check_equations(net, X, Y).first_failure
    assert (failure.kind, failure.layer) == ("recursion", 2)


def test_a_wrong_h_prime_is_reported_before_judging_a_candidate():
    def my_tanh(z):
        return np.tanh(z)

    rng = np.random.default_rng(9)
    right = Network.random(DEEP, hidden="tanh", output="identity", seed=rng)
    wrong = Network(
        right.weights, right.biases, hidden=(my_tanh, lambda z: 1.0 - np.tanh(z)), output="identity"
    )
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    deltas, gradients = _candidate(right, X, Y)  # right: it uses the true derivative
    assert check_equations(right, X, Y, deltas=deltas, gradients=gradients).passed
    report = check_equations(wrong, X, Y, deltas=deltas, gradients=gradients)
    assert not report.passed
    assert report.explanation.startswith("the network's own equations fail at layer 2")
    assert "check h' of the hidden activation 'my_tanh'" in report.explanation
    assert report.to_dict()["broken_equation"] == report.broken_equation


# ------------------------------------------------------------------- kinks


def _on_a_kink():
    """A ReLU net whose example 0 sits exactly on the kink z^0_0 = 0 (x = 0, b^0_0 = 0)."""
    rng = np.random.default_rng(10)
    net = Network.random((3, 4, 4, 2), hidden="relu", output="identity", seed=rng)
    biases = [b.copy() for b in net.biases]
    biases[0][0] = 0.0
    net = Network(net.weights, biases, hidden="relu", output="identity")
    X = rng.normal(size=(5, 3))
    X[0] = 0.0
    return net, X, rng.normal(size=(5, 2))


def test_relu_entries_at_kinks_are_unverifiable_never_failures():
    net, X, Y = _on_a_kink()
    _, _, unverifiable = numerical_deltas(net, X, Y)
    assert unverifiable[0][0, 0]
    assert not unverifiable[2].any()  # the identity output has no kink
    report = check_equations(net, X, Y)
    assert report.passed, str(report)
    assert report.n_unverifiable >= 1
    assert "unverifiable at ReLU kinks" in report.explanation


def test_either_convention_for_h_prime_at_zero_passes():
    net, X, Y = _on_a_kink()
    deltas, gradients = _candidate(net, X, Y)
    # A candidate taking h'(0) = 1 (z >= 0) differs from the reference exactly at the kink.
    z0 = X @ net.weights[0] + net.biases[0]
    deltas[0] = (deltas[1] @ net.weights[1].T) * (z0 >= 0)
    assert deltas[0][0, 0] != equation_deltas(net, X, Y)[0][0, 0]
    a_prev = X
    gradients = Gradients(
        [a_prev.T @ deltas[0] / 5] + gradients.weights[1:],
        [deltas[0].mean(axis=0)] + gradients.biases[1:],
    )
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    assert report.passed, str(report)


def test_many_near_kinks_in_a_relu_net_never_fail():
    for seed in range(3):
        net, X, Y = _case(
            "relu", "softmax", "categorical_cross_entropy", sizes=(6, 12, 12, 4), d=16, seed=seed
        )
        deltas, gradients = _candidate(net, X, Y, dtype=np.float32)
        assert check_equations(net, X, Y).passed
        assert check_equations(net, X, Y, deltas=deltas, gradients=gradients).passed


# ------------------------------------------------------------------ report


def test_report_prints_a_compact_table_and_converts_to_json():
    net, X, Y = _case("tanh", "identity", "quadratic")
    deltas, gradients = _candidate(net, X, Y, broken="recursion", at=1)
    report = check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    text = str(report)
    lines = text.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 100
    assert "2 -> 1" in text and "FAIL" in text and "upstream" in text
    assert " ".join(text.split("FAIL: ", 1)[1].split()) == report.explanation  # wrapped, not cut
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False
    assert data["first_failure"]["kind"] == "recursion" and data["first_failure"]["layer"] == 1
    assert len(data["rows"]) == len(report.rows) == 3 * net.H + 3
    assert data["rows"][1]["step"]["against"] == "eq"


def test_inputs_are_not_modified():
    net, X, Y = _case("sigmoid", None, "quadratic")
    deltas, gradients = _candidate(net, X, Y, dtype=np.float32)
    copies = (
        [X.copy(), Y.copy()] + [D.copy() for D in deltas] + [W.copy() for W in gradients.weights]
    )
    check_equations(net, X, Y, deltas=deltas, gradients=gradients)
    for before, after in zip(copies, [X, Y] + deltas + gradients.weights, strict=True):
        np.testing.assert_array_equal(before, after)
        assert before.dtype == after.dtype


# --------------------------------------------------------------- validation


def test_validation_messages():
    net, X, Y = _case("tanh", None, "quadratic", sizes=(3, 4, 2), d=5)
    deltas, gradients = _candidate(net, X, Y)
    with pytest.raises(
        ValueError, match=r"one Delta\^L per layer L = 0 \.\. H, that is 2 arrays .* got 1"
    ):
        check_equations(net, X, Y, deltas=deltas[:1])
    with pytest.raises(
        ValueError,
        match=r"`deltas\[1\]` \(Delta\^1\) has shape \(5, 3\) but must be \(d, N_1\) .* = \(5, 2\)",
    ):
        check_equations(net, X, Y, deltas=[deltas[0], np.zeros((5, 3))])
    bad = [deltas[0].copy(), deltas[1].copy()]
    bad[0][2, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"`deltas\[0\]` \(Delta\^0\) must be finite; entry \(2, 1\) is nan"
    ):
        check_equations(net, X, Y, deltas=bad)
    with pytest.raises(TypeError, match=r"`deltas\[0\]` \(Delta\^0\) must be real, got complex"):
        check_equations(net, X, Y, deltas=[deltas[0] + 0j, deltas[1]])
    with pytest.raises(TypeError, match="`deltas` must be a list of arrays"):
        check_equations(net, X, Y, deltas=np.zeros((5, 4)))
    with pytest.raises(
        ValueError,
        match=r"`gradients.weights\[0\]` \(dJ/dW\^0\) has shape \(4, 3\) "
        r"but must be \(M, N\) like W\^0 = \(3, 4\)",
    ):
        check_equations(
            net, X, Y, gradients=([gradients.weights[0].T, gradients.weights[1]], gradients.biases)
        )
    with pytest.raises(
        ValueError, match=r"`gradients.biases` must hold one dJ/db\^L per layer .* got 1"
    ):
        check_equations(
            net, X, Y, gradients={"weights": gradients.weights, "biases": gradients.biases[:1]}
        )
    nan_bias = [gradients.biases[0], np.full(2, np.inf)]
    with pytest.raises(
        ValueError,
        match=r"`gradients.biases\[1\]` \(dJ/db\^1\) must be finite; entry 0 is inf",
    ):
        check_equations(net, X, Y, gradients=(gradients.weights, nan_bias))
    with pytest.raises(
        TypeError, match="`gradients` must be a Gradients, a \\(dJ_dW, dJ_db\\) pair"
    ):
        check_equations(net, X, Y, gradients=3.0)
    with pytest.raises(ValueError, match="unknown `method` 'forward'"):
        check_equations(net, X, Y, method="forward")
    with pytest.raises(TypeError, match="`net` must be a reference.Network"):
        check_equations([net], X, Y)
    with pytest.raises(ValueError, match="`X` has 2 columns"):
        equation_deltas(net, X[:, :2], Y)
    with pytest.raises(ValueError, match="`memory_limit` must be positive"):
        numerical_deltas(net, X, Y, memory_limit=0)
    with pytest.raises(TypeError, match="`memory_limit` must be an integer"):
        numerical_deltas(net, X, Y, memory_limit=1.5)


def test_report_type_is_exported():
    net, X, Y = _case("identity", None, "quadratic", sizes=(2, 2), d=2)
    assert isinstance(check_equations(net, X, Y), EquationReport)


# ------------------------------------------------------- one name per quantity


def test_excess_is_error_over_tolerance_in_rows_and_json():
    net, X, Y = _case("tanh", None, "quadratic", sizes=(3, 4, 2), d=4)
    report = check_equations(net, X, Y)
    for row in report.rows:
        c = row.governing
        assert row.excess == c.excess == pytest.approx(c.error / c.tolerance)
        data = row.to_dict()
        assert data["excess"] == row.excess and "ratio" not in data
        assert data["numerical"]["excess"] == row.numerical.excess


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: check_equations(
            TANH_NET, TANH_X, TANH_Y, deltas=(D for D in equation_deltas(TANH_NET, TANH_X, TANH_Y))
        ),
        TypeError,
        "`deltas` must be a list of arrays",
        id="check_equations-deltas-generator",
    ),
    pytest.param(
        lambda: check_equations(
            TANH_NET, TANH_X, TANH_Y, deltas=[[[1.0], [1.0, 2.0]], np.zeros((5, 2))]
        ),
        TypeError,
        "`deltas[0]` (Delta^0) must be a numeric array; numpy could not convert it",
        id="check_equations-deltas-ragged",
    ),
    pytest.param(
        lambda: check_equations(TANH_NET, TANH_X, TANH_Y, deltas=[None, np.zeros((5, 2))]),
        TypeError,
        "`deltas[0]` (Delta^0) must be a numeric array, got dtype object",
        id="check_equations-deltas-None",
    ),
    pytest.param(
        lambda: check_equations(
            TANH_NET, TANH_X, TANH_Y, gradients=(np.zeros((3, 4)), np.zeros(4))
        ),
        TypeError,
        "`gradients.weights` must be a list of arrays",
        id="check_equations-gradients-arrays",
    ),
    pytest.param(
        lambda: check_equations(
            TANH_NET,
            TANH_X,
            TANH_Y,
            gradients=([[[1.0], [1.0, 2.0]], np.zeros((4, 2))], [np.zeros(4), np.zeros(2)]),
        ),
        TypeError,
        "`gradients.weights[0]` (dJ/dW^0) must be a numeric array; numpy could not convert it",
        id="check_equations-gradients-ragged",
    ),
    pytest.param(
        lambda: check_equations(TANH_NET, TANH_X, TANH_Y, method=None),
        ValueError,
        "unknown `method` None",
        id="check_equations-method-None",
    ),
    pytest.param(
        lambda: check_equations(TANH_NET, np.full((5, 3), np.nan), TANH_Y),
        ValueError,
        "`X` must be finite",
        id="check_equations-X-nan",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "call, known",
    [
        (
            lambda: check_equations(TANH_NET, TANH_X, TANH_Y, method="forward"),
            ["richardson", "central", "complex"],
        ),
    ],
    ids=["check_equations-method"],
)
def test_an_unknown_name_is_refused_with_the_known_ones_listed(call, known):
    with pytest.raises(ValueError) as info:
        call()
    assert all(name in str(info.value) for name in known), str(info.value)


# ---- fuzzing and reproducibility


def _variant(kind, correct):
    """A candidate's deltas or gradients list: correct, wrong, or malformed; and its expected verdict."""
    if kind == "none":
        return None, True
    if kind == "correct":
        return [a.copy() for a in correct], True
    if kind == "float32":
        return [a.astype(np.float32) for a in correct], True
    if kind == "offset":
        return [a + 0.01 for a in correct], False
    if kind == "ints":
        return [
            np.rint(a).astype(np.int64) for a in correct
        ], None  # valid structure, verdict unknown
    if kind == "nan":
        return [a.copy() for a in correct[:-1]] + [correct[-1] * np.nan], "refused"
    if kind == "complex":
        return [a + 0j for a in correct], "refused"
    if kind == "strings":
        return [a.astype(str) for a in correct], "refused"
    if kind == "short":
        return [a.copy() for a in correct[:-1]], "refused"
    if kind == "transposed":
        fits = all(a.T.shape == a.shape for a in correct)
        return [a.T.copy() for a in correct], (None if fits else "refused")
    if kind == "ndarray":
        return np.zeros(3), "refused"
    raise AssertionError(kind)


KINDS_OF_VARIANT = [
    "none",
    "correct",
    "float32",
    "offset",
    "ints",
    "nan",
    "complex",
    "strings",
    "short",
    "transposed",
    "ndarray",
]


@FUZZ_SLOW
@given(data=st.data())
def test_fuzz_check_equations(data):
    sizes = data.draw(st.lists(st.integers(2, 3), min_size=2, max_size=4))
    hidden = data.draw(st.sampled_from(["tanh", "sigmoid", "softplus"]))
    seed = data.draw(st.integers(0, 1000))
    net, X, Y = trial_case(sizes, data.draw(st.integers(1, 4)), seed, hidden=hidden)
    correct_deltas = equation_deltas(net, X, Y)
    g = backprop(net, X, Y)
    deltas, deltas_verdict = _variant(data.draw(st.sampled_from(KINDS_OF_VARIANT)), correct_deltas)
    weights, gradients_verdict = _variant(data.draw(st.sampled_from(KINDS_OF_VARIANT)), g.weights)
    gradients = None
    if weights is not None:
        biases = [b.copy() for b in g.biases]
        wrapper = data.draw(st.sampled_from(["pair", "dict", "Gradients"]))
        gradients = {
            "pair": (weights, biases),
            "dict": {"weights": weights, "biases": biases},
            "Gradients": Gradients(weights, biases),
        }[wrapper]
    refused = "refused" in (deltas_verdict, gradients_verdict)
    kind, report = outcome(lambda: check_equations(net, X, Y, deltas=deltas, gradients=gradients))
    assert kind == ("refused" if refused else "ok"), (kind, report)
    if kind == "ok":
        json.dumps(report.to_dict())
        str(report)
        if deltas_verdict is True and gradients_verdict is True:
            assert report.passed, str(report)
        if False in (deltas_verdict, gradients_verdict):
            assert not report.passed, str(report)


def test_check_equations_same_input_same_report_bit_for_bit():
    net, X, Y = trial_case([3, 4, 4, 2], 5, 9, hidden="relu", output="identity")
    deltas = equation_deltas(net, X, Y)
    deltas[1] = deltas[1] * 1.5
    for kwargs in ({}, {"deltas": deltas}, {"gradients": backprop(net, X, Y)}):
        first = json.dumps(check_equations(net, X, Y, **kwargs).to_dict())
        assert json.dumps(check_equations(net, X, Y, **kwargs).to_dict()) == first
