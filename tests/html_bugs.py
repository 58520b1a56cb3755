"""Known bugs, checked by the real oracle, as HTML report pages: where each puts its wrong cells.

Each bug is a candidate that returns the reference gradient with one
deliberate slip; `bug_page` checks it with `check_backprop_at`, computes the
maps (`trial_maps`: reference vs the candidate's output) and the worst
entry's step curve, and renders the page.  `expected` says which cells of
which block must fail, and which must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradcheck import check_backprop_at, trial_case
from gradcheck.html.page import BlockMap, render_report, step_curve, trial_maps
from reference import Network, backprop

UNIT = 2  # the unit of layer 0 whose delta is wrong
ENTRY = (3, 1)  # the entry of W^1 that is off


def _reference(weights, biases, X, Y):
    g = backprop(Network(weights, biases), X, Y)
    return [W.copy() for W in g.weights], [b.copy() for b in g.biases]


def transposed_dW(weights, biases, X, Y):
    """dJ/dW^L returned transposed (N x M read as M x N): only visible off the diagonal."""
    dW, db = _reference(weights, biases, X, Y)
    return [W.T.copy() for W in dW], db


def one_unit_delta(weights, biases, X, Y):
    """delta^0 of one unit 50% too large: column UNIT of W^0 and b^0[UNIT] wrong, nothing else."""
    dW, db = _reference(weights, biases, X, Y)
    dW[0][:, UNIT] *= 1.5  # dJ/dW^0 = a^{-1} (delta^0)^T: one column per unit
    db[0][UNIT] *= 1.5  # dJ/db^0 = delta^0
    return dW, db


def one_entry_off(weights, biases, X, Y):
    """W^1[3,1] off by 5% of the block's largest entry: an indexing slip."""
    dW, db = _reference(weights, biases, X, Y)
    dW[1][ENTRY] += 0.05 * np.abs(dW[1]).max()
    return dW, db


@dataclass(frozen=True)
class Bug:
    candidate: Callable
    sizes: tuple[int, ...]
    block: str  # the block the wrong cells sit in
    wrong: Callable[[tuple[int, ...]], np.ndarray]  # shape -> mask of the cells that must fail


def _off_diagonal(shape):
    return ~np.eye(*shape, dtype=bool)


def _column(shape):
    mask = np.zeros(shape, dtype=bool)
    mask[:, UNIT] = True
    return mask


def _entry(shape):
    mask = np.zeros(shape, dtype=bool)
    mask[ENTRY] = True
    return mask


BUGS = {
    "transposed_dW": Bug(transposed_dW, (6, 6, 6), "W^0", _off_diagonal),
    "one_unit_delta": Bug(one_unit_delta, (5, 7, 3), "W^0", _column),
    "one_entry_off": Bug(one_entry_off, (5, 7, 4), "W^1", _entry),
}


@dataclass(frozen=True)
class BugPage:
    name: str
    html: str
    maps: list[BlockMap]
    passed: bool  # the oracle's verdict (must be False)


def bug_page(name: str, *, seed: int = 3) -> BugPage:
    """Check bug `name` with the oracle and render its report page."""
    bug = BUGS[name]
    net, X, Y = trial_case(bug.sizes, 8, seed)
    report = check_backprop_at(bug.candidate, net, X, Y)
    dW, db = bug.candidate(net.weights, net.biases, X.copy(), Y.copy())
    maps = trial_maps(net, X, Y, net.layout.join(dW, db))
    worst = report.worst_entries[0]
    curve = step_curve(net, X, Y, worst.name, candidate=worst.candidate)
    page = render_report(report, maps={0: maps}, step_curves=[curve])
    return BugPage(name, page, maps, report.passed)
