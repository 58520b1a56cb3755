"""Independent tasks on any `concurrent.futures.Executor`: shared data shipped once per worker, lost tasks rerun.

`scatter(executor, shared, work, tasks)` returns ``[work(shared, task) for
task in tasks]``, computed on the executor's workers: a thread pool, a
process pool, or a Dask cluster through ``distributed.Client.get_executor()``.

- **Shipped once per worker.** `shared` (a network, its data and forward
  pass: megabytes) is not sent with every task. Tasks carry a token; a
  worker process keeps what it was sent under that token in a module-level
  cache, and a task that finds no entry comes back as *missing*, to be sent
  again with the data. In-process workers (threads, Dask with
  ``processes=False``) find it at once: the caller's process registers it
  before submitting. So the data travels about once per worker process.
- **Lost tasks rerun.** A task whose worker died (a broken process pool, a
  Dask ``KilledWorker``, a cancelled future) is submitted again, up to
  `RERUNS` times, then computed in the calling process; an executor that
  refuses new work (a broken pool) has the rest computed there too. Each
  result is stored once, at its task's index: nothing is lost, nothing
  counted twice. Any other exception from `work` is the caller's error and
  is raised.
- **Bit-identical.** The tasks and what each computes do not depend on the
  executor, so results equal the serial run's, bit for bit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future, ProcessPoolExecutor
from typing import Any

__all__ = ["RERUNS", "Scatter", "process_pool", "scatter"]

RERUNS = 3  # submissions of a task whose worker died, before it runs in the caller's process
FIRST_WITH_DATA = 2  # tasks sent with the data up front, when the caller does not say `workers`
CACHE_ENTRIES = 4  # shared objects a worker keeps: the latest calls' (one per token)
_LOST_WORKER = ("KilledWorker", "CommClosedError", "FutureCancelledError")  # Dask's, by name

_cache: OrderedDict[str, Any] = OrderedDict()  # token -> shared, in each worker process
_cache_lock = threading.Lock()


class _Missing:
    """What a task returns when its worker has not been sent the shared data yet."""


class Scatter:
    """Runs tasks against one `shared` object on `executor`, over as many calls as needed.

    ``Scatter(executor, shared).map(work, tasks)`` returns ``[work(shared,
    task) for task in tasks]`` in order. The token (and so each worker's
    copy of `shared`) lasts as long as this object: use it as a context
    manager, or call `close`. With ``executor=None`` the tasks run here.
    `workers`, how many workers `executor` runs when the caller knows it
    (`concurrent.futures` has no public way to ask), is how many of the
    first tasks carry `shared`; default `FIRST_WITH_DATA`, and the others
    fetch it when they miss it.
    """

    def __init__(self, executor: Executor | None, shared: Any, *, workers: int | None = None):
        self.executor, self.shared = executor, shared
        self.workers = workers
        self.token = uuid.uuid4().hex
        self.shipped = 0  # how many times `shared` was sent along with a task
        if executor is not None:
            _remember(self.token, shared)  # in-process workers find it without shipping

    def __enter__(self) -> Scatter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        _forget(self.token)

    def map(self, work: Callable[[Any, Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """``[work(shared, task) for task in tasks]``; `work` a module-level function."""
        if self.executor is None:
            return [work(self.shared, task) for task in tasks]
        return _Run(self, work, tasks).results()


def scatter(
    executor: Executor | None,
    shared: Any,
    work: Callable[[Any, Any], Any],
    tasks: Sequence[Any],
    *,
    workers: int | None = None,
) -> list[Any]:
    """``[work(shared, task) for task in tasks]``, on `executor`'s workers (in order).

    `work` must be a module-level function (picklable by reference), and
    `shared` and the tasks picklable, for executors in other processes.
    With ``executor=None`` the tasks run here, one after the other.
    `workers`: how many workers `executor` runs, if known (see `Scatter`).
    """
    with Scatter(executor, shared, workers=workers) as run:
        return run.map(work, tasks)


class _Run:
    """One `Scatter.map`: submit, collect, resubmit the missing and the lost."""

    def __init__(self, scatter: Scatter, work: Callable[[Any, Any], Any], tasks: Sequence[Any]):
        self.scatter, self.work, self.tasks = scatter, work, tasks
        self.values: list[Any] = [None] * len(tasks)
        self.done = [False] * len(tasks)
        self.reruns = [0] * len(tasks)
        self.pending: dict[Future, int] = {}
        self.finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        self.broken = False

    def results(self) -> list[Any]:
        # The first few tasks carry the data, so that each worker likely has it early.
        first = self.scatter.workers or FIRST_WITH_DATA
        for k in range(len(self.tasks)):
            self.submit(k, with_data=k < first)
        # Completed futures arrive on a queue (O(1) each): `wait()` on every pending future
        # per completion was O(tasks^2) in this thread, under the GIL, and made 2 workers
        # slower than 1 (784-256-10: 1,500 tasks a call).
        try:
            while self.pending:
                future = self.finished.get()
                self.collect(future, self.pending.pop(future))
        except KeyboardInterrupt as stop:  # the tasks done so far, in order, for who keeps them
            first_missing = self.done.index(False) if False in self.done else len(self.done)
            stop.done_first = self.values[:first_missing]  # type: ignore[attr-defined]
            raise
        return self.values

    def collect(self, future: Future, k: int) -> None:
        try:
            value = future.result()
        except Exception as exc:
            if not _worker_lost(exc):
                raise
            self.reruns[k] += 1
            if self.reruns[k] > RERUNS:
                self.here(k)
            else:
                self.submit(k, with_data=True)  # a fresh worker may not have the data
            return
        if isinstance(value, _Missing):
            self.submit(k, with_data=True)
        else:
            self.store(k, value)

    def submit(self, k: int, *, with_data: bool) -> None:
        if not self.broken:
            scatter = self.scatter
            payload = scatter.shared if with_data else None
            try:
                future = scatter.executor.submit(  # type: ignore[union-attr]
                    _run, scatter.token, self.work, self.tasks[k], payload
                )
            except (BrokenExecutor, RuntimeError):  # a broken or shut-down executor
                self.broken = True
            else:
                scatter.shipped += with_data
                self.pending[future] = k
                future.add_done_callback(self.finished.put)
                return
        self.here(k)

    def here(self, k: int) -> None:
        """Run task k in this process."""
        self.store(k, self.work(self.scatter.shared, self.tasks[k]))

    def store(self, k: int, value: Any) -> None:
        if not self.done[k]:  # each task's result is stored once
            self.values[k], self.done[k] = value, True


def _worker_lost(exc: BaseException) -> bool:
    """Did the task fail because its worker died (rather than because `work` raised)?"""
    if isinstance(exc, (BrokenExecutor, CancelledError)):
        return True
    return type(exc).__name__ in _LOST_WORKER


def _run(token: str, work: Callable[[Any, Any], Any], task: Any, payload: Any) -> Any:
    """On a worker: `work(shared, task)`, with `shared` from this process's cache or `payload`."""
    if payload is not None:
        _remember(token, payload)
    with _cache_lock:
        shared = _cache.get(token, _Missing)
    if shared is _Missing:
        return _Missing()
    return work(shared, task)


def _remember(token: str, shared: Any) -> None:
    with _cache_lock:
        _cache[token] = shared
        _cache.move_to_end(token)
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)


def _forget(token: str) -> None:
    with _cache_lock:
        _cache.pop(token, None)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, each with one OpenBLAS thread unless the user chose.

    forkserver: workers are forked from a fresh server, not from a process that may
    run threads. N processes keep N cores busy; OpenBLAS's own threads on small
    matrices only fight them for the cores. The server's environment is its
    workers': they load numpy after the fork. Threads do not serve here: the
    engines' chunks hold the GIL for much of their time (measured: 2 threads
    1.18x one on raw chunks of 784-256-10, a process pool 1.4x).
    """
    with _environment("OPENBLAS_NUM_THREADS", "1"):
        multiprocessing.forkserver.ensure_running()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """`os.environ[name] = value` meanwhile, unless the user set `name`."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]
