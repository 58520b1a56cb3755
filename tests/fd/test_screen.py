"""gradcheck.fd.screen: directions whose moves are exact, one evaluation of f for every cotangent,
sets that pass a right gradient and fail a slip, bisection that names the wrong entries in
O(k log n) sets and stops on an error spread everywhere, and per-entry differences identical to
the per-entry check's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _wide import SLIP, Wide

from gradcheck import numerical_gradient
from gradcheck.fd import screen
from gradcheck.fd.screen import (
    Candidates,
    SharedValues,
    cancel_probability,
    caught_above,
    directions,
    entry_difference,
    locate,
    miss_probability,
    screen_noise,
    set_test,
)
from gradcheck.tolerance.policy import SCREEN_CAUGHT_FACTOR

N = 20_000
CASE = Wide(N)


class Counted:
    """f of the flat inputs, counting its calls."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x):
        self.calls += 1
        return self.f(x.copy())


def screened(vjp, *, cotangents=2):
    """The screen's parts for CASE: values, candidates, noise, directions, and a measure."""
    rng = np.random.default_rng(0)
    cs = [rng.standard_normal(N - 1000) for _ in range(cotangents)]
    f = Counted(CASE.f)
    values = SharedValues(f, cs, CASE.x)
    candidates = Candidates([vjp(c, CASE.x) for c in cs])
    sigma = screen_noise(values)
    u = directions(CASE.x, 3)

    def measure(lo, hi):
        return set_test(values, u, lo, hi, candidates, sigma)

    return f, values, sigma, measure


def test_directions_are_at_least_one_seeded_and_move_exactly():
    x = np.concatenate([CASE.x, [0.0, 1e-300, 1e6, -3.7e4, 0.9999999999]])
    u = directions(x, 7)
    assert np.all(np.abs(u) >= 1.0)
    assert np.array_equal(u, directions(x, 7)) and not np.array_equal(u, directions(x, 8))
    assert set(np.sign(u)) == {-1.0, 1.0}
    for level in range(24):  # every step Richardson takes from 2^-4
        s = 2.0**-4 / 2**level
        moved = (x + s * u) - x
        assert np.all(np.abs(moved - s * u) <= np.spacing(np.abs(x + s * u)))
        if level >= 12:  # small steps: exact, but where x_j + s u_j crosses a power of two
            assert np.array_equal(moved[:-1], s * u[:-1])


def test_one_evaluation_of_f_serves_every_cotangent():
    f, values, sigma, measure = screened(CASE.vjp, cotangents=3)
    before = f.calls
    test = measure(0, N)
    assert test.difference.shape == (3,) and test.bound.shape == (3,)
    one, _, _, measure_one = screened(CASE.vjp, cotangents=1)
    before_one = one.calls
    measure_one(0, N)
    assert f.calls - before <= one.calls - before_one + 2  # three cotangents, about one's cost
    calls = f.calls
    set_test(values, directions(CASE.x, 3), 0, N, Candidates([np.zeros(N)] * 3), sigma)
    assert f.calls == calls  # the same set again: every point known


def test_a_right_gradient_passes_every_set_and_a_slip_fails_its_sets():
    _, _, _, measure = screened(CASE.vjp)
    for lo, hi in [(0, N), (0, N // 2), (N // 2, N), (17, 18)]:
        assert not measure(lo, hi).fails
    _, _, _, measure = screened(CASE.slipped([4321]))
    assert measure(0, N).fails and measure(4000, 5000).fails
    assert not measure(0, 4000).fails


def test_bounds_are_tight_enough_to_see_the_slip_many_times_over():
    _, _, _, measure = screened(CASE.vjp)
    top = measure(0, N)
    largest = np.max(np.abs(CASE.vjp(np.ones(N - 1000), CASE.x)))
    assert np.all(caught_above(top) == SCREEN_CAUGHT_FACTOR * top.bound)
    assert np.all(caught_above(top) < 1e-2 * SLIP * largest)


def test_one_wrong_entry_is_named_in_log2_n_sets():
    f, _, _, measure = screened(CASE.slipped([12345]))
    named, unlocalized, measured = locate(measure, measure(0, N))
    assert named == [12345] and unlocalized == []
    assert measured <= math.ceil(math.log2(N))


def test_three_wrong_entries_cost_order_k_log_n_sets():
    wrong = [3, 9999, 19998]
    _, _, _, measure = screened(CASE.slipped(wrong))
    named, unlocalized, measured = locate(measure, measure(0, N))
    assert sorted(named) == wrong and unlocalized == []
    assert measured <= len(wrong) * math.ceil(math.log2(N))


def test_an_error_spread_over_every_entry_is_named_up_to_a_budget_and_the_rest_reported():
    _, _, _, measure = screened(CASE.slipped(factor=1.001))
    named, unlocalized, measured = locate(measure, measure(0, N))
    assert len(named) == screen.MOST_NAMED
    assert sum(t.size for t in unlocalized) > N // 2
    assert measured <= screen.MOST_NAMED * math.ceil(math.log2(N))


def test_entry_difference_is_the_per_entry_checks_difference_bit_for_bit():
    small = Wide(1200, seed=5)
    c = np.random.default_rng(1).standard_normal(200)
    values = SharedValues(small.f, [c], small.x)
    sigma = screen_noise(values)
    whole = numerical_gradient(lambda x: float(np.sum(c * small.f(x))), small.x)
    for j in (0, 333, 1199):
        gradient, error = entry_difference(values, j, sigma)
        assert (gradient[0], error[0]) == (whole.gradient[j], whole.error[j])


def test_the_probabilities_it_reports():
    assert miss_probability() == pytest.approx(2 * np.exp(-18))
    assert cancel_probability(1e-6, 1e-4) == pytest.approx(0.02 + 2.0**-20)
    assert cancel_probability(1.0, 0.0) == 1.0 and cancel_probability(1.0, 1.5) == 1.0
