"""The verdict guard: the command line exits 0 only when its job ran to the end and passed.

A candidate is the user's code and runs in the checker's process: it can end
that process (``sys.exit(0)``, ``os._exit(0)``, an unguarded
``sys.exit(main())`` that runs on import, an `atexit` hook), and a CI
pipeline would read the status 0 as a pass.  `sys.exit` raises
`SystemExit`, which the loader and `gradcheck.oracle.candidate` report as the
candidate's failure; ``os._exit`` cannot be caught in-process.  So the
command runs in a forked child, and the parent (which runs no user code)
exits with the status the child *reported* through a pipe once `main`
returned; a child that ended without reporting fails the command, whatever
its exit status.

Why a fork and not ``subprocess``: the child inherits the parsed state, the
terminal and the file descriptors for free, with no second interpreter start
and no argv to re-quote.  Where there is no ``os.fork`` (Windows), the job
runs in-process: `SystemExit` is still caught, ``os._exit`` is not.

What it does not cover: code that deliberately tampers with the checker
(writes a fake verdict into the pipe, patches `check_backprop`) runs with
the checker's own rights; only a separate process for the candidate could
stop that, as ``--exec`` does for programs.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import warnings
from collections.abc import Callable

__all__ = ["run_guarded", "NO_VERDICT"]

NO_VERDICT = 1  # the exit status of a job whose process ended before it gave its verdict
_FORWARDED = ("SIGTERM", "SIGHUP")  # signals sent to the parent alone reach the job too


def run_guarded(job: Callable[[], int]) -> int:
    """`job()`'s exit status, counted only if `job` returned; `NO_VERDICT` otherwise.

    Examples
    --------
    >>> run_guarded(lambda: 0)
    0
    """
    if not hasattr(os, "fork"):
        return job()
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # JAX warns at any fork once it is loaded; the command line forks before any user code
        # (the parent imports no framework), and a test's job that forks has no JAX in it
        warnings.simplefilter("ignore", RuntimeWarning)
        pid = os.fork()
    if pid == 0:  # the child: run the job, report its status, never return to the caller
        os.close(read_end)
        _child(job, write_end)
    os.close(write_end)
    return _parent(pid, read_end)


def _child(job: Callable[[], int], write_end: int) -> None:
    status = NO_VERDICT
    try:
        status = job()
        os.write(write_end, f"{status}\n".encode())
    except SystemExit as exc:  # argparse's --help and usage errors: before any user code ran
        status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, (int, type(None))):  # sys.exit("message"), as Python does
            print(exc.code, file=sys.stderr)
        os.write(write_end, f"{status}\n".encode())
    except KeyboardInterrupt:  # Ctrl-C: end as Python does, killed by SIGINT (status 130)
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        os.close(write_end)
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _parent(pid: int, read_end: int) -> int:
    """Wait for the child (Ctrl-C reaches it through the terminal); its reported status."""
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    for name in _FORWARDED:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, lambda signum, _: os.kill(pid, signum))
    try:
        _, wait_status = os.waitpid(pid, 0)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    os.set_blocking(read_end, False)
    try:
        reported = os.read(read_end, 64)
    except BlockingIOError:
        reported = b""
    finally:
        os.close(read_end)
    if reported.strip().isdigit():
        return int(reported)
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    print(
        f"error: the check did not finish: its process ended with status "
        f"{os.waitstatus_to_exitcode(wait_status)} before giving a verdict (a candidate that "
        "calls os._exit or sys.exit ends the check; only a check that runs to the end passes)",
        file=sys.stderr,
    )
    return NO_VERDICT
