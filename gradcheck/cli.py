"""The command line: ``python -m gradcheck`` (the main job) and its subcommands.

With no arguments it verifies the project's own reference (see
`gradcheck.selfcheck`) and prints one row per configuration; the exit status
is 0 when every row passes and 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence, TextIO

import numpy as np

from reference import Network

from .network_fd import network_numerical_gradient
from .selfcheck import FORMS_RTOL, SelfCheckRow, run_selfcheck

__all__ = ["main"]

FD_SAFETY = 10.0  # the verdict allows 10x the finite difference's own error estimate
REFERENCE_ROUNDING = 64 * np.finfo(np.float64).eps  # backprop's own rounding, relative to max|g|


def _numerical(net: Network, X: np.ndarray, Y: np.ndarray):
    """Finite differences with a bound on |fd - backprop| for the self-check."""
    from reference import backprop

    fd = network_numerical_gradient(net, X, Y)
    scale = np.abs(backprop(net, X, Y).flat()).max()
    bound = FD_SAFETY * fd.error.flat() + REFERENCE_ROUNDING * scale
    return fd.flat(), bound, fd.unverifiable.flat()


def _format_rows(rows: list[SelfCheckRow]) -> str:
    header = (
        f"{'hidden':<11}{'output':<9}{'cost':<26}{'vs examples':>12}{'vs loops':>10}"
        f"{'vs FD rel':>11}{'FD/bound':>10}{'kinks':>7}  verdict"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.hidden:<11}{r.output:<9}{r.cost:<26}{r.examples_error:>12.1e}{r.loops_error:>10.1e}"
            f"{r.fd_relative:>11.1e}{r.fd_error:>10.2f}{r.unverifiable:>7}  "
            f"{'ok' if r.passed else 'FAIL'}"
        )
        lines.extend(f"    {problem}" for problem in r.problems)
    return "\n".join(lines)


def _selfcheck(args: argparse.Namespace, out: TextIO) -> int:
    def progress(label: str) -> None:
        if not args.quiet:
            print(f"  checking {label} ...", file=sys.stderr, flush=True)

    rows = run_selfcheck(_numerical, seed=args.seed, progress=progress)
    print(
        "Backprop reference self-check: backprop (batch matrix form) against "
        "backprop_examples, backprop_loops\n"
        f"(normwise relative per layer, must be <= {FORMS_RTOL:g}) and against finite "
        "differences (Richardson; FD/bound <= 1 passes;\n"
        "kinks: entries a ReLU kink makes unverifiable by differences). Worst over shapes "
        "4-8-3 d=5, 3-1-2 d=4, 4-3 d=6, 5-7-6-3 d=1.\n",
        file=out,
    )
    print(_format_rows(rows), file=out)
    failed = [r for r in rows if not r.passed]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} configurations verified"
        + ("" if not failed else f"; {len(failed)} FAILED"),
        file=out,
    )
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck",
        description="The gradient oracle for backpropagation. With no command: verify the "
        "project's own reference (the three forms against each other and finite differences).",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random networks (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(run=_selfcheck)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = _parser().parse_args(argv)
    return args.run(args, out or sys.stdout)
