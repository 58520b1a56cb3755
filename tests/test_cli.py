"""The command line: the main job verifies the reference and exits 0."""

from __future__ import annotations

import io
import subprocess
import sys

from gradcheck.cli import main


def test_main_job_passes_and_prints_the_table():
    out = io.StringIO()
    assert main(["--quiet"], out=out) == 0
    text = out.getvalue()
    assert "hidden" in text and "vs loops" in text and "FAIL" not in text
    assert "11 of 11 configurations verified" in text


def test_python_dash_m_gradcheck_runs():
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "--quiet"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configurations verified" in done.stdout


def test_main_job_fails_when_a_form_is_wrong(monkeypatch):
    """The self-check can fail: a loop form off by 1e-9 in one entry is caught."""
    import gradcheck.selfcheck as selfcheck
    from reference import backprop_loops

    def broken_loops(net, X, Y):
        g = backprop_loops(net, X, Y)
        g.weights[0][0, 0] *= 1 + 1e-9
        return g

    monkeypatch.setattr(selfcheck, "backprop_loops", broken_loops)
    out = io.StringIO()
    assert main(["--quiet"], out=out) == 1
    assert "FAIL" in out.getvalue()


def test_main_job_fails_when_backprop_disagrees_with_finite_differences(monkeypatch):
    """All three forms wrong the same way (a shared bug): finite differences still catch it."""
    import gradcheck.selfcheck as selfcheck

    def scaled(form):
        def wrong(net, X, Y):
            g = form(net, X, Y)
            g.biases[-1][...] *= 1.01
            return g

        return wrong

    for name in ("backprop", "backprop_examples", "backprop_loops"):
        monkeypatch.setattr(selfcheck, name, scaled(getattr(selfcheck, name)))
    out = io.StringIO()
    assert main(["--quiet"], out=out) == 1
    assert "backprop" in out.getvalue() and "vs finite difference" in out.getvalue()


CANDIDATES = """
from reference import Network, backprop

def good(W, b, X, Y):
    g = backprop(Network(W, b, hidden="tanh"), X, Y)
    return g.weights, g.biases

def bad(W, b, X, Y):
    dW, db = good(W, b, X, Y)
    return [2 * w for w in dW], db
"""


def test_check_command_exit_status_and_json(tmp_path):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    out = io.StringIO()
    assert main(["check", f"{path}:good", "--sizes", "3,5,2", "--hidden", "tanh"], out=out) == 0
    assert "check_backprop PASSED" in out.getvalue()
    out = io.StringIO()
    assert (
        main(["check", f"{path}:bad", "--sizes", "3,5,2", "--hidden", "tanh", "--json"], out=out)
        == 1
    )
    import json

    assert json.loads(out.getvalue())["passed"] is False


def test_check_command_usage_errors(tmp_path, capsys):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    assert main(["check", f"{path}:good", "--hidden", "swish"]) == 2
    assert "unknown hidden activation 'swish'" in capsys.readouterr().err
    assert main(["check", f"{path}:nope"]) == 2  # bad usage: status 2, like a bad option
    assert "error: module" in (err := capsys.readouterr().err) and "has no attribute 'nope'" in err
    assert main(["check", "justaname"]) == 2
    assert "must be module:function" in capsys.readouterr().err


def test_vectors_command_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "v"
    assert main(["vectors", "--out", str(out)], out=io.StringIO()) == 0
    assert main(["vectors", "--out", str(out)], out=io.StringIO()) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["vectors", "--out", str(out), "--force"], out=io.StringIO()) == 0


def test_taylor_command_passes_the_reference_and_fails_a_wrong_candidate(tmp_path):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    out = io.StringIO()
    assert main(["taylor", "--hidden", "tanh", "--sizes", "3,5,2"], out=out) == 0
    assert "second order" in out.getvalue()
    out = io.StringIO()
    code = main(
        ["taylor", "--hidden", "tanh", "--sizes", "3,5,2", "--candidate", f"{path}:bad"], out=out
    )
    assert code == 1 and "FIRST ORDER" in out.getvalue()


def test_taylor_plot_is_written(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    png = tmp_path / "taylor.png"
    assert main(["taylor", "--plot", str(png)], out=io.StringIO()) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_command_shows_progress_on_stderr(tmp_path, capsys):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    main(["check", f"{path}:good", "--sizes", "3,5,2", "--hidden", "tanh"], out=io.StringIO())
    assert "trial 1/6: random" in capsys.readouterr().err
