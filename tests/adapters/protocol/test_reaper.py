"""gradcheck.adapters.protocol.reaper: what a program leaves behind, even outside its group, dies."""

from __future__ import annotations

import shutil
import sys

import pytest
from _helpers import process_gone

from gradcheck import trial_case
from gradcheck.adapters.protocol.program import CandidateProgramError, exec_candidate
from gradcheck.adapters.protocol.reaper import children

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("setsid") is None,
    reason="a child subreaper is Linux's; the test needs setsid(1)",
)


def _one_case(candidate) -> None:
    net, X, Y = trial_case([3, 4, 2], 2, seed=0)
    with pytest.raises(CandidateProgramError):  # none of these programs answers
        candidate(net.weights, net.biases, X, Y)


@pytest.mark.parametrize("persistent", [False, True])
def test_a_descendant_that_called_setsid_dies_with_the_case(tmp_path, persistent):
    pidfile = tmp_path / "pid"
    script = f"setsid sleep 300 & echo $! > {pidfile}; read line; exit 3"
    with exec_candidate(["sh", "-c", script], timeout=30, persistent=persistent) as candidate:
        _one_case(candidate)
    assert process_gone(int(pidfile.read_text()))


def test_a_descendant_that_called_setsid_dies_with_a_timed_out_program(tmp_path):
    pidfile = tmp_path / "pid"
    script = f"setsid sleep 300 & echo $! > {pidfile}; exec sleep 300"
    _one_case(exec_candidate(["sh", "-c", script], timeout=1))
    assert process_gone(int(pidfile.read_text()))


def test_children_lists_this_processs_children():
    import subprocess

    with subprocess.Popen(["sleep", "30"]) as proc:
        assert proc.pid in children()
        proc.kill()
