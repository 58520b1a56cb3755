"""Scaling: how `backprop` and `network_numerical_gradient` slow down as width, depth, batch grow.

Around one base network, ``32-16-16-10,d=32``, each axis moves alone.  One
group per (axis, method), e.g. ``scaling width: backprop``; ``extra_info``
holds the axis and its value for `benchmarks.report`'s plot.  Both methods
share the points of `AXES`, so their ratio (about the number of entries
times a constant) shows; `backprop` goes on to the points of `BEYOND`,
where it leaves its fixed overhead behind and finite differences would take
minutes.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck import network_numerical_gradient
from reference import backprop

from ._cases import case, check_batch_gradient, label, max_abs_error, shape_id, timed

BASE = {"width": 16, "depth": 2, "batch": 32}
AXES = {"width": (8, 16, 32, 64), "depth": (1, 2, 3, 4), "batch": (8, 32, 128, 512)}
BEYOND = {"width": (256, 1024), "depth": (8, 16), "batch": (2048, 8192)}  # backprop only


def _shape(axis: str, value: int) -> tuple[tuple[int, ...], int]:
    """``(sizes, d)`` of the base network with one axis moved to `value`."""
    at = {**BASE, axis: value}
    return (32,) + (at["width"],) * at["depth"] + (10,), at["batch"]


def _points(axes: dict[str, tuple[int, ...]]) -> list:
    return [
        pytest.param(
            axis, value, *_shape(axis, value), id=f"{axis}:{shape_id(*_shape(axis, value))}"
        )
        for axis, values in axes.items()
        for value in values
    ]


@pytest.mark.parametrize("axis, value, sizes, d", _points(AXES) + _points(BEYOND))
def test_backprop(benchmark, axis, value, sizes, d):
    c = case(sizes, d)
    label(
        benchmark,
        group=f"scaling {axis}: backprop",
        form="backprop",
        kind="scaling",
        case=c,
        axis=axis,
        value=value,
    )
    g = timed(benchmark, backprop, c.net, c.X, c.Y)
    check_batch_gradient(benchmark, c, g.flat())


@pytest.mark.parametrize("axis, value, sizes, d", _points(AXES))
def test_numerical_gradient(benchmark, axis, value, sizes, d):
    c = case(sizes, d)
    label(
        benchmark,
        group=f"scaling {axis}: network_numerical_gradient",
        form="fd richardson",
        kind="scaling",
        case=c,
        axis=axis,
        value=value,
    )
    fd = timed(benchmark, network_numerical_gradient, c.net, c.X, c.Y)
    error = max_abs_error(fd.flat(), c.expected.flat())
    benchmark.extra_info.update(max_abs_error=error, n_evaluations=fd.n_evaluations)
    assert error < 1e-6 and np.all(np.isfinite(fd.error.flat()))
