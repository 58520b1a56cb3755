"""Test functions with exact gradients: each maker takes (rng, n) and returns f (for real and
complex 1-D input), its exact gradient in long double, and a point.

"mixed" spreads theta over six orders of magnitude, each entry with a natural scale of its own
size; "offset" puts |theta| near 1e3 with a natural scale of 1. Long double (where the platform
has it) makes the true error of a numerical entry measurable, not guessed.
"""

from __future__ import annotations

import numpy as np

LD = np.longdouble
LD_EPS = float(np.finfo(np.longdouble).eps)  # the reference's own rounding


def _exp(rng, n):
    a, theta = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    return (lambda x: np.sum(np.exp(a * x))), (lambda x: LD(a) * np.exp(LD(a) * LD(x))), theta


def _sin(rng, n):
    theta, c = rng.uniform(-5, 5, n), rng.uniform(0.5, 2, n)

    def grad(x):
        x = LD(x)
        g = LD(c) * np.cos(LD(c) * x) * np.cos(x[0])
        g[0] -= np.sum(np.sin(LD(c) * x)) * np.sin(x[0])
        return g

    return (lambda x: np.sum(np.sin(c * x)) * np.cos(x[0])), grad, theta


def _log(rng, n):
    theta = rng.uniform(0.01, 10, n)
    f = lambda x: np.sum(np.log(x) * x) + np.log(np.sum(x))
    return f, (lambda x: np.log(LD(x)) + 1 + 1 / np.sum(LD(x))), theta


def _poly(rng, n):
    theta, c = rng.normal(0, 2, n), rng.normal(size=n)
    f = lambda x: np.sum(c * x**3) + np.sum(x) ** 2 - 0.5 * np.sum(x**4) / n
    grad = lambda x: 3 * LD(c) * LD(x) ** 2 + 2 * np.sum(LD(x)) - 2 * LD(x) ** 3 / n
    return f, grad, theta


def _net(rng, n):
    A, theta = rng.normal(size=(max(3, n // 3), n)) / np.sqrt(n), rng.normal(size=n)

    def grad(x):
        t = np.tanh(LD(A) @ LD(x))
        return 2 * np.sum(t) * (LD(A).T @ (1 - t * t))

    return (lambda x: np.sum(np.tanh(A @ x)) ** 2), grad, theta


def _logsumexp(rng, n):
    A, b = rng.normal(size=(max(3, n // 2), n)), rng.normal(size=n)
    theta = rng.normal(size=n) / 2

    def grad(x):
        z = LD(A) @ LD(x)
        p = np.exp(z - z.max())
        return LD(A).T @ (p / p.sum()) - LD(b)

    return (lambda x: np.log(np.sum(np.exp(A @ x))) - b @ x), grad, theta


def _mixed(rng, n):
    theta = 10.0 ** rng.uniform(-3, 3, n) * rng.choice([-1.0, 1.0], n)
    s, c = np.abs(theta) * rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, n)
    f = lambda x: np.sum(c * (x / s) ** 3) + np.sum(np.sin(x / s)) + np.exp(0.1 * np.sum(x / s))

    def grad(x):
        u = LD(x) / LD(s)
        return (3 * LD(c) * u**2 + np.cos(u) + LD(0.1) * np.exp(LD(0.1) * np.sum(u))) / LD(s)

    return f, grad, theta


def _offset(rng, n):
    theta = rng.uniform(100, 1000, n) * rng.choice([-1.0, 1.0], n)
    return (lambda x: np.sum(np.sin(x)) + 10), (lambda x: np.cos(LD(x))), theta


def _rosenbrock(rng, n):
    theta = rng.uniform(-2, 2, n)

    def grad(x):
        x = LD(x)
        g = np.zeros_like(x)
        g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        g[1:] += 200 * (x[1:] - x[:-1] ** 2)
        return g

    f = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return f, grad, theta


FUNCTIONS = {
    "exp": _exp,
    "sin": _sin,
    "log": _log,
    "poly": _poly,
    "net": _net,
    "logsumexp": _logsumexp,
    "mixed": _mixed,
    "offset": _offset,
    "rosenbrock": _rosenbrock,
}
