"""gradcheck.results.error_maps: the error maps of a trial, entry by entry or summarised, and the step curve."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.results.error_maps import (
    error_maps,
    failing_trial_maps,
    step_curve,
    trial_maps,
)
from gradcheck.tolerance.compare import compare
from reference import Gradients, ParameterLayout


def test_error_maps_known_answer():
    layout = ParameterLayout((2, 3, 1))
    c = np.zeros(layout.size)
    c[4] = 1.0  # W^0[1,1]
    c[8] = -0.05  # b^0[2], inside its tolerance
    maps = error_maps(c, np.zeros(layout.size), np.full(layout.size, 0.1), layout)
    assert [(m.name, m.shape, m.failing) for m in maps] == [
        ("W^0", (2, 3), 1),
        ("b^0", (3,), 0),
        ("W^1", (3, 1), 0),
        ("b^1", (1,), 0),
    ]
    np.testing.assert_array_equal(maps[0].excess, [[0, 0, 0], [0, 10, 0]])
    np.testing.assert_array_equal(maps[1].excess, [0, 0, 0.5])
    np.testing.assert_array_equal(maps[0].row_max, [0, 10])
    np.testing.assert_array_equal(maps[0].col_max, [0, 10, 0])
    np.testing.assert_array_equal(maps[1].row_max, [0.5])
    assert maps[0].worst[0].name == "W^0[1,1]" and maps[0].worst[0].excess == 10
    assert maps[1].entry_name(0, 2) == "b^0[2]" and maps[0].entry_name(1, 2) == "W^0[1,2]"


def test_error_maps_is_the_oracles_ratio_and_keeps_the_values(small):
    net, X, Y, r = small
    rng = np.random.default_rng(0)
    c = r + rng.normal(scale=1e-14, size=r.size)
    tol = np.full(r.size, 1e-14)
    fd = r + 1e-12
    maps = error_maps(c, r, tol, net.layout, finite_difference=fd)
    excess = compare(c, r, tol).excess
    for (name, block, shape), m in zip(net.layout.blocks, maps):
        assert m.name == name
        np.testing.assert_array_equal(m.excess, excess[block].reshape(shape))
        np.testing.assert_array_equal(m.candidate, c[block].reshape(shape))
        np.testing.assert_array_equal(m.reference, r[block].reshape(shape))
        np.testing.assert_array_equal(m.finite_difference, fd[block].reshape(shape))
        assert [e.excess for e in m.worst] == sorted((e.excess for e in m.worst), reverse=True)


def test_error_maps_never_mutates_its_inputs(small):
    net, X, Y, r = small
    c, tol = r * 1.5, np.full(r.size, 1e-10)
    copies = [c.copy(), r.copy(), tol.copy()]
    maps = error_maps(c, r, tol, net.layout)
    maps[0].candidate[...] = 0.0  # the maps own their arrays
    for given, copy in zip((c, r, tol), copies):
        np.testing.assert_array_equal(given, copy)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda L, v: error_maps(v, v, v, "layout"),
            TypeError,
            "`layout` must be a reference.ParameterLayout (net.layout), got str",
        ),
        (
            lambda L, v: error_maps(v[:-1], v, v, L),
            ValueError,
            "`candidate_flat` has shape (16,) but the layout of sizes [2, 3, 2] has 17 parameters",
        ),
        (
            lambda L, v: error_maps(v, v, v, L, finite_difference=v[:3]),
            ValueError,
            "`finite_difference` has shape (3,) but the layout of sizes [2, 3, 2] has 17 parameters",
        ),
        (
            lambda L, v: error_maps(v, v, -v, L),
            ValueError,
            "`tolerance_flat` must be non-negative (inf allowed), got -1.0 at W^0[0,0]",
        ),
        (
            lambda L, v: error_maps(v, v, np.where(np.arange(17) == 9, np.nan, v), L),
            ValueError,
            "`tolerance_flat` must be non-negative (inf allowed), got nan at W^1[0,0]",
        ),
        (
            lambda L, v: error_maps(v, v.reshape(1, -1), v, L),
            ValueError,
            "`reference_flat` must be 1-D (a flat vector), got shape (1, 17); flatten it with `.ravel()`",
        ),
        (
            lambda L, v: error_maps(v, v, v, L, max_cells=0),
            ValueError,
            "`max_cells` must be a positive integer, got 0",
        ),
    ],
)
def test_error_maps_validation(call, error, message):
    layout = ParameterLayout((2, 3, 2))
    with pytest.raises(error) as info:
        call(layout, np.ones(layout.size))
    assert str(info.value) == message


def test_trial_maps_finds_one_wrong_entry_and_takes_gradients(small):
    net, X, Y, r = small
    g = r.copy()
    g[5] *= 1.01
    maps = trial_maps(net, X, Y, g)
    assert [m.failing for m in maps] == [1, 0, 0, 0]
    assert maps[0].worst[0].name == net.layout.name(5)
    assert maps[0].finite_difference is not None
    right = trial_maps(net, X, Y, Gradients.from_flat(r, net.sizes), finite_differences=False)
    assert all(m.failing == 0 and m.finite_difference is None for m in right)


def test_trial_maps_holds_float32_to_float32_rounding(small):
    net, X, Y, r = small
    maps = trial_maps(net, X, Y, r.astype(np.float32), finite_differences=False)
    assert all(m.failing == 0 for m in maps)
    assert trial_maps(net, X, Y, r.astype(np.float32) * np.float32(1.001))[0].failing > 0


def test_trial_maps_validation(small):
    net, X, Y, r = small
    with pytest.raises(ValueError) as info:
        trial_maps(net, X, Y, r[:-2])
    assert str(info.value) == (
        "`candidate` has 24 entries but the network [3, 4, 2] has 26 parameters"
    )
    with pytest.raises(TypeError, match="`net` must be a reference.Network, got list"):
        trial_maps([1], X, Y, r)
    with pytest.raises(TypeError, match="`finite_differences` must be True or False, got 1"):
        trial_maps(net, X, Y, r, finite_differences=1)


def test_step_curve_is_a_v_around_the_reference(small):
    net, X, Y, r = small
    curve = step_curve(net, X, Y, "W^0[1,2]", candidate=0.0)
    j = 1 * 4 + 2
    assert curve.name == "W^0[1,2]" and curve.reference == r[j] and curve.candidate == 0.0
    errors = curve.errors
    bottom = int(np.argmin(errors))
    assert 0 < bottom < errors.size - 1  # falls, then rises: both arms of the V
    assert errors[bottom] < 1e-9 * abs(r[j])
    assert errors[0] > 1e3 * errors[bottom]  # truncation at the large steps
    assert errors[-1] > 1e3 * errors[bottom]  # rounding at the small ones
    by_index = step_curve(net, X, Y, j)
    np.testing.assert_array_equal(by_index.differences, curve.differences)


def test_step_curve_validation(small):
    net, X, Y, _ = small
    with pytest.raises(ValueError) as info:
        step_curve(net, X, Y, "W^0[4,0]")
    assert str(info.value) == (
        "`entry` 'W^0[4,0]' names no entry of a network of sizes [3, 4, 2]; "
        "use W^L[m,n] or b^L[n], e.g. 'W^0[0,0]'"
    )
    with pytest.raises(ValueError, match=r"^`entry` 26 is out of range for 26 parameters$"):
        step_curve(net, X, Y, 26)
    with pytest.raises(
        TypeError, match=r"^`entry` must be a flat index or a name like 'W\^0\[1,2\]', got 1.5$"
    ):
        step_curve(net, X, Y, 1.5)
    with pytest.raises(ValueError, match=r"^`steps` must be positive and finite$"):
        step_curve(net, X, Y, 0, steps=[1e-3, 0.0])


def test_failing_trial_maps_without_entrywise_differences_has_no_step_curve(small):
    net, X, Y, r = small
    c = r.copy()
    c[3] += 1.0
    maps = failing_trial_maps(
        net, X, Y, compare(c, r, np.full(r.size, 1e-9)), finite_differences=None
    )
    assert maps.step_curve is None and maps.blocks[0].finite_difference is None
    assert [b.failing for b in maps.blocks] == [1, 0, 0, 0]
    with_fd = failing_trial_maps(
        net, X, Y, compare(c, r, np.full(r.size, 1e-9)), finite_differences=r
    )
    assert with_fd.step_curve.name == net.layout.name(3) and with_fd.step_curve.candidate == c[3]
