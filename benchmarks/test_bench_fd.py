"""Finite differences: time and accuracy of the network engine against what one would use instead.

One group per shape (``finite differences 64-128-10,d=64``) holds

- `network_numerical_gradient`, Richardson (the default) and centred;
- the naive path with the same stencil: ``structured=False``, a full forward
  pass per point;
- the textbook loop: two calls of ``net.cost`` per entry, centred;
- ``torch.autograd.gradcheck`` (slow mode, and ``fast_mode=True``) on the
  same float64 cost as a function of the flat parameters;
- ``scipy.optimize.check_grad``.

Every benchmark records in ``extra_info`` its accuracy, ``max_abs_error``
(the largest difference from `backprop`, the oracle; for torch's fast mode,
which checks one random direction only, ``directional_error``), and how many
cost evaluations it made.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime, check_grad

from gradcheck import network_numerical_gradient
from reference import backprop

from ._cases import Case, case, case_params, label, max_abs_error, split_flat, timed, torch_cost

FD_SHAPES = [((10, 20, 20, 5), 32), ((64, 128, 10), 64)]
SLOW_SHAPES = {(64, 128, 10)}  # the naive competitors take seconds a call here
FD_TOLERANCE = 1e-6  # every method here is far better than this; scipy's forward differences ~1e-8
CENTRAL_STEP = np.finfo(np.float64).eps ** (1 / 3)  # the classical step for centred differences
TORCH_STEP = 1e-6  # torch.autograd.gradcheck's default `eps`, an absolute step
# check_grad's default `epsilon`, for forward differences
SCIPY_STEP = np.sqrt(np.finfo(np.float64).eps)

SHAPES = case_params(FD_SHAPES)


def loop_central(f, theta, *, step=CENTRAL_STEP, relative=True):
    """The textbook gradient check: for each entry, `(f(theta + h e_j) - f(theta - h e_j)) / 2h`."""
    moved = theta.copy()
    g = np.empty_like(theta)
    for j, x in enumerate(theta):
        h = step * max(abs(x), 1.0) if relative else step
        moved[j] = x + h
        f_plus = f(moved)
        moved[j] = x - h
        f_minus = f(moved)
        moved[j] = x
        g[j] = (f_plus - f_minus) / (2 * h)
    return g


def start(benchmark, c: Case, form: str) -> bool:
    """Label a finite-difference benchmark; True if it is one of the slow ones on this shape."""
    label(benchmark, group=f"finite differences {c.id}", form=form, kind="fd", case=c)
    return c.sizes in SLOW_SHAPES


def record(benchmark, c: Case, gradient, *, n_evaluations: int) -> None:
    """Check the numerical gradient against the reference once, and record its accuracy."""
    error = max_abs_error(gradient, c.expected.flat())
    benchmark.extra_info.update(max_abs_error=error, n_evaluations=int(n_evaluations))
    assert error < FD_TOLERANCE, (
        f"{benchmark.extra_info['form']} on {c.id}: max |fd - backprop| = {error:.2e}"
    )


@pytest.mark.parametrize("sizes, d", SHAPES)
@pytest.mark.parametrize("method", ["richardson", "central"])
def test_engine(benchmark, method, sizes, d):
    c = case(sizes, d)
    start(benchmark, c, f"fd {method}")
    fd = timed(benchmark, network_numerical_gradient, c.net, c.X, c.Y, method=method)
    record(benchmark, c, fd.flat(), n_evaluations=fd.n_evaluations)


@pytest.mark.parametrize("sizes, d", SHAPES)
def test_naive_same_stencil(benchmark, sizes, d):
    c = case(sizes, d)
    slow = start(benchmark, c, "fd naive richardson")
    fd = timed(benchmark, network_numerical_gradient, c.net, c.X, c.Y, structured=False, slow=slow)
    record(benchmark, c, fd.flat(), n_evaluations=fd.n_evaluations)


@pytest.mark.parametrize("sizes, d", SHAPES)
def test_loop_of_cost_calls(benchmark, sizes, d):
    c = case(sizes, d)
    slow = start(benchmark, c, "loop central")
    g = timed(benchmark, loop_central, c.cost, c.net.flat(), slow=slow)
    record(benchmark, c, g, n_evaluations=2 * c.n_params)


@pytest.mark.parametrize("sizes, d", SHAPES)
@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow_mode", "fast_mode"])
def test_torch_gradcheck(benchmark, torch, fast_mode, sizes, d):
    c = case(sizes, d)
    on_slow_shape = start(benchmark, c, "torch gradcheck fast" if fast_mode else "torch gradcheck")
    X, Y = torch.from_numpy(c.X), torch.from_numpy(c.Y)

    def J(theta):  # the same float64 cost, of the flat parameters in NOTATION.md's order
        return torch_cost(torch, *split_flat(theta, c.sizes), X, Y)

    theta = torch.tensor(c.net.flat(), requires_grad=True)
    torch.autograd.gradcheck(J, (theta,), fast_mode=True)  # first call initialises torch: not timed
    slow = on_slow_shape and not fast_mode  # fast mode takes milliseconds anywhere
    passed = timed(benchmark, torch.autograd.gradcheck, J, (theta,), fast_mode=fast_mode, slow=slow)
    assert passed is True

    def f(theta):
        with torch.no_grad():
            return float(J(torch.from_numpy(theta)))

    if fast_mode:  # one central difference along a random unit direction u, against u^T g
        u = np.random.default_rng(0).normal(size=c.n_params)
        u /= np.linalg.norm(u)
        x = c.net.flat()
        numerical = (f(x + TORCH_STEP * u) - f(x - TORCH_STEP * u)) / (2 * TORCH_STEP)
        benchmark.extra_info.update(
            directional_error=abs(numerical - u @ c.expected.flat()), n_evaluations=2
        )
    else:  # torch's stencil, entry by entry: what its numerical Jacobian holds
        record(
            benchmark,
            c,
            loop_central(f, c.net.flat(), step=TORCH_STEP, relative=False),
            n_evaluations=2 * c.n_params,
        )


@pytest.mark.parametrize("sizes, d", SHAPES)
def test_scipy_check_grad(benchmark, sizes, d):
    c = case(sizes, d)
    slow = start(benchmark, c, "scipy check_grad")

    def grad(theta):  # the backprop being checked
        return backprop(c.net.with_flat(theta), c.X, c.Y).flat()

    theta = c.net.flat()
    norm = timed(benchmark, check_grad, c.cost, grad, theta, slow=slow)
    benchmark.extra_info["check_grad"] = float(norm)  # ||grad - forward differences||_2
    record(benchmark, c, approx_fprime(theta, c.cost, SCIPY_STEP), n_evaluations=c.n_params + 1)
