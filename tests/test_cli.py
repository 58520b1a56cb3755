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
