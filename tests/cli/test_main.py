"""The command line: the main job verifies the reference and exits 0."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys

import pytest
from _helpers import run_cli, tree
from _oracle_cases import force_oracle_disagreement

import gradcheck.cli.main as cli_main
from gradcheck import check_backprop
from gradcheck.cli.main import main
from gradcheck.jobs.selfcheck import default_configurations


def test_main_job_passes_and_prints_the_table():
    out = io.StringIO()
    assert main(["--quiet"], out=out) == 0
    text = out.getvalue()
    assert "hidden" in text and "vs loops" in text and "FAIL" not in text
    n = len(default_configurations())
    assert f"{n} of {n} configurations verified" in text


def test_python_dash_m_gradcheck_runs():
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "--quiet"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configurations verified" in done.stdout


def test_main_job_fails_when_a_form_is_wrong(monkeypatch):
    """The self-check can fail: a loop form off by 1e-9 in one entry is caught."""
    import gradcheck.jobs.selfcheck as selfcheck
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
    import gradcheck.jobs.selfcheck as selfcheck

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


def test_check_command_exits_3_on_an_inconclusive_verdict(tmp_path, monkeypatch):
    # the oracle disagreeing with itself (forced: the differences off by 1 at entry 0, and
    # nothing to escalate to): the candidate, which agrees with the reference, is not failed
    from gradcheck.cli.main import EXIT_STATUS

    force_oracle_disagreement(monkeypatch)
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    out = io.StringIO()
    argv = ["check", f"{path}:good", "--sizes", "3,5,2", "--hidden", "tanh", "--trials", "1"]
    assert main(argv, out=out) == EXIT_STATUS["inconclusive"] == 3
    assert "check_backprop INCONCLUSIVE" in out.getvalue()
    assert "a fault of the oracle" in out.getvalue()


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


# ------------------------------------------------- check --exec and parity with the API


def _fake_check_backprop(calls):
    """A check_backprop with every option of the issue's API, recording what the CLI passes."""
    from gradcheck.results.report import BackpropReport

    def check_backprop(
        candidate,
        *,
        sizes,
        hidden="sigmoid",
        output=None,
        cost="quadratic",
        layout="article",
        trials=3,
        seed=0,
        batch_size=8,
        edge_cases=True,
        l2=0.0,
        weight_scale=1.0,
        timeout=None,
        libm_ulps=None,
        progress=None,
    ):
        calls.append(dict(locals()))
        return BackpropReport(
            "fake",
            {"hidden": hidden, "output": output, "cost": cost, "layout": layout, "seed": seed},
            [],
        )

    return check_backprop


def test_every_option_reaches_check_backprop(tmp_path, monkeypatch):
    import gradcheck.oracle.backprop

    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    calls: list = []
    monkeypatch.setattr(gradcheck.oracle.backprop, "check_backprop", _fake_check_backprop(calls))
    argv = [
        "check",
        f"{path}:good",
        "--sizes",
        "3,5,4,2",
        "--hidden",
        "relu,tanh",
        "--output",
        "identity",
        "--cost",
        "mse",
        "--trials",
        "2",
        "--seed",
        "9",
        "--batch-size",
        "16",
        "--edge-cases",
        "batch1,width1",
        "--l2",
        "0.5",
        "--weight-scale",
        "4",
        "--timeout",
        "7",
        "--libm-ulps",
        "4",
        "--quiet",
    ]
    assert main(argv, out=io.StringIO()) == 0
    (call,) = calls
    assert call["libm_ulps"] == 4.0
    assert call["sizes"] == [3, 5, 4, 2] and call["hidden"] == ["relu", "tanh"]
    assert (call["output"], call["cost"], call["trials"], call["seed"]) == ("identity", "mse", 2, 9)
    assert call["batch_size"] == 16 and call["edge_cases"] == {"batch1", "width1"}
    assert (call["l2"], call["weight_scale"], call["timeout"]) == (0.5, 4.0, 7.0)
    calls.clear()
    assert (
        main(["check", f"{path}:good", "--edge-cases", "none", "--quiet"], out=io.StringIO()) == 0
    )
    assert calls[0]["edge_cases"] is False and calls[0]["hidden"] == "sigmoid"


def test_timeout_stops_a_python_candidate_that_hangs(tmp_path):
    path = tmp_path / "slow.py"
    path.write_text("import time\ndef slow(W, b, X, Y):\n    time.sleep(3)\n    return None\n")
    out = io.StringIO()
    code = main(
        ["check", f"{path}:slow", "--sizes", "2,3,1", "--timeout", "0.3", "--quiet"], out=out
    )
    assert code == 1
    assert "did not return within the timeout of 0.3 s" in out.getvalue()


def test_abbreviations_are_errors_and_usage_names_the_command(capsys):
    for argv in (["check", "x:y", "--size", "3,2"], ["equations", "--hid", "tanh"], ["--qui"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "unrecognized arguments" in err and err.startswith("usage: gradcheck")
    with pytest.raises(SystemExit):
        main(["check", "x:y", "--size", "3,2"])
    assert capsys.readouterr().err.startswith("usage: gradcheck check ")
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "check", "x:y", "--size", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("usage: python -m gradcheck check ")


BAD_SIGNATURES = """
def three(W, b, X):
    return W, b

def flat(theta, X, Y):
    return theta
"""


def test_a_candidate_that_cannot_take_the_oracles_call_is_bad_usage(tmp_path, capsys):
    path = tmp_path / "sig.py"
    path.write_text(BAD_SIGNATURES)
    assert main(["check", f"{path}:three"]) == 2
    err = capsys.readouterr().err
    assert "has signature (W, b, X) (too many positional arguments)" in err
    assert "the oracle calls candidate(weights, biases, X, Y) in layout 'article'" in err
    assert main(["check", f"{path}:flat"]) == 2
    err = capsys.readouterr().err
    assert "the oracle calls candidate(weights, biases, X, Y)" in err
    assert (
        "it would take the 'flat' layout's call: pass layout='flat' (--layout flat on the command line)"
        in err
    )
    assert main(["check", f"{path}:three", "--layout", "torch"]) == 2
    assert "in layout 'torch'; it would take the 'flat' layout's call" in capsys.readouterr().err


@pytest.fixture(scope="module")
def c_program(tmp_path_factory):
    import shutil
    from pathlib import Path

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (cc or gcc) on this machine")
    source = Path(__file__).resolve().parents[1] / "c" / "backprop.c"
    folder = tmp_path_factory.mktemp("cli-c")
    built = {}
    for variant, flags in (("right", []), ("slip", ["-DSLIP_BIAS_SUM"])):
        out = folder / variant
        subprocess.run([compiler, "-O2", *flags, "-o", str(out), str(source), "-lm"], check=True)
        built[variant] = str(out)
    return built


def test_check_exec_runs_a_c_program(c_program):
    for persistent in ([], ["--persistent"]):
        out = io.StringIO()
        argv = [
            "check",
            "--exec",
            c_program["right"],
            "--hidden",
            "tanh",
            "--sizes",
            "3,4,2",
            "--quiet",
            "--timeout",
            "30",
            *persistent,
        ]
        assert main(argv, out=out) == 0, out.getvalue()
        assert f"check_backprop PASSED: exec {c_program['right']!r}" in out.getvalue()
    out = io.StringIO()
    assert main(["check", "--exec", c_program["slip"], "--quiet"], out=out) == 1
    assert "summed over the batch" in out.getvalue()


def test_check_exec_usage_errors(c_program, tmp_path, capsys):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    cases = [
        (["check", "--exec", "./no-such-program"], "`--exec`: no program './no-such-program'"),
        (["check", f"{path}:good", "--exec", c_program["right"]], "give either a candidate"),
        (["check"], "give either a candidate module:function or --exec"),
        (["check", f"{path}:good", "--persistent"], "--persistent applies to --exec programs only"),
        (
            ["check", "--exec", c_program["right"], "--layout", "torch"],
            "--layout torch does not apply",
        ),
        (["check", "--exec", c_program["right"], "--hidden", "swish"], "unknown hidden activation"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err
    for bad in (
        ["--timeout", "0"],
        ["--timeout", "soon"],
        ["--edge-cases", "a,,b"],
        ["--hidden", "relu,"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(["check", "--exec", c_program["right"], *bad])
        assert exited.value.code == 2


EQUATION_CANDIDATES = """
import numpy as np
from reference import Network, backprop

def with_deltas(W, b, X, Y, slip=False):
    net = Network(W, b, hidden="tanh")
    g = backprop(net, X, Y)
    # per-example deltas from the batch form: Delta^L
    zs, A, a_prev = [], [], X
    for L in range(net.H + 1):
        Z = a_prev @ W[L] + b[L]
        zs.append(Z)
        a_prev = np.tanh(Z)
        A.append(a_prev)
    D = [None] * (net.H + 1)
    D[-1] = (A[-1] - Y) * (1 - A[-1] ** 2)
    for L in range(net.H - 1, -1, -1):
        D[L] = (D[L + 1] @ W[L + 1].T) * (1 - A[L] ** 2) * (2.0 if slip else 1.0)
    return g.weights, g.biases, D

def slipped(W, b, X, Y):
    return with_deltas(W, b, X, Y, slip=True)
"""


def test_equations_command(tmp_path, capsys):
    out = io.StringIO()
    assert main(["equations", "--hidden", "tanh", "--sizes", "3,4,2"], out=out) == 0
    assert "1 of 1 configurations confirm every equation" in out.getvalue()
    path = tmp_path / "eq.py"
    path.write_text(EQUATION_CANDIDATES)
    out = io.StringIO()
    argv = ["equations", "--hidden", "tanh", "--sizes", "3,4,2", "--candidate"]
    assert main(argv + [f"{path}:with_deltas"], out=out) == 0, out.getvalue()
    out = io.StringIO()
    assert main(argv + [f"{path}:slipped"], out=out) == 1
    assert "delta^0" in out.getvalue() and "FAIL" in out.getvalue()
    assert main(["equations", "--hidden", "swish"]) == 2
    assert "unknown hidden activation 'swish'" in capsys.readouterr().err


def test_vectors_command_writes_protocol_files(tmp_path):
    out = io.StringIO()
    assert main(["vectors", "--out", str(tmp_path), "--protocol"], out=out) == 0
    assert "wrote 12 CASE.request.txt and CASE.answer.txt pairs" in out.getvalue()
    request = (tmp_path / "sigmoid-sigmoid-quadratic-4-8-3-d5.request.txt").read_text()
    assert request.startswith("gradcheck 1\nlayers 2\nsizes 4 8 3\nd 5\n")
    assert (
        (tmp_path / "sigmoid-sigmoid-quadratic-4-8-3-d5.answer.txt").read_text().endswith("END\n")
    )


# ------------------------------------------------------------------ --html


def test_check_html_draws_a_failing_candidates_maps(tmp_path, capsys):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    page = tmp_path / "report.html"
    argv = ["check", f"{path}:bad", "--sizes", "3,5,2", "--hidden", "tanh", "--quiet"]
    assert main([*argv, "--html", str(page)], out=io.StringIO()) == 1
    html = page.read_text(encoding="utf-8")
    assert "check_backprop FAILED" in html
    # dJ/dW doubled: every cell of W^0 (3 x 5) and W^1 (5 x 2) fails, no cell of b^L does
    cells = [
        (re.search(r'data-entry="([^"]+)"', c)[1], float(re.search(r'data-excess="([^"]+)"', c)[1]))
        for c in re.findall(r'<rect class="cell"[^>]*>', html)
    ]
    failing = {name for name, excess in cells if not excess <= 1}
    assert len(failing) == 3 * 5 + 5 * 2 and all(name.startswith("W^") for name in failing)
    assert 'class="step-curve"' in html
    # an existing file is bad usage (exit 2) before any trial runs; --force overwrites it
    assert main([*argv, "--html", str(page)], out=io.StringIO()) == 2
    assert (
        f"error: --html: {str(page)!r} exists; pass force=True (--force)" in capsys.readouterr().err
    )
    out = io.StringIO()
    assert main([*argv, "--html", str(page), "--force", "--json"], out=out) == 1
    assert json.loads(out.getvalue())["passed"] is False  # stdout stays JSON
    assert f"wrote {page}" in capsys.readouterr().err


def test_check_html_of_a_passing_candidate_says_it_passed(tmp_path):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    page = tmp_path / "ok.html"
    out = io.StringIO()
    argv = ["check", f"{path}:good", "--sizes", "3,5,2", "--hidden", "tanh", "--quiet"]
    assert main([*argv, "--html", str(page)], out=out) == 0
    assert f"wrote {page}" in out.getvalue()
    html = page.read_text(encoding="utf-8")
    assert 'class="verdict pass">check_backprop PASSED' in html and 'class="cell"' not in html


def test_html_in_a_missing_directory_is_bad_usage(tmp_path, capsys):
    missing = tmp_path / "no" / "r.html"
    for argv in (["check", "x.py:f", "--quiet"], ["taylor"], ["--quiet"]):
        assert main([*argv, "--html", str(missing)], out=io.StringIO()) == 2
        assert capsys.readouterr().err == (
            f"error: --html: cannot write the HTML report to {str(missing)!r}: "
            f"the directory {str(missing.parent)!r} does not exist\n"
        )
    assert not missing.parent.exists()


def test_html_to_an_unwritable_directory_or_a_dangling_link_is_refused_before_the_check(
    tmp_path, capsys
):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    argv = ["check", f"{path}:good", "--sizes", "3,5,2", "--quiet"]
    out = io.StringIO()
    # /proc takes no new files, even from root: refused before any trial, so no verdict is hidden
    assert main([*argv, "--html", "/proc/r.html"], out=out) == 2
    assert out.getvalue() == ""
    assert capsys.readouterr().err.startswith(
        "error: --html: cannot write the HTML report to '/proc/r.html': "
        "the directory '/proc' does not take new files"
    )
    link = tmp_path / "r.html"
    link.symlink_to(tmp_path / "elsewhere.html")
    assert main([*argv, "--html", str(link)], out=out) == 2
    assert "exists; pass force=True (--force)" in capsys.readouterr().err
    assert out.getvalue() == "" and not (tmp_path / "elsewhere.html").exists()


def test_a_check_beyond_this_machines_memory_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    out = io.StringIO()
    # a raw MemoryError traceback before
    argv = ["check", f"{path}:good", "--sizes", "100000,100000,10", "--quiet"]
    assert main(argv, out=out) == 2
    err = capsys.readouterr().err
    assert out.getvalue() == "" and err.count("\n") == 1
    assert err.startswith(
        "error: `sizes` [100000, 100000, 10] with `batch_size` 8 and `trials` 3 needs ~"
    )
    assert "; this machine has " in err


def test_main_job_html_holds_both_tables(tmp_path):
    page = tmp_path / "selfcheck.html"
    out = io.StringIO()
    assert main(["--quiet", "--html", str(page)], out=out) == 0
    html = page.read_text(encoding="utf-8")
    assert 'class="verdict pass">PASSED: 11 of 11 configurations verified' in html
    assert "<h2>Equation by equation</h2>" in html and "delta^1 = (W^2 delta^2)" in html
    assert "<h2>The three forms and finite differences</h2>" in html
    assert "categorical_cross_entropy" in html and "vs loops" in html
    assert out.getvalue().rstrip().endswith(f"wrote {page}")


def test_taylor_html_draws_the_remainders(tmp_path):
    path = tmp_path / "cand.py"
    path.write_text(CANDIDATES)
    page = tmp_path / "taylor.html"
    argv = ["taylor", "--hidden", "tanh", "--sizes", "3,5,2", "--candidate", f"{path}:bad"]
    assert main([*argv, "--html", str(page)], out=io.StringIO()) == 1
    html = page.read_text(encoding="utf-8")
    assert f"Taylor test of {path}:bad" in html and 'class="verdict fail"' in html
    assert "<h2>Taylor remainders</h2>" in html and html.count('<path class="curve"') >= 4


# ---- bad usage exits 2 with the message, never a traceback


@pytest.fixture
def candidate_file(tmp_path):
    path = tmp_path / "cand.py"
    path.write_text(
        "from reference import Network, backprop\n"
        "NOT_CALLABLE = 3\n"
        "def good(W, b, X, Y):\n"
        "    g = backprop(Network(W, b), X, Y)\n"
        "    return g.weights, g.biases\n"
        "def two(W, b):\n"
        "    return W, b\n"
    )
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--trials", "0"], "`trials` must be at least 1, got 0"),
        (["--layout", "keras"], "argument --layout: invalid choice: 'keras'"),
        (["--seed", "-1"], "`seed` must be a non-negative integer, got -1"),
        (["--sizes", "3"], "`sizes` must list at least the input and output widths"),
        (["--sizes", "3,0,2"], "`sizes[1]` must be a positive width, got 0"),
        (["--cost", "hinge"], "unknown cost 'hinge'"),
        (
            ["--hidden", "softmax", "--sizes", "3,4,2"],
            "hidden activation 'softmax' is not element-wise",
        ),
    ],
)
def test_cli_check_bad_options_exit_2_with_the_message(candidate_file, capsys, extra, message):
    code, stdout = run_cli(["check", f"{candidate_file}:good", "--quiet", *extra])
    assert code == 2 and stdout == ""
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_check_argument_syntax_errors_exit_2(candidate_file, capsys):
    for extra in (["--sizes", "4,x,3"], ["--trials", "many"]):
        code, _ = run_cli(["check", f"{candidate_file}:good", *extra])
        assert code == 2
    assert "--sizes must be comma-separated integers" in capsys.readouterr().err


def test_cli_check_a_non_callable_exits_2_and_a_broken_candidate_exits_1(candidate_file, capsys):
    code, _ = run_cli(["check", f"{candidate_file}:NOT_CALLABLE", "--quiet"])
    assert code == 2
    assert "`candidate` must be callable" in capsys.readouterr().err
    # a signature that cannot take the oracle's call is bad usage, said before any trial (issue 12)
    code, stdout = run_cli(["check", f"{candidate_file}:two", "--quiet", "--sizes", "3,2"])
    assert code == 2 and stdout == ""
    assert "the oracle calls candidate(weights, biases, X, Y)" in capsys.readouterr().err


def test_cli_taylor_and_vectors_bad_options_exit_2(tmp_path, capsys):
    assert run_cli(["taylor", "--sizes", "3,2", "--hidden", "swish"])[0] == 2
    assert "unknown hidden activation 'swish'" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("precious")
    assert run_cli(["vectors", "--out", str(afile)])[0] == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert afile.read_text() == "precious"


@pytest.mark.parametrize("spec", ["no_such_module_xyz:f", "missing_file.py:f"])
def test_cli_check_an_unloadable_candidate_exits_2(spec):
    assert run_cli(["check", spec])[0] == 2


@pytest.mark.parametrize("source", ["def good(:\n", "raise RuntimeError('at import')\n"])
def test_cli_check_a_candidate_file_that_fails_to_import_exits_2(tmp_path, source):
    path = tmp_path / "broken.py"
    path.write_text(source)
    assert run_cli(["check", f"{path}:good"])[0] == 2


def test_cli_taylor_batch_zero_exits_2():
    assert run_cli(["taylor", "--sizes", "3,2", "--batch", "0"])[0] == 2


def test_cli_taylor_unknown_layout_exits_2(candidate_file):
    argv = [
        "taylor",
        "--sizes",
        "3,2",
        "--candidate",
        f"{candidate_file}:good",
        "--layout",
        "keras",
    ]
    assert run_cli(argv)[0] == 2


def test_cli_taylor_plot_into_a_missing_directory_exits_2(tmp_path):
    pytest.importorskip("matplotlib")
    assert (
        run_cli(["taylor", "--sizes", "3,2", "--plot", str(tmp_path / "missing" / "t.png")])[0] == 2
    )


def test_cli_vectors_out_under_a_file_exits_2(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert run_cli(["vectors", "--out", str(tmp_path / "afile" / "v")])[0] == 2


def test_cli_vectors_negative_seed_is_refused_before_writing(tmp_path, capsys):
    out = tmp_path / "v"
    assert run_cli(["vectors", "--out", str(out), "--seed", "-1"])[0] == 2
    assert "seed" in capsys.readouterr().err
    assert not out.exists()


# ---- nothing lost: the command line writes only inside --out


@pytest.mark.parametrize("out", ["out", "deep/er/out"])
def test_cli_vectors_writes_only_inside_out(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bystander.txt").write_text("untouched")
    before = tree(tmp_path)
    code, stdout = run_cli(["vectors", "--out", out])
    assert code == 0 and "wrote" in stdout
    target = (tmp_path / out).resolve()
    after = tree(tmp_path)
    assert {p: v for p, v in after.items() if p in before} == before  # nothing changed or lost
    for path, content in after.items():
        if path in before:
            continue
        inside = path.resolve() == target or target in path.resolve().parents
        ancestor = content is None and path.resolve() in target.parents  # `deep/er`, made for `out`
        assert inside or ancestor, path
    assert (target / "vectors.json").is_file()


def test_cli_vectors_refuses_a_non_empty_out_without_force_and_keeps_other_files(tmp_path, capsys):
    out = tmp_path / "v"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    before = tree(tmp_path)
    assert run_cli(["vectors", "--out", str(out)])[0] == 2
    assert "pass --force" in capsys.readouterr().err
    assert tree(tmp_path) == before  # refused: not one byte written
    assert run_cli(["vectors", "--out", str(out), "--force"])[0] == 0
    assert (
        out / "keep.txt"
    ).read_text() == "precious"  # --force overwrites vectors, deletes nothing
    assert all(p.parent == out for p in tree(tmp_path) if p not in before)


# ---- the installed script and `python -m` load candidates alike


def test_cli_loads_module_function_from_the_current_directory(tmp_path, monkeypatch):
    # the installed `gradcheck` script has its bin directory on sys.path, not the cwd
    (tmp_path / "vec_cwd_candidate.py").write_text(
        "from reference import Network, backprop\n"
        "def vec(weights, biases, X, Y):\n"
        "    g = backprop(Network(weights, biases), X, Y)\n"
        "    return g.weights, g.biases\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "vec_cwd_candidate", raising=False)
    code, stdout = run_cli(["check", "vec_cwd_candidate:vec", "--sizes", "3,4,2"])
    assert code == 0 and "PASSED" in stdout
    # in this process too (no fork: main's job runs in a forked copy), and sys.path is left as it
    # was: the directory went on the path for the import only
    monkeypatch.delitem(sys.modules, "vec_cwd_candidate", raising=False)
    before = list(sys.path)
    assert cli_main._load("vec_cwd_candidate:vec").__name__ == "vec"
    assert sys.path == before


def test_cli_plot_without_matplotlib_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradcheck.html.plots", None)  # import fails: no matplotlib
    assert main(["taylor", "--plot", "taylor.png"], out=io.StringIO()) == 2
    assert "pip install 'backprop-gradcheck[plot]'" in capsys.readouterr().err


@pytest.mark.parametrize("libm_ulps", [None, 4.0])
def test_the_reproduce_line_gives_the_command_line_that_repeats_the_run(
    tmp_path, monkeypatch, libm_ulps
):
    """A failing report prints `python -m gradcheck check ...`: run it, and it gives the same
    (a declared libm accuracy too: the verdict may depend on it)."""
    (tmp_path / "halves.py").write_text(
        "from reference import Network, backprop\n"
        "def halves(W, b, X, Y):\n"
        "    g = backprop(Network(W, b), X, Y)\n"
        "    return [w / 2 for w in g.weights], g.biases\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import halves  # noqa: PLC0415 (written just above)

    options = dict(sizes=[3, 5, 2], hidden="tanh", output="sigmoid", cost="quadratic", trials=2)
    report = check_backprop(
        halves.halves, **options, seed=4, batch_size=5, edge_cases=["batch1", "width1"],
        libm_ulps=libm_ulps,
    )  # fmt: skip
    assert report.options.get("libm_ulps") == libm_ulps
    line = next(x for x in str(report).splitlines() if x.startswith("From the command line: "))
    command = line.removeprefix("From the command line: ")
    assert ("--libm-ulps 4.0" in command) == (libm_ulps is not None)
    argv = shlex.split(command.replace("<module:function | --exec 'PROGRAM'>", "halves:halves"))
    assert argv[:4] == ["python", "-m", "gradcheck", "check"]
    code, stdout = run_cli([*argv[3:], "--json"])
    assert code == 1
    assert json.loads(stdout)["options"] == report.to_dict()["options"]
