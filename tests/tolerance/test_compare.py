"""The rounding-error model of `gradcheck.tolerance.compare`: known answers, hand bounds, exact arithmetic.

Three kinds of evidence that the derived tolerance `tol_j = K u S_j` is right:

- known answers: the model's `S_j` worked by hand for a one-layer identity
  network on one example (a single dot product), the units `u`, the norms;
- hand bounds: the classical worst-case bound of a dot product of `n` terms,
  `|fl(x.w) - x.w| <= gamma_n sum |x_m w_m|`, `gamma_n = n u / (1 - n u)`, is
  inside the tolerance for every `n` (the partial sums' rounding enters at its
  worst case), and sequential loops over a batch or a wide layer, whose
  rounding is systematic rather than a random walk, stay inside it with room;
- exact arithmetic: backprop of a small sigmoid network computed with mpmath
  at 60 digits from the same floats, against numpy's float64 and float32
  backprop: every entry's true error is inside its tolerance, and the
  tolerance is not absurdly loose (median tolerance / true error < 1000).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from gradcheck.oracle.backprop import check_backprop_at
from gradcheck.tolerance.compare import (
    SAFETY,
    Comparison,
    compare,
    rounding_scale,
    rounding_tolerance,
    scaled_norm,
    unit_roundoff,
)
from gradcheck.tolerance.policy import LINEAR_ULPS
from reference import Gradients, Network, backprop, get_activation

# ----------------------------------------------------------------------------- units and norms


@pytest.mark.parametrize(
    ("dtype", "u"),
    [(np.float64, 2.0**-53), (np.float32, 2.0**-24), (np.float16, 2.0**-11), (np.int32, 2.0**-53)],
)
def test_unit_roundoff_is_half_the_machine_epsilon(dtype, u):
    assert unit_roundoff(np.dtype(dtype)) == u


@pytest.mark.parametrize(
    ("x", "norm"),
    [
        ([3.0, -4.0], 5.0),
        ([3e200, 4e200], 5e200),  # x @ x would overflow
        ([3e-200, 4e-200], 5e-200),  # x @ x would underflow to 0
        ([0.0, 0.0], 0.0),
        ([], 0.0),
        ([1.0, np.inf], np.inf),
        ([[1, 2], [2, 4]], 5.0),  # integers, any shape: the norm of all entries
    ],
)
def test_scaled_norm_known_answers(x, norm):
    assert scaled_norm(np.array(x)) == pytest.approx(norm, rel=1e-15)


# ----------------------------------------------------------------------------- a dot product


def _dot_product_net(x: np.ndarray, w: np.ndarray) -> tuple[Network, np.ndarray, np.ndarray]:
    """z = x . w, identity, J = z^2 / 2: dJ/db = z and dJ/dW[m] = x_m z, one example."""
    net = Network([w.reshape(-1, 1)], [np.zeros(1)], hidden="identity", cost="quadratic")
    return net, x.reshape(1, -1), np.zeros((1, 1))


def test_rounding_scale_of_a_dot_product_by_hand():
    # Worked by hand from the model's rules, with s2 = sum x_m^2 w_m^2, z = x . w and
    # t = 7 m / K (the partial sums of 7 products and b: gamma_7 of the largest partial sum in
    # any order, m = (sum |x_m w_m| + |z|) / 2, taken whole):
    #   V(z) = V(x) w^2 + x^2 w^2 + t^2 = 2 s2 + t^2   (inputs, products, partial sums)
    #   V(a) = V(z) + z^2                         (identity: unbounded, no constant term)
    #   V(dJ/da) = V(a) + a^2 + y^2 = V(z) + 2 z^2
    #   V(h') = 0 V(z) + 1 = 1 (h'' = 0: h' is exact, no cancelling formula's u)
    #   delta = dJ/da h':  V = V(dJ/da) + z^2 V(h') + z^2 = V(z) + 4 z^2
    #   dJ/db: V + delta^2 = 2 s2 + t^2 + 5 z^2            (one example: no batch sum)
    #   dJ/dW[m]: V(x_m) z^2 + x_m^2 (V + z^2) = x_m^2 (2 s2 + t^2 + 6 z^2)
    # and never above LINEAR_ULPS / K times the same rules added linearly (p = 1), with
    # s1 = sum |x_m w_m| and the partial sums whole (7 m): V(z) = 2 s1 + 7 m, dJ/db:
    # 2 s1 + 7 m + 5 |z|, dJ/dW[m]: |x_m| (2 s1 + 7 m + 6 |z|); and never below
    # (H + 2) |dJ/dtheta_j|: 2 |z|, 2 |x_m z|
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=7), rng.normal(size=7)
    z, s2 = float(x @ w), float(np.sum((x * w) ** 2))
    s1 = float(np.sum(np.abs(x * w)))
    m = (s1 + abs(z)) / 2
    t = 7 * m / SAFETY
    cap = LINEAR_ULPS / SAFETY
    S = rounding_scale(*_dot_product_net(x, w))
    walk_b = np.sqrt(2 * s2 + t**2 + 5 * z**2)
    capped_b = max(min(walk_b, cap * (2 * s1 + 7 * m + 5 * abs(z))), 2 * abs(z))
    assert S[-1] == pytest.approx(capped_b, rel=1e-12)
    walk_W = np.abs(x) * np.sqrt(2 * s2 + t**2 + 6 * z**2)
    linear_W = cap * np.abs(x) * (2 * s1 + 7 * m + 6 * abs(z))
    capped_W = np.maximum(np.minimum(walk_W, linear_W), 2 * np.abs(x * z))
    assert S[:-1] == pytest.approx(capped_W, rel=1e-12)


@pytest.mark.parametrize("n", [*range(1, 13), 100, 1000, 100_000])
def test_tolerance_covers_the_worst_case_bound_of_a_dot_product(n):
    # Equal |x_m w_m| make sum|x w| = sqrt(n) ||x * w||, the worst case for a random-walk
    # (2-norm) sum; the partial sums' gamma_{n-1} max(P, N) enters whole (P, N: the positive
    # and the negative terms' masses, the largest partial sum in any order), so every n is
    # covered, and so is a loop in the worst order: every positive term first.
    x = np.full(n, 0.7)
    w = np.where(np.arange(n) % 2 == 0, 1.3, -1.3)  # signs alternate: z cancels to 0 or 0.91
    net, X, Y = _dot_product_net(x, w)
    terms = x * w
    P, N = float(terms[terms > 0].sum()), float(-terms[terms < 0].sum())
    for dtype in (np.float64, np.float32, np.float16):
        u = unit_roundoff(np.dtype(dtype))
        if n * u > 0.01:
            continue  # gamma_n = n u / (1 - n u): first-order error analysis needs n u << 1
        gamma = (n - 1) * u / (1 - (n - 1) * u)
        tolerance = rounding_tolerance(net, X, Y, dtype)[-1]
        assert tolerance >= gamma * max(P, N)
        ordered = np.concatenate([terms[terms > 0], terms[terms < 0]]).astype(dtype)
        loop = np.cumsum(ordered, dtype=dtype)[-1]  # one addition at a time, in dtype
        assert tolerance >= abs(float(Fraction(float(loop)) - _exact_dot(x, w)))


def test_a_cancelling_sum_is_allowed_half_the_partial_sums_of_one_that_does_not_cancel():
    # 1,000 terms +-0.91: every partial sum, in any order, is at most the positive terms' mass,
    # half of sum |x w|. An error of 0.75 gamma_999 sum |x w| is more than any order of any
    # correct loop can make (above), and Higham's eq. 4.4 whole (sum |x w|) passed it.
    x = np.full(1000, 0.7)
    w = np.where(np.arange(1000) % 2 == 0, 1.3, -1.3)
    net, X, Y = _dot_product_net(x, w)
    u = 2.0**-53
    slip = 0.75 * 999 * u * float(np.sum(np.abs(x * w)))
    tolerance = rounding_tolerance(net, X, Y, np.float64)
    assert tolerance[-1] < slip < 999 * u * float(np.sum(np.abs(x * w)))
    g = backprop(net, X, Y)
    wrong = Gradients(g.weights, [g.biases[0] + slip])
    assert not check_backprop_at(lambda *a: (wrong.weights, wrong.biases), net, X, Y).passed


def _exact_dot(x: np.ndarray, w: np.ndarray) -> Fraction:
    return sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, w)), Fraction(0))


# A wide dot product is held to the worst case of any summation order (gamma_{n-1} sum|x w|):
# numpy's pairwise sum of 1000 random terms does ~20,000x better, a loop of equal terms 0.2x.
@pytest.mark.parametrize(("n", "looseness"), [(3, 1e4), (50, 1e4), (1000, 1e5)])
def test_tolerance_covers_numpys_float32_dot_product(n, looseness):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n).astype(np.float32)  # float32 values: the float64 net holds them exactly
    w = rng.normal(size=n).astype(np.float32)
    net, X, Y = _dot_product_net(x.astype(np.float64), w.astype(np.float64))
    z32 = np.dot(x, w)  # dJ/db of a float32 backprop on this net: z itself
    true_error = abs(Fraction(float(z32)) - _exact_dot(x, w))
    tolerance = rounding_tolerance(net, X, Y, np.float32)[-1]
    assert float(true_error) <= tolerance
    assert tolerance / max(float(true_error), unit_roundoff(np.dtype(np.float32)) * abs(z32)) < (
        looseness
    )


# ----------------------------------------------------------------------------- a sum of d terms


def _mean_net(d: int, c: float) -> tuple[Network, np.ndarray, np.ndarray]:
    """W = 0, b = 0, identity, y_i = c: delta_i = -c, so dJ/db = (1/d) sum_i (-c) = -c."""
    net = Network([np.zeros((1, 1))], [np.zeros(1)], hidden="identity")
    return net, np.ones((d, 1)), np.full((d, 1), c)


@pytest.mark.parametrize("d", [1, 10, 1000, 100_000])
def test_tolerance_covers_the_reference_mean_of_d_equal_terms(d):
    net, X, Y = _mean_net(d, 0.1)
    got = backprop(net, X, Y).biases[0][0]  # numpy sums pairwise: error ~ log2(d) u
    true_error = abs(Fraction(float(got)) + Fraction(0.1))  # the mean of d copies of c is c
    assert float(true_error) <= rounding_tolerance(net, X, Y, np.float64)[-1]


# Equal terms in a loop repeat the same rounding through a binade: the error is systematic,
# 0.1 to 0.2 of gamma_{d-1} sum|x| for most c (0.7718... errs by 0.21 of it at every d here).
UNLUCKY_TERMS = (0.1, 0.7718415357263263, 1 / 3)


def _sequential_sum(terms: Any, dtype: type) -> Any:
    total = dtype(0)
    for x in terms:  # a C-style loop: one rounding per partial sum
        total = dtype(total + x)
    return total


@pytest.mark.parametrize("c", UNLUCKY_TERMS)
@pytest.mark.parametrize("d", [8, 1000, 10_000, 100_000])
def test_tolerance_covers_a_sequential_mean_of_d_equal_terms_with_room(d, c):
    net, X, Y = _mean_net(d, c)
    for dtype in (np.float64, np.float32):
        cd = dtype(c)  # the float32 candidate rounds its targets; the float64 net holds them
        net, X, Y = _mean_net(d, float(cd))
        total = _sequential_sum(np.full(d, -cd), dtype)
        true_error = float(abs(Fraction(float(total / dtype(d))) + Fraction(float(cd))))
        tolerance = rounding_tolerance(net, X, Y, dtype)[-1]
        assert true_error <= tolerance / 3, (dtype, true_error / tolerance)


@pytest.mark.parametrize("n", [1000, 10_000])
def test_tolerance_covers_a_sequential_dot_product_over_a_wide_layer_with_room(n):
    # one example, a layer n wide of equal products: z = sum_m x_m w_m added in a loop
    x, w = np.full(n, 0.7718415357263263), np.full(n, 1.0)
    net, X, Y = _dot_product_net(x, w)
    z = _sequential_sum(x * w, np.float64)  # dJ/db = z (y = 0, identity)
    true_error = float(abs(Fraction(z) - _exact_dot(x, w)))
    assert true_error <= rounding_tolerance(net, X, Y, np.float64)[-1] / 3


@pytest.mark.parametrize("d", [8, 64, 1000])
def test_partial_sums_loosen_the_float64_tolerance_far_below_a_real_fault(d):
    # The soak's smallest injected fault is 1e-6 of a block's largest entry.
    net = Network.random([10, 32, 32, 10], hidden="tanh", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(d, 10)), rng.uniform(size=(d, 10))
    theta, tol = backprop(net, X, Y).flat(), rounding_tolerance(net, X, Y, np.float64)
    for _, block, _ in net.layout.blocks:
        assert np.max(tol[block]) < 1e-10 * np.abs(theta[block]).max()


# ----------------------------------------------------------------------------- rounding_tolerance


def test_tolerance_scales_with_the_unit_roundoff_of_the_dtype():
    # smooth: S depends on u only through gamma_n = n u / (1 - n u) of the partial sums
    net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    floor = {t: SAFETY * float(np.finfo(t).tiny) for t in (np.float64, np.float32)}
    t64 = rounding_tolerance(net, X, Y, np.float64) - floor[np.float64]
    t32 = rounding_tolerance(net, X, Y, np.float32) - floor[np.float32]
    assert t32 / t64 == pytest.approx(2.0**29, rel=1e-6)  # (n u)^2 of float32 at n = 5
    np.testing.assert_array_equal(rounding_tolerance(net, X, Y, np.int64), t64 + floor[np.float64])


@pytest.mark.parametrize("hidden", ["identity", "relu", "leaky_relu"])
def test_relative_tolerance_of_a_piecewise_linear_network_does_not_depend_on_the_weight_scale(
    hidden,
):
    # An identity network is homogeneous: scaling every W^L and b^L by s scales every
    # product and sum alike, so the relative rounding error of each entry is unchanged;
    # h' of a piecewise-linear h does not move with an error in z (h'' = 0).
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    relative = []
    for scale in (1.0, 100.0, 1e4):
        net = Network.random([3, 4, 2], hidden=hidden, output="identity", seed=2, scale=scale)
        g = np.abs(backprop(net, X, Y).flat())
        relative.append(np.median(rounding_scale(net, X, Y)[g > 0] / g[g > 0]))
    assert max(relative) <= 10 * relative[0]


def _float32_candidate(hidden: str, wrong_entry: int | None) -> Any:
    """A float32 candidate (the reference's gradient rounded), one entry 5% off if asked."""

    def candidate(weights, biases, X, Y):
        net = Network(weights, biases, hidden=hidden, output="identity")
        theta = backprop(net, X, Y).flat().astype(np.float32)
        if wrong_entry is not None:
            theta[wrong_entry] *= np.float32(1.05)
        g = Gradients.from_flat(theta, net.sizes)
        return [W.astype(np.float32) for W in g.weights], [b.astype(np.float32) for b in g.biases]

    return candidate


@pytest.mark.parametrize("hidden", ["identity", "relu"])
def test_a_float32_candidate_five_percent_off_at_weight_scale_100_fails(hidden):
    net = Network.random([3, 4, 2], hidden=hidden, output="identity", seed=2, scale=100.0)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    theta = backprop(net, X, Y).flat()
    assert check_backprop_at(_float32_candidate(hidden, None), net, X, Y).passed
    for j in np.flatnonzero(np.abs(theta) > 1e-3 * np.abs(theta).max()):
        report = check_backprop_at(_float32_candidate(hidden, int(j)), net, X, Y)
        assert not report.passed, net.layout.name(int(j))


@pytest.mark.parametrize(
    ("name", "c"),
    [
        ("identity", 0),
        ("relu", 0),
        ("leaky_relu", 0),
        ("sigmoid", 1),
        ("softplus", 1),
        ("elu", 1),
        ("tanh", 2),
    ],
)
def test_h_second_bound_of_the_built_in_activations_bounds_h_double_prime(name, c):
    # |h''| <= c |h'|, with h'' by central differences of h' off the kink (z = 0)
    act = get_activation(name)
    z = np.concatenate([-np.logspace(-3, 1.5, 400), np.logspace(-3, 1.5, 400)])
    step = 1e-6
    h2 = (act.h_prime(z + step) - act.h_prime(z - step)) / (2 * step)
    assert act.h_second_bound == c
    assert np.all(np.abs(h2) <= c * np.abs(act.h_prime(z)) * (1 + 1e-6) + 1e-9)


def test_an_activation_that_does_not_bound_h_double_prime_keeps_the_conservative_term():
    # a user's (h, h') pair: h_second_bound None, so the model assumes |h''| <= 2 |h'|
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    tanh = Network.random([3, 4, 2], hidden="tanh", output="identity", seed=4, scale=3.0)
    own = replace(get_activation("tanh"), name="my_tanh", h_second_bound=None)
    mine = Network(tanh.weights, tanh.biases, hidden=own, output="identity")
    assert own.h_second_bound is None
    # ... and, its formulas unseen, the zone's `ZONE_ULPS` for its `a`, where tanh's is the libm's
    theirs, ours = rounding_scale(tanh, X, Y), rounding_scale(mine, X, Y)
    assert np.all(ours >= theirs)
    np.testing.assert_allclose(ours, theirs, rtol=0.02)


def test_an_all_zero_problem_is_allowed_only_the_underflow_floor():
    net = Network([np.zeros((2, 2))], [np.zeros(2)], hidden="identity")
    X, Y = np.zeros((3, 2)), np.zeros((3, 2))
    for dtype in (np.float64, np.float32):
        tol = rounding_tolerance(net, X, Y, dtype)
        np.testing.assert_array_equal(tol, SAFETY * float(np.finfo(dtype).tiny))


def test_rounding_scale_past_the_square_overflow_is_finite_and_never_below_the_entry():
    # weights of 1e54: entries ~1e162 of S, whose squares overflow; the L1 bound takes over
    net = Network.random([3, 4, 2], hidden="relu", output="identity", seed=2, scale=1e54)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    with np.errstate(over="ignore"):
        g = np.abs(backprop(net, X, Y).flat())
    S = rounding_scale(net, X, Y)
    assert np.isfinite(S).all() and S.max() > 1e154
    assert np.all(S >= (net.H + 2) * g)


def test_rounding_scale_never_modifies_its_arguments():
    net = Network.random([3, 4, 2], hidden="relu", output="softmax", cost="quadratic", seed=3)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    before = [a.copy() for a in (*net.weights, *net.biases, X, Y)]
    rounding_tolerance(net, X, Y, np.float32)
    for old, new in zip(before, (*net.weights, *net.biases, X, Y)):
        np.testing.assert_array_equal(old, new)


# ----------------------------------------------------------------------------- exact backprop


def _exact_backprop(mpmath: Any, net: Network, X: np.ndarray, Y: np.ndarray) -> list:
    """The article's backprop (sigmoid, quadratic cost) in mpmath, one example at a time, from
    the floats of `net`, `X`, `Y` taken exactly; flat order of NOTATION.md."""
    with mpmath.workdps(60):
        W = [[[mpmath.mpf(float(v)) for v in row] for row in w] for w in net.weights]
        b = [[mpmath.mpf(float(v)) for v in bias] for bias in net.biases]
        dW = [[[mpmath.mpf(0)] * len(row) for row in w] for w in W]
        db = [[mpmath.mpf(0)] * len(bias) for bias in b]
        d = X.shape[0]
        for x, y in zip(X, Y):
            a = [[mpmath.mpf(float(v)) for v in x]]  # a[0] is a^{-1} = x here
            for w, bias in zip(W, b):
                z = [
                    sum(w[m][n] * a[-1][m] for m in range(len(w))) + bias[n]
                    for n in range(len(bias))
                ]
                a.append([1 / (1 + mpmath.exp(-zn)) for zn in z])
            delta = [(aH - float(yn)) * aH * (1 - aH) for aH, yn in zip(a[-1], y)]
            for L in range(len(W) - 1, -1, -1):
                prev = a[L]  # a^{L-1}
                for m in range(len(prev)):
                    for n in range(len(delta)):
                        dW[L][m][n] += prev[m] * delta[n] / d
                for n in range(len(delta)):
                    db[L][n] += delta[n] / d
                if L:
                    delta = [
                        sum(W[L][m][n] * delta[n] for n in range(len(delta))) * p * (1 - p)
                        for m, p in enumerate(prev)
                    ]
        return [v for w, bias in zip(dW, db) for v in [*(e for row in w for e in row), *bias]]


def _numpy_backprop(net: Network, X: np.ndarray, Y: np.ndarray, dtype: type) -> np.ndarray:
    """A plain numpy backprop computed entirely in `dtype` (inputs rounded to it)."""
    weights = [w.astype(dtype) for w in net.weights]
    biases = [bias.astype(dtype) for bias in net.biases]
    A = [X.astype(dtype)]
    for w, bias in zip(weights, biases):
        A.append(1 / (1 + np.exp(-(A[-1] @ w + bias))))
    delta = (A[-1] - Y.astype(dtype)) * A[-1] * (1 - A[-1])
    flat = []
    for L in reversed(range(len(weights))):
        flat = [(A[L].T @ delta).ravel() / dtype(len(X)), delta.sum(axis=0) / dtype(len(X)), *flat]
        if L:
            delta = (delta @ weights[L].T) * A[L] * (1 - A[L])
    return np.concatenate(flat)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tolerance_covers_the_true_error_of_a_small_backprop_and_is_not_loose(dtype, seed):
    net = Network.random([3, 4, 2], hidden="sigmoid", seed=seed)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    mpmath = pytest.importorskip("mpmath")
    exact = _exact_backprop(mpmath, net, X, Y)
    got = backprop(net, X, Y).flat() if dtype is np.float64 else _numpy_backprop(net, X, Y, dtype)
    assert got.dtype == dtype
    true_error = np.array([float(abs(mpmath.mpf(float(g)) - e)) for g, e in zip(got, exact)])
    tolerance = rounding_tolerance(net, X, Y, dtype)
    assert np.all(true_error <= tolerance), np.max(true_error / tolerance)
    factor = float(np.median(tolerance / np.maximum(true_error, np.finfo(float).tiny)))
    print(f"{np.dtype(dtype).name} seed {seed}: median tolerance / true error = {factor:.0f}")
    assert factor < 1000


# ----------------------------------------------------------------------------- Comparison


def test_comparison_known_answers():
    c = compare(
        np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0, 7.0, 8.0]),
        np.array([1.0, 2.5, 3.0, 4.0, 5.0, 7.0, 9.0, 8.0]),
        np.array([0.0, 1.0, 0.0, 1.0, np.inf, 0.5, 1.0, 1.0]),
    )
    # equal with zero tolerance: 0; 0.5 / 1; NaN candidate: inf; 1 / 0.5; 2 / 1
    np.testing.assert_array_equal(c.excess, [0.0, 0.5, 0.0, np.inf, 0.0, 2.0, 2.0, 0.0])
    assert list(c.failing) == [3, 5, 6]  # worst first, ties in index order
    assert not c.passed


def test_comparison_differing_under_a_zero_tolerance_fails_by_inf():
    c = compare(np.array([1.0]), np.array([1.0 + 2.0**-52]), np.array([0.0]))
    assert c.excess[0] == np.inf and not c.passed


def test_comparison_an_infinite_tolerance_gives_no_pass_to_an_infinite_candidate():
    c = compare(np.array([np.inf, 1e300]), np.array([1.0, 1.0]), np.array([np.inf, np.inf]))
    np.testing.assert_array_equal(c.excess, [np.inf, 0.0])


def test_comparison_unchecked_entries_never_fail():
    c = compare(
        np.array([1.0, 9.0]),
        np.array([1.0, 1.0]),
        np.array([1e-12, 1e-12]),
        checked=np.array([True, False]),
    )
    assert c.passed and list(c.excess) == [0.0, 0.0]


def test_compare_checks_every_entry_by_default_and_returns_a_frozen_comparison():
    c = compare(np.zeros(3), np.zeros(3), np.ones(3))
    assert isinstance(c, Comparison) and c.checked.all() and c.passed
    with pytest.raises(AttributeError):
        c.tolerance = np.zeros(3)  # type: ignore[misc]


def test_a_float32_candidate_on_a_zero_softmax_layer_passes():
    from gradcheck.tolerance.independent import independent_backprop

    net = Network.random([3, 4, 4], hidden="tanh", output="softmax", seed=0)
    net = Network([net.weights[0], np.zeros((4, 4))], net.biases, hidden="tanh", output="softmax")
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(5, 3)), rng.dirichlet(np.ones(4), size=5)
    candidate = independent_backprop("tanh", "softmax", "quadratic", np.float32)
    assert check_backprop_at(candidate, net, X, Y).passed


def _cancelling_paths(scale=1.0):
    """Identity hidden layers whose two paths from the one output back to unit 0 of layer 0
    cancel exactly: delta^0_0 = delta^2 (W^1[0,0] W^2[0,0] + W^1[0,1] W^2[1,0]) = 0, while
    each path carries delta^2 whole. The output is a sigmoid near 1 (y (a - 1) errs by an
    ulp of 1, a large part of it)."""
    weights = [
        np.array([[scale, 0.5]]),
        np.array([[1.0, 1.0], [0.3, -0.7]]),
        np.array([[12.0], [-12.0]]),
    ]
    biases = [np.zeros(2), np.zeros(2), np.array([30.0])]
    net = Network(
        weights, biases, hidden="identity", output="sigmoid", cost="categorical_cross_entropy"
    )
    return net, np.array([[0.8], [-0.4]]), np.ones((2, 1))


def test_the_output_deltas_error_cancels_down_the_layers_where_the_value_does(monkeypatch):
    from gradcheck.tolerance import compare

    net, X, Y = _cancelling_paths()
    g = backprop(net, X, Y)
    assert g.weights[0][0, 0] == 0 and g.weights[1][0, 0] != 0  # delta^0_0 cancels exactly
    signed = rounding_scale(net, X, Y)
    monkeypatch.setattr(compare, "SIGNED_OUTPUT_ELEMENTS", 0)  # |W| magnitudes, as before
    magnitudes = rounding_scale(net, X, Y)
    W0 = next(block for name, block, _ in net.layout.blocks if name == "W^0")
    # W^0[0,0] = x delta^0_0: delta^2's error reaches it through the two paths, and cancels
    assert signed[W0][0] < magnitudes[W0][0] / 100
    # the entries the cancelling unit feeds (W^0[0,0], b^0[0]) only; elsewhere each path is
    # all there is, and the two agree
    fed = np.zeros(net.layout.size, dtype=bool)
    fed[[W0.start, next(b for n, b, _ in net.layout.blocks if n == "b^0").start]] = True
    assert np.all(signed[fed] < magnitudes[fed] / 100)
    np.testing.assert_allclose(signed[~fed], magnitudes[~fed], rtol=1e-12)
    # a correct candidate passes; one off in W^0[0,0] by 1e-17 fails, which passed before

    def off(weights, biases, X_, Y_):
        dW = [w.copy() for w in g.weights]
        dW[0][0, 0] += 1e-17
        return dW, g.biases

    assert check_backprop_at(off, net, X, Y).passed  # |W| magnitudes: 2.7 u, 9.6e-15
    monkeypatch.undo()
    assert check_backprop_at(lambda *a: (g.weights, g.biases), net, X, Y).passed
    assert not check_backprop_at(off, net, X, Y).passed
