"""The pytest plugin (entry point ``pytest11``): a `backprop_oracle` fixture, and HTML reports of failures.

A user's test is two lines::

    def test_my_backprop(backprop_oracle):
        backprop_oracle(my_backprop, sizes=[4, 8, 3], hidden="tanh")

A failure raises `GradientMismatch`, whose message is the report; pytest
shows it from the user's line.  With ``pytest --gradcheck-html DIR`` every
failing oracle call also writes one self-contained HTML page into DIR (created
if missing), named after the test (its node id, made safe for a file name, and
a digest that keeps every test's name its own), and the failure message says
where.  A test's page from an earlier run is overwritten.

Each oracle call runs its check in a forked copy of the test's process (POSIX),
so that a candidate calling ``os._exit(0)`` fails its test instead of ending
the session with status 0 (`run_forked`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gradcheck.html.page import write_report

if TYPE_CHECKING:
    from gradcheck.results.report import BackpropReport
    from reference import Gradients

__all__ = [
    "BackpropOracle",
    "CandidateEndedTheProcess",
    "backprop_oracle",
    "page_name",
    "run_forked",
]

OPTION = "--gradcheck-html"
MAX_NAME = 120  # characters of a page's file name stem: readable, and far below a file system's 255
DIGEST = 8  # hex digits of the node id's SHA-1 in a page's name: 4e9 names, collisions unheard of


class BackpropOracle:
    """Calling it asserts (like `assert_backprop`); `.check` returns the report without raising.

    Parameters
    ----------
    html_dir : path, optional
        Where each failing call writes its HTML report (``--gradcheck-html``).
    name : str
        The pages' file name stem (the test's sanitised node id).
    """

    def __init__(self, *, html_dir: str | Path | None = None, name: str = "backprop") -> None:
        self.html_dir = None if html_dir is None else Path(html_dir)
        self.name = name
        self.pages: list[Path] = []  # the HTML reports written so far, in order
        self._where = ""  # what the failure message says of the last page

    def __call__(self, candidate: Callable[..., Any], **options: Any) -> BackpropReport:
        from gradcheck.results.report import GradientMismatch

        __tracebackhide__ = True
        report = self.check(candidate, **options)
        if not report.passed:
            error = GradientMismatch(report)
            if self.html_dir is not None:
                error.args = (f"{error.args[0]}\n\n{self._where}",)
            raise error
        return report

    def check(self, candidate: Callable[..., Any], **options: Any) -> BackpropReport:
        from gradcheck.oracle.backprop import check_backprop

        report = run_forked(lambda: check_backprop(candidate, **options))
        if not report.passed and self.html_dir is not None:
            self._write(report)
        return report

    @staticmethod
    def reference(net: Any, X: Any, Y: Any) -> Gradients:
        """The oracle's own gradient (`reference.backprop`)."""
        from reference import backprop

        return backprop(net, X, Y)

    def _write(self, report: BackpropReport) -> None:
        """One page per failing call: NAME.html, then NAME-2.html, ... within one test."""
        assert self.html_dir is not None
        count = len(self.pages) + 1
        path = self.html_dir / f"{self.name}{'' if count == 1 else f'-{count}'}.html"
        try:
            self.pages.append(write_report(report, path, force=True))
            self._where = f"HTML report: {self.pages[-1]}"
        except (OSError, ValueError) as exc:  # the verdict stands; the page is a convenience
            self._where = f"HTML report not written: {exc}"


class CandidateEndedTheProcess(AssertionError):
    """The check's process ended (``os._exit``) before the check did: no verdict, a failure."""


#: Libraries whose worker threads do not survive a fork: once one is loaded, a forked copy of
#: this process can hang in its first parallel operation (seen: torch after a multithreaded matmul).
FORK_UNSAFE = ("torch", "jax", "jaxlib", "tensorflow")


def _fork_unsafe() -> bool:
    return any(name in sys.modules for name in FORK_UNSAFE)


def run_forked(job: Callable[[], Any]) -> Any:
    """`job()`, run in a forked copy of this process: what it returns or raises, or
    `CandidateEndedTheProcess` if the copy ended before it returned.

    A candidate that calls ``os._exit(0)`` would otherwise end the whole test
    session with status 0, read as a pass by CI. The copy sees every fixture
    and monkeypatch of the test; what the candidate changes in memory stays
    in the copy. Without ``os.fork`` (Windows), or once a library whose thread
    pools do not survive a fork is loaded (`FORK_UNSAFE`: PyTorch's OpenMP pool
    hangs the copy's first parallel operation), the job runs here, and an
    ``os._exit`` in the candidate is not caught.
    """
    if not hasattr(os, "fork") or _fork_unsafe():
        return job()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns of forking with threads: the copy
        warnings.simplefilter("ignore", DeprecationWarning)  # runs the check, nothing else
        pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(job, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    if not data:
        raise CandidateEndedTheProcess(
            "the check did not finish: its process ended with status "
            f"{os.waitstatus_to_exitcode(wait_status)} in the middle of it (does the candidate "
            "call os._exit?); a backprop must return its gradient"
        )
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise value
    return value


def _child(job: Callable[[], Any], write_end: int) -> None:
    """In the forked copy: run `job`, send its outcome, and end without running pytest on."""
    try:
        outcome: tuple[str, Any] = ("returned", job())
    except BaseException as exc:  # re-raised in the test's own process
        outcome = ("raised", exc)
    try:
        data = pickle.dumps(outcome)
    except Exception as exc:  # an exception that cannot travel: its text does
        data = pickle.dumps(("raised", RuntimeError(f"{type(outcome[1]).__name__}: {exc}")))
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def page_name(nodeid: str) -> str:
    """A file name stem for a test, one per node id: the id with every unsafe run of characters as
    ``_`` (cut to `MAX_NAME` characters), then a digest of the whole id.

    The digest keeps ids apart that read alike once made safe (``[a b]``, ``[a_b]``, ``[a/b]``)
    or once cut; the same test gets the same name in every run.

    Examples
    --------
    >>> page_name("tests/test_mine.py::test_it[tanh-4,8,3]")
    'tests_test_mine.py_test_it_tanh-4_8_3-bf76cae9'
    """
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:DIGEST]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("._") or "test"
    return f"{stem[: MAX_NAME - DIGEST - 1]}-{digest}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradcheck: the gradient oracle for backpropagation")
    group.addoption(
        OPTION,
        dest="gradcheck_html",
        default=None,
        metavar="DIR",
        help="write an HTML report of each failing backprop_oracle call into DIR "
        "(one page per call, named after the test)",
    )


def pytest_configure(config: pytest.Config) -> None:
    folder = config.getoption("gradcheck_html", default=None)
    if folder is None:
        return
    if Path(folder).exists() and not Path(folder).is_dir():
        raise pytest.UsageError(f"{OPTION} {folder!r} is a file; give a directory for the pages")
    try:  # created as `mkdir -p` would: the README's `pytest --gradcheck-html reports/` just works
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(f"{OPTION} {folder!r}: cannot create it: {exc}") from None
    # absolute, so that the failure messages name a page that opens from anywhere, and
    # a test that changes the working directory still writes where the user asked
    config.option.gradcheck_html = str(Path(folder).resolve())


@pytest.fixture
def backprop_oracle(request: pytest.FixtureRequest) -> BackpropOracle:
    """Check a backprop implementation: ``backprop_oracle(my_backprop, sizes=[4, 8, 3])``."""
    folder = request.config.getoption("gradcheck_html", default=None)
    return BackpropOracle(html_dir=folder, name=page_name(request.node.nodeid))
