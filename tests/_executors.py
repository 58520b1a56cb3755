"""Executors for the tests of scattered work: a forkserver process pool, and one whose first task dies."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path


def process_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver: workers forked from a fresh server, not from this process, whose other
    # tests may have started threads (JAX warns, rightly, that fork then can deadlock)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


def _die_once(marker: str, fn, *args):
    """Run `fn`, except the first time (across processes): then the worker process dies."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return fn(*args)
    os.close(fd)
    os._exit(1)


class DyingOnce(Executor):
    """Wraps an executor: the first task submitted through it kills its worker process."""

    def __init__(self, inner: Executor, marker: Path):
        self.inner, self.marker = inner, str(marker)

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(_die_once, self.marker, fn, *args, **kwargs)
