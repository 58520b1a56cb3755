"""Pictures (matplotlib, optional): the Taylor remainder against the step, the V of finite differences.

Imported only when a plot is asked for; without matplotlib the import fails
with ImportError and the command line says how to install it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gradcheck.fd.taylor import TaylorResult  # noqa: E402

__all__ = ["plot_taylor", "taylor_figure"]

TITLE_WIDTH = 90  # characters per subtitle line: fits the 8-inch figure at 10 pt


def plot_taylor(result: TaylorResult, path: str | Path, *, title: str = "") -> Path:
    """Write a log-log plot of the Taylor remainders of `result` to `path` (PNG).

    Left: `|J(theta + e v) - J(theta)|` (first order, slope 1) and the
    remainder after the gradient term (slope 2 for a right gradient, 1 for a
    wrong one) for each direction, with the points used for the fit marked;
    the rounding floor shows as the left arm of the V. Reference slopes 1 and
    2 are drawn through the first direction's data.
    """
    path = Path(path)
    fig = taylor_figure(result, title=title)
    # "tight" grows the canvas to every artist, so no title or label is ever clipped.
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


def taylor_figure(result: TaylorResult, *, title: str = "") -> Figure:
    """The figure of `plot_taylor`; a long `title` is wrapped to the figure's width."""
    fig, ax = plt.subplots(figsize=(8, 5.5))
    eps = result.epsilons
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(result.direction_names)))
    for k, (name, color) in enumerate(zip(result.direction_names, colors)):
        rate = result.rates[k]
        label = f"{name}: rate {rate:.2f}" if np.isfinite(rate) else f"{name}: exact to rounding"
        ax.loglog(eps, result.remainders[k], "-", color=color, lw=1.2, label=label)
        used = result.used[k]
        ax.loglog(eps[used], result.remainders[k][used], "o", color=color, ms=3)
        ax.loglog(eps, result.first_order[k], ":", color=color, lw=0.8)
    anchor = np.flatnonzero(result.used[0])
    if anchor.size:
        e0, r0 = eps[anchor[0]], result.remainders[0][anchor[0]]
        ax.loglog(eps, r0 * (eps / e0) ** 2, "k--", lw=0.8, label="slope 2 (right gradient)")
        ax.loglog(eps, r0 * (eps / e0), "k-.", lw=0.8, label="slope 1 (wrong gradient)")
    ax.set_xlabel("step e")
    ax.set_ylabel("|J(θ + e v) − J(θ) − e ∇J·v|   (dotted: without the gradient term)")
    verdict = "PASSED" if result.passed else "FAILED"
    # The subtitle (a candidate and its network's repr) runs past the axes when one line.
    subtitle = textwrap.fill(title, TITLE_WIDTH, break_long_words=True) if title else ""
    ax.set_title(f"Taylor test {verdict}" + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
