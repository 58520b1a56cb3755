"""gradcheck.oracle.backprop: the report (its text, its JSON, the options it records) and GradientMismatch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _oracle_cases import CORRECT, break_correct

from gradcheck import (
    BackpropReport,
    GradientMismatch,
    assert_backprop,
    check_backprop,
)


def test_report_is_json_serialisable_a_screenful_and_reproducible():
    broken = break_correct(lambda dW, db: dW[1].__imul__(2.0))
    a = check_backprop(broken, sizes=[10, 20, 5], seed=4)
    b = check_backprop(broken, sizes=[10, 20, 5], seed=4)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert len(str(a).splitlines()) <= 45
    d = a.to_dict()
    assert d["passed"] is False and d["trials"][0]["worst"][0]["name"].startswith("W^1[")
    assert (
        isinstance(a, BackpropReport) and a.layer_excess["W^1"] > 1 and a.layer_excess["W^0"] <= 1
    )


def test_assert_backprop_raises_gradient_mismatch_with_the_report():
    with pytest.raises(GradientMismatch) as info:
        assert_backprop(break_correct(lambda dW, db: db[0].__imul__(-1)), sizes=[3, 4, 2])
    assert isinstance(info.value, AssertionError)
    assert "check_backprop FAILED" in str(info.value) and "b^0[" in str(info.value)
    assert assert_backprop(CORRECT, sizes=[3, 4, 2]).passed


def test_options_are_recorded_as_plain_python_values():
    report = check_backprop(
        CORRECT, sizes=np.array([3, 2]), trials=np.int64(1), batch_size=np.int32(4),
        seed=np.uint8(2), edge_cases=np.False_,
    )  # fmt: skip
    assert report.passed and len(report.trials) == 1
    assert report.options == {
        "sizes": (3, 2),
        "hidden": "sigmoid",
        "output": "sigmoid",
        "cost": "quadratic",
        "layout": "article",
        "trials": 1,
        "seed": 2,
        "batch_size": 4,
        "edge_cases": False,
        "l2": 0.0,
        "weight_scale": 1.0,
    }
    assert all(type(report.options[k]) is int for k in ("trials", "seed", "batch_size"))
    assert type(report.options["edge_cases"]) is bool
