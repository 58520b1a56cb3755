"""The command line: ``python -m gradcheck`` (the main job) and its subcommands.

With no arguments it verifies the project's own reference (see
`gradcheck.selfcheck`) and prints one row per configuration; the exit status
is 0 when every row passes and 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from reference import Network, backprop

from .network_fd import network_numerical_gradient
from .selfcheck import FORMS_RTOL, SelfCheckRow, run_selfcheck

__all__ = ["main"]

FD_SAFETY = 10.0  # the verdict allows 10x the finite difference's own error estimate
REFERENCE_ROUNDING = 64 * np.finfo(np.float64).eps  # backprop's own rounding, relative to max|g|


def _numerical(net: Network, X: np.ndarray, Y: np.ndarray):
    """Finite differences with a bound on |fd - backprop| for the self-check."""
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


def _load(spec: str):
    """`module:function` or `path/to/file.py:function` -> the function."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise SystemExit(
            f"error: candidate {spec!r} must be module:function or path/to/file.py:function"
        )
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise SystemExit(f"error: no file {target!r}")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise SystemExit(f"error: cannot import module {target!r}: {exc}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise SystemExit(f"error: module {target!r} has no attribute {name!r}") from None


def _sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes must be comma-separated integers like 4,8,3, got {text!r}"
        ) from None


def _check(args: argparse.Namespace, out: TextIO) -> int:
    from .oracle import check_backprop

    candidate = _load(args.candidate)
    try:
        report = check_backprop(
            candidate,
            sizes=args.sizes,
            hidden=args.hidden,
            output=args.output,
            cost=args.cost,
            layout=args.layout,
            trials=args.trials,
            seed=args.seed,
        )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=1) if args.json else str(report), file=out)
    return 0 if report.passed else 1


def _vectors(args: argparse.Namespace, out: TextIO) -> int:
    from .vectors import write_vectors

    try:
        path = write_vectors(args.out, force=args.force, seed=args.seed)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (format described in gradcheck/vectors.py)", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck",
        description="The gradient oracle for backpropagation. With no command: verify the "
        "project's own reference (the three forms against each other and finite differences).",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random networks (default 0)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(run=_selfcheck)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="check a backprop implementation given as module:function",
        description="Check candidate(weights, biases, X, Y) -> (dW_list, db_list) against the "
        "reference and finite differences. Exit status 0 if it passes, 1 if not, 2 on bad usage.",
    )
    check.add_argument("candidate", help="module:function or path/to/file.py:function")
    check.add_argument(
        "--sizes",
        type=_sizes,
        default=[4, 8, 3],
        help="layer sizes n_in,n_0,...,n_H (default 4,8,3)",
    )
    check.add_argument("--hidden", default="sigmoid", help="hidden activation (default sigmoid)")
    check.add_argument("--output", default=None, help="output activation (default: same as hidden)")
    check.add_argument("--cost", default="quadratic", help="cost (default quadratic)")
    check.add_argument(
        "--layout", default="article", help="article, torch or flat (default article)"
    )
    check.add_argument("--trials", type=int, default=3, help="random networks (default 3)")
    check.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=_check)

    vectors = commands.add_parser(
        "vectors",
        help="write golden test vectors for other languages",
        description="Write networks, data, expected gradients and tolerances as JSON (exact "
        "floats) and .npz into --out.",
    )
    vectors.add_argument("--out", required=True, help="directory to write into")
    vectors.add_argument("--force", action="store_true", help="overwrite a non-empty directory")
    vectors.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    vectors.set_defaults(run=_vectors)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = _parser().parse_args(argv)
    return args.run(args, out or sys.stdout)
