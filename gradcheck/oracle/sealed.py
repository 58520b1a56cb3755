"""Sealed jobs: a check whose process the user's code cannot end with a false verdict.

A candidate is the user's code, run in the checker's process, and it can end
that process: ``sys.exit(0)`` raises `SystemExit`, which the callers of a
candidate report as its failure, but ``os._exit(0)`` ends the process at once,
and a command line or a pytest session that ends with status 0 reads as a pass.
Two seals, the strongest that works here:

- `in_fork`: the job runs in a forked copy of the process, and the caller takes
  only what the copy *reported* before it ended. Nothing the copy does can
  stand for a verdict. Used wherever ``os.fork`` exists and is safe.
- `trapped_exits`: in place, for the job's duration ``os._exit`` is replaced by
  a function that raises `ExitAttempted` (a `BaseException`, so an ``except
  Exception`` in user code does not swallow it). Used where there is no fork
  (Windows), or where a forked copy would hang: once a library whose worker
  threads do not survive a fork is loaded (`FORK_UNSAFE`: PyTorch's OpenMP
  pool hangs the copy's first parallel operation). It catches the usual call,
  ``os._exit(n)`` looked up at call time; it cannot catch a reference taken
  before the job (``from os import _exit``), C code calling ``_exit``, or a
  signal. The fork catches all of these. A process forked inside the block (a
  process pool's worker) keeps the real ``os._exit``.

What neither covers: code that tampers with the checker itself (patches
`check_backprop`, writes a fake report) runs with the checker's rights; only a
separate program, as ``--exec`` runs, stops that.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["FORK_UNSAFE", "ExitAttempted", "can_fork", "in_fork", "trapped_exits"]

#: Libraries whose worker threads do not survive a fork: once one is loaded, a forked copy of
#: this process can hang in its first parallel operation (seen: torch after a multithreaded matmul).
FORK_UNSAFE = ("torch", "jax", "jaxlib", "tensorflow")
_FORWARDED = ("SIGTERM", "SIGHUP")  # signals sent to the waiting parent alone reach the copy too


class ExitAttempted(BaseException):
    """The job called ``os._exit(status)`` under `trapped_exits`: the process was not ended."""

    def __init__(self, status: int) -> None:
        super().__init__(f"os._exit({status!r}) was called")
        self.status = status


def can_fork() -> bool:
    """Whether `in_fork` can seal a job here: ``os.fork`` exists and no `FORK_UNSAFE` library is
    loaded."""
    return hasattr(os, "fork") and not any(name in sys.modules for name in FORK_UNSAFE)


@contextmanager
def trapped_exits() -> Iterator[None]:
    """``os._exit`` raises `ExitAttempted` inside the block (and is restored after it).

    Examples
    --------
    >>> with trapped_exits():
    ...     try:
    ...         os._exit(0)
    ...     except ExitAttempted as exc:
    ...         print(exc.status)
    0
    """

    modules = [os, *(sys.modules[n] for n in ("posix", "nt") if n in sys.modules)]
    saved = [(module, module._exit) for module in modules]
    original, here = os._exit, os.getpid()

    def refuse(status: int) -> None:
        if os.getpid() != here:  # a process forked inside the block (a worker of a process
            original(status)  # pool) ends as it must, never running on into this one's code
        raise ExitAttempted(status)

    for module, _ in saved:
        setattr(module, "_exit", refuse)  # noqa: B010 (the stubs do not know posix._exit)
    try:
        yield
    finally:
        for module, original in saved:
            setattr(module, "_exit", original)  # noqa: B010


def in_fork(
    job: Callable[[], bytes],
    *,
    forward_signals: bool = False,
    at_exit: Callable[[], None] | None = None,
) -> tuple[bytes, int]:
    """Run `job` in a forked copy: the bytes it returned (b"" if the copy ended before it
    returned) and the copy's wait status.

    `job` handles its own exceptions. After the copy has sent its bytes it runs `at_exit` (a
    command's `atexit` hooks: too late to change what was reported), then ends. With
    `forward_signals`, Ctrl-C is left to reach the copy through the terminal, and SIGTERM or
    SIGHUP sent to this process alone is passed on to it.
    """
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():  # Python 3.12 and JAX warn of forking with threads: the
        warnings.simplefilter("ignore", DeprecationWarning)  # copy runs the job, nothing else
        warnings.simplefilter("ignore", RuntimeWarning)
        pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _copy(job, write_end, at_exit)
    os.close(write_end)
    previous = _forwarding(pid) if forward_signals else {}
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, wait_status = os.waitpid(pid, 0)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return data, wait_status


def _copy(job: Callable[[], bytes], write_end: int, at_exit: Callable[[], None] | None) -> None:
    """In the forked copy: run `job`, send what it returned, and end without returning."""
    try:
        data = job()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        if at_exit is not None:
            at_exit()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _forwarding(pid: int) -> dict[int, Any]:
    previous: dict[int, Any] = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    for name in _FORWARDED:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, lambda signum, _: os.kill(pid, signum))
    return previous
