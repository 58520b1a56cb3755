"""check_vjp's screen mode (gradcheck.oracle.screening): a million inputs, one slip named in at
most 300 evaluations of f; k slips in O(k log n); a right backward passes and says what it could
not have missed; an error spread everywhere is caught; a kink the bisection names is counted as
the per-entry check counts it, never failed; the mode is chosen by size, or forced, and validated."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from _wide import SLIP, Wide

import gradcheck.oracle.screening as screening
from gradcheck import check_vjp
from gradcheck.fd import screen
from gradcheck.tolerance.policy import SCREEN_ABOVE

MILLION = Wide(10**6)
N = 20_000
CASE = Wide(N, seed=1)
BUDGET = 300  # evaluations of f in which one slip among a million entries is named (issue 20)


def test_one_slip_among_a_million_inputs_is_named_in_at_most_300_evaluations():
    report = check_vjp(MILLION.f, MILLION.slipped([654321]), {"x": MILLION.x}, cotangents=1)
    assert not report.passed and report.method == "screen"
    assert report.failures == ("x[654321]",)
    assert report.n_evaluations <= BUDGET
    text = str(report)
    assert "screened" in text and f"{report.n_evaluations} evaluations of f" in text


@pytest.mark.parametrize("wrong", [[7, 10_000, 19_999], [100, 101, 102]])
def test_k_slips_cost_order_k_log_n(wrong):
    report = check_vjp(CASE.f, CASE.slipped(wrong), [CASE.x], cotangents=1, mode="screen")
    assert sorted(report.failures) == sorted(f"x0[{j}]" for j in wrong)
    k, depth = len(wrong), math.ceil(math.log2(N))
    assert report.screen.sets <= 1 + k * depth
    assert report.n_evaluations <= k * BUDGET


def test_a_right_backward_passes_and_says_what_the_screen_could_not_have_missed():
    report = check_vjp(CASE.f, CASE.vjp, [CASE.x], mode="screen")
    assert report.passed and report.method == "screen" and report.screen.sets == 1
    (summary,) = report.inputs
    assert 0 < summary.caught_above < 1e-2 * SLIP  # from the bounds: far finer than the slip
    assert summary.largest > 0
    text = str(report)
    assert f"any single entry wrong by more than {summary.caught_above:.2g}" in text
    assert f"probability >= 1 - {report.screen.miss_probability:.1g}" in text
    plain = report.to_dict()
    assert plain["method"] == "screen" and plain["screen"]["sets"] == 1
    assert plain["inputs"][0]["caught_above"] == summary.caught_above


def test_the_bound_it_reports_is_the_one_it_catches():
    """A slip just above the reported bound is caught; the bound is not a constant."""
    report = check_vjp(CASE.f, CASE.vjp, [CASE.x], mode="screen", cotangents=1)
    caught = report.inputs[0].caught_above

    def vjp(c, x):
        g = CASE.vjp(c, x)
        g[4242] += 1.01 * caught * np.max(np.abs(g))
        return g

    slipped = check_vjp(CASE.f, vjp, [CASE.x], mode="screen", cotangents=1)
    assert slipped.screen.sets > 1  # the input's set failed: bisection ran
    assert caught != check_vjp(CASE.f, CASE.vjp, [CASE.x * 3], mode="screen").inputs[0].caught_above


def test_an_error_spread_over_every_entry_is_caught():
    report = check_vjp(CASE.f, CASE.slipped(factor=1.001), [CASE.x], cotangents=1, mode="screen")
    assert not report.passed
    assert report.inputs[0].failing == screen.MOST_NAMED
    assert report.screen.unlocalized > N // 2
    assert "were not pinned to an entry" in str(report)


def relu_case(n=200):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(n)
    x[[10, 150]] = 0.0  # kinks of relu

    def f(x):
        return np.maximum(x, 0.0)[:-1] + 0.5 * np.tanh(x)[1:]

    def vjp(c, x):
        g = np.zeros_like(x)
        g[:-1] += c * (x[:-1] > 0)
        g[1:] += 0.5 * c * (1 - np.tanh(x[1:]) ** 2)
        return g

    return f, vjp, x


def test_a_kink_the_bisection_names_is_counted_as_the_per_entry_check_counts_it():
    f, vjp, x = relu_case()
    screened = check_vjp(f, vjp, [x], mode="screen")
    entries = check_vjp(f, vjp, [x], mode="entries")
    assert screened.passed and entries.passed
    assert screened.screen.named >= 1  # the direction crossed the kinks: the set failed
    assert screened.inputs[0].kinks >= 1 and screened.inputs[0].failing == 0
    assert set(screened.inputs[0].kink_entries) <= set(entries.inputs[0].kink_entries)


def test_the_screen_fails_only_entries_the_per_entry_check_fails():
    small = Wide(200, seed=3, stride=7)

    def slipped(c, x):
        g = small.vjp(c, x)
        g[[50, 51, 199]] *= 1.01
        g[150] += 1e-15 * np.max(np.abs(g))  # below any bound: the per-entry check passes it
        return g

    screened = check_vjp(small.f, slipped, [small.x], mode="screen")
    entries = check_vjp(small.f, slipped, [small.x], mode="entries")
    assert set(screened.failures) == set(entries.failures) == {"x0[50]", "x0[51]", "x0[199]"}


def test_auto_checks_entries_up_to_the_limit_and_screens_above(monkeypatch):
    f, vjp, x = relu_case()
    assert check_vjp(f, vjp, [x]).method == "entries"
    assert screening.screens("auto", SCREEN_ABOVE) is False
    assert screening.screens("auto", SCREEN_ABOVE + 1) is True
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 150)
    report = check_vjp(f, vjp, [x])
    assert report.method == "screen" and "200 entries screened" in str(report)
    assert check_vjp(f, vjp, [x], mode="entries").method == "entries"


def test_an_input_the_vjp_does_not_differentiate_is_listed_as_such():
    def f(x, w):
        return CASE.f(x) * w

    def vjp(c, x, w):
        return CASE.vjp(c * w, x), None

    report = check_vjp(f, vjp, {"x": CASE.x, "w": 2.0}, mode="screen", cotangents=1)
    assert report.passed
    assert [s.differentiated for s in report.inputs] == [True, False]
    assert "w (): not differentiated" in str(report)


@pytest.mark.parametrize("mode", ["fast", "", None, 3, "Screen"])
def test_mode_is_validated_before_any_work(mode):
    def f(x):
        raise AssertionError("f must not be called")

    with pytest.raises(ValueError, match=r"`mode` must be one of 'auto', 'entries', 'screen', got"):
        check_vjp(f, f, [np.ones(3)], mode=mode)


def test_noise_that_hides_what_a_pass_must_see_leaves_the_screen_inconclusive():
    small = Wide(2000, seed=4, stride=7)
    jitter = np.random.default_rng(5)

    def noisy(x):
        return small.f(x) * (1 + 1e-5 * jitter.standard_normal())

    report = check_vjp(noisy, small.vjp, [small.x], mode="screen", cotangents=1)
    assert report.inconclusive and not report.passed
    assert report.inputs[0].caught_above > 1e-3
    assert str(report).startswith("VJP check INCONCLUSIVE")


def test_a_float32_backward_whose_rounding_hides_a_slip_is_inconclusive_not_passed():
    """Each entry may carry 8 float32 ulps of |g_j| + ||g||; summed over 20,000 entries along a
    direction that allowance hides a 0.1% slip, so the screen cannot pass it (entries mode can)."""
    for vjp in (CASE.vjp, CASE.slipped([77])):
        report = check_vjp(
            CASE.f, lambda c, x, vjp=vjp: vjp(c, x).astype(np.float32), [CASE.x], mode="screen"
        )
        assert report.inconclusive and not report.passed
        assert report.inputs[0].caught_above > 1e-3
        assert 'mode="entries") checks each entry' in str(report)


def test_the_per_entry_check_clears_what_an_overeager_screen_names(monkeypatch):
    """A screen that errs (every set off by three bounds) names entries that are right: the
    per-entry check passes them, and they are counted as cleared, never failed."""
    honest = screening.set_test

    def overeager(*args):
        test = honest(*args)
        return replace(test, difference=test.difference + 3 * test.bound)

    monkeypatch.setattr(screening, "set_test", overeager)
    report = check_vjp(CASE.f, CASE.vjp, [CASE.x], mode="screen", cotangents=1)
    assert report.screen.named >= 1 and report.screen.cleared == report.screen.named
    assert report.inputs[0].failing == 0 and not report.failures
    assert f"({report.screen.cleared} passed there)" in str(report)
