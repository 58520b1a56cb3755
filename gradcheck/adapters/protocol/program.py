"""Turning a program into a candidate: the line-oriented stdin/stdout protocol of docs/PROTOCOL.md.

A program in any language (C, Fortran, Rust, ...) reads a request on stdin
(sizes, activations, cost, then `W^L`, `b^L` for ``L = 0 .. H``, then ``X``
and ``Y``, as whitespace-separated text) and answers on stdout with
`dJ/dW^L` and `dJ/db^L` in the flat order of NOTATION.md, then a line
``END``.  `exec_candidate` wraps such a program as a Python callable
``candidate(weights, biases, X, Y) -> (dW_list, db_list)`` that
`check_backprop` checks like any other.

Anything a program can get wrong (it crashes, exits with a non-zero status,
prints words or NaN where numbers belong, prints too few or too many numbers,
or never answers) raises `CandidateProgramError` with a one-line reason and
the tail of the program's stderr; `check_backprop` reports it as a failing
trial.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gradcheck.adapters.protocol import reaper
from gradcheck.adapters.protocol.format import (
    MAGIC,
    VERSION,
    format_answer,
    format_request,
    parse_answer,
    reported_error,
)
from gradcheck.oracle.candidate import CandidateFailure
from gradcheck.validate import check_command, check_flag, check_timeout, printable
from reference import Network, checked_l2, get_activation, get_cost

__all__ = [
    "MAGIC",
    "VERSION",
    "DEFAULT_TIMEOUT",
    "STDERR_LINES",
    "answer_limit",
    "CandidateProgramError",
    "ProgramCandidate",
    "exec_candidate",
    "format_answer",
    "format_request",
    "parse_answer",
    "reported_error",
]

DEFAULT_TIMEOUT = 60.0  # seconds per case: a case takes milliseconds, a minute means a hang
STDERR_LINES = 20  # the tail of the program's stderr that a failure shows
STDERR_LINE_CHARS = 300  # bytes kept of one stderr line: a screen's width, twice over
KILL_GRACE = 5.0  # seconds to collect what a killed program left in its pipes
# An answer's size bound: '%.17g' of a double is at most 24 characters, plus its separator;
# 64 bytes a number is more than twice that, and the slack covers an ERROR line and blank lines.
ANSWER_BYTES_PER_NUMBER = 64
ANSWER_SLACK = 1 << 16
_READ = 1 << 16  # bytes read from a pipe at once
HEARTBEAT = 5.0  # seconds between "still waiting" lines while a program has not answered
_POLL = 0.05  # seconds between looks at whether a program has exited, while its pipes are quiet
_REAPED = sys.platform == "linux"  # a child subreaper (prctl) is Linux's
_END_LINE = re.compile(rb"^[ \t]*END[ \t]*\r?$", re.MULTILINE)
_ERROR_LINE = re.compile(rb"^[ \t]*ERROR\b[^\n]*\n", re.MULTILINE)
_ENDS = (_END_LINE, _ERROR_LINE)  # what ends an answer in persistent mode, whichever comes first


class CandidateProgramError(CandidateFailure):
    """A program behind `exec_candidate` failed: crash, bad answer or timeout.

    The message is self-contained: what went wrong, in which case, and the
    last lines of the program's stderr.
    """


# -------------------------------------------------------------- running


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _launch(argv: list[str], **options: Any) -> subprocess.Popen:
    """Start `argv` with pipes, leading its own session; on Linux under `reaper`, which kills
    what the program leaves behind even outside its group (``setsid``). OSError if it cannot start."""
    if _REAPED:
        _check_startable(argv[0])
        argv = [sys.executable, "-I", "-S", reaper.__file__, *argv]
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **options,
    )


def _check_startable(program: str) -> None:
    """The OSError that starting `program` would give, said before the reaper runs it."""
    path = program if os.sep in program else shutil.which(program)
    if path is None or not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the program and everything it started: the reaper's sweep first (SIGTERM), for
    what left the group, then the group (the program leads it, or its reaper)."""
    if _REAPED and proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _StderrTail:
    """The last `STDERR_LINES` lines of a stream fed in chunks, each cut at `STDERR_LINE_CHARS`:
    memory stays bounded whatever the program writes."""

    def __init__(self) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.partial = bytearray()
        self.cut = 0  # bytes of the current line dropped

    def feed(self, chunk: bytes) -> None:
        *complete, rest = chunk.split(b"\n")
        for part in complete:
            self._add(part)
            self.lines.append(self._line())
        self._add(rest)

    def _add(self, part: bytes) -> None:
        room = max(STDERR_LINE_CHARS - len(self.partial), 0)
        self.partial += part[:room]
        self.cut += max(len(part) - room, 0)

    def _render(self) -> str:
        line = printable(bytes(self.partial).decode(errors="replace").rstrip("\r"))
        return line + (f" ... ({self.cut:,} more bytes of this line not shown)" if self.cut else "")

    def _line(self) -> str:
        line = self._render()
        self.partial.clear()
        self.cut = 0
        return line

    def tail(self) -> list[str]:
        lines = list(self.lines)
        if self.partial or self.cut:  # a last line without its newline (yet)
            lines = (lines + [self._render()])[-STDERR_LINES:]
        return lines


def answer_limit(n_numbers: int) -> int:
    """The most bytes of stdout read for an answer of `n_numbers` numbers; more is a failure."""
    return ANSWER_BYTES_PER_NUMBER * n_numbers + ANSWER_SLACK


class _Session:
    """One long-lived program (``persistent=True``): requests in, answers framed by END lines."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = _launch(argv, bufsize=0)
        self.stderr = _StderrTail()
        self.buffer = bytearray()
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()
        # a program left running (no close()) is ended when its candidate is collected
        self._finalizer = weakref.finalize(self, _end_session, self.proc)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None  # opened with stderr=PIPE
        with self.proc.stderr:  # closed at end of file: the program has exited
            fd = self.proc.stderr.fileno()
            while chunk := os.read(fd, _READ):  # buffered: a chatty program is no false timeout
                self.stderr.feed(chunk)

    def stderr_tail(self) -> list[str]:
        if self.proc.poll() is not None:  # a dead program: let its last lines arrive
            self._stderr_reader.join(timeout=1.0)
        return self.stderr.tail()

    def exchange(self, request: bytes, timeout: float, limit: int) -> tuple[bytes, str | None]:
        """Send one request; the answer up to its END line, and None or why there is none."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None  # opened with stdout=PIPE
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            self._read_ready(fd, selector)
            if self.buffer.strip():  # the previous answer was followed by more
                return bytes(self.buffer), _UNASKED
            writer = threading.Thread(target=self._write, args=(request,), daemon=True)
            writer.start()
            return self._answer(fd, selector, deadline, timeout, limit)

    def _read_ready(self, fd: int, selector: selectors.BaseSelector) -> None:
        """Whatever the program has already written, without waiting."""
        while len(self.buffer) < ANSWER_SLACK and selector.select(0):
            chunk = os.read(fd, _READ)
            if not chunk:
                return
            self.buffer += chunk

    def _answer(
        self, fd: int, selector: selectors.BaseSelector, deadline: float, timeout: float, limit: int
    ) -> tuple[bytes, str | None]:
        scan = 0
        while True:
            ends = [m for m in (rx.search(self.buffer, scan) for rx in _ENDS) if m is not None]
            found = min(ends, key=lambda m: m.start(), default=None)
            if found:  # an answer, or an ERROR line (whether or not an END follows it)
                answer = bytes(self.buffer[: found.end()])
                del self.buffer[: found.end()]
                if found.re is _ERROR_LINE:
                    return answer, "could not answer"
                self._read_ready(fd, selector)
                if self.buffer.strip():  # an answer too many, sent at once
                    return answer + bytes(self.buffer), _UNASKED
                return answer, None
            scan = self.buffer.rfind(b"\n") + 1
            if len(self.buffer) > limit:
                _kill_group(self.proc)
                return bytes(self.buffer[:200]), _too_long(limit)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill_group(self.proc)
                return bytes(self.buffer), f"did not answer within {timeout:g} s (wall clock)"
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, _READ)
            if not chunk:
                try:
                    status = _status(self.proc.wait(timeout=KILL_GRACE))
                except subprocess.TimeoutExpired:
                    status = "closed its stdout"
                return bytes(self.buffer), f"{status} before the END line of its answer"
            self.buffer += chunk

    def _write(self, request: bytes) -> None:
        assert self.proc.stdin is not None  # opened with stdin=PIPE
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
        except (
            OSError,
            ValueError,
        ):  # the program died, or we closed its stdin: reported elsewhere
            pass

    def close(self) -> None:
        self._finalizer()


# the framing slip of persistent mode: every later answer would be one case late
_UNASKED = (
    "broke the protocol's framing: it wrote more after an answer's END line, before the next "
    "request (an answer too many?); every later answer would belong to the case before"
)


def _too_long(limit: int) -> str:
    return (
        f"wrote more than {limit:,} bytes to stdout, far more than an answer of this case "
        "takes; it was stopped there"
    )


def _end_session(proc: subprocess.Popen) -> None:
    """End of input, a moment to exit cleanly, then the process group is killed."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class ProgramCandidate:
    """A program speaking docs/PROTOCOL.md, as a candidate ``(weights, biases, X, Y) -> (dW, db)``.

    Build it with `exec_candidate`. With ``persistent=True`` one process
    answers every case, so end it with `close` (or use ``with``).
    """

    def __init__(
        self,
        argv: list[str],
        *,
        timeout: float,
        persistent: bool,
        hidden: Any,
        output: Any,
        cost: Any,
        l2: float = 0.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.argv = argv
        self.progress = progress
        self.command = shlex.join(argv)
        self.timeout = timeout
        self.persistent = persistent
        self._hidden = hidden
        self._output = output
        self._cost = cost
        self.l2 = l2
        self._session: _Session | None = None
        self.cases = 0  # requests sent so far
        # The name reports give the candidate (gradcheck.oracle.backprop describes candidates by these).
        self.__qualname__ = f"exec {self.command!r}"
        self.__module__ = ""

    def __repr__(self) -> str:
        mode = ", persistent" if self.persistent else ""
        return f"exec_candidate({self.command!r}, timeout={self.timeout:g}{mode})"

    def __enter__(self) -> ProgramCandidate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the long-lived process (``persistent=True``); harmless otherwise."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def activations(self, H: int) -> list[str]:
        """The activation names of layers ``0 .. H`` that a request of depth `H` carries."""
        if isinstance(self._hidden, (list, tuple)):
            if len(self._hidden) != H:
                raise ValueError(
                    f"`hidden` names {len(self._hidden)} activations but the network has "
                    f"{H} hidden layers"
                )
            hidden = list(self._hidden)
        else:
            hidden = [self._hidden] * H
        return hidden + [self._hidden if self._output is None else self._output]

    def __call__(self, weights: Any, biases: Any, X: Any, Y: Any) -> tuple[list, list]:
        # Network validates the shapes (layer by layer) and check_data the batch.
        net = Network(weights, biases)
        X, Y = net.check_data(X, Y)
        names = self.activations(net.H)
        request = format_request(
            net.weights, net.biases, X, Y, activations=names, cost=self._cost, l2=self.l2
        )
        self.cases += 1
        limit = answer_limit(net.layout.size)
        with _heartbeat(self.progress, self.timeout):
            if self.persistent:
                text, stderr = self._exchange_persistent(request.encode(), limit)
            else:
                text, stderr = self._run_once(request.encode(), limit)
        try:
            flat = parse_answer(text, net.sizes)
        except ValueError as exc:
            raise self._failure(f"gave a bad answer: {printable(str(exc))}", stderr) from None
        dW, db = net.layout.split(flat)
        return dW, db

    def _failure(self, what: str, stderr: list[str]) -> CandidateProgramError:
        text = f"the program {self.command!r} {what} (case {self.cases})"
        if stderr:
            lines = "line" if len(stderr) == 1 else f"{len(stderr)} lines"
            text += f"\n    its stderr, last {lines}:"
            text += "".join(f"\n    | {line}" for line in stderr)
        else:
            text += "\n    (its stderr is empty)"
        return CandidateProgramError(text)

    def _start(self, start: Any) -> Any:
        try:
            return start()
        except OSError as exc:
            raise CandidateProgramError(
                f"the program {self.command!r} could not be started: {exc.strerror or exc}"
            ) from None

    def _run_once(self, request: bytes, limit: int) -> tuple[str, list[str]]:
        """One process for one case: the request on stdin, then end of input."""
        proc = self._start(lambda: _launch(self.argv))
        with proc:
            try:
                out, err, trouble = _communicate(proc, request, self.timeout, limit)
            finally:  # the case is over: nothing it started lives on (a `nohup cmd &`, say)
                _kill_group(proc)
        if trouble is not None:
            raise self._failure(trouble, err)
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            said = reported_error(text)
            raise self._failure(
                _status(proc.returncode) + (f"; it reported: {printable(said)}" if said else ""),
                err,
            )
        return text, err

    def _exchange_persistent(self, request: bytes, limit: int) -> tuple[str, list[str]]:
        if self._session is None:
            argv = self.argv
            self._session = self._start(lambda: _Session(argv))
        session = self._session
        answer, trouble = session.exchange(request, self.timeout, limit)
        text = answer.decode(errors="replace")
        if trouble is not None:
            self._session = None
            session.close()
            said = reported_error(text)
            raise self._failure(
                trouble + (f"; it reported: {printable(said)}" if said else ""),
                session.stderr_tail(),
            )
        return text, session.stderr_tail()


def _communicate(
    proc: subprocess.Popen, request: bytes, timeout: float, limit: int
) -> tuple[bytes, list[str], str | None]:
    """Write `request`, read stdout (at most `limit` bytes) and stderr's tail until both close
    and the program exits: (stdout, stderr tail, None or why the case failed)."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    threading.Thread(target=_feed, args=(proc.stdin, request), daemon=True).start()
    out, err = bytearray(), _StderrTail()
    late = f"did not answer within {timeout:g} s (wall clock) and was killed"
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout.fileno(), selectors.EVENT_READ, out)
        selector.register(proc.stderr.fileno(), selectors.EVENT_READ, err)
        exited = False
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(out), err.tail(), late
            # once the program has exited, what it wrote is in the pipes: read what is there and
            # stop, though something it left running may hold the pipes open
            ready = selector.select(0 if exited else min(remaining, _POLL))
            if not ready and exited:
                break
            exited = exited or proc.poll() is not None
            for key, _ in ready:
                chunk = os.read(key.fd, _READ)
                if not chunk:
                    selector.unregister(key.fd)
                elif key.data is err:
                    err.feed(chunk)
                else:
                    out += chunk
                    if len(out) > limit:
                        return bytes(out[:200]), err.tail(), _too_long(limit)
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return bytes(out), err.tail(), late
    return bytes(out), err.tail(), None


@contextlib.contextmanager
def _heartbeat(progress: Callable[[str], None] | None, timeout: float) -> Iterator[None]:
    """Every `HEARTBEAT` seconds the block lasts, ``progress("waiting for the program's answer:
    12 s of 60 s")``: a program that hangs shows the clock running, not one frozen line."""
    if progress is None:
        yield
        return
    done, start = threading.Event(), time.monotonic()

    def beat() -> None:
        while not done.wait(HEARTBEAT):
            waited = time.monotonic() - start
            progress(f"waiting for the program's answer: {waited:.0f} s of {timeout:g} s")

    beater = threading.Thread(target=beat, name="gradcheck-heartbeat", daemon=True)
    beater.start()
    try:
        yield
    finally:
        done.set()
        beater.join()


def _feed(stdin: Any, request: bytes) -> None:
    """The request, then end of input; a program that exits without reading is reported elsewhere."""
    try:
        with stdin:
            stdin.write(request)
    except (OSError, ValueError):
        pass


def exec_candidate(
    cmd: str | Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    persistent: bool = False,
    hidden: Any = "sigmoid",
    output: Any = None,
    cost: Any = "quadratic",
    l2: Any = 0.0,
    progress: Callable[[str], None] | None = None,
) -> ProgramCandidate:
    """A program speaking docs/PROTOCOL.md, as a candidate for `check_backprop`.

    Parameters
    ----------
    cmd : str or sequence of str
        The command line, e.g. ``"./my_backprop --fast"`` (split like a POSIX
        shell, without running one) or ``["./my_backprop", "--fast"]``.
    timeout : float
        Wall-clock seconds per case; a program that takes longer is killed
        (its whole process group) and the case fails.
    persistent : bool
        False: one process per case (stdin closes after the request).
        True: one long-lived process answers every case in turn.
    hidden, output, cost
        The names sent in each request; pass what `check_backprop` gets.
        `hidden` may be a list, one name per hidden layer.
    l2 : float
        The L2 penalty `lam` sent in each request (a ``l2 LAM`` line); pass
        the `l2` that `check_backprop` gets. 0 (default): no line.
    progress : callable, optional
        Called with a line every `HEARTBEAT` seconds while the program has
        not answered (the command line prints it on stderr).

    Returns
    -------
    ProgramCandidate
        ``candidate(weights, biases, X, Y) -> (dW_list, db_list)``; it raises
        `CandidateProgramError` when the program fails, which `check_backprop`
        reports as a failing trial with the program's stderr tail.

    Examples
    --------
    >>> from gradcheck import check_backprop
    >>> with exec_candidate("./my_backprop", timeout=10) as candidate:  # doctest: +SKIP
    ...     report = check_backprop(candidate, sizes=[4, 8, 3])
    """
    argv = check_command(cmd)
    timeout = check_timeout(timeout)
    check_flag(persistent, "persistent")
    names = list(hidden) if isinstance(hidden, (list, tuple)) else [hidden]
    hidden_names = [get_activation(h, argument="hidden activation").name for h in names]
    output_name = (
        None if output is None else get_activation(output, argument="output activation").name
    )
    cost_name = get_cost(cost).name
    for role, name in [("hidden", h) for h in hidden_names] + [
        ("output", output_name),
        ("cost", cost_name),
    ]:
        if name is not None and (not name or len(name.split()) != 1):
            raise ValueError(
                f"the {role} name {name!r} cannot travel in the protocol: names must be one word"
            )
    return ProgramCandidate(
        argv,
        l2=checked_l2(l2),
        timeout=timeout,
        persistent=bool(persistent),
        hidden=hidden_names if isinstance(hidden, (list, tuple)) else hidden_names[0],
        output=output_name,
        cost=cost_name,
        progress=progress,
    )
