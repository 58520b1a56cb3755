"""The reaper of ``--exec`` programs (Linux): it runs the program, then kills all it left behind.

Killing a program's process group misses a descendant that left the group
(``setsid``, a daemon's double fork), and once its parent has died it belongs
to init. The reaper makes itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``),
so every orphaned descendant of the program becomes its child instead; when
the program exits, or on SIGTERM (gradcheck's timeout), it kills its children
until none is left, then exits with the program's status (a program killed by
a signal: the reaper ends by the same signal).

`gradcheck.adapters.protocol.program` runs it as a script,
``python -I -S reaper.py PROGRAM ARGS...``: it imports the standard library
only, so it starts in milliseconds, and the program inherits its stdin,
stdout and stderr.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
EXEC_FAILED = 127  # the status of a program that could not be started, as a shell gives it
SWEEP_ROUNDS = 1000  # rounds of kill-and-reap at most (5 s): each round adopts a generation
SWEEP_PAUSE = 0.005  # seconds for the killed to die and their children to be adopted


def children() -> list[int]:
    """The process ids whose parent is this process (from /proc)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == me:  # fields after "(comm)": state, ppid, ...
            found.append(int(entry))
    return found


def sweep() -> None:
    """Kill every child, reap it, and so on with the children each leaves behind, until none."""
    for _ in range(SWEEP_ROUNDS):
        alive = children()
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(SWEEP_PAUSE)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


def _on_sigterm(*_: object) -> None:
    """gradcheck's timeout: the program and all it left, killed; the reaper ends as SIGTERM's."""
    sweep()
    os._exit(128 + signal.SIGTERM)


def main(argv: list[str]) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, _on_sigterm)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"could not be started: {exc.strerror}\n".encode())
            os._exit(EXEC_FAILED)
    _, status = os.waitpid(pid, 0)
    sweep()
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the program's crash, not the reaper's
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
