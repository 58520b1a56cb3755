"""`check_vjp` and `check_layer` with ``executor=``: the grouped differences' points evaluated on a
thread or process pool, the report the serial one bit for bit, a slip still named."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _executors import process_pool
from _layers import (
    affine_backward,
    affine_backward_one_slip,
    affine_forward,
    conv_backward,
    conv_forward,
)

from gradcheck import check_layer, check_vjp

RNG = np.random.default_rng(2020)
CONV = {  # 182 entries: grouped differences
    "x": RNG.standard_normal((2, 2, 6, 6)),
    "w": RNG.standard_normal((2, 2, 3, 3)),
    "b": RNG.standard_normal(2),
}
AFFINE = {  # 18 entries: entry by entry
    "x": RNG.standard_normal((2, 3)),
    "W": RNG.standard_normal((3, 3)),
    "b": RNG.standard_normal(3),
}


def _border_bug(dout, cache):
    return conv_backward(dout, cache, skip_last_column=True)


def _same(a, b) -> bool:
    """Equal reports, bit for bit: repr of a float is exact, and NaN equals NaN."""
    return repr(a.to_dict()) == repr(b.to_dict())


@pytest.fixture(scope="module")
def processes():
    with process_pool(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def threads():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.mark.parametrize("pool", ["threads", "processes"])
@pytest.mark.parametrize(
    ("forward", "backward", "inputs", "passed"),
    [
        (conv_forward, conv_backward, CONV, True),
        (conv_forward, _border_bug, CONV, False),
        (affine_forward, affine_backward, AFFINE, True),
        (affine_forward, affine_backward_one_slip, AFFINE, False),
    ],
    ids=["conv", "conv-border-bug", "affine", "affine-slip"],
)
def test_a_pool_gives_the_serial_report_bit_for_bit(
    pool, forward, backward, inputs, passed, request
):
    serial = check_layer(forward, backward, inputs)
    scattered = check_layer(forward, backward, inputs, executor=request.getfixturevalue(pool))
    assert serial.passed is passed and _same(serial, scattered)
    if forward is conv_forward:
        assert serial.groups > 0  # the grouped path is what was scattered


def test_the_border_bug_is_still_named_on_a_process_pool(processes):
    report = check_layer(conv_forward, _border_bug, CONV, executor=processes)
    x = {s.name: s for s in report.inputs}["x"]
    assert not report.passed and x.failing > 0
    assert all(row.entry.endswith((",4]", ",5]")) for row in x.worst)


def _conv_out(x, w, b):
    return conv_forward(x, w, b)[0]


def test_check_vjp_on_a_process_pool_counts_the_calls_of_f_made_there(processes):
    vjp = lambda c, x, w, b: conv_backward(c, conv_forward(x, w, b)[1])  # noqa: E731 (stays here)
    serial = check_vjp(_conv_out, vjp, CONV)
    scattered = check_vjp(_conv_out, vjp, CONV, executor=processes)
    assert _same(serial, scattered) and scattered.n_evaluations == serial.n_evaluations > 100


def test_an_f_that_changes_its_input_on_a_worker_is_reported(threads):
    def f(x):
        out = np.sin(x)
        x += 1.0
        return out

    inputs = {"x": RNG.standard_normal((8, 9))}
    report = check_vjp(f, lambda c, x: (c * np.cos(x),), inputs, executor=threads)
    assert report.groups > 0 and report.mutated == ("x",)


def test_a_lambda_on_a_process_pool_is_refused_by_name(processes):
    with pytest.raises(TypeError, match=r"`f` must be picklable.*`executor`"):
        check_vjp(lambda x: x, lambda c, x: (c,), {"x": np.ones(3)}, executor=processes)
    with pytest.raises(TypeError, match=r"`forward` must be picklable.*`executor`"):
        check_layer(lambda x: (x, x), lambda d, x: d, [np.ones(3)], executor=processes)


def test_a_lambda_on_a_thread_pool_is_fine(threads):
    f = lambda x: np.tanh(x)  # noqa: E731
    report = check_vjp(
        f, lambda c, x: (c / np.cosh(x) ** 2,), [np.linspace(-1, 1, 80)], executor=threads
    )
    assert report.passed


def test_an_executor_that_is_not_one_is_refused_by_name():
    with pytest.raises(TypeError, match="`executor` must be a concurrent.futures.Executor"):
        check_vjp(np.sin, lambda c, x: (c * np.cos(x),), [np.ones(3)], executor=4)


class _Counting(ThreadPoolExecutor):
    """A thread pool that counts the tasks submitted to it."""

    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_the_entry_by_entry_path_is_scattered_too_and_names_the_slip():
    serial = check_layer(affine_forward, affine_backward_one_slip, AFFINE)
    with _Counting(2) as pool:
        report = check_layer(affine_forward, affine_backward_one_slip, AFFINE, executor=pool)
    assert report.groups == 0 and report.method == "entries" and _same(serial, report)
    assert report.failures[0] == "W[2,1]"
    # every point of the differences went to the pool, each once (the cotangents share them)
    assert 0 < pool.submitted <= report.n_evaluations


def _failing_in_groups(x, w, b):
    """The conv, failing at a point that moves some entries of `x` but not all (a group's)."""
    moved = np.sum(x != CONV["x"])
    if 1 < moved < x.size and not np.isnan(x).any():
        raise ArithmeticError("f failed at a group's point")
    return _conv_out(x, w, b)


def test_an_f_that_raises_on_a_worker_raises_here_as_serially():
    vjp = lambda c, x, w, b: conv_backward(c, conv_forward(x, w, b)[1])  # noqa: E731
    with pytest.raises(ArithmeticError, match="group's point"):
        check_vjp(_failing_in_groups, vjp, CONV)
    with _Counting(2) as pool, pytest.raises(ArithmeticError, match="group's point"):
        check_vjp(_failing_in_groups, vjp, CONV, executor=pool)
    assert pool.submitted > 0
