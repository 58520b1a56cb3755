"""gradcheck.adapters.protocol.program: a C program (tests/c/backprop.c) checked over stdin/stdout, right, slipped and broken."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import process_gone

from gradcheck import check_backprop, trial_case
from gradcheck.adapters.protocol.program import (
    CandidateProgramError,
    exec_candidate,
    format_answer,
    format_request,
    parse_answer,
)
from gradcheck.validate import check_command, check_timeout
from reference import Network, backprop

SOURCE = Path(__file__).resolve().parents[2] / "c" / "backprop.c"
FAULTS = {"crash": 1, "garbage": 2, "short": 3, "hang": 4, "nan": 5, "exit": 6}


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    """build(variant) -> path of tests/c/backprop.c compiled with that fault or slip (cached)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (cc or gcc) on this machine")
    folder = tmp_path_factory.mktemp("c")
    built: dict[str, str] = {}

    def compile_variant(variant: str = "right") -> str:
        if variant not in built:
            flags = {
                "right": [],
                "slip": ["-DSLIP_BIAS_SUM"],
                "l2_ignored": ["-DSLIP_L2_IGNORED"],
            }.get(variant)
            if flags is None:
                flags = [f"-DFAULT={FAULTS[variant]}"]
            out = folder / f"backprop-{variant}"
            done = subprocess.run(
                [compiler, "-O2", *flags, "-o", str(out), str(SOURCE), "-lm"],
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
            built[variant] = str(out)
        return built[variant]

    return compile_variant


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize(
    "hidden, output, cost",
    [
        ("tanh", None, "quadratic"),
        ("sigmoid", None, "quadratic"),
        ("relu", "softmax", "categorical_cross_entropy"),
    ],
)
def test_a_right_c_backprop_passes(build, persistent, hidden, output, cost):
    options = dict(hidden=hidden, output=output, cost=cost)
    with exec_candidate(build(), timeout=30, persistent=persistent, **options) as candidate:
        report = check_backprop(candidate, sizes=[3, 5, 4, 2], seed=1, **options)
    assert report.passed, str(report)
    assert report.candidate == f"exec {build()!r}"
    # 3 random trials, width 1, no hidden layer, batch of 1, and the repeat of trial 0
    assert candidate.cases == 7


def test_persistent_mode_keeps_one_process_for_every_case(build):
    net, X, Y = trial_case([4, 6, 2], 5, seed=3)
    with exec_candidate(build(), timeout=30, persistent=True) as candidate:
        first = candidate(net.weights, net.biases, X, Y)
        pid = candidate._session.proc.pid
        for seed in range(4):  # other shapes through the same process
            other, X2, Y2 = trial_case([2, 3, 3, 1], 1 + seed, seed=seed)
            dW, db = candidate(other.weights, other.biases, X2, Y2)
            expected = backprop(other, X2, Y2)
            np.testing.assert_allclose(dW[1], expected.weights[1], rtol=1e-12, atol=1e-15)
        assert candidate._session.proc.pid == pid
    assert candidate._session is None  # closed by the with block
    expected = backprop(net, X, Y)
    for got, want in zip(first[0] + first[1], expected.weights + expected.biases):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("persistent", [False, True])
def test_the_bias_slip_fails_and_is_named(build, persistent):
    with exec_candidate(build("slip"), timeout=30, persistent=persistent) as candidate:
        report = check_backprop(candidate, sizes=[3, 4, 2])
    assert not report.passed
    text = str(report)
    assert {e.name[:3] for e in report.worst_entries} <= {"b^0", "b^1"}
    assert "b^0 4/4 wrong" in text and "W^0 ok" in text and "W^1 ok" in text
    assert any("summed over the batch" in cause for cause in report.diagnosis)


BROKEN = [
    ("crash", "was killed by signal SIGSEGV", "| backprop.c: about to crash on purpose"),
    (
        "garbage",
        "gave a bad answer: the answer is not all numbers: 'hello' (word 1, on line 1: "
        "'hello from C, no gradient today') (case 1)",
        "(its stderr is empty)",
    ),
    (
        "short",
        "gave a bad answer: the answer has 25 numbers, expected 26 for sizes [3, 4, 2] "
        "(W^0 3x4=12, b^0 4=4, W^1 4x2=8, b^1 2=2, in this order); 1 short: it stops before b^1[1]",
        "(its stderr is empty)",
    ),
    ("hang", "did not answer within 1 s (wall clock)", "| backprop.c: sleeping forever"),
    ("nan", "the answer has NaN or Inf in 1 entry: b^0[0] ('nan')", "(its stderr is empty)"),
]


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("fault, problem, stderr", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_program_is_a_clear_fail_with_its_stderr_tail(
    build, fault, problem, stderr, persistent
):
    program = build(fault)
    with exec_candidate(program, timeout=1, persistent=persistent) as candidate:
        report = check_backprop(candidate, sizes=[3, 4, 2])
    assert not report.passed
    text = str(report)
    assert f"- the program {program!r} " in text and problem in text and "(case 1)" in text
    assert f"{problem}" in report.trials[0].problems[0]
    assert stderr in text
    assert "Traceback" not in text and "protocol.py" not in text
    assert len(report.trials) == 1  # a broken program stops the check: every trial would repeat it


def test_a_non_zero_exit_after_a_right_answer_fails(build):
    program = build("exit")
    report = check_backprop(exec_candidate(program, timeout=10), sizes=[3, 4, 2])
    assert not report.passed
    assert "exited with status 3 (case 1)" in str(report)
    assert "| backprop.c: exiting with status 3 on purpose" in str(report)


def test_the_timeout_kills_the_program_within_the_limit(build):
    import time

    net, X, Y = trial_case([3, 4, 2], 2, seed=0)
    candidate = exec_candidate(build("hang"), timeout=0.5)
    start = time.monotonic()
    with pytest.raises(CandidateProgramError, match=r"did not answer within 0\.5 s"):
        candidate(net.weights, net.biases, X, Y)
    assert time.monotonic() - start < 10  # killed, not waited for (a generous bound: shared CI)


def test_a_program_that_refuses_a_request_is_reported_with_its_error_line(build):
    net, X, Y = trial_case([3, 4, 2], 2, seed=0)
    candidate = exec_candidate(build(), timeout=10)
    candidate._hidden = "swish"  # a name the C program does not know (exec_candidate refuses it)
    with pytest.raises(
        CandidateProgramError,
        match=r"exited with status 2; it reported: backprop.c: unsupported activation swish",
    ):
        candidate(net.weights, net.biases, X, Y)


def test_a_python_program_speaks_it_too(tmp_path):
    """The protocol needs no compiler: a Python script (interpreter in the command) passes."""
    script = tmp_path / "answer.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = {sys.path!r}\n"
        "from gradcheck.adapters.protocol.program import format_answer\n"
        "from reference import Network, backprop\n"
        "import numpy as np\n"
        "lines = sys.stdin.read().splitlines()\n"
        "sizes = [int(w) for w in lines[2].split()[1:]]\n"
        "rows = iter(lines[6:])\n"
        "W, b = [], []\n"
        "for M, N in zip(sizes[:-1], sizes[1:]):\n"
        "    next(rows)\n"
        "    W.append(np.array([next(rows).split() for _ in range(M)], float))\n"
        "    next(rows)\n"
        "    b.append(np.array(next(rows).split(), float))\n"
        "d = int(next(rows).split()[1])\n"
        "X = np.array([next(rows).split() for _ in range(d)], float)\n"
        "next(rows)\n"
        "Y = np.array([next(rows).split() for _ in range(d)], float)\n"
        "g = backprop(Network(W, b, hidden=lines[4].split()[1]), X, Y)\n"
        "sys.stdout.write(format_answer(g.weights, g.biases))\n"
    )
    candidate = exec_candidate([sys.executable, str(script)], timeout=60, hidden="tanh")
    report = check_backprop(candidate, sizes=[3, 4, 2], hidden="tanh", trials=1, edge_cases=False)
    assert report.passed, str(report)


def test_golden_vectors_as_protocol_files_are_answered_by_the_c_program(build, tmp_path):
    """`vectors --protocol` writes each case as a request and its expected answer; C agrees."""
    from gradcheck.cli.main import main

    assert main(["vectors", "--out", str(tmp_path), "--protocol"], out=io.StringIO()) == 0
    requests = sorted(tmp_path.glob("*.request.txt"))
    assert len(requests) == 12
    for request in requests:
        expected_text = request.with_name(request.name.replace("request", "answer")).read_text()
        sizes = [int(w) for w in request.read_text().splitlines()[2].split()[1:]]
        done = subprocess.run(
            [build()], input=request.read_text(), capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stdout + done.stderr
        got = parse_answer(done.stdout, sizes)
        expected = parse_answer(expected_text, sizes)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-13, err_msg=request.name)


# ------------------------------------------------------------------- the format


def test_request_and_answer_round_trip_every_double():
    net, X, Y = trial_case([3, 4, 2], 5, seed=7)
    X = X * np.array([1e-300, 1e300, np.pi])  # extremes travel exactly
    text = format_request(
        net.weights, net.biases, X, Y, activations=["tanh", "sigmoid"], cost="quadratic"
    )
    lines = text.splitlines()
    assert lines[:6] == [
        "gradcheck 1",
        "layers 2",
        "sizes 3 4 2",
        "d 5",
        "activations tanh sigmoid",
        "cost quadratic",
    ]
    assert lines[6] == "W 0 3 4" and lines[-1] == "END"
    x_at = lines.index("X 5 3")
    read_back = np.array([line.split() for line in lines[x_at + 1 : x_at + 6]], dtype=float)
    assert np.array_equal(read_back, X)
    g = backprop(net, X, Y)
    assert np.array_equal(parse_answer(format_answer(g.weights, g.biases), net.sizes), g.flat())


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the answer has no numbers; expected 3 for sizes [2, 1]"),
        (
            "1 2\nEND\n",
            "the answer has 2 numbers, expected 3 for sizes [2, 1] (W^0 2x1=2, b^0 1=1, "
            "in this order); 1 short: it stops before b^0[0]",
        ),
        (
            "1 2 3 4\n",
            "4 numbers, expected 3 for sizes [2, 1] (W^0 2x1=2, b^0 1=1, in this order); 1 too many",
        ),
        ("1 2\nthree\n", "the answer is not all numbers: 'three' (word 3, on line 2: 'three')"),
        ("1 inf nan", "the answer has NaN or Inf in 2 entries: W^0[1,0] ('inf'), b^0[0] ('nan')"),
        ("ERROR cannot do softmax\n", "the program reported an error: cannot do softmax"),
        ("1 2 3\nEND\n4\n", "the program wrote more after its END line: '4'"),
    ],
)
def test_parse_answer_says_what_is_wrong(text, message):
    with pytest.raises(ValueError) as caught:
        parse_answer(text, [2, 1])
    assert message in str(caught.value)


def test_parse_answer_accepts_any_whitespace_and_a_missing_end():
    assert parse_answer("  1\t2\r\n3", [2, 1]).tolist() == [1.0, 2.0, 3.0]
    assert parse_answer("1e-300 -2.5E+3 .25\nEND", [2, 1]).tolist() == [1e-300, -2500.0, 0.25]


def test_the_l2_penalty_travels_in_the_request_and_is_checked(build):
    net = Network.random([2, 1], seed=0)
    X, Y = np.ones((1, 2)), np.zeros((1, 1))
    plain = format_request(net.weights, net.biases, X, Y, activations=["sigmoid"], cost="quadratic")
    penalised = format_request(
        net.weights, net.biases, X, Y, activations=["sigmoid"], cost="quadratic", l2=0.25
    )
    assert "l2" not in plain  # programs that know nothing of l2 see what they always saw
    assert penalised == plain.replace("cost quadratic\n", "cost quadratic\nl2 0.25\n")
    options = dict(hidden="tanh", cost="quadratic", l2=0.1)
    with exec_candidate(build(), timeout=30, **options) as candidate:
        assert check_backprop(candidate, sizes=[3, 5, 2], seed=2, **options).passed
    with exec_candidate(build("l2_ignored"), timeout=30, **options) as candidate:
        report = check_backprop(candidate, sizes=[3, 5, 2], seed=2, **options)
    assert not report.passed
    assert report.causes[0].bug == "l2_missing", str(report)


def test_the_cli_tells_an_exec_program_the_l2_penalty(build, capsys):
    from gradcheck.cli.main import main

    argv = ["check", "--exec", build(), "--sizes", "3,4,2", "--l2", "0.05", "--quiet"]
    assert main(argv) == 0, capsys.readouterr()
    assert main([*argv[:2], build("l2_ignored"), *argv[3:]]) == 1


def test_per_layer_hidden_activations_travel_in_the_request(build):
    candidate = exec_candidate(build(), timeout=5, hidden=["relu", "tanh"], output="identity")
    assert candidate.activations(2) == ["relu", "tanh", "identity"]
    assert exec_candidate(build(), timeout=5, hidden="elu").activations(0) == ["elu"]
    parameterised = exec_candidate(build(), timeout=5, hidden="leaky_relu:0.2", output="elu:0.5")
    assert parameterised.activations(1) == ["leaky_relu(slope=0.2)", "elu(alpha=0.5)"]
    with pytest.raises(
        ValueError, match=r"`hidden` names 2 activations but the network has 1 hidden"
    ):
        candidate.activations(1)


# ------------------------------------------------------------------- validation


def test_validation_messages(tmp_path):
    not_executable = tmp_path / "prog"
    not_executable.write_text("")
    cases = [
        (lambda: check_command(""), ValueError, "`cmd` is empty; give the program to run"),
        (
            lambda: check_command(["./nope"]),
            ValueError,
            "`cmd`: no program './nope' (no such file)",
        ),
        (
            lambda: check_command("no-such-program-xyz"),
            ValueError,
            "`cmd`: no program 'no-such-program-xyz' on PATH; for a file in this directory write "
            "./no-such-program-xyz",
        ),
        (lambda: check_command(str(not_executable)), ValueError, "is not executable; chmod +x it"),
        (lambda: check_command("'open"), ValueError, '`cmd` "\'open" cannot be split into words'),
        (
            lambda: check_command(3),
            TypeError,
            "`cmd` must be a command line (a string, or a list of strings), got 3",
        ),
        (
            lambda: check_timeout(0),
            ValueError,
            "`timeout` must be a positive, finite number of seconds, got 0",
        ),
        (
            lambda: check_timeout(float("nan")),
            ValueError,
            "`timeout` must be a positive, finite number",
        ),
        (lambda: check_timeout("1"), TypeError, "`timeout` must be a number of seconds, got '1'"),
        (
            lambda: exec_candidate(sys.executable, persistent="yes"),
            TypeError,
            "`persistent` must be True or False, got 'yes'",
        ),
        (
            lambda: exec_candidate(sys.executable, hidden="swish"),
            ValueError,
            "unknown hidden activation 'swish'",
        ),
        (
            lambda: exec_candidate(sys.executable, l2=-1.0),
            ValueError,
            "`l2` must be a non-negative finite number, got -1.0",
        ),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind) as caught:
            call()
        assert message in str(caught.value), (message, str(caught.value))


def test_a_candidate_called_with_bad_arrays_is_refused_before_any_program_runs():
    candidate = exec_candidate(sys.executable, timeout=5)
    with pytest.raises(ValueError):
        candidate([np.ones((2, 3))], [np.ones(4)], np.ones((1, 2)), np.ones((1, 3)))
    assert candidate.cases == 0


# ------------------------------------------------ programs that misbehave around a right answer


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def _one_case(candidate):
    net, X, Y = trial_case([3, 4, 2], 2, seed=0)
    return candidate(net.weights, net.biases, X, Y)


def test_a_flood_on_stdout_is_cut_at_the_answers_size():
    """100 MB of numbers is read up to the answer's bound, not into memory whole."""
    candidate = exec_candidate(_sh("cat >/dev/null; yes 1 | head -c 100000000"), timeout=60)
    with pytest.raises(CandidateProgramError, match="wrote more than [0-9,]+ bytes to stdout"):
        _one_case(candidate)


def test_a_huge_stderr_line_is_cut_in_the_report():
    script = "cat >/dev/null; head -c 5000000 /dev/zero | tr '\\0' x >&2; echo >&2; exit 1"
    with pytest.raises(CandidateProgramError) as caught:
        _one_case(exec_candidate(_sh(script), timeout=60))
    message = str(caught.value)
    assert len(message) < 2000
    assert "more bytes of this line not shown" in message


@pytest.mark.parametrize("persistent", [False, True])
def test_control_characters_of_a_program_reach_the_report_escaped(persistent):
    """An escape sequence could paint "PASSED" over the failure on a terminal."""
    script = (
        "read x; printf '\\033[2K\\033[1Gcheck_backprop PASSED\\n' >&2; "
        "printf 'ERROR \\033[31mred\\n'; exit 1"
    )
    report = check_backprop(
        exec_candidate(_sh(script), timeout=30, persistent=persistent), sizes=[3, 4, 2]
    )
    text = str(report)
    assert not report.passed
    assert "\x1b" not in text
    assert "\\x1b[2K\\x1b[1Gcheck_backprop PASSED" in text and "\\x1b[31mred" in text


def test_what_a_program_leaves_running_is_killed_after_its_case(build, tmp_path):
    """`cmd &` left behind after a right answer does not outlive the case."""
    pidfile = tmp_path / "pid"
    script = f"sleep 300 & echo $! > {pidfile}; exec {build()}"
    _one_case(exec_candidate(_sh(script), timeout=30))
    assert process_gone(int(pidfile.read_text()))


def test_a_persistent_error_line_without_end_fails_at_once():
    """ERROR then no END: the answer is over; waiting for END would hang until the timeout."""
    candidate = exec_candidate(
        _sh("read x; echo 'ERROR cannot do it'; exec sleep 300"), timeout=20, persistent=True
    )
    with candidate, pytest.raises(CandidateProgramError) as caught:
        _one_case(candidate)
    assert "could not answer; it reported: cannot do it" in str(caught.value)
    assert "did not answer within" not in str(caught.value)


def test_an_answer_too_many_is_a_framing_error_not_a_wrong_gradient(build, tmp_path):
    """A program that answers each request twice would shift every later answer by one case."""
    twice = tmp_path / "twice.py"
    twice.write_text(
        "import subprocess, sys\n"
        "request = []\n"
        "for line in sys.stdin:\n"
        "    request.append(line)\n"
        "    if line.strip() == 'END':\n"
        f"        answer = subprocess.run([{build()!r}], input=''.join(request),\n"
        "                                capture_output=True, text=True).stdout\n"
        "        sys.stdout.write(answer + answer)\n"
        "        sys.stdout.flush()\n"
        "        request = []\n"
    )
    with exec_candidate([sys.executable, str(twice)], timeout=30, persistent=True) as candidate:
        report = check_backprop(candidate, sizes=[3, 4, 2])
    text = str(report)
    assert not report.passed
    assert "broke the protocol's framing" in text
    assert "delta^H" not in text


def test_the_stderr_tail_is_bounded_and_joins_lines_split_across_reads():
    from gradcheck.adapters.protocol.program import STDERR_LINE_CHARS, STDERR_LINES, _StderrTail

    tail = _StderrTail()
    for k in range(100):
        tail.feed(f"line {k}\r\nha".encode())
        tail.feed(b"lf ")
    tail.feed(b"x" * (10 * STDERR_LINE_CHARS))
    lines = tail.tail()
    assert len(lines) == STDERR_LINES
    assert lines[-2] == "half line 99" and lines[0] == f"half line {100 - STDERR_LINES + 1}"
    assert lines[-1].startswith("half ") and "more bytes of this line not shown" in lines[-1]
    assert tail.tail() == lines  # looking does not consume


@pytest.mark.parametrize("persistent", [False, True])
def test_while_a_program_has_not_answered_the_clock_is_shown_running(monkeypatch, persistent):
    """A hung program used to leave one frozen "trial 1/6" line for the whole timeout."""
    import gradcheck.adapters.protocol.program as program

    monkeypatch.setattr(program, "HEARTBEAT", 0.2)
    lines: list[str] = []
    candidate = exec_candidate(
        _sh("exec sleep 300"), timeout=1, persistent=persistent, progress=lines.append
    )
    with candidate, pytest.raises(CandidateProgramError, match="did not answer within 1 s"):
        _one_case(candidate)
    assert len(lines) >= 3  # about one per 0.2 s of the 1 s
    assert lines[0].startswith("waiting for the program's answer: ")
    assert lines[-1].endswith(" s of 1 s")
    quiet = exec_candidate(_sh("exec sleep 300"), timeout=0.5, persistent=persistent)
    with quiet, pytest.raises(CandidateProgramError):
        _one_case(quiet)  # no progress callable: no thread, nothing printed
