"""The main job: verify the project's own reference over the built-in activations, costs and shapes.

Two tables. The first confirms the article's equations line by line on real
numbers (`run_equation_checks`, `format_equation_table`, built on
`gradcheck.oracle.equations.check_equations`). The second: each configuration
(hidden activation, output activation, cost) runs on several shapes, edge
cases among them (a hidden layer of width 1, no hidden layer, a batch of 1).
On each, three independent computations are compared:
`backprop` against `backprop_examples` and against `backprop_loops` (to
rounding), and `backprop` against finite differences of the cost.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcheck.fd.network import network_numerical_gradient
from gradcheck.html.page import render_html
from gradcheck.oracle.data import random_targets
from gradcheck.oracle.equations import check_equations
from gradcheck.results.equation_report import (
    FAIL,
    OUTPUT,
    UNVERIFIABLE,
    UPSTREAM,
    EquationReport,
    EquationRow,
)
from gradcheck.tolerance.compare import rounding_tolerance
from gradcheck.tolerance.policy import FD_SAFETY, FORMS_RTOL
from gradcheck.validate import check_configurations, check_int, check_labelled
from reference import (
    ACTIVATIONS,
    Network,
    ParameterLayout,
    backprop,
    backprop_examples,
    backprop_loops,
)

__all__ = [
    "selfcheck_page",
    "EQUATION_BATCH",
    "EQUATION_SIZES",
    "FORMS_RTOL",
    "PAIRINGS",
    "SHAPES",
    "SelfCheckRow",
    "blockwise_relative_error",
    "default_configurations",
    "format_equation_table",
    "format_rows",
    "run_equation_checks",
    "run_selfcheck",
    "selfcheck_summary",
    "shapes_text",
]

#: (hidden, output, cost) rows after the activations' own: every output/cost pairing worth its
#: own row, and a parameterised activation (leaky ReLU with slope 0.2). With the built-ins' seven
#: rows, eleven: the equation table's columns fit a 100-character screen.
PAIRINGS: tuple[tuple[str, str | None, str], ...] = (
    ("sigmoid", "sigmoid", "cross_entropy"),
    ("tanh", "softmax", "categorical_cross_entropy"),
    ("relu", "softmax", "quadratic"),
    ("leaky_relu:0.2", "sigmoid", "categorical_cross_entropy"),
)


def default_configurations() -> tuple[tuple[str, str | None, str], ...]:
    """(hidden, output, cost): the self-check's configurations, from the registry as it stands.

    One row per activation of `reference.ACTIVATIONS` whose `Coverage` asks for
    one (every built-in element-wise activation; a user's registered with
    ``coverage=``), as hidden with its ``(output, cost)`` in registry order,
    then `PAIRINGS`.

    Examples
    --------
    >>> default_configurations()[:2]
    (('identity', None, 'quadratic'), ('sigmoid', None, 'quadratic'))
    """
    own = tuple(
        (name, *act.coverage.selfcheck)
        for name, act in ACTIVATIONS.items()
        if act.coverage is not None and act.coverage.selfcheck is not None
    )
    return own + PAIRINGS


#: (sizes, d): a typical net, a hidden layer of width 1, no hidden layer,
#: a batch of 1 through a deeper net.
SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((4, 8, 3), 5),
    ((3, 1, 2), 4),
    ((4, 3), 6),
    ((5, 7, 6, 3), 1),
)

#: the equation table's net: two hidden layers, so the recursion appears twice
EQUATION_SIZES = (4, 8, 8, 3)
EQUATION_BATCH = 8  # its batch size d


@dataclass
class SelfCheckRow:
    """One configuration's worst errors over every shape."""

    hidden: str
    output: str
    cost: str
    examples_error: float = 0.0  # backprop vs backprop_examples, worst normwise per layer
    loops_error: float = 0.0  # backprop vs backprop_loops
    fd_excess: float = 0.0  # worst |fd - backprop| / fd error bound (<= 1 passes)
    fd_relative: float = 0.0  # worst normwise relative error of fd per layer
    unverifiable: int = 0  # entries whose difference straddles a kink
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.problems
            and self.examples_error <= FORMS_RTOL
            and self.loops_error <= FORMS_RTOL
            and self.fd_excess <= 1.0
        )


def blockwise_relative_error(a: np.ndarray, b: np.ndarray, layout: ParameterLayout) -> float:
    """max over the blocks `W^L`, `b^L` of ||a - b|| / ||b|| (absolute where b is exactly zero)."""
    worst = 0.0
    for _, block, _ in layout.blocks:
        scale = float(np.linalg.norm(b[block]))
        diff = float(np.linalg.norm(a[block] - b[block]))
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def finite_difference_bound(net: Network, X: np.ndarray, Y: np.ndarray):
    """Richardson differences of the cost, a bound on |fd - backprop|, and the kink mask (flat)."""
    fd = network_numerical_gradient(net, X, Y)
    bound = FD_SAFETY * fd.error.flat() + rounding_tolerance(net, X, Y, np.float64)
    return fd.flat(), bound, fd.unverifiable.flat()


def run_selfcheck(
    *,
    configurations: Iterable[tuple[str, str | None, str]] | None = None,
    shapes: Iterable[tuple[tuple[int, ...], int]] = SHAPES,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[SelfCheckRow]:
    """Run every configuration (default: `default_configurations()`) on every shape; a row each."""
    rows = []
    shapes = tuple(shapes)
    if configurations is None:
        configurations = default_configurations()
    for k, (hidden, output, cost) in enumerate(configurations):
        row = SelfCheckRow(hidden, output or hidden, cost)
        if progress:
            progress(f"{row.hidden}/{row.output}/{row.cost}")
        for s, (sizes, d) in enumerate(shapes):
            rng = np.random.default_rng([seed, k, s])
            net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
            X = rng.normal(size=(d, sizes[0]))
            Y = random_targets(net, d, rng)
            g = backprop(net, X, Y)
            flat = g.flat()
            for attr, form in (
                ("examples_error", backprop_examples),
                ("loops_error", backprop_loops),
            ):
                error = blockwise_relative_error(form(net, X, Y).flat(), flat, net.layout)
                setattr(row, attr, max(getattr(row, attr), error))
            fd, bound, unverifiable = finite_difference_bound(net, X, Y)
            ok = ~unverifiable
            row.unverifiable += int(unverifiable.sum())
            if ok.any():
                excess = np.abs(fd - flat)[ok] / bound[ok]
                row.fd_excess = max(row.fd_excess, float(excess.max()))
                worst = int(np.flatnonzero(ok)[np.argmax(excess)])
                if excess.max() > 1.0:
                    row.problems.append(
                        f"{'-'.join(map(str, sizes))} d={d}: {net.layout.name(worst)} "
                        f"backprop {flat[worst]:.6e} vs finite difference {fd[worst]:.6e}"
                    )
            fd_masked = np.where(unverifiable, flat, fd)
            row.fd_relative = max(
                row.fd_relative, blockwise_relative_error(fd_masked, flat, net.layout)
            )
        rows.append(row)
    return rows


def format_rows(rows: Sequence[SelfCheckRow]) -> str:
    """The main job's second table: its heading, then one row per configuration, worst over `SHAPES`."""
    header = (
        f"{'hidden':<15}{'output':<9}{'cost':<26}{'vs examples':>12}{'vs loops':>10}"
        f"{'vs FD rel':>11}{'FD/bound':>10}{'kinks':>7}  verdict"
    )
    lines = [
        "Backprop reference self-check: backprop (batch matrix form) against "
        "backprop_examples, backprop_loops",
        f"(normwise relative per layer, must be <= {FORMS_RTOL:g}) and against finite "
        "differences (Richardson; FD/bound <= 1 passes;",
        "kinks: entries a ReLU kink makes unverifiable by differences). Worst over shapes "
        f"{shapes_text()}.",
        "",
        header,
        "-" * len(header),
    ]
    for r in rows:
        lines.append(
            f"{r.hidden:<15}{r.output:<9}{r.cost:<26}{r.examples_error:>12.1e}{r.loops_error:>10.1e}"
            f"{r.fd_relative:>11.1e}{r.fd_excess:>10.2f}{r.unverifiable:>7}  "
            f"{'ok' if r.passed else 'FAIL'}"
        )
        lines.extend(f"    {problem}" for problem in r.problems)
    return "\n".join(lines)


def selfcheck_summary(
    rows: Sequence[SelfCheckRow], equations: Sequence[tuple[str, EquationReport]]
) -> str:
    """The main job's last line: how many configurations verified, and what FAILED."""
    failed = [r for r in rows if not r.passed]
    failed_equations = [name for name, report in equations if not report.passed]
    return (
        f"{len(rows) - len(failed)} of {len(rows)} configurations verified"
        + ("" if not failed else f"; {len(failed)} FAILED")
        + ("" if not failed_equations else f"; equations FAILED for {', '.join(failed_equations)}")
    )


def shapes_text(shapes: Iterable[tuple[tuple[int, ...], int]] = SHAPES) -> str:
    """The shapes as the table's title names them: ``"4-8-3 d=5, 3-1-2 d=4, ..."``."""
    return ", ".join(f"{'-'.join(map(str, sizes))} d={d}" for sizes, d in shapes)


# ------------------------------------------------------- the equation table


def _cell(row: EquationRow | None) -> str:
    if row is None:
        return "-"
    if row.verdict == FAIL:
        return "FAIL"
    if row.verdict == UPSTREAM:
        return "up"
    if row.verdict == UNVERIFIABLE:
        return "kink"
    excess = row.excess
    if excess < 1e-9:
        return "0"
    mantissa, exponent = f"{excess:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def format_equation_table(
    reports: Sequence[tuple[str, EquationReport]], *, width: int = 100
) -> str:
    """The article's proof confirmed line by line on real numbers: one row per equation and layer.

    Columns are configurations (numbered, with a legend below); each cell is
    the worst error over the tolerance (FD_SAFETY x the finite difference's error
    estimate plus rounding), so a cell at most 1 confirms that equation at
    that layer; ``FAIL`` marks one that does not, ``up`` one that inherits an
    earlier error, ``kink`` one whose every entry straddles a ReLU kink. The
    last column says whether the row holds in every configuration. Columns
    wrap into blocks to keep lines within `width`.

    Parameters
    ----------
    reports : sequence of (label, EquationReport)
        One per configuration, on networks of the same depth (as
        `run_equation_checks` gives).
    width : int
        The longest line to print.

    Returns
    -------
    str
        The table, with a title, a legend and a summary line.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network
    >>> net = Network.random([2, 3, 1], hidden="tanh", seed=0)
    >>> from gradcheck.oracle.equations import check_equations
    >>> report = check_equations(net, np.ones((2, 2)), np.zeros((2, 1)))
    >>> table = format_equation_table([("tanh/tanh/quadratic", report)])
    >>> table.splitlines()[-1]
    '1 of 1 configurations confirm every equation'
    """
    reports = check_labelled(reports, EquationReport)
    width = check_int(width, "width", low=1)
    keys, labels, softmax = _equation_labels(reports)
    sizes = sorted({"-".join(map(str, r.sizes)) + f" d={r.d}" for _, r in reports})
    lines = [
        "The article's equations, line by line on real numbers: each delta^L against finite",
        "differences of J_i in z^L, each dJ/dW^L, dJ/db^L against finite differences in W^L, b^L",
        f"(net {', '.join(sizes)}). Cell: worst error / tolerance ({FD_SAFETY:g}x the finite difference's",
        "error estimate + rounding); at most 1 confirms the equation at that layer.",
    ]
    lines += _equation_blocks(reports, keys, labels, width=width)
    footnote = "* fused output/cost pairs (e.g. sigmoid + cross-entropy): delta^H = a^H - y" + (
        "; softmax: delta^H = J_h(z^H)^T dJ/da^H" if softmax else ""
    )
    lines += [""] + textwrap.wrap(footnote, width=width, subsequent_indent="  ")
    lines += _legend([label for label, _ in reports], width=width)
    n_passed = sum(report.passed for _, report in reports)
    kinks = sum(report.n_unverifiable for _, report in reports)
    lines.append(
        f"{n_passed} of {len(reports)} configurations confirm every equation"
        + (f" ({kinks} entries unverifiable at ReLU kinks)" if kinks else "")
    )
    return "\n".join(lines)


def _equation_labels(
    reports: Sequence[tuple[str, EquationReport]],
) -> tuple[list[tuple[str, int]], dict[tuple[str, int], str], bool]:
    """The table's rows: their (kind, layer) keys in order, their labels, and whether a softmax
    output (whose delta^H the footnote spells out) is among them."""
    keys: list[tuple[str, int]] = []
    labels: dict[tuple[str, int], str] = {}
    softmax = False
    for _, report in reports:
        for row in report.rows:
            key = (row.kind, row.layer)
            if key not in labels:
                keys.append(key)
                labels[key] = row.equation
            if row.kind == OUTPUT:
                labels[key] = f"delta^{row.layer} = dJ/da^{row.layer} ⊙ h'(z^{row.layer}) *"
                softmax = softmax or "J_h" in row.equation
    return keys, labels, softmax


def _equation_blocks(
    reports: Sequence[tuple[str, EquationReport]],
    keys: list[tuple[str, int]],
    labels: dict[tuple[str, int], str],
    *,
    width: int,
) -> list[str]:
    """The table's body: one row per key, one numbered column per configuration, wrapped into
    blocks of columns to keep lines within `width`, each row ending in its verdict."""
    rows_by_key = [{(r.kind, r.layer): r for r in report.rows} for _, report in reports]
    label_width = max(len(label) for label in labels.values()) + 2
    cell, verdict_width = 5, 8
    per_block = max(1, (width - label_width - verdict_width) // cell)
    lines: list[str] = []
    for start in range(0, len(reports), per_block):
        block = range(start, min(start + per_block, len(reports)))
        header = f"{'equation':<{label_width}}" + "".join(f"{k + 1:>{cell}}" for k in block)
        lines += ["", header + f"{'verdict':>{verdict_width}}", "-" * (len(header) + verdict_width)]
        for key in keys:
            cells = "".join(f"{_cell(rows_by_key[k].get(key)):>{cell}}" for k in block)
            failed = sum(
                rows_by_key[k][key].verdict in (FAIL, UPSTREAM)
                for k in block
                if key in rows_by_key[k]
            )
            lines.append(
                f"{labels[key]:<{label_width}}{cells}"
                f"{'ok' if not failed else f'FAIL {failed}':>{verdict_width}}"
            )
    return lines


def _legend(labels: Sequence[str], *, width: int) -> list[str]:
    """The configurations' numbers and labels, as many to a line as fit in `width`."""
    legend = [f"{k + 1:>3} {label}" for k, label in enumerate(labels)]
    column = max(len(entry) for entry in legend) + 2
    per_line = max(1, width // column)
    return [
        "".join(f"{entry:<{column}}" for entry in legend[start : start + per_line]).rstrip()
        for start in range(0, len(legend), per_line)
    ]


def run_equation_checks(
    *,
    configurations: Sequence[tuple[str, str | None, str]] | None = None,
    sizes: Sequence[int] = EQUATION_SIZES,
    d: int = EQUATION_BATCH,
    seed: int = 0,
    method: str = "richardson",
) -> list[tuple[str, EquationReport]]:
    """`check_equations` on a seeded random network per configuration (the main job's first table).

    Parameters
    ----------
    configurations : sequence of (hidden, output, cost)
        Default: `default_configurations()`, every built-in activation and cost.
    sizes : sequence of int
        ``[n_in, n_0, ..., n_H]``; default `EQUATION_SIZES`, two hidden layers.
    d : int
        The batch size.
    seed : int
        Seeds the networks and data (configuration `k` uses ``[seed, k]``).
    method : {"richardson", "central", "complex"}

    Returns
    -------
    list of (label, EquationReport)
        Labels ``"hidden/output/cost"``; pass the list to `format_equation_table`.

    Examples
    --------
    >>> reports = run_equation_checks(configurations=[("tanh", None, "quadratic")], d=3)
    >>> [(label, report.passed) for label, report in reports]
    [('tanh/tanh/quadratic', True)]
    """
    d = check_int(d, "d", low=1)
    seed = check_int(seed, "seed", low=0)
    if configurations is None:
        configurations = default_configurations()
    configurations = check_configurations(configurations)
    out = []
    for k, (hidden, output, cost) in enumerate(configurations):
        rng = np.random.default_rng([seed, k])
        net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
        X = rng.normal(size=(d, net.sizes[0]))
        Y = random_targets(net, d, rng)
        out.append(
            (f"{hidden}/{output or hidden}/{cost}", check_equations(net, X, Y, method=method))
        )
    return out


def selfcheck_page(
    equations: Sequence[tuple[str, EquationReport]], rows: Sequence[SelfCheckRow]
) -> str:
    """The main job's page (``python -m gradcheck --html PATH``): its two tables and its verdict.

    Parameters
    ----------
    equations : sequence of (label, EquationReport)
        As `run_equation_checks` gives them.
    rows : sequence of SelfCheckRow
        As `run_selfcheck` gives them.
    """
    passed = all(r.passed for r in rows) and all(report.passed for _, report in equations)
    return render_html(
        title="gradcheck self-check: the reference against its loop forms and finite differences",
        verdict=("PASSED: " if passed else "FAILED: ") + selfcheck_summary(rows, equations),
        equation_table=format_equation_table(equations),
        notes=[("The three forms and finite differences", format_rows(rows))],
    )
