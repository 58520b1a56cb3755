"""The three forms of backprop: a gradient worked by hand, each other, finite differences, PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _data import CONFIGS, blockwise_relative, targets
from _fuzz import FUZZ, batches, expected_array, networks, outcome
from _helpers import TANH_NET, TANH_X, TANH_Y
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.tolerance.independent import equation_deltas
from reference import (
    Gradients,
    Network,
    backprop,
    backprop_examples,
    backprop_loops,
)

FORMS = [backprop, backprop_examples, backprop_loops]


def sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.mark.parametrize("form", FORMS)
def test_known_answer_worked_by_hand(form):
    """sizes [1, 1, 1], sigmoid hidden, identity output, quadratic cost, two examples.

    By hand, per example (x, y): z0 = w0 x + b0, a0 = s(z0), z1 = w1 a0 + b1 = a1,
    delta1 = a1 - y, delta0 = w1 delta1 s(z0)(1 - s(z0)),
    dJ/dw1 = a0 delta1, dJ/db1 = delta1, dJ/dw0 = x delta0, dJ/db0 = delta0; then the mean.
    """
    w0, b0, w1, b1 = 0.5, -0.25, 2.0, 0.5
    data = [(1.0, 0.0), (-2.0, 1.0)]
    sums = [0.0, 0.0, 0.0, 0.0]
    for x, y in data:
        z0 = w0 * x + b0
        a0 = sigma(z0)
        a1 = w1 * a0 + b1
        delta1 = a1 - y
        delta0 = w1 * delta1 * sigma(z0) * (1 - sigma(z0))
        for k, v in enumerate((x * delta0, delta0, a0 * delta1, delta1)):
            sums[k] += v / len(data)
    net = Network([[[w0]], [[w1]]], [[b0], [b1]], hidden="sigmoid", output="identity")
    g = form(net, [[x] for x, _ in data], [[y] for _, y in data])
    got = [g.weights[0][0, 0], g.biases[0][0], g.weights[1][0, 0], g.biases[1][0]]
    np.testing.assert_allclose(got, sums, rtol=1e-15)


def test_known_answer_softmax_cross_entropy():
    """No hidden layer, softmax + categorical cross-entropy: dJ/dW = x (a - y)^T exactly."""
    W = np.array([[1.0, -1.0, 0.5]])
    b = np.array([0.0, 0.2, -0.3])
    x, y = np.array([[2.0]]), np.array([[0.0, 1.0, 0.0]])
    z = x[0, 0] * W[0] + b
    a = np.exp(z) / np.exp(z).sum()
    net = Network([W], [b], hidden="identity", output="softmax", cost="categorical_cross_entropy")
    for form in FORMS:
        g = form(net, x, y)
        np.testing.assert_allclose(g.weights[0][0], 2.0 * (a - y[0]), rtol=1e-14)
        np.testing.assert_allclose(g.biases[0], a - y[0], rtol=1e-14)


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_three_forms_agree_on_every_activation_and_cost(hidden, output, cost):
    for seed, (sizes, d) in enumerate(
        [((4, 8, 3), 6), ((3, 1, 2), 4), ((4, 3), 5), ((5, 7, 6, 3), 1)]
    ):
        rng = np.random.default_rng(seed)
        net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
        X, Y = rng.normal(size=(d, sizes[0])), targets(rng, cost, d, sizes[-1])
        g = backprop(net, X, Y).flat()
        for form in (backprop_examples, backprop_loops):
            assert blockwise_relative(form(net, X, Y).flat(), g, net.layout) < 1e-12


@given(
    config=st.sampled_from(CONFIGS),
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.1, 1.0, 3.0]),
)
def test_three_forms_agree_on_random_networks(config, sizes, d, seed, scale):
    hidden, output, cost = config
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng, scale=scale)
    X, Y = rng.normal(size=(d, sizes[0])), targets(rng, cost, d, sizes[-1])
    g = backprop(net, X, Y).flat()
    for form in (backprop_examples, backprop_loops):
        assert blockwise_relative(form(net, X, Y).flat(), g, net.layout) < 1e-12


@pytest.mark.parametrize("hidden, output, cost", CONFIGS)
def test_backprop_equals_the_complex_step_of_the_cost(hidden, output, cost):
    """The complex step passes through the forward pass and the cost: exact to rounding."""
    rng = np.random.default_rng(3)
    net = Network.random([4, 6, 3], hidden=hidden, output=output, cost=cost, seed=rng)
    X, Y = rng.normal(size=(5, 4)), targets(rng, cost, 5, 3)
    theta = net.flat()
    step = 1e-30
    numerical = np.array(
        [net.cost(X, Y, theta=theta + 1j * step * e).imag / step for e in np.eye(theta.size)]
    )
    assert blockwise_relative(numerical, backprop(net, X, Y).flat(), net.layout) < 1e-13


@pytest.mark.parametrize("z", [40.0, 300.0, 700.0, 1e3])
def test_saturated_networks_stay_finite(z):
    """Pre-activations of |z| up to 1e3: no overflow warning (warnings are errors), no NaN."""
    for hidden, output, cost in CONFIGS:
        net = Network(
            [np.full((2, 3), z / 2), np.full((3, 2), z / 3)],
            [np.zeros(3), np.array([0.0, -z])],
            hidden=hidden,
            output=output,
            cost=cost,
        )
        X = np.array([[1.0, 1.0], [-1.0, -1.0]])
        Y = targets(np.random.default_rng(0), cost, 2, 2)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            g = backprop(net, X, Y).flat()
            J = net.cost(X, Y)
        assert np.isfinite(g).all() and np.isfinite(J)


def test_agrees_with_pytorch_float64_autograd():
    torch = pytest.importorskip("torch")
    for hidden, output, cost in CONFIGS:
        rng = np.random.default_rng(11)
        net = Network.random([5, 7, 4, 3], hidden=hidden, output=output, cost=cost, seed=rng)
        X, Y = rng.normal(size=(8, 5)), targets(rng, cost, 8, 3)
        # torch.nn.Linear.weight is (N, M), the transpose of W^L: use W^L directly (x @ W).
        Ws = [torch.tensor(W, requires_grad=True) for W in net.weights]
        bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
        acts = {
            "identity": lambda z: z,
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
            "relu": torch.relu,
            "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
            "softplus": torch.nn.functional.softplus,
            "elu": torch.nn.functional.elu,
            "softmax": lambda z: torch.softmax(z, dim=1),
        }
        a = torch.tensor(X)
        for L, (W, b) in enumerate(zip(Ws, bs)):
            z = a @ W + b
            a = acts[net.activations[L].name](z)
        y = torch.tensor(Y)
        if cost == "quadratic":
            J = 0.5 * ((a - y) ** 2).sum(dim=1).mean()
        elif cost == "cross_entropy":
            J = torch.nn.functional.binary_cross_entropy(a, y, reduction="sum") / len(X)
        else:
            J = -(y * torch.log(a)).sum(dim=1).mean()
        J.backward()
        expected = np.concatenate(
            [np.concatenate([W.grad.numpy().ravel(), b.grad.numpy()]) for W, b in zip(Ws, bs)]
        )
        assert blockwise_relative(backprop(net, X, Y).flat(), expected, net.layout) < 1e-12, (
            hidden,
            output,
            cost,
        )


# ---- validation and fuzzing: every form refuses bad input alike


@pytest.mark.parametrize("form", [backprop_examples, backprop_loops])
@pytest.mark.parametrize(
    "net, X, Y, error, message",
    [
        (
            TANH_NET,
            np.full((5, 3), np.nan),
            TANH_Y,
            ValueError,
            "`X` must be finite; entry (0, 0) is nan",
        ),
        (
            TANH_NET,
            TANH_X,
            [[1.0, 2.0], [3.0]],
            TypeError,
            "`Y` must be a numeric array; numpy could not convert it",
        ),
        (TANH_NET, TANH_X, TANH_Y[None], ValueError, "`Y` must be a 2-D array, got 3-D"),
        (TANH_NET, TANH_X[:0], TANH_Y[:0], ValueError, "`X` is an empty batch"),
        ([TANH_NET], TANH_X, TANH_Y, TypeError, "`net` must be a reference.Network, got list"),
    ],
)
def test_every_backprop_form_validates_like_backprop(form, net, X, Y, error, message):
    with pytest.raises(error) as info:
        form(net, X, Y)
    assert message in str(info.value)


@FUZZ
@given(data=st.data())
def test_fuzz_backprop_forms_forward_and_cost(data):
    net = data.draw(networks())
    X, Y, valid = data.draw(batches(net))
    for call in (
        lambda: backprop(net, X, Y),
        lambda: backprop_examples(net, X, Y),
        lambda: backprop_loops(net, X, Y),
        lambda: net.cost(X, Y),
        lambda: equation_deltas(net, X, Y),
    ):
        kind, result = outcome(call)
        assert kind == ("ok" if valid else "refused"), (kind, result)
        if isinstance(result, Gradients):
            assert np.isfinite(result.flat()).all()
            assert [W.shape for W in result.weights] == [W.shape for W in net.weights]
    kind, result = outcome(lambda: net.forward(X))
    X_ok = expected_array(X, 2)
    assert kind == (
        "ok"
        if X_ok is not None and X_ok.shape[0] >= 1 and X_ok.shape[1] == net.sizes[0]
        else "refused"
    ), (kind, result)
