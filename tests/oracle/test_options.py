"""gradcheck.oracle.options: `check_backprop`'s options, validated once, recorded as the report shows them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gradcheck import check_backprop, check_backprop_at
from gradcheck.oracle.options import BackpropOptions
from reference import Network, backprop


def _options(**changes):
    given = dict(
        sizes=[3, 4, 2],
        hidden="tanh",
        output=None,
        cost="quadratic",
        layout="article",
        trials=np.int64(2),
        seed=5,
        batch_size=4,
        edge_cases={"batch1", "width1"},
        l2=0,
        weight_scale=2,
        timeout=None,
        executor=None,
        progress=None,
    )
    return BackpropOptions(**{**given, **changes})


def _mine(weights, biases, X, Y):
    return backprop(Network(weights, biases, hidden="tanh"), X, Y)


def test_validated_options_are_normalised_and_frozen():
    options = _options().validated()
    assert options.sizes == (3, 4, 2) and type(options.trials) is int and options.trials == 2
    assert options.edge_cases == frozenset({"batch1", "width1"}) == options.edge_trials
    assert options.l2 == 0.0 and options.weight_scale == 2.0
    assert options.names == ("tanh", "tanh", "quadratic")
    assert options.hidden == "tanh"  # as given: the trials draw with it
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.trials = 3  # type: ignore[misc]


def test_the_record_is_what_the_report_shows():
    options = _options().validated()
    assert options.record() == {
        "sizes": (3, 4, 2),
        "hidden": "tanh",
        "output": "tanh",
        "cost": "quadratic",
        "layout": "article",
        "trials": 2,
        "seed": 5,
        "batch_size": 4,
        "edge_cases": ["batch1", "width1"],
        "l2": 0.0,
        "weight_scale": 2.0,
    }
    report = check_backprop(
        _mine, sizes=[3, 4, 2], hidden="tanh", trials=2, seed=5, batch_size=4,
        edge_cases={"batch1", "width1"}, weight_scale=2,
    )  # fmt: skip
    assert report.options == options.record()
    assert _options(edge_cases=True, hidden=["tanh"]).validated().record()["hidden"] == ["tanh"]


def test_a_given_network_records_no_seed_and_no_weight_scale():
    net = Network.random([3, 4, 2], hidden="tanh", seed=1)
    options = BackpropOptions.given(net, 5, layout="article")
    X, Y = np.ones((5, 3)), np.zeros((5, 2))
    recorded = check_backprop_at(_mine, net, X, Y).options
    assert recorded == options.record()
    assert recorded["seed"] is None and "weight_scale" not in recorded
    assert (
        recorded["trials"] == 1 and recorded["batch_size"] == 5 and recorded["edge_cases"] is False
    )


def test_options_not_validated_are_not_recorded():
    with pytest.raises(ValueError, match=r"not validated: call \.validated\(\) first"):
        _options().record()


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(layout="rows"), ValueError, "`layout`"),
        (dict(trials=0), ValueError, "`trials` must be at least 1, got 0"),
        (dict(weight_scale=-1.0), ValueError, "`weight_scale` must be a positive finite number"),
        (dict(timeout=0), ValueError, "`timeout` must be a positive, finite number of seconds"),
        # 1e7 s passed, then the wait behind it overflowed and failed a right candidate
        (dict(timeout=1e7), ValueError, "`timeout` must be at most 1e\\+06 seconds"),
        (dict(edge_cases={"wide"}), ValueError, "unknown `edge_cases` 'wide'"),
        (dict(progress=3), TypeError, "`progress`"),
    ],
)
def test_each_option_is_validated_with_a_message_naming_it(changes, error, message):
    with pytest.raises(error, match=message):
        _options(**changes).validated()
