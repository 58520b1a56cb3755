"""gradcheck.fd.perturbed: the unit-major kernel and the chunk plan that feeds it.

Moves of `W^{H-1}` into a sigmoid output with the quadratic cost are taken a
hidden unit at a time, as one outer product over unit-major `(n_H, P d)`
arrays. That layout must give the per-move layout's costs bit for bit (the
same products, the same sums in the same order) and the naive path's to
rounding, in both forms of the residual (tanh where exact enough, exp
otherwise), and the plan must hand it chunks of one unit that fit in cache.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.fd import perturbed
from gradcheck.fd.network import _cost_size, _CostEvaluator
from gradcheck.fd.noise import EPS
from reference import Network

ULPS = 64  # as in test_network_fd_fast: the naive path sums the same terms in another order


def _case(hidden: str, targets: str, sizes=(24, 5, 3), d: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, hidden=hidden, output="sigmoid", seed=rng)
    X = rng.normal(size=(d, sizes[0]))
    if targets == "mid":  # the tanh form
        Y = rng.uniform(0.1, 0.9, size=(d, sizes[-1]))
    else:  # one-hot targets nearly fitted: the exp form
        Y = np.eye(sizes[-1])[rng.integers(sizes[-1], size=d)]
        net = Network(
            net.weights, net.biases[:-1] + [net.biases[-1] - 8.0], hidden=hidden, output="sigmoid"
        )
    return net, *net.check_data(X, Y)


def _spy(monkeypatch) -> list[int]:
    """Record the P of every unit-major call of the sigmoid-quadratic kernel."""
    calls: list[int] = []
    original = perturbed._sigmoid_quadratic_costs

    def spy(base, moves, space):
        if moves.unit_major:
            calls.append(moves.dA.shape[0])
        return original(base, moves, space)

    monkeypatch.setattr(perturbed, "_sigmoid_quadratic_costs", spy)
    return calls


def _equal_naive_costs(monkeypatch, net, X, Y, *, per_move: bool, after_fast=None) -> None:
    """At three steps, +h and -h of every entry (as the engine asks): the fast path's costs
    equal the naive path's to rounding, with the same crossing flags (ReLU's kinks); with
    `per_move`, also bit for bit those of every move on its own. `after_fast()` runs after
    each fast call."""
    fast = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True)
    naive = _CostEvaluator(net, X, Y, memory_limit=2**20, structured=False)
    size = _cost_size(net, fast.fw, Y)
    index = np.arange(net.layout.size)
    both = np.concatenate([index, index])
    for step in (1e-3, 2.0**-10, 0.25):
        h = np.concatenate([np.full(index.size, step), np.full(index.size, -step)])
        got, _ = fast.along(both, h)
        crossed = fast.last_crossed
        if after_fast is not None:
            after_fast()
        if per_move:
            with monkeypatch.context() as m:
                m.setattr(perturbed, "RUN_MIN", 10**9)  # every move on its own
                np.testing.assert_array_equal(got, fast.along(both, h)[0])
        expected, _ = naive.along(both, h)
        np.testing.assert_array_equal(crossed, naive.last_crossed)
        np.testing.assert_allclose(got, expected, rtol=0, atol=ULPS * EPS * size)


@pytest.mark.parametrize("sizes", [(24, 5, 3), (6, 24, 4, 2)], ids=["W0", "W1"])
@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("targets", ["mid", "one-hot"])
def test_unit_major_costs_equal_per_move_costs_bit_for_bit_and_naive_ones(
    monkeypatch, hidden, targets, sizes
):
    net, X, Y = _case(hidden, targets, sizes)
    base = perturbed.Base.of(net, X, Y)
    assert (base.tanh_terms is not None) == (targets == "mid")
    calls = _spy(monkeypatch)

    def unit_major_ran():
        assert calls and min(calls) >= perturbed.RUN_MIN  # W^{H-1}: 48 moves a unit
        calls.clear()

    _equal_naive_costs(monkeypatch, net, X, Y, per_move=True, after_fast=unit_major_ran)


def test_the_unit_major_kernel_serves_only_the_layer_before_a_sigmoid_quadratic_output(
    monkeypatch,
):
    rng = np.random.default_rng(1)
    for output, cost in (("identity", "quadratic"), ("sigmoid", "cross_entropy")):
        net = Network.random((24, 5, 3), hidden="tanh", output=output, cost=cost, seed=rng)
        X, Y = net.check_data(rng.normal(size=(9, 24)), rng.uniform(0.1, 0.9, size=(9, 3)))
        calls = _spy(monkeypatch)
        _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True).along(
            np.arange(net.layout.size), np.full(net.layout.size, 1e-3)
        )
        assert calls == []


def _plan(sizes, d, n, memory_limit, *, L=None, weights=True, complex_=False):
    rng = np.random.default_rng(2)
    net = Network.random(sizes, hidden="tanh", output="sigmoid", seed=rng)
    X, Y = net.check_data(rng.normal(size=(d, sizes[0])), rng.uniform(0.1, 0.9, (d, sizes[-1])))
    base = perturbed.Base.of(net, X, Y)
    L = len(sizes) - 3 if L is None else L  # default: W^{H-1}
    return perturbed.plan_chunks(base, L, n, memory_limit, weights=weights, complex_=complex_)


def _covers(plan, size):
    taken = np.concatenate([np.arange(size)[piece] for piece in plan])
    np.testing.assert_array_equal(taken, np.arange(size))  # every move once, in order


def test_the_plan_cuts_long_runs_of_one_unit_into_equal_pieces_that_fit_in_cache():
    d, n_H = 64, 10
    n = np.repeat(np.arange(5), 300)  # 5 units, 300 moves each (sorted by unit)
    limit = 40 * (2 * n_H + perturbed.UNIT_ROWS) * d * 8  # 40 moves a chunk
    plan = _plan((64, 5, n_H), d, n, limit)
    _covers(plan, n.size)
    for piece in plan:
        assert np.unique(n[piece]).size == 1  # never two units
        assert piece.stop - piece.start <= 40
    lengths = sorted({piece.stop - piece.start for piece in plan})
    assert lengths == [37, 38]  # 300 moves in 8 equal pieces


def test_the_plan_keeps_plain_chunks_where_runs_are_short_or_the_kernel_does_not_apply():
    d = 16
    short = np.repeat(np.arange(40), 4)  # 4 moves a unit: below RUN_MIN
    long = np.repeat(np.arange(2), 100)
    for n, kwargs in (
        (short, {}),
        (long, {"weights": False}),  # biases: one move per unit and step
        (long, {"complex_": True}),  # the complex step takes the general path
    ):
        plan = _plan((20, 40, 3), d, n, 2**20, **kwargs)
        _covers(plan, n.size)
        assert all(piece.start % plan[0].stop == 0 for piece in plan)  # fixed-size chunks
    deep = _plan((20, 40, 6, 3), d, long, 2**20, L=0)  # W^0 of a deeper net: not W^{H-1}
    _covers(deep, long.size)
    assert len(deep) == 1


FUSED = [("softmax", "categorical_cross_entropy"), ("sigmoid", "cross_entropy")]


@pytest.mark.parametrize("sizes", [(24, 5, 3), (6, 24, 4, 2)], ids=["W0", "W1"])
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
@pytest.mark.parametrize("output, cost", FUSED)
def test_fused_outputs_take_the_transposed_kernels_and_equal_the_naive_costs(
    monkeypatch, output, cost, hidden, sizes
):
    rng = np.random.default_rng(5)
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
    X = rng.normal(size=(9, sizes[0]))
    if cost == "categorical_cross_entropy":  # rows of probabilities, and one unnormalised row
        Y = rng.dirichlet(np.ones(sizes[-1]), size=9)
        Y[0] *= 0.5
    else:
        Y = rng.uniform(size=(9, sizes[-1]))
    X, Y = net.check_data(X, Y)
    base = perturbed.Base.of(net, X, Y)
    assert base.fused_terms is not None and base.sigmoid_terms is None
    layouts: list[bool] = []
    original = perturbed._fused_costs

    def spy(base, U, P, *, unit_major, space):
        layouts.append(unit_major)
        return original(base, U, P, unit_major=unit_major, space=space)

    monkeypatch.setattr(perturbed, "_fused_costs", spy)
    _equal_naive_costs(monkeypatch, net, X, Y, per_move=False)
    assert True in layouts and False in layouts  # W^{H-1} unit-major; W^H, biases per move


@pytest.mark.parametrize("sizes", [(24, 5, 3), (6, 24, 4, 2)], ids=["W0", "W1"])
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_identity_output_takes_the_residual_at_theta_plus_the_move_in_both_layouts(
    monkeypatch, hidden, sizes
):
    # Regression nets: a - y = (a_0 - y) + W^H[n] (x) dA, unit-major for one unit's moves,
    # the same bits as the per-move layout, and the naive path's costs to rounding.
    rng = np.random.default_rng(6)
    net = Network.random(sizes, hidden=hidden, output="identity", seed=rng)
    X, Y = net.check_data(rng.normal(size=(9, sizes[0])), rng.normal(size=(9, sizes[-1])))
    assert perturbed.Base.of(net, X, Y).identity_terms is not None
    units: list[int | None] = []
    original = perturbed._identity_quadratic_costs

    def spy(base, moves, space):
        units.append(moves.unit)
        return original(base, moves, space)

    monkeypatch.setattr(perturbed, "_identity_quadratic_costs", spy)
    _equal_naive_costs(monkeypatch, net, X, Y, per_move=True)
    assert any(u is not None for u in units) and None in units  # both layouts ran
