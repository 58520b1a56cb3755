"""CI's two passes (see .ci/run): which tests an optional extra decides, for the tests and benchmarks.

Pass 1 runs the README's command with only ``.[test]`` installed; with
``GRADCHECK_EXTRA_SKIPS=<file>`` set, every test (or test module) skipped because
an optional extra is missing is written to that file, one node id a line.

Pass 2 installs the extras and runs exactly those node ids with
``GRADCHECK_EXTRAS_REQUIRED=1``: a test that still skips for a missing extra
then fails the run, so that no test of an extra goes unchecked.
"""

from __future__ import annotations

import os
import re

import pytest

#: the import names of the optional extras (pyproject's torch, jax, distributed, plot)
EXTRAS = ("torch", "jax", "jaxlib", "dask", "distributed", "matplotlib")

_MISSING = re.compile(r"could not import '([\w.]+)'")

_skipped: list[str] = []
_still_missing: list[str] = []


def _missing_extra(report: pytest.CollectReport | pytest.TestReport) -> str | None:
    """The extra whose absence skipped this report, or None."""
    if not report.skipped:
        return None
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    found = _MISSING.search(message)
    if found and found.group(1).split(".")[0] in EXTRAS:
        return found.group(1)
    return None


def _note(report: pytest.CollectReport | pytest.TestReport) -> None:
    extra = _missing_extra(report)
    if extra is None:
        return
    _skipped.append(report.nodeid)
    if os.environ.get("GRADCHECK_EXTRAS_REQUIRED"):
        _still_missing.append(f"{report.nodeid} (no {extra})")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "setup" or report.skipped:
        _note(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("GRADCHECK_EXTRA_SKIPS")
    if path:
        with open(path, "w", encoding="utf-8") as file:
            file.writelines(f"{nodeid}\n" for nodeid in dict.fromkeys(_skipped))
    if _still_missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _still_missing:
        terminalreporter.section("tests of an extra that still skipped", red=True)
        for line in dict.fromkeys(_still_missing):
            terminalreporter.write_line(line)
