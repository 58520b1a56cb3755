"""`gradcheck.fd.footprints`: which outputs each entry reaches, probed and hypothesised from `f`.

A convolution's and an affine layer's footprints are hypothesised exactly from a few probes (each
entry's hypothesis equals its own probe); a softmax over everything is dense; an `f` that hides
NaN (`np.where`) is still probed by its step; an `f` that refuses NaN gets no NaN probe.
"""

from __future__ import annotations

import numpy as np
from _layers import conv_forward

from gradcheck.fd.footprints import hypothesise, nan_reach, probe

RNG = np.random.default_rng(3)


def _conv_f(shapes):
    sizes = [int(np.prod(s)) for s in shapes]

    def f_vec(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        x, w, b = (p.reshape(s) for p, s in zip(parts, shapes, strict=True))
        return conv_forward(x, w, b)[0].ravel()

    return f_vec


def test_a_convolutions_footprints_are_hypothesised_exactly_from_a_few_probes():
    shapes = [(2, 2, 5, 5), (3, 2, 3, 3), (3,)]
    theta = RNG.standard_normal(sum(int(np.prod(s)) for s in shapes))
    f_vec = _conv_f(shapes)
    f0 = f_vec(theta)
    footprints = hypothesise(f_vec, theta, f0, shapes, (2, 3, 5, 5))
    for j in range(theta.size):
        measured = np.flatnonzero(probe(f_vec, theta, f0, j))
        assert np.array_equal(np.sort(footprints.of(j)), measured), j


def test_an_affine_layers_footprints_are_rows_and_columns():
    x, W = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5))
    theta = np.concatenate([x.ravel(), W.ravel()])

    def f_vec(t):
        return (t[:12].reshape(4, 3) @ t[12:].reshape(3, 5)).ravel()

    footprints = hypothesise(f_vec, theta, f_vec(theta), [(4, 3), (3, 5)], (4, 5))
    assert footprints.of(4).tolist() == list(range(5, 10))  # x[1,1] reaches row 1
    assert footprints.of(12 + 7).tolist() == [2, 7, 12, 17]  # W[1,2] reaches column 2


def test_a_softmax_over_everything_is_dense():
    theta = RNG.standard_normal(6)

    def f_vec(t):
        e = np.exp(t)
        return e / e.sum()

    assert hypothesise(f_vec, theta, f_vec(theta), [(6,)], (6,)).dense()


def test_an_f_that_hides_nan_is_probed_by_its_step():
    theta = np.array([0.5, 1.0, 2.0])

    def hides(t):
        return np.where(t > 0, t, 0.0)  # NaN > 0 is False: NaN never reaches the output

    assert not nan_reach(hides, theta, np.array([1]), 3).any()
    assert probe(hides, theta, hides(theta), 1).tolist() == [False, True, False]


def test_an_f_that_refuses_nan_gets_no_nan_probe():
    def refuses(t):
        if np.isnan(t).any():
            raise ValueError("NaN")
        return 2 * t

    assert nan_reach(refuses, np.ones(3), np.array([0]), 3) is None
