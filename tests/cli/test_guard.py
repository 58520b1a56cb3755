"""The verdict guard: no candidate can end the command with a false exit status 0."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from gradcheck.cli.guard import NO_VERDICT, run_guarded

RIGHT = """
    from reference import Network, backprop

    def f(weights, biases, X, Y):
        g = backprop(Network(weights, biases), X, Y)
        return g.weights, g.biases
"""

# Candidates that end the process with status 0 in the middle of a check, each its own way.
FAKERS = {
    "sys.exit in the call": "import sys\ndef f(weights, biases, X, Y):\n    sys.exit(0)\n",
    "os._exit in the call": "import os\ndef f(weights, biases, X, Y):\n    os._exit(0)\n",
    "sys.exit on import": "import sys\ndef f(weights, biases, X, Y):\n    pass\nsys.exit(0)\n",
    "os._exit at exit, after a failing check": (
        "import atexit, os\natexit.register(os._exit, 0)\n"
        "def f(weights, biases, X, Y):\n    raise ValueError('wrong')\n"
    ),
}

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the guard forks (POSIX)")


def _check(tmp_path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "cand.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "gradcheck", "check", "cand.py:f", "--quiet", "--trials", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@needs_fork
@pytest.mark.parametrize("how", FAKERS)
def test_a_candidate_that_exits_0_does_not_pass(tmp_path, how):
    done = _check(tmp_path, FAKERS[how])
    assert done.returncode != 0, done.stdout + done.stderr
    assert "PASSED" not in done.stdout


@needs_fork
def test_os_exit_is_reported_as_a_check_that_did_not_finish(tmp_path):
    done = _check(tmp_path, FAKERS["os._exit in the call"])
    assert done.returncode == NO_VERDICT
    assert "the check did not finish" in done.stderr and "os._exit" in done.stderr


def test_a_right_candidate_still_passes_under_the_guard(tmp_path):
    done = _check(tmp_path, RIGHT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout


@needs_fork
def test_run_guarded_counts_only_a_reported_status():
    assert run_guarded(lambda: 0) == 0
    assert run_guarded(lambda: 3) == 3
    assert run_guarded(lambda: os._exit(0)) == NO_VERDICT


def test_without_a_fork_os_exit_is_trapped_in_place(monkeypatch, capsys):
    """Windows has no fork: the job runs in place, and os._exit raises instead of ending it."""
    monkeypatch.delattr(os, "fork", raising=False)
    assert run_guarded(lambda: os._exit(0)) == NO_VERDICT
    assert "the check did not finish" in capsys.readouterr().err
    assert run_guarded(lambda: 0) == 0


@needs_fork
def test_run_guarded_keeps_usage_exits():
    """argparse's --help (0) and usage errors (2) end with SystemExit before any user code."""

    def usage():
        raise SystemExit(2)

    assert run_guarded(usage) == 2


@pytest.mark.parametrize("program", ["true", "sh -c 'exec 1>&-; exit 0'"])
def test_an_exec_program_that_exits_0_without_an_answer_fails(tmp_path, program):
    """The program runs in its own process: its exit status is never the command's."""
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "check", "--exec", program, "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
