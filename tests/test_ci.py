"""CI's two passes (.ci/run, the root conftest.py): the tests skipped for a missing extra are
recorded in the first pass, and in the second a test of an extra that still skips fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT_CONFTEST = (Path(__file__).resolve().parent.parent / "conftest.py").read_text()
pytest_plugins = ["pytester"]

MISSING_TORCH = "could not import 'torch': No module named 'torch'"


@pytest.fixture
def project(pytester):
    pytester.makeconftest(ROOT_CONFTEST)
    pytester.makepyfile(
        test_call=f"""
import pytest

def test_needs_torch():
    pytest.skip({MISSING_TORCH!r})

def test_plain():
    pass

def test_skipped_for_another_reason():
    pytest.skip("no chromium on PATH")
""",
        test_module=f"""
import pytest

pytest.skip({MISSING_TORCH!r}, allow_module_level=True)

def test_never_collected():
    pass
""",
    )
    return pytester


def test_the_first_pass_records_what_an_extra_skipped(project, monkeypatch, tmp_path):
    record = tmp_path / "skips.txt"
    monkeypatch.setenv("GRADCHECK_EXTRA_SKIPS", str(record))
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert sorted(record.read_text().splitlines()) == [
        "test_call.py::test_needs_torch",
        "test_module.py",
    ]


def test_the_second_pass_fails_when_a_test_of_an_extra_still_skips(project, monkeypatch):
    monkeypatch.setenv("GRADCHECK_EXTRAS_REQUIRED", "1")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(
        [
            "*tests of an extra that still skipped*",
            "test_call.py::test_needs_torch (no torch)",
            "test_module.py (no torch)",
        ]
    )


def test_without_the_variables_nothing_changes(project):
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=3)
