"""Sealed jobs: what a forked copy reported, and os._exit trapped in place where no fork can be."""

from __future__ import annotations

import os
import sys
import types
import warnings

import pytest

from gradcheck.oracle.sealed import FORK_UNSAFE, ExitAttempted, can_fork, in_fork, trapped_exits

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")


def test_os_exit_raises_inside_the_trap_and_is_restored_after_it():
    original = os._exit
    with trapped_exits(), pytest.raises(ExitAttempted) as caught:
        os._exit(3)
    assert caught.value.status == 3
    assert os._exit is original


def test_the_trap_is_not_swallowed_by_user_code_catching_exception():
    def candidate():
        try:
            os._exit(0)
        except Exception:  # what careless user code does
            return "swallowed"
        return "went on"

    with trapped_exits(), pytest.raises(ExitAttempted):
        candidate()


def test_the_trap_is_lifted_even_when_the_block_raises():
    original = os._exit
    with pytest.raises(ValueError), trapped_exits():
        raise ValueError("boom")
    assert os._exit is original


def test_a_fork_unsafe_library_loaded_means_no_fork(monkeypatch):
    monkeypatch.setitem(sys.modules, FORK_UNSAFE[0], types.ModuleType(FORK_UNSAFE[0]))
    assert not can_fork()


@needs_fork
def test_in_fork_returns_what_the_copy_reported_and_its_status():
    data, status = in_fork(lambda: b"42\n")
    assert data == b"42\n" and os.waitstatus_to_exitcode(status) == 0


@needs_fork
def test_a_copy_that_ends_itself_reports_nothing():
    data, status = in_fork(lambda: os._exit(7))
    assert data == b"" and os.waitstatus_to_exitcode(status) == 7


@needs_fork
def test_what_the_copy_changes_stays_in_the_copy():
    seen = {"value": 1}

    def job():
        seen["value"] = 2
        return str(seen["value"]).encode()

    assert in_fork(job)[0] == b"2" and seen["value"] == 1


@needs_fork
def test_at_exit_runs_after_the_report_and_cannot_change_it():
    data, _ = in_fork(lambda: b"1\n", at_exit=lambda: os._exit(0))
    assert data == b"1\n"


@needs_fork
def test_a_process_forked_inside_the_trap_still_ends_at_its_os_exit():
    """A pool worker forked under the trap must end, not raise and run on as a copy of the caller."""
    with trapped_exits(), warnings.catch_warnings():
        # JAX and Python 3.12 warn of forking with threads: the child only ends, at once
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
        if pid == 0:
            os._exit(7)  # the child: must end here with status 7
            os.abort()  # never reached; if it were, the status would say so
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
