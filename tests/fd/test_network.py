"""gradcheck.fd.network: the structure-aware engine equals the naive one, is accurate, and knows kinks."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _data import CONFIGS, blockwise_relative, problem
from _fuzz import FUZZ_SLOW, batches, networks, outcome
from _helpers import TANH_NET, TANH_X, TANH_Y
from hypothesis import given
from hypothesis import strategies as st

from gradcheck import (
    network_numerical_gradient,
)
from gradcheck.fd.network import _CostEvaluator
from reference import (
    Network,
    backprop,
)


def _case(hidden, output, cost, sizes=(4, 6, 5, 3), d=7, seed=0):
    return problem(hidden, output, cost, sizes, d, seed)


@pytest.mark.parametrize("method", ["richardson", "central", "complex"])
@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_structured_equals_naive_to_rounding(hidden, output, cost, method):
    net, X, Y = _case(hidden, output, cost)
    fast = network_numerical_gradient(net, X, Y, method=method)
    slow = network_numerical_gradient(net, X, Y, method=method, structured=False)
    g = backprop(net, X, Y).flat()
    # Same points, different rounding: the two agree far inside either's error estimate.
    diff = np.abs(fast.flat() - slow.flat())
    assert (diff <= fast.error.flat() + slow.error.flat() + 1e-15 * np.abs(g).max()).all()
    np.testing.assert_array_equal(fast.unverifiable.flat(), slow.unverifiable.flat())


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_richardson_is_accurate_and_its_estimate_honest(hidden, output, cost):
    for seed in range(3):
        net, X, Y = _case(hidden, output, cost, seed=seed)
        fd = network_numerical_gradient(net, X, Y)
        g = backprop(net, X, Y).flat()
        ok = ~fd.unverifiable.flat()
        error = np.abs(fd.flat() - g)[ok]
        assert blockwise_relative(np.where(ok, fd.flat(), g), g, net.layout) < 1e-8
        # the estimate bounds the true error (plus backprop's own rounding)
        assert (error <= fd.error.flat()[ok] + 1e-14 * np.abs(g).max()).all()


def test_complex_step_is_exact_to_rounding():
    net, X, Y = _case("tanh", "softmax", "categorical_cross_entropy")
    fd = network_numerical_gradient(net, X, Y, method="complex")
    g = backprop(net, X, Y).flat()
    assert blockwise_relative(fd.flat(), g, net.layout) < 1e-14


def test_small_memory_limit_gives_the_same_result():
    net, X, Y = _case("sigmoid", None, "quadratic")
    a = network_numerical_gradient(net, X, Y)
    b = network_numerical_gradient(net, X, Y, memory_limit=1)  # one perturbation per chunk
    np.testing.assert_array_equal(a.flat(), b.flat())


def test_kinks_are_reported_unverifiable_not_failed():
    # Put an example exactly on a ReLU kink: z^0_0 = 0 for example 0, whatever W^0[:, 0]
    # of the other inputs, so every difference in W^0[m, 0] and b^0[0] straddles it.
    W0 = np.array([[1.0, 0.5], [0.0, -0.3]])
    b0 = np.array([0.0, 0.1])
    net = Network(
        [W0, np.array([[1.0], [2.0]])], [b0, np.array([0.0])], hidden="relu", output="identity"
    )
    X = np.array([[0.0, 1.0], [1.0, 1.0]])
    Y = np.array([[0.5], [0.0]])
    fd = network_numerical_gradient(net, X, Y)
    assert fd.unverifiable.biases[0][0]
    assert fd.n_unverifiable >= 1
    assert not fd.unverifiable.weights[1].any()  # W^1 moves no pre-activation of a ReLU layer
    g = backprop(net, X, Y).flat()
    ok = ~fd.unverifiable.flat()
    assert (np.abs(fd.flat() - g)[ok] <= fd.error.flat()[ok] + 1e-15).all()


def test_near_kinks_are_rescued_by_the_tight_stencil():
    net, X, Y = _case("relu", "identity", "quadratic", sizes=(8, 16, 4), d=32)
    fd = network_numerical_gradient(net, X, Y)
    g = backprop(net, X, Y).flat()
    ok = ~fd.unverifiable.flat()
    assert ok.mean() > 0.99
    assert (np.abs(fd.flat() - g)[ok] <= fd.error.flat()[ok] + 1e-14 * np.abs(g).max()).all()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(method="forward"),
            ValueError,
            "unknown `method` 'forward'; known methods: richardson, central, complex",
        ),
        (dict(memory_limit=0), ValueError, "`memory_limit` must be positive, got 0"),
        (dict(memory_limit=1.5), TypeError, "`memory_limit` must be an integer number of bytes"),
    ],
)
def test_validation_messages(kwargs, error, message):
    net, X, Y = _case("sigmoid", None, "quadratic")
    with pytest.raises(error) as info:
        network_numerical_gradient(net, X, Y, **kwargs)
    assert message in str(info.value)


def test_needs_a_network():
    with pytest.raises(TypeError, match="`net` must be a reference.Network, got str"):
        network_numerical_gradient("net", np.zeros((1, 1)), np.zeros((1, 1)))


# ------------------------------------------------------------------ L2 penalty


@pytest.mark.parametrize("method", ["richardson", "central", "complex"])
@pytest.mark.parametrize("structured", [True, False])
def test_differences_see_the_l2_penalty(method, structured):
    lam = 2.0  # large, so that lam W dominates some entries
    net = Network.random(
        [3, 4, 5, 3],
        hidden=["sigmoid", "elu:0.1"],
        output="softmax",
        cost="categorical_cross_entropy",
        l2=lam,
        seed=7,
    )
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    fd = network_numerical_gradient(net, X, Y, method=method, structured=structured)
    g = backprop(net, X, Y).flat()
    assert np.all(np.abs(fd.flat() - g) <= 30 * fd.error.flat() + 1e-15)
    # the penalty comes from the differences themselves: without lam W^L they disagree
    unpenalised = Network(
        net.weights,
        net.biases,
        hidden=net.hidden_spec,
        output="softmax",
        cost="categorical_cross_entropy",
    )
    g0 = backprop(unpenalised, X, Y).flat()
    weights = np.concatenate(
        [np.r_[np.ones(W.size), np.zeros(b.size)] for W, b in zip(net.weights, net.biases)]
    ).astype(bool)
    assert np.all(np.abs(fd.flat() - g0)[weights] > 1e3 * fd.error.flat()[weights])
    fd0 = network_numerical_gradient(unpenalised, X, Y, method=method, structured=structured)
    biases = ~weights  # the same where the penalty does not act, to the differences' error
    assert np.all(np.abs(fd.flat() - fd0.flat())[biases] <= 30 * fd.error.flat()[biases])


def test_l2_penalty_is_the_same_through_an_executor():
    from concurrent.futures import ThreadPoolExecutor

    net = Network.random([3, 5, 2], hidden="tanh", output="identity", l2=0.7, seed=3)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    serial = network_numerical_gradient(net, X, Y)
    with ThreadPoolExecutor(2) as pool:
        parallel = network_numerical_gradient(net, X, Y, executor=pool)
    np.testing.assert_array_equal(parallel.flat(), serial.flat())
    np.testing.assert_allclose(serial.flat(), backprop(net, X, Y).flat(), rtol=1e-8, atol=1e-11)


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: network_numerical_gradient(TANH_NET, TANH_X, np.full((5, 2), np.inf)),
        ValueError,
        "`Y` must be finite",
        id="network_fd-Y-inf",
    ),
    pytest.param(
        lambda: network_numerical_gradient(TANH_NET, TANH_X[:, :2], TANH_Y),
        ValueError,
        "`X` has 2 columns",
        id="network_fd-X-columns",
    ),
    pytest.param(
        lambda: network_numerical_gradient(TANH_NET, TANH_X, TANH_Y, method=None),
        ValueError,
        "unknown `method` None",
        id="network_fd-method-None",
    ),
    pytest.param(
        lambda: network_numerical_gradient(TANH_NET, TANH_X, TANH_Y, memory_limit="1"),
        TypeError,
        "`memory_limit` must be an integer number of bytes, got '1'",
        id="network_fd-memory-string",
    ),
    pytest.param(
        lambda: network_numerical_gradient(TANH_NET, TANH_X, TANH_Y, memory_limit=True),
        TypeError,
        "`memory_limit` must be an integer number of bytes, got True",
        id="network_fd-memory-bool",
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
            lambda: network_numerical_gradient(TANH_NET, TANH_X, TANH_Y, method="fwd"),
            ["richardson", "central", "complex"],
        ),
    ],
    ids=["network_fd-method"],
)
def test_an_unknown_name_is_refused_with_the_known_ones_listed(call, known):
    with pytest.raises(ValueError) as info:
        call()
    assert all(name in str(info.value) for name in known), str(info.value)


def test_network_numerical_gradient_validates_structured():
    with pytest.raises(TypeError, match="`structured`"):
        network_numerical_gradient(TANH_NET, TANH_X, TANH_Y, structured="no")


@FUZZ_SLOW
@given(data=st.data())
def test_fuzz_network_numerical_gradient(data):
    net = data.draw(networks(max_layers=2))
    X, Y, valid = data.draw(batches(net))
    method = data.draw(st.sampled_from(["richardson", "central", "complex", "forward", None, 3]))
    memory = data.draw(st.sampled_from([1, 2**20, 0, -5, 2.5, True, "1", None]))
    valid = (
        valid
        and method in ("richardson", "central", "complex")
        and type(memory) is int
        and memory in (1, 2**20)
    )
    kind, result = outcome(
        lambda: network_numerical_gradient(net, X, Y, method=method, memory_limit=memory)
    )
    assert kind == ("ok" if valid else "refused"), (kind, result)
    if kind == "ok":
        checked = ~result.unverifiable.flat()
        assert np.isfinite(result.flat()[checked]).all()


# ------------------------------------------------------- marking kink crossings


def _relu_evaluator():
    net, X, Y = _case("relu", "identity", "quadratic", sizes=(8, 16, 4), d=32)
    return _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True)


def test_marking_crossings_is_per_call_and_never_sticks():
    evaluate = _relu_evaluator()
    index = np.arange(evaluate.theta.size)
    h = np.full(index.size, 0.25)  # large: many moves cross a ReLU kink
    unmarked, _ = evaluate.along(index, h, mark_crossings=False)
    crossed = evaluate.last_crossed > 0
    assert crossed.any() and np.isfinite(unmarked).all()
    marked, _ = evaluate.along(index, h)  # the default marks them again
    assert np.isnan(marked[crossed]).all()
    np.testing.assert_array_equal(marked[~crossed], unmarked[~crossed])


def test_a_network_this_machine_cannot_differentiate_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setattr("gradcheck.validate.total_memory", lambda: 10_000)
    with pytest.raises(ValueError) as info:
        network_numerical_gradient(TANH_NET, TANH_X, TANH_Y)
    assert re.match(
        rf"differentiating a {re.escape(str(list(TANH_NET.sizes)))} network at "
        rf"d={TANH_X.shape[0]} needs ~\S+ GB of memory at the least",
        str(info.value),
    ), str(info.value)
