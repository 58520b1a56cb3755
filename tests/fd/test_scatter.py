"""gradcheck.fd.scatter: tasks against one shared object, in order, shipped once per worker, lost ones rerun."""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest
from _executors import process_pool

from gradcheck.fd.scatter import RERUNS, Scatter, scatter


def _add(shared, task):
    return shared + task


def test_without_an_executor_the_tasks_run_here_in_order():
    with Scatter(None, 10) as run:
        assert run.map(_add, [3, 1, 2]) == [13, 11, 12]
        assert run.shipped == 0
    assert scatter(None, 10, _add, []) == []


def test_a_shut_down_executor_runs_the_tasks_here():
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    assert scatter(pool, 1, _add, [1, 2, 3]) == [2, 3, 4]


class AlwaysLost(Executor):
    """Every task's worker dies: each future fails as a broken process pool does."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future = Future()
        future.set_exception(BrokenProcessPool("a worker died"))
        return future


def test_a_task_whose_worker_keeps_dying_is_rerun_then_run_here():
    executor = AlwaysLost()
    assert scatter(executor, 100, _add, [1, 2]) == [101, 102]
    assert executor.submitted == 2 * (1 + RERUNS)  # the first try and RERUNS reruns, each


def _who_has(shared, task):
    return os.getpid(), shared["size"], task


def test_shared_data_travels_once_per_worker_not_per_task():
    tasks = list(range(40))
    with process_pool(2) as pool, Scatter(pool, {"size": 3}) as run:
        first = run.map(_who_has, tasks)
        shipped = run.shipped
        again = run.map(_who_has, tasks)  # a second call: the workers keep the data
    assert [t for _, _, t in first] == tasks and all(s == 3 for _, s, _ in first)
    assert [t for _, _, t in again] == tasks
    assert shipped <= 2 + 2  # the first wave (one per worker) plus, at most, one miss each
    assert run.shipped <= shipped + 2


def test_in_process_workers_need_no_shipping():
    with ThreadPoolExecutor(2) as pool, Scatter(pool, {"size": 3}) as run:
        assert [t for _, _, t in run.map(_who_has, range(10))] == list(range(10))


def test_the_first_tasks_carry_the_data_to_as_many_workers_as_the_caller_says():
    with ThreadPoolExecutor(2) as pool:
        for workers, shipped in [(None, 2), (3, 3), (5, 5)]:
            with Scatter(pool, {"size": 3}, workers=workers) as run:
                run.map(_who_has, range(10))
            assert run.shipped == shipped, workers  # in-process: no task ever misses the data


def test_an_error_in_the_work_is_raised_not_rerun():
    with ThreadPoolExecutor(1) as pool, pytest.raises(ZeroDivisionError):
        scatter(pool, 0, _divide, [1, 2])


def _divide(shared, task):
    return task / shared


# ------------------------------------------------------------- dying workers
