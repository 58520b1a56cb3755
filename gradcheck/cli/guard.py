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
its exit status (`gradcheck.oracle.sealed.in_fork`).

Why a fork and not ``subprocess``: the child inherits the parsed state, the
terminal and the file descriptors for free, with no second interpreter start
and no argv to re-quote.  Where there is no ``os.fork`` (Windows), the job
runs in-process under `gradcheck.oracle.sealed.trapped_exits`: `SystemExit` is
caught, and so is a call of ``os._exit``, but not a reference to it taken
before the check or C code's ``_exit``.

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
from collections.abc import Callable

from gradcheck.oracle.sealed import ExitAttempted, in_fork, trapped_exits

__all__ = ["run_guarded", "NO_VERDICT"]

NO_VERDICT = 1  # the exit status of a job whose process ended before it gave its verdict


def run_guarded(job: Callable[[], int]) -> int:
    """`job()`'s exit status, counted only if `job` returned; `NO_VERDICT` otherwise.

    The command line imports no framework before its job, so the fork is safe here.

    Examples
    --------
    >>> run_guarded(lambda: 0)
    0
    """
    if not hasattr(os, "fork"):
        with trapped_exits():
            try:
                return _exit_status(job)
            except ExitAttempted as exc:
                return _unfinished(exc.status)
    reported, wait_status = in_fork(
        lambda: f"{_exit_status(job)}\n".encode(),
        forward_signals=True,
        at_exit=atexit._run_exitfuncs,
    )
    if reported.strip().isdigit():
        return int(reported)
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return _unfinished(os.waitstatus_to_exitcode(wait_status))


def _exit_status(job: Callable[[], int]) -> int:
    """`job()`, or the status of argparse's `SystemExit` (--help, a usage error: before any user
    code ran); Ctrl-C ends the process as Python does, killed by SIGINT (status 130)."""
    try:
        return job()
    except SystemExit as exc:
        if not isinstance(exc.code, (int, type(None))):  # sys.exit("message"), as Python does
            print(exc.code, file=sys.stderr)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except KeyboardInterrupt:
        if not hasattr(os, "fork"):
            raise
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        raise


def _unfinished(status: int) -> int:
    print(
        f"error: the check did not finish: its process ended with status {status} before "
        "giving a verdict (a candidate that calls os._exit or sys.exit ends the check; only a "
        "check that runs to the end passes)",
        file=sys.stderr,
    )
    return NO_VERDICT
