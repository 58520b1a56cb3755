"""gradcheck.oracle.backprop: bad input is refused with a message naming the argument; every message pinned."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import (
    BUILTIN_ACTIVATIONS,
    TANH_CANDIDATE,
    TANH_NET,
    TANH_X,
    TANH_Y,
)
from _oracle_cases import CORRECT

from gradcheck import (
    assert_backprop,
    check_backprop,
    check_backprop_at,
    trial_case,
)
from reference import (
    Network,
)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(candidate=3, sizes=[2, 2]),
            TypeError,
            "`candidate` must be callable as candidate(weights, biases, X, Y), got int",
        ),
        (
            dict(sizes=[2, 2], layout="keras"),
            ValueError,
            "unknown `layout` 'keras'; known layouts: article, torch, flat",
        ),
        (dict(sizes=[2, 2], trials=0), ValueError, "`trials` must be at least 1, got 0"),
        (dict(sizes=[2, 2], trials=2.0), TypeError, "`trials` must be an integer, got 2.0"),
        (dict(sizes=[2, 2], batch_size=-1), ValueError, "`batch_size` must be at least 1, got -1"),
        (dict(sizes=[2, 2], seed=-1), ValueError, "`seed` must be a non-negative integer, got -1"),
        (dict(sizes=[2]), ValueError, "`sizes` must list at least the input and output widths"),
        (dict(sizes=[2, 0, 1]), ValueError, "`sizes[1]` must be a positive width, got 0"),
        (
            dict(sizes="4,8,3"),
            TypeError,
            "`sizes` must be a sequence of layer widths like [4, 8, 3]",
        ),
        (
            dict(sizes=[2, 2], hidden="swish"),
            ValueError,
            "unknown hidden activation 'swish'; known activations:",
        ),
        (dict(sizes=[2, 2], cost="hinge"), ValueError, "unknown cost 'hinge'; known costs:"),
        (
            dict(sizes=[2, 2], edge_cases="yes"),
            TypeError,
            "`edge_cases` must be True, False or a set of names",
        ),
        (
            dict(sizes=[2, 2], progress="x"),
            TypeError,
            "`progress` must be None or a callable taking a line of text, got str",
        ),
        (
            dict(sizes=[2, 2], layout=["article"]),
            ValueError,
            "unknown `layout` ['article']; known layouts: article, torch, flat",
        ),
    ],
)
def test_validation_messages(kwargs, error, message):
    kwargs.setdefault("candidate", CORRECT)
    with pytest.raises(error) as info:
        check_backprop(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(candidate=None),
            TypeError,
            "`candidate` must be callable as candidate(weights, biases, X, Y), got NoneType",
        ),
        (dict(net="net"), TypeError, "`net` must be a reference.Network, got str"),
        (
            dict(layout="jax"),
            ValueError,
            "unknown `layout` 'jax'; known layouts: article, torch, flat",
        ),
    ],
)
def test_check_backprop_at_validation_messages(kwargs, error, message):
    from gradcheck import check_backprop_at

    arguments = dict(candidate=CORRECT, net=Network.random([2, 2]), X=np.ones((3, 2)))
    arguments.update(Y=np.zeros((3, 2)), **kwargs)
    with pytest.raises(error) as info:
        check_backprop_at(**arguments)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "options, error, message",
    [
        (
            dict(edge_cases={"batch1", "width_1"}),
            ValueError,
            "unknown `edge_cases` 'width_1'; known edge cases: width1, no_hidden, batch1",
        ),
        (
            dict(edge_cases="batch1"),
            TypeError,
            "`edge_cases` must be True, False or a set of names from",
        ),
        (
            dict(weight_scale=0.0),
            ValueError,
            "`weight_scale` must be a positive finite number, got 0.0",
        ),
        (
            dict(weight_scale=float("nan")),
            ValueError,
            "`weight_scale` must be a positive finite number, got nan",
        ),
        (
            dict(weight_scale="4"),
            TypeError,
            "`weight_scale` must be a positive finite number, got '4'",
        ),
        (dict(l2=-1.0), ValueError, "`l2` must be a non-negative finite number, got -1.0"),
        (
            dict(hidden=["relu"]),
            ValueError,
            "`hidden` lists 1 activation but the network has H = 2",
        ),
        (
            dict(output="softmax", cost="mse"),
            ValueError,
            "cost 'mse' with output activation 'softmax'",
        ),
    ],
)
def test_validation_of_the_new_options(options, error, message):
    with pytest.raises(error) as info:
        check_backprop(CORRECT, **dict(dict(sizes=[3, 4, 4, 2]), **options))
    assert message in str(info.value)


def test_trial_case_validates_weight_scale():
    with pytest.raises(ValueError, match="`weight_scale` must be a positive finite number"):
        trial_case([2, 2], 1, 0, weight_scale=-1.0)


REFUSED = [
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], seed=1.5),
        TypeError,
        "`seed` must be a non-negative integer, got 1.5",
        id="check_backprop-seed-float",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], seed=True),
        TypeError,
        "`seed` must be a non-negative integer, got True",
        id="check_backprop-seed-bool",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], trials=True),
        TypeError,
        "`trials` must be an integer, got True",
        id="check_backprop-trials-bool",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], batch_size=0),
        ValueError,
        "`batch_size` must be at least 1, got 0",
        id="check_backprop-batch-zero",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], batch_size="8"),
        TypeError,
        "`batch_size` must be an integer, got '8'",
        id="check_backprop-batch-string",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], layout=None),
        ValueError,
        "unknown `layout` None; known layouts: article, torch, flat",
        id="check_backprop-layout-None",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 2], output="sofmax"),
        ValueError,
        "unknown output activation 'sofmax'",
        id="check_backprop-output-unknown",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2, 3, 2], hidden="softmax"),
        ValueError,
        "hidden activation 'softmax' is not element-wise",
        id="check_backprop-softmax-hidden",
    ),
    pytest.param(
        lambda: check_backprop(TANH_CANDIDATE, sizes=[2.0, 2]),
        TypeError,
        "`sizes[0]` must be an integer, got 2.0",
        id="check_backprop-sizes-float",
    ),
    pytest.param(
        lambda: assert_backprop(TANH_CANDIDATE, sizes=[2, 2], trials=0),
        ValueError,
        "`trials` must be at least 1, got 0",
        id="assert_backprop-trials-zero",
    ),
    pytest.param(
        lambda: check_backprop_at(TANH_CANDIDATE, [TANH_NET], TANH_X, TANH_Y),
        TypeError,
        "`net` must be a reference.Network, got list",
        id="check_backprop_at-net",
    ),
    pytest.param(
        lambda: check_backprop_at(TANH_CANDIDATE, TANH_NET, TANH_X, TANH_Y, layout="keras"),
        ValueError,
        "unknown `layout` 'keras'",
        id="check_backprop_at-layout",
    ),
    pytest.param(
        lambda: check_backprop_at(TANH_CANDIDATE, TANH_NET, np.full((5, 3), np.nan), TANH_Y),
        ValueError,
        "`X` must be finite",
        id="check_backprop_at-X-nan",
    ),
    pytest.param(
        lambda: check_backprop_at(TANH_CANDIDATE, TANH_NET, TANH_X, TANH_Y.T),
        ValueError,
        "`Y` must have shape (d, n_H) = (5, 2)",
        id="check_backprop_at-Y-shape",
    ),
    pytest.param(
        lambda: trial_case([3], 2, 0),
        ValueError,
        "`sizes` must list at least",
        id="trial_case-sizes",
    ),
    pytest.param(
        lambda: trial_case([3, 2], 2, 0, hidden="swish"),
        ValueError,
        "unknown hidden activation 'swish'",
        id="trial_case-hidden",
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
        (lambda: trial_case([3, 2], 2, 0, hidden="swish"), BUILTIN_ACTIVATIONS),
        (
            lambda: check_backprop_at(TANH_CANDIDATE, TANH_NET, TANH_X, TANH_Y, layout="jax"),
            ["article", "torch", "flat"],
        ),
    ],
    ids=["hidden", "layout"],
)
def test_an_unknown_name_is_refused_with_the_known_ones_listed(call, known):
    with pytest.raises(ValueError) as info:
        call()
    assert all(name in str(info.value) for name in known), str(info.value)


def test_check_backprop_at_refuses_a_non_callable_candidate():
    with pytest.raises(TypeError, match="`candidate` must be callable"):
        check_backprop_at(3, TANH_NET, TANH_X, TANH_Y)


def test_check_backprop_refuses_a_non_callable_progress():
    with pytest.raises(TypeError, match="`progress`"):
        check_backprop(TANH_CANDIDATE, sizes=[3, 2], progress="x")


@pytest.mark.parametrize(
    "d, seed, name", [(0, 0, "`d`"), (-1, 0, "`d`"), (2.5, 0, "`d`"), (2, -1, "`seed`")]
)
def test_trial_case_validates_d_and_seed(d, seed, name):
    with pytest.raises((ValueError, TypeError)) as info:
        trial_case([3, 2], d, seed)
    assert name in str(info.value)
