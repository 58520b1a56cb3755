"""gradcheck.html.plots: the Taylor test's remainders drawn with matplotlib (skipped without it)."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from gradcheck import taylor_test, trial_case  # noqa: E402
from gradcheck.html.plots import TITLE_WIDTH, plot_taylor, taylor_figure  # noqa: E402
from reference import Network, backprop  # noqa: E402


def _result(scale=1.0):
    net, X, Y = trial_case([4, 6, 3], 5, seed=0)
    gradient = scale * backprop(net, X, Y).flat()
    return taylor_test(lambda t: net.cost(X, Y, theta=t), gradient, net.flat())


def test_the_title_says_the_verdict_and_the_legend_each_direction():
    right, wrong = _result(), _result(scale=1.5)
    assert right.passed and not wrong.passed
    for result, verdict in ((right, "PASSED"), (wrong, "FAILED")):
        ax = taylor_figure(result).axes[0]
        assert ax.title.get_text() == f"Taylor test {verdict}"
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert len(legend) == len(result.direction_names) + 2  # and the two reference slopes
        assert legend[-2:] == ["slope 2 (right gradient)", "slope 1 (wrong gradient)"]


def test_a_long_title_is_wrapped_to_the_figure():
    title = "x" * (3 * TITLE_WIDTH)
    lines = taylor_figure(_result(), title=title).axes[0].title.get_text().splitlines()
    assert lines[0] == "Taylor test PASSED" and len(lines) == 4
    assert all(len(line) <= TITLE_WIDTH for line in lines)


def test_taylor_png_subtitle_fits_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from gradcheck.html.plots import taylor_figure

    net, X, Y = trial_case([4, 6, 3], 5, seed=0)
    result = taylor_test(lambda t: net.cost(X, Y, theta=t), backprop(net, X, Y).flat(), net.flat())
    title = "some.package.module:my_backprop_implementation: " + repr(
        Network.random(
            [784, 128, 64, 10],
            hidden="leaky_relu",
            output="softmax",
            cost="categorical_cross_entropy",
        )
    )
    fig = taylor_figure(result, title=title)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_legend().get_texts()]
    for text in texts:
        box = text.get_window_extent(renderer)
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, text.get_text()
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, text.get_text()
    assert "categorical_cross_entropy" in ax.title.get_text()
    assert plot_taylor(result, tmp_path / "t.png", title=title).stat().st_size > 10_000
