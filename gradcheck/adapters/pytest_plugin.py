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
the session with status 0 (`run_forked`); where a fork is unsafe, the call
runs in place with ``os._exit`` trapped.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gradcheck.html.page import write_report
from gradcheck.oracle.sealed import ExitAttempted, can_fork, in_fork, trapped_exits

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


def run_forked(job: Callable[[], Any]) -> Any:
    """`job()`, sealed: what it returns or raises, or `CandidateEndedTheProcess` if a candidate
    tried to end the process before it returned.

    A candidate that calls ``os._exit(0)`` would otherwise end the whole test
    session with status 0, read as a pass by CI. Where it can
    (`gradcheck.oracle.sealed.can_fork`), the job runs in a forked copy of this
    process, which sees every fixture and monkeypatch of the test; what the
    candidate changes in memory stays in the copy. Without ``os.fork``
    (Windows), or once a library whose thread pools do not survive a fork is
    loaded (PyTorch's OpenMP pool hangs the copy's first parallel operation),
    it runs here with ``os._exit`` trapped (`trapped_exits`).
    """
    if not can_fork():
        with trapped_exits():
            try:
                return job()
            except ExitAttempted as exc:
                raise CandidateEndedTheProcess(_unfinished(exc.status)) from None
    data, wait_status = in_fork(lambda: _outcome(job))
    if not data:
        raise CandidateEndedTheProcess(_unfinished(os.waitstatus_to_exitcode(wait_status)))
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise value
    return value


def _unfinished(status: int) -> str:
    return (
        f"the check did not finish: its process ended with status {status} in the middle of it "
        "(does the candidate call os._exit?); a backprop must return its gradient"
    )


def _outcome(job: Callable[[], Any]) -> bytes:
    """In the forked copy: what `job` returned or raised, pickled to travel back."""
    try:
        outcome: tuple[str, Any] = ("returned", job())
    except BaseException as exc:  # re-raised in the test's own process
        outcome = ("raised", exc)
    try:
        return pickle.dumps(outcome)
    except Exception as exc:  # an exception that cannot travel: its text does
        return pickle.dumps(("raised", RuntimeError(f"{type(outcome[1]).__name__}: {exc}")))


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
