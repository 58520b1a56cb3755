"""`network_numerical_gradient(executor=..., workers=...)`: bit-identical to serial, lost chunks rerun.

Thread and process pools, and Dask (in-process, and with 2 worker
processes), give the serial result bit for bit; a worker that dies in the
middle of a task has that task rerun, and the result is still identical.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np
import pytest
from _executors import DyingOnce, process_pool

from gradcheck import network_numerical_gradient
from reference import Network

SIZES = (6, 12, 3)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    net = Network.random(SIZES, hidden="tanh", output="sigmoid", seed=rng)
    X, Y = rng.normal(size=(8, SIZES[0])), rng.uniform(size=(8, SIZES[-1]))
    # small chunks: many tasks, so that every worker gets some
    serial = network_numerical_gradient(net, X, Y, memory_limit=2048)
    return net, X, Y, serial


def _same(result, serial) -> None:
    np.testing.assert_array_equal(result.flat(), serial.flat())
    np.testing.assert_array_equal(result.error.flat(), serial.error.flat())
    assert result.n_evaluations == serial.n_evaluations  # nothing counted twice


def test_thread_pool_is_bit_identical(case):
    net, X, Y, serial = case
    with ThreadPoolExecutor(2) as pool:
        _same(network_numerical_gradient(net, X, Y, memory_limit=2048, executor=pool), serial)


def test_workers_is_bit_identical(case):
    net, X, Y, serial = case
    _same(network_numerical_gradient(net, X, Y, memory_limit=2048, workers=2), serial)


def test_process_pool_is_bit_identical(case):
    net, X, Y, serial = case
    with process_pool(2) as pool:
        _same(network_numerical_gradient(net, X, Y, memory_limit=2048, executor=pool), serial)


class _Opaque(Executor):
    """A thread pool whose private attributes must not be read: only `submit` is public."""

    def __init__(self, workers):
        self._inner = ThreadPoolExecutor(workers)

    def submit(self, fn, /, *args, **kwargs):
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self._inner.shutdown(wait)

    @property
    def _max_workers(self):
        raise RuntimeError("a private attribute of the executor was read")


def test_only_the_executors_public_interface_is_used(case):
    net, X, Y, serial = case
    with _Opaque(2) as pool:
        _same(network_numerical_gradient(net, X, Y, memory_limit=2048, executor=pool), serial)


# ------------------------------------------------------------- dying workers


def test_a_dead_process_worker_has_its_chunks_rerun(case, tmp_path):
    net, X, Y, serial = case
    with process_pool(2) as pool:
        dying = DyingOnce(pool, tmp_path / "died")
        result = network_numerical_gradient(net, X, Y, memory_limit=2048, executor=dying)
    assert (tmp_path / "died").exists()
    _same(result, serial)


# ---------------------------------------------------------------------- dask


@pytest.fixture(scope="module")
def distributed():
    return pytest.importorskip("distributed")


def test_dask_in_process_is_bit_identical(case, distributed):
    net, X, Y, serial = case
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = network_numerical_gradient(
            net, X, Y, memory_limit=2048, executor=client.get_executor()
        )
    _same(result, serial)


def test_dask_worker_processes_identical_and_a_killed_worker_rerun(case, distributed, tmp_path):
    net, X, Y, serial = case
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = client.get_executor()
        _same(network_numerical_gradient(net, X, Y, memory_limit=2048, executor=executor), serial)
        dying = DyingOnce(executor, tmp_path / "died")
        result = network_numerical_gradient(net, X, Y, memory_limit=2048, executor=dying)
    assert (tmp_path / "died").exists()
    _same(result, serial)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(executor="pool"),
            TypeError,
            "`executor` must be a concurrent.futures.Executor (a thread or process pool, or "
            "distributed.Client.get_executor()), got str",
        ),
        (
            dict(workers=0),
            ValueError,
            "`workers` must be a positive integer number of processes, got 0",
        ),
        (
            dict(workers=1.5),
            TypeError,
            "`workers` must be a positive integer number of processes, got 1.5",
        ),
        (
            dict(workers=2, executor=ThreadPoolExecutor(1)),
            ValueError,
            "give `executor` or `workers`, not both (`workers` makes a process pool)",
        ),
    ],
)
def test_validation_messages(case, kwargs, error, message):
    net, X, Y, _ = case
    with pytest.raises(error) as info:
        network_numerical_gradient(net, X, Y, **kwargs)
    assert str(info.value) == message
