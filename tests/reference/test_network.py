"""reference.network: the flat order, the layout's names, validation, no mutation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _fuzz import FUZZ, clean, expected_array, outcome, shapes_near, values
from _helpers import BUILTIN_ACTIVATIONS, TANH_NET, TANH_X, TANH_Y, ZERO_B, ZERO_W, big_logits
from hypothesis import given
from hypothesis import strategies as st

from reference import (
    Gradients,
    Network,
    ParameterLayout,
    backprop,
)


def test_flat_order_is_W_row_major_then_b_per_layer():
    W0 = np.arange(6.0).reshape(2, 3)
    b0 = np.array([10.0, 11.0, 12.0])
    W1 = np.array([[20.0], [21.0], [22.0]])
    b1 = np.array([30.0])
    net = Network([W0, W1], [b0, b1])
    np.testing.assert_array_equal(net.flat(), [0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 30])
    layout = net.layout
    assert [layout.name(j) for j in (0, 1, 3, 6, 9, 12)] == [
        "W^0[0,0]",
        "W^0[0,1]",
        "W^0[1,0]",
        "b^0[0]",
        "W^1[0,0]",
        "b^1[0]",
    ]
    assert layout.locate(4) == ("W", 0, (1, 1))
    assert [(name, block.start, block.stop) for name, block, _ in layout.blocks] == [
        ("W^0", 0, 6),
        ("b^0", 6, 9),
        ("W^1", 9, 12),
        ("b^1", 12, 13),
    ]


def test_with_flat_round_trips_and_gradients_from_flat():
    net = Network.random([3, 4, 2], seed=1)
    theta = net.flat()
    again = net.with_flat(theta)
    for a, b in zip(net.weights + net.biases, again.weights + again.biases):
        np.testing.assert_array_equal(a, b)
    g = Gradients.from_flat(theta, net.sizes)
    np.testing.assert_array_equal(g.flat(), theta)
    theta[0] = 99.0  # from_flat copied: the gradient does not alias theta
    assert g.weights[0][0, 0] != 99.0


def test_random_is_seeded_and_scaled():
    a = Network.random([50, 40, 3], seed=7)
    b = Network.random([50, 40, 3], seed=7)
    np.testing.assert_array_equal(a.flat(), b.flat())
    assert 0.5 < a.weights[0].std() * np.sqrt(50) < 1.5  # W^L ~ N(0, 1/M)


def test_forward_keeps_every_z_and_a():
    net = Network.random([3, 5, 2], hidden="tanh", output="identity", seed=0)
    X = np.ones((4, 3))
    fw = net.forward(X)
    assert [Z.shape for Z in fw.Z] == [(4, 5), (4, 2)]
    np.testing.assert_allclose(fw.A[0], np.tanh(fw.Z[0]))
    np.testing.assert_allclose(fw.Z[1], fw.A[0] @ net.weights[1] + net.biases[1])
    assert fw.output is fw.A[1]


def test_cost_is_the_mean_of_half_squared_errors():
    net = Network([np.eye(2)], [np.zeros(2)], hidden="identity")
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    Y = np.zeros((2, 2))
    assert net.cost(X, Y) == pytest.approx(((1 + 4) / 2 + (9 + 16) / 2) / 2)


def test_nothing_the_caller_passes_is_mutated_or_aliased():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    biases = [rng.normal(size=4), rng.normal(size=2)]
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    copies = [a.copy() for a in weights + biases + [X, Y]]
    for a in weights + biases + [X, Y]:
        a.flags.writeable = False  # any write would raise
    net = Network(weights, biases)
    backprop(net, X, Y)
    net.cost(X, Y)
    net.forward(X)
    assert not np.shares_memory(net.weights[0], weights[0])
    for a, c in zip(weights + biases + [X, Y], copies):
        np.testing.assert_array_equal(a, c)


def test_integer_input_is_converted():
    net = Network([[[1, 2], [3, 4]]], [[0, 1]], hidden="identity")
    assert net.weights[0].dtype == np.float64
    assert np.isfinite(net.cost([[1, 2]], [[0, 0]]))


W = [np.zeros((3, 4)), np.zeros((4, 2))]
B = [np.zeros(4), np.zeros(2)]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(weights=W, biases=B[:1]), ValueError, "`weights` has 2 layers but `biases` has 1"),
        (
            dict(weights=[np.zeros((3, 4)), np.zeros((5, 2))], biases=[np.zeros(4), np.zeros(2)]),
            ValueError,
            "layer sizes do not chain: W^1 has shape (5, 2), so layer 0 would have 5 neurons, but W^0 has shape (3, 4)",
        ),
        (
            dict(weights=W, biases=[np.zeros(3), np.zeros(2)]),
            ValueError,
            "`biases[0]` (b^0) must have shape (4,) to match W^0 (3, 4), got (3,)",
        ),
        (
            dict(weights=[np.zeros((3, 4, 1)), W[1]], biases=B),
            ValueError,
            "`weights[0] (W^0)` must be a 2-D array, got 3-D with shape (3, 4, 1)",
        ),
        (
            dict(weights=[W[0], np.full((4, 2), np.nan)], biases=B),
            ValueError,
            "`weights[1] (W^1)` must be finite; entry (0, 0) is nan (shape (4, 2))",
        ),
        (
            dict(weights=[W[0], W[1]], biases=[B[0], np.array([1.0, np.inf])]),
            ValueError,
            "`biases[1] (b^1)` must be finite; entry 1 is inf (shape (2,))",
        ),
        (
            dict(weights=[W[0].astype(complex), W[1]], biases=B),
            TypeError,
            "`weights[0] (W^0)` must be real, got complex dtype complex128",
        ),
        (
            dict(weights=["abc", W[1]], biases=B),
            TypeError,
            "`weights[0] (W^0)` must be a numeric array, got a string",
        ),
        (
            dict(weights=[np.array([["a"]]), W[1]], biases=B),
            TypeError,
            "must be a numeric array, got dtype <U1",
        ),
        (
            dict(weights=np.zeros((3, 4)), biases=B),
            TypeError,
            "`weights` must be a list with one array per layer, got ndarray",
        ),
        (dict(weights=[], biases=[]), ValueError, "`weights` is empty"),
        (
            dict(weights=[np.zeros((0, 4))], biases=[np.zeros(4)]),
            ValueError,
            "`weights[0]` (W^0) has an empty shape (0, 4)",
        ),
        (
            dict(weights=W, biases=B, hidden="softmax"),
            ValueError,
            "hidden activation 'softmax' is not element-wise; it can only be the output activation",
        ),
        (
            dict(weights=W, biases=B, hidden="sigmoidd"),
            ValueError,
            "unknown hidden activation 'sigmoidd'; known activations:",
        ),
        (
            dict(weights=W, biases=B, cost="msq"),
            ValueError,
            "unknown cost 'msq'; known costs: categorical_cross_entropy, cross_entropy, mse, quadratic",
        ),
        (
            dict(weights=W, biases=B, output="tanh", cost="cross_entropy"),
            ValueError,
            "cost 'cross_entropy' reads the outputs as probabilities, which output activation 'tanh' does not give; use output='sigmoid'",
        ),
        (
            dict(weights=W, biases=B, output="relu", cost="categorical_cross_entropy"),
            ValueError,
            "use output='softmax' (allowed: softmax, sigmoid)",
        ),
        (
            dict(weights=W, biases=B, output="softmax", cost="cross_entropy"),
            ValueError,
            "for softmax outputs use cost='categorical_cross_entropy'",
        ),
        (
            dict(weights=W, biases=B, output="softplus", cost="categorical_cross_entropy"),
            ValueError,
            "which output activation 'softplus' does not give; use output='softmax'",
        ),
    ],
)
def test_network_validation_messages(kwargs, error, message):
    with pytest.raises(error) as info:
        Network(**kwargs)
    assert message in str(info.value)


NET = Network(W, B)
NET_CE = Network(W, B, output="sigmoid", cost="cross_entropy")


@pytest.mark.parametrize(
    "net, X, Y, error, message",
    [
        (
            NET,
            np.zeros((5, 4)),
            np.zeros((5, 2)),
            ValueError,
            "`X` has 4 columns (shape (5, 4)) but the network's input layer has n_in = 3 neurons; rows are examples, so X must be (d, 3)",
        ),
        (
            NET,
            np.zeros((5, 3)),
            np.zeros((4, 2)),
            ValueError,
            "`Y` must have shape (d, n_H) = (5, 2) to match `X` (5, 3) and the output layer's 2 neurons, got (4, 2)",
        ),
        (
            NET,
            np.zeros((0, 3)),
            np.zeros((0, 2)),
            ValueError,
            "`X` is an empty batch (shape (0, 3)); give at least one example",
        ),
        (
            NET,
            np.zeros(3),
            np.zeros(2),
            ValueError,
            "`X` must be a 2-D array, got 1-D with shape (3,)",
        ),
        (
            NET,
            np.zeros((2, 3, 1)),
            np.zeros((2, 2)),
            ValueError,
            "`X` must be a 2-D array, got 3-D",
        ),
        (
            NET,
            np.full((2, 3), np.nan),
            np.zeros((2, 2)),
            ValueError,
            "`X` must be finite; entry (0, 0) is nan",
        ),
        (
            NET,
            np.zeros((2, 3)),
            np.zeros((2, 2), dtype=complex),
            TypeError,
            "`Y` must be real, got complex dtype",
        ),
        (NET, "x", np.zeros((2, 2)), TypeError, "`X` must be a numeric array, got a string"),
        (
            NET,
            [[1, 2, 3], [4, 5]],
            np.zeros((2, 2)),
            TypeError,
            "`X` must be a numeric array; numpy could not convert it",
        ),
        (
            NET_CE,
            np.zeros((2, 3)),
            np.array([[0.0, 1.5], [0, 0]]),
            ValueError,
            "cost 'cross_entropy' needs targets in [0, 1]; Y[0,1] = 1.5 (Y has shape (2, 2))",
        ),
    ],
)
def test_data_validation_messages(net, X, Y, error, message):
    with pytest.raises(error) as info:
        backprop(net, X, Y)
    assert message in str(info.value)


def test_backprop_needs_a_network():
    with pytest.raises(TypeError, match="`net` must be a reference.Network, got list"):
        backprop([np.zeros((3, 4))], np.zeros((1, 3)), np.zeros((1, 4)))


def test_layout_locate_rejects_out_of_range():
    with pytest.raises(IndexError, match="flat index 13 out of range for 13 parameters"):
        ParameterLayout((2, 3, 1)).locate(13)


def test_what_gradcheck_needs_is_public_and_old_paths_still_work():
    import reference
    import reference.network

    for name in ("forward_pass", "example_costs", "FUSED_FORMS", "real_array", "checked_problem"):
        assert name in reference.__all__ and hasattr(reference, name), name
    assert reference.forward_pass is reference.network.forward_pass
    assert reference.example_costs is reference.network.example_costs
    from reference.costs import FUSED  # noqa: F401  (the old path)
    from reference.network import example_costs, forward_pass  # noqa: F401


def test_forward_pass_and_example_costs_agree_with_network_cost():
    from reference import example_costs, forward_pass

    net = Network.random([3, 4, 2], hidden="tanh", output="sigmoid", cost="cross_entropy", seed=2)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(0.1, 0.9, size=(5, 2))
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    np.testing.assert_array_equal(fw.output, net.forward(X).output)
    J_i = example_costs(fw.Z[net.H], fw.output, Y, net.output, net.cost_function)
    assert J_i.shape == (5,)
    assert np.mean(J_i) == pytest.approx(net.cost(X, Y), rel=1e-15)


def test_checked_problem_checks_the_network_and_its_data():
    from reference import checked_problem

    net = Network.random([2, 3, 1], seed=0)
    X, Y = [[1, 2], [3, 4]], [[0], [1]]
    X_checked, Y_checked = checked_problem(net, X, Y)
    assert X_checked.dtype == np.float64 and X_checked.shape == (2, 2)
    assert Y_checked.shape == (2, 1)
    with pytest.raises(
        TypeError,
        match=re.escape(
            "`net` must be a reference.Network, got dict; "
            "build one with Network(weights, biases, ...)"
        ),
    ):
        checked_problem({}, X, Y)
    with pytest.raises(ValueError, match=re.escape("`Y` must have shape (d, n_H) = (2, 1)")):
        checked_problem(net, X, [[0, 1], [1, 0]])


# ---------------------------------------------- networks as people write them


def _batch(net, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d, net.sizes[0])), rng.normal(size=(d, net.sizes[-1]))


def test_one_activation_per_hidden_layer():
    from reference import ACTIVATIONS, backprop_examples, backprop_loops, forward_pass

    net = Network.random([3, 4, 5, 2], hidden=["relu", "tanh"], output="identity", seed=1)
    assert [a.name for a in net.activations] == ["relu", "tanh", "identity"]
    assert net.hidden is ACTIVATIONS["relu"] and net.hidden_name == ["relu", "tanh"]
    assert repr(net).startswith("Network(sizes=[3, 4, 5, 2], hidden=['relu', 'tanh']")
    X, Y = _batch(net)
    fw = net.forward(X)
    np.testing.assert_array_equal(fw.A[0], np.maximum(fw.Z[0], 0))
    np.testing.assert_array_equal(fw.A[1], np.tanh(fw.Z[1]))
    g = backprop(net, X, Y).flat()
    for form in (backprop_examples, backprop_loops):
        np.testing.assert_allclose(form(net, X, Y).flat(), g, rtol=1e-12, atol=1e-15)
    same = net.with_flat(net.flat())
    assert same.hidden_name == ["relu", "tanh"] and same.output.name == "identity"
    # a tuple of names is per layer too; output=None means the last hidden activation
    other = Network(net.weights, net.biases, hidden=("tanh", "sigmoid"))
    assert [a.name for a in other.activations] == ["tanh", "sigmoid", "sigmoid"]
    assert forward_pass(net.weights, net.biases, net.activations, X).output.shape == (6, 2)


def test_a_pair_and_a_name_with_parameters_still_mean_every_hidden_layer():
    W = [np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 1))]
    b = [np.zeros(3), np.zeros(3), np.zeros(1)]
    pair = Network(W, b, hidden=(np.tanh, lambda z: 1 - np.tanh(z) ** 2), output="identity")
    assert pair.hidden_layers is None and len({a.name for a in pair.activations[:-1]}) == 1
    leaky = Network(W, b, hidden=("leaky_relu", {"slope": 0.2}), output="identity")
    assert [a.name for a in leaky.activations] == ["leaky_relu(slope=0.2)"] * 2 + ["identity"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(hidden=["relu"]),
            ValueError,
            "`hidden` lists 1 activation but the network has H = 2 hidden layers; give one per "
            "hidden layer, or one name for all",
        ),
        (dict(hidden=["relu", "tanh", "tanh"]), ValueError, "`hidden` lists 3 activations"),
        (
            dict(hidden=["relu", "swish"]),
            ValueError,
            "unknown hidden activation of layer 1 'swish'",
        ),
        (
            dict(hidden=["relu", "softmax"]),
            ValueError,
            "hidden activation 'softmax' is not element-wise; it can only be the output activation "
            "(output=...), not hidden layer 1",
        ),
        (
            dict(hidden="tanh", output="softmax", cost="mse"),
            ValueError,
            "cost 'mse' with output activation 'softmax' makes no sense",
        ),
        (dict(l2=-0.1), ValueError, "`l2` must be a non-negative finite number, got -0.1"),
        (dict(l2=float("inf")), ValueError, "`l2` must be a non-negative finite number, got inf"),
        (dict(l2="0.1"), TypeError, "`l2` must be a non-negative finite number, got '0.1'"),
        (dict(l2=True), TypeError, "`l2` must be a non-negative finite number, got True"),
    ],
)
def test_validation_of_the_new_options(kwargs, error, message):
    with pytest.raises(error) as info:
        Network.random([3, 4, 4, 2], **kwargs)
    assert message in str(info.value)


def test_no_hidden_layer_with_an_empty_list_needs_the_output_named():
    with pytest.raises(ValueError, match="`hidden` is an empty list \\(no hidden layer\\)"):
        Network.random([3, 2], hidden=[])
    assert Network.random([3, 2], hidden=[], output="tanh").activations[0].name == "tanh"


def test_l2_penalty_in_the_cost_and_lam_W_in_every_form_of_backprop():
    from gradcheck import numerical_gradient
    from reference import backprop_examples, backprop_loops

    lam = 0.3
    net = Network.random([3, 4, 2], hidden="tanh", output="identity", l2=lam, seed=3)
    plain = Network(net.weights, net.biases, hidden="tanh", output="identity")
    X, Y = _batch(net)
    penalty = lam / 2 * sum((W**2).sum() for W in net.weights)  # weights only
    assert net.cost(X, Y) == pytest.approx(plain.cost(X, Y) + penalty, rel=1e-15)
    assert net.l2 == lam and "l2=0.3" in repr(net) and net.with_flat(net.flat()).l2 == lam
    g, g0 = backprop(net, X, Y), backprop(plain, X, Y)
    for L in range(2):
        np.testing.assert_allclose(g.weights[L], g0.weights[L] + lam * net.weights[L], rtol=1e-14)
        np.testing.assert_array_equal(g.biases[L], g0.biases[L])  # the biases are not penalised
    for form in (backprop_examples, backprop_loops):
        np.testing.assert_allclose(form(net, X, Y).flat(), g.flat(), rtol=1e-12, atol=1e-15)
    numerical = numerical_gradient(lambda t: net.cost(X, Y, theta=t), net.flat())
    np.testing.assert_allclose(g.flat(), numerical.gradient, rtol=1e-8, atol=1e-10)


def test_class_labels_are_one_hot_targets_and_never_mutated():
    net = Network.random(
        [3, 5, 4], hidden="tanh", output="softmax", cost="categorical_cross_entropy", seed=0
    )
    X = np.random.default_rng(0).normal(size=(6, 3))
    labels = np.array([0, 3, 1, 1, 2, 0])
    kept = labels.copy()
    one_hot = np.eye(4)[labels]
    expected = backprop(net, X, one_hot).flat()
    for Y in (labels, labels[:, None], labels.astype(np.int32), labels.tolist()):
        np.testing.assert_array_equal(backprop(net, X, Y).flat(), expected)
        assert net.cost(X, Y) == net.cost(X, one_hot)
    np.testing.assert_array_equal(labels, kept)


@pytest.mark.parametrize(
    "Y, message",
    [
        (
            np.array([0, 4, 1]),
            "`Y` holds class labels, which must lie in [0, n_H) = [0, 4); "
            "Y[1] = 4 (1 of 3 out of range)",
        ),
        (np.array([0, -1, 1]), "Y[1] = -1"),
        (
            np.array([0.0, 1.0, 2.0]),
            "`Y` of shape (3,) with float dtype: give class labels as "
            "integers (0 .. 3), or targets of shape (d, 4)",
        ),
        (np.array([0, 1]), "`Y` must have shape (d, n_H) = (3, 4)"),
    ],
)
def test_class_label_validation_messages(Y, message):
    net = Network.random([2, 4], output="softmax", cost="categorical_cross_entropy")
    with pytest.raises(ValueError) as info:
        backprop(net, np.zeros((3, 2)), Y)
    assert message in str(info.value)


def test_softmax_categorical_cross_entropy_is_torch_cross_entropy_loss_on_logits():
    torch = pytest.importorskip("torch")
    net = Network.random(
        [3, 5, 4], hidden="relu", output="softmax", cost="categorical_cross_entropy", seed=4
    )
    X = np.random.default_rng(4).normal(size=(6, 3))
    labels = np.array([0, 3, 1, 1, 2, 0])
    params = [torch.tensor(p, requires_grad=True) for p in (*net.weights, *net.biases)]
    W0, W1, b0, b1 = params
    logits = torch.relu(torch.tensor(X) @ W0 + b0) @ W1 + b1  # z^H
    loss = torch.nn.CrossEntropyLoss()(logits, torch.tensor(labels))
    loss.backward()
    assert net.cost(X, labels) == pytest.approx(loss.item(), rel=1e-14)
    g = backprop(net, X, labels)
    for mine, theirs in zip((*g.weights, *g.biases), params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_sigmoid_cross_entropy_is_torch_bce_with_logits_for_one_output():
    torch = pytest.importorskip("torch")
    net = Network.random([3, 4, 1], hidden="tanh", output="sigmoid", cost="cross_entropy", seed=5)
    X = np.random.default_rng(5).normal(size=(6, 3))
    Y = np.random.default_rng(6).uniform(size=(6, 1))
    params = [torch.tensor(p, requires_grad=True) for p in (*net.weights, *net.biases)]
    W0, W1, b0, b1 = params
    logits = torch.tanh(torch.tensor(X) @ W0 + b0) @ W1 + b1
    loss = torch.nn.BCEWithLogitsLoss()(logits, torch.tensor(Y))
    loss.backward()
    assert net.cost(X, Y) == pytest.approx(loss.item(), rel=1e-14)
    g = backprop(net, X, Y)
    for mine, theirs in zip((*g.weights, *g.biases), params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)


# ---- validation: bad input is refused with a message naming the argument

REFUSED = [
    pytest.param(
        lambda: Network((w for w in ZERO_W), ZERO_B),
        TypeError,
        "`weights` must be a list with one array per layer, got generator",
        id="Network-weights-generator",
    ),
    pytest.param(
        lambda: Network(ZERO_W, None),
        TypeError,
        "`biases` must be a list with one array per layer, got NoneType",
        id="Network-biases-None",
    ),
    pytest.param(
        lambda: Network([None, ZERO_W[1]], ZERO_B),
        TypeError,
        "`weights[0] (W^0)` must be a numeric array, got dtype object",
        id="Network-weight-None",
    ),
    pytest.param(
        lambda: Network([[[1.0, 2.0], [3.0]], ZERO_W[1]], ZERO_B),
        TypeError,
        "`weights[0] (W^0)` must be a numeric array; numpy could not convert it",
        id="Network-ragged",
    ),
    pytest.param(
        lambda: Network(ZERO_W, [np.zeros((4, 1)), ZERO_B[1]]),
        ValueError,
        "`biases[0] (b^0)` must be a 1-D array, got 2-D",
        id="Network-bias-2d",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ["abcd", ZERO_B[1]]),
        TypeError,
        "`biases[0] (b^0)` must be a numeric array, got a string",
        id="Network-bias-string",
    ),
    pytest.param(
        lambda: Network(ZERO_W, [ZERO_B[0] + 1j, ZERO_B[1]]),
        TypeError,
        "`biases[0] (b^0)` must be real, got complex dtype complex128",
        id="Network-bias-complex",
    ),
    pytest.param(
        lambda: Network([np.full((3, 4), -np.inf), ZERO_W[1]], ZERO_B),
        ValueError,
        "`weights[0] (W^0)` must be finite; entry (0, 0) is -inf",
        id="Network-weight-minus-inf",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, output="sofmax"),
        ValueError,
        "unknown output activation 'sofmax'; known activations: ",
        id="Network-output-unknown",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, hidden=3),
        TypeError,
        "`hidden activation` must be an activation name",
        id="Network-hidden-int",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, output=(np.tanh, "d")),
        TypeError,
        "`output activation` must be an activation name, an Activation or an (h, h_prime) "
        "pair of callables, got tuple",
        id="Network-output-pair-not-callable",
    ),
    pytest.param(
        lambda: Network(ZERO_W, ZERO_B, cost=None),
        TypeError,
        "`cost` must be a cost name or a Cost, got NoneType",
        id="Network-cost-None",
    ),
    pytest.param(
        lambda: Network.random([3, 4.0, 2]),
        TypeError,
        "`sizes[1]` must be an integer, got 4.0",
        id="random-sizes-float",
    ),
    pytest.param(
        lambda: Network.random([3, True]),
        TypeError,
        "`sizes[1]` must be an integer, got True",
        id="random-sizes-bool",
    ),
    pytest.param(
        lambda: Network.random(None),
        TypeError,
        "`sizes` must be a sequence of layer widths",
        id="random-sizes-None",
    ),
    pytest.param(
        lambda: Network.random([3, -2]),
        ValueError,
        "`sizes[1]` must be a positive width, got -2",
        id="random-sizes-negative",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.zeros(3)),
        ValueError,
        "`theta` must have shape (26,)",
        id="with_flat-shape",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.full(26, np.nan)),
        ValueError,
        "`theta` must be finite",
        id="with_flat-nan",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.zeros(26, complex)),
        TypeError,
        "`theta` must be real",
        id="with_flat-complex",
    ),
    pytest.param(
        lambda: TANH_NET.with_flat(np.zeros((2, 13))),
        ValueError,
        "`theta` must be a 1-D array",
        id="with_flat-2d",
    ),
    pytest.param(
        lambda: TANH_NET.cost(TANH_X, TANH_Y, theta=np.zeros(3)),
        ValueError,
        "`theta` must have shape (26,)",
        id="cost-theta-shape",
    ),
    pytest.param(
        lambda: TANH_NET.cost(TANH_X, TANH_Y[:, :1]),
        ValueError,
        "`Y` must have shape (d, n_H) = (5, 2)",
        id="cost-Y-shape",
    ),
    pytest.param(
        lambda: TANH_NET.cost(TANH_X + 0j, TANH_Y),
        TypeError,
        "`X` must be real",
        id="cost-X-complex",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.zeros((5, 4))),
        ValueError,
        "`X` has 4 columns",
        id="forward-columns",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.zeros((0, 3))),
        ValueError,
        "`X` is an empty batch",
        id="forward-empty",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.zeros(3)),
        ValueError,
        "`X` must be a 2-D array",
        id="forward-1d",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.full((2, 3), np.inf)),
        ValueError,
        "`X` must be finite",
        id="forward-inf",
    ),
    pytest.param(
        lambda: TANH_NET.forward(np.array([[None] * 3])),
        TypeError,
        "`X` must be a numeric array, got dtype object",
        id="forward-object",
    ),
    pytest.param(
        lambda: TANH_NET.forward("X"),
        TypeError,
        "`X` must be a numeric array, got a string",
        id="forward-string",
    ),
    pytest.param(
        lambda: Gradients.from_flat(np.zeros(3), (3, 4, 2)),
        ValueError,
        "`theta` must have shape (26,)",
        id="from_flat-shape",
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
        (lambda: Network(ZERO_W, ZERO_B, output="sofmax"), BUILTIN_ACTIVATIONS),
        (
            lambda: Network(ZERO_W, ZERO_B, cost="msq"),
            ["categorical_cross_entropy", "cross_entropy", "mse", "quadratic"],
        ),
    ],
    ids=["output", "cost"],
)
def test_an_unknown_name_is_refused_with_the_known_ones_listed(call, known):
    with pytest.raises(ValueError) as info:
        call()
    assert all(name in str(info.value) for name in known), str(info.value)


def test_integers_and_booleans_are_converted_not_refused():
    net = Network(
        [np.eye(3, dtype=int), np.ones((3, 2), dtype=bool)], [[0, 1, 0], [1, 0]], hidden="tanh"
    )
    assert all(W.dtype == np.float64 for W in net.weights + net.biases)
    X, Y = np.arange(6).reshape(2, 3), np.zeros((2, 2), dtype=bool)
    g = backprop(net, X, Y)
    expected = backprop(net, X.astype(float), Y.astype(float))
    assert all(np.array_equal(a, b) for a, b in zip(g.flat(), expected.flat()))


@pytest.mark.parametrize(
    "options, name",
    [
        (dict(seed=-1), "`seed`"),
        (dict(seed="a"), "`seed`"),
        (dict(scale=np.nan), "`scale`"),
        (dict(scale="x"), "`scale`"),
        (dict(scale=-1.0), "`scale`"),
    ],
)
def test_network_random_validates_seed_and_scale(options, name):
    with pytest.raises((ValueError, TypeError)) as info:
        Network.random([3, 2], **options)
    assert name in str(info.value)


@pytest.mark.parametrize(
    "theta",
    [np.array(["a"] * 26), np.array([None] * 26), np.full(26, np.nan)],
    ids=["strings", "objects", "nan"],
)
def test_network_cost_validates_theta(theta):
    with pytest.raises((ValueError, TypeError)) as info:
        TANH_NET.cost(TANH_X, TANH_Y, theta=theta)
    assert "`theta`" in str(info.value)


@pytest.mark.parametrize(
    "theta", [np.array(["a"] * 26), np.ones(26, complex)], ids=["strings", "complex"]
)
def test_gradients_from_flat_validates_theta(theta):
    with pytest.raises((ValueError, TypeError)) as info:
        Gradients.from_flat(theta, (3, 4, 2))
    assert "`theta`" in str(info.value)


def test_softmax_with_binary_cross_entropy_is_refused_with_a_hint():
    # Coupled softmax outputs scored as independent Bernoullis: a modelling error, refused.
    with pytest.raises(
        ValueError, match="for softmax outputs use cost='categorical_cross_entropy'"
    ):
        big_logits("cross_entropy", 30.0)


# ---- fuzzing: arbitrary-ish arrays are accepted or refused, never anything else


def _tanh_deriv(z):
    return 1.0 - np.tanh(z) ** 2


@FUZZ
@given(data=st.data())
def test_fuzz_network_constructor(data):
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=2, max_size=4), label="sizes")
    H = len(sizes) - 2
    tidy = data.draw(st.booleans(), label="tidy")
    if tidy:  # must be accepted (with a valid activation spec)
        weights = [data.draw(clean((M, N))) for M, N in zip(sizes, sizes[1:])]
        biases = [data.draw(clean((N,))) for N in sizes[1:]]
        container = data.draw(st.sampled_from(["list", "tuple"]))
    else:
        weights = [
            data.draw(values(data.draw(shapes_near((M, N))))) for M, N in zip(sizes, sizes[1:])
        ]
        biases = [data.draw(values(data.draw(shapes_near((N,))))) for N in sizes[1:]]
        if data.draw(st.booleans()):
            biases = biases[:-1]  # one layer short
        container = data.draw(
            st.sampled_from(["list", "list", "tuple", "generator", "ndarray", "None"])
        )
    wrap = {
        "list": list,
        "tuple": tuple,
        "generator": lambda v: (x for x in v),
        "ndarray": lambda v: np.zeros((2, 2)),
        "None": lambda v: None,
    }[container]
    spec, spec_ok = data.draw(
        st.sampled_from(
            [
                (dict(hidden="tanh"), True),
                (dict(hidden="elu", output="identity"), True),
                (dict(hidden="sigmoid", output="sigmoid", cost="cross_entropy"), True),
                (dict(hidden="relu", output="softmax", cost="categorical_cross_entropy"), True),
                (dict(hidden=(np.tanh, _tanh_deriv)), True),
                (dict(hidden="softmax"), H == 0),
                (dict(hidden="tanh", output="tanh", cost="cross_entropy"), False),
                (dict(hidden="swish"), False),
                (dict(hidden="tanh", cost="hinge"), False),
                (dict(hidden=3), False),
                (dict(hidden=None), False),
            ]
        )
    )
    Ws = [expected_array(W, 2) for W in weights]
    bs = [expected_array(b, 1) for b in biases]
    arrays_ok = (
        container in ("list", "tuple")
        and len(weights) == len(biases)
        and all(W is not None and 0 not in W.shape for W in Ws)
        and all(b is not None for b in bs)
        and all(Ws[L].shape[0] == Ws[L - 1].shape[1] for L in range(1, len(Ws)))
        and all(b.shape == (W.shape[1],) for W, b in zip(Ws, bs))
    )
    kind, result = outcome(lambda: Network(wrap(weights), wrap(biases), **spec))
    assert kind == ("ok" if arrays_ok and spec_ok else "refused"), (kind, result)
    if kind == "ok":
        assert result.sizes == (Ws[0].shape[0],) + tuple(W.shape[1] for W in Ws)
        for mine, theirs in zip(result.weights + result.biases, Ws + bs):
            assert mine.dtype == np.float64 and mine.tobytes() == theirs.tobytes()
