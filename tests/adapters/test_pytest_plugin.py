"""The pytest plugin and the hypothesis strategies, as a user of another implementation meets them."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from candidates import make_numpy_backprop
from hypothesis import given

from gradcheck import GradientMismatch
from gradcheck.adapters.pytest_plugin import page_name
from gradcheck.strategies import networks, problems, sizes
from reference import backprop

pytest_plugins = ["pytester"]


def test_the_fixture_is_two_lines(backprop_oracle):
    backprop_oracle(make_numpy_backprop("tanh"), sizes=[4, 8, 3], hidden="tanh")


def test_the_fixture_raises_gradient_mismatch(backprop_oracle):
    def wrong(W, b, X, Y):
        dW, db = make_numpy_backprop()(W, b, X, Y)
        return [-w for w in dW], db

    with pytest.raises(GradientMismatch):
        backprop_oracle(wrong, sizes=[3, 4, 2])
    assert not backprop_oracle.check(wrong, sizes=[3, 4, 2]).passed


def test_a_candidate_that_calls_sys_exit_fails_the_fixture(backprop_oracle):
    """sys.exit(0) in the candidate is its failure, not the end of the test run."""
    import sys

    def quits(W, b, X, Y):
        sys.exit(0)

    with pytest.raises(GradientMismatch, match=r"called sys.exit\(0\)"):
        backprop_oracle(quits, sizes=[3, 4, 2], trials=1)


@pytest.mark.parametrize(
    "seal",
    [
        pytest.param(
            "",
            id="forked",
            marks=pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork"),
        ),
        # once torch or jax is loaded (or on Windows) the check runs in place, os._exit trapped
        pytest.param('monkeypatch.setattr(plugin, "can_fork", lambda: False)', id="in place"),
    ],
)
def test_a_candidate_that_calls_os_exit_fails_its_test_not_ends_the_session(pytester, seal):
    """os._exit(0) would end pytest with status 0: a pass to CI, with every later test unrun."""
    pytester.makepyfile(
        f"""
        import os
        import gradcheck.adapters.pytest_plugin as plugin

        def test_quits(backprop_oracle, monkeypatch):
            {seal}
            backprop_oracle(lambda W, b, X, Y: os._exit(0), sizes=[3, 4, 2], trials=1)

        def test_after():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # the whole of the child's output on failure: this test once failed intermittently in a
    # .[test]-only venv (the only place the fork runs: torch or jax loaded means in place)
    seen = f"stdout:\n{result.stdout.str()}\nstderr:\n{result.stderr.str()}"
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (1, 1), seen
    assert "the check did not finish" in result.stdout.str(), seen


def test_a_failure_shows_the_users_line_and_the_report(pytester):
    pytester.makepyfile(
        """
        def broken(weights, biases, X, Y):
            from reference import Network, backprop
            g = backprop(Network(weights, biases), X, Y)
            return [2 * w for w in g.weights], g.biases

        def test_mine(backprop_oracle):
            backprop_oracle(broken, sizes=[3, 4, 2])
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "check_backprop FAILED" in text and "W^1[" in text
    assert "backprop_oracle(broken, sizes=[3, 4, 2])" in text  # the user's line
    assert "oracle.py" not in text  # __tracebackhide__ keeps our frames out


@given(problems(hidden="tanh", output="softmax", cost="categorical_cross_entropy"))
def test_strategies_give_valid_problems(problem):
    net, X, Y = problem
    assert X.shape == (len(Y), net.sizes[0]) and Y.shape[1] == net.sizes[-1]
    np.testing.assert_allclose(Y.sum(axis=1), 1.0)
    assert np.isfinite(backprop(net, X, Y).flat()).all()


@given(networks(layer_sizes=sizes(n_in=3, n_out=2, max_layers=3)))
def test_sizes_can_be_pinned(net):
    assert net.sizes[0] == 3 and net.sizes[-1] == 2 and len(net.sizes) <= 4


BROKEN_AND_RIGHT = """
import pytest
from reference import Network, backprop

def broken(weights, biases, X, Y):
    g = backprop(Network(weights, biases), X, Y)
    return [2 * w for w in g.weights], g.biases

def right(weights, biases, X, Y):
    return backprop(Network(weights, biases), X, Y)

@pytest.mark.parametrize("width", [4])
def test_mine(backprop_oracle, width):
    backprop_oracle(broken, sizes=[3, width, 2], trials=1, edge_cases=False)

def test_twice(backprop_oracle):
    assert not backprop_oracle.check(broken, sizes=[3, 4, 2], trials=1).passed
    backprop_oracle(broken, sizes=[2, 2], trials=1, edge_cases=False)

def test_right(backprop_oracle):
    backprop_oracle(right, sizes=[3, 4, 2], trials=1)
"""


def test_gradcheck_html_writes_one_page_per_failing_call_named_after_the_test(pytester):
    pytester.makepyfile(test_pages=BROKEN_AND_RIGHT)
    folder = pytester.path / "pages"
    folder.mkdir()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck-html", "pages")
    result.assert_outcomes(failed=2, passed=1)
    pages = sorted(p.name for p in folder.iterdir())
    mine, twice = page_name("test_pages.py::test_mine[4]"), page_name("test_pages.py::test_twice")
    assert pages == sorted([f"{mine}.html", f"{twice}-2.html", f"{twice}.html"])
    assert mine.startswith("test_pages.py_test_mine_4-")
    text = result.stdout.str()
    assert f"HTML report: {folder / f'{mine}.html'}" in text
    assert f"HTML report: {folder / f'{twice}-2.html'}" in text
    page = (folder / f"{mine}.html").read_text(encoding="utf-8")
    assert "check_backprop FAILED" in page and 'data-block="W^0"' in page
    # dJ/dW doubled: W^0 is 3 x 4 and W^1 is 4 x 2, every one of their cells fails
    assert page.count('<rect class="cell"') == 3 * 4 + 4 + 4 * 2 + 2
    # a rerun overwrites a test's page of the earlier run
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck-html", "pages")
    again.assert_outcomes(failed=2, passed=1)
    assert len(list(folder.iterdir())) == 3


def test_without_gradcheck_html_no_page_and_the_message_is_the_report(pytester):
    pytester.makepyfile(test_pages=BROKEN_AND_RIGHT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "mine")
    result.assert_outcomes(failed=1)
    assert "HTML report" not in result.stdout.str()
    assert not list(pytester.path.glob("**/*.html"))


def test_gradcheck_html_creates_its_directory(pytester):
    """`pytest --gradcheck-html reports/`, as the README writes it, with no reports/ yet."""
    pytester.makepyfile(test_pages=BROKEN_AND_RIGHT)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "mine", "--gradcheck-html", "reports/new/"
    )
    result.assert_outcomes(failed=1)
    assert len(list((pytester.path / "reports" / "new").glob("*.html"))) == 1


def test_gradcheck_html_refuses_a_file(pytester):
    pytester.makepyfile(test_pages=BROKEN_AND_RIGHT)
    (pytester.path / "taken").write_text("")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck-html", "taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_page_names_are_safe_bounded_and_one_per_test():
    assert page_name("tests/test_x.py::test_y[a/b-c d]").startswith(
        "tests_test_x.py_test_y_a_b-c_d-"
    )
    ids = [f"t.py::test[a{sep}b]" for sep in " _/:,"]
    assert len({page_name(i) for i in ids}) == len(ids)  # alike once made safe, yet apart
    assert page_name(ids[0]) == page_name(ids[0])  # a rerun overwrites the test's own page
    long = page_name("t.py::test_" + "x" * 500)
    assert len(long) == 120 and long != page_name("t.py::test_" + "x" * 499)
    assert page_name("::").startswith("test-")
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", page_name(i)) for i in ids)


def test_the_fixture_without_the_option_writes_nothing(backprop_oracle):
    def wrong(W, b, X, Y):
        dW, db = make_numpy_backprop()(W, b, X, Y)
        return dW, [2 * v for v in db]

    with pytest.raises(GradientMismatch) as info:
        backprop_oracle(wrong, sizes=[3, 4, 2], trials=1, edge_cases=False)
    assert "HTML report" not in str(info.value) and backprop_oracle.pages == []
