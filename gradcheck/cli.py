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

from reference import backprop

from .candidate import LAYOUTS
from .equations import format_equation_table, run_equation_checks
from .selfcheck import FORMS_RTOL, SelfCheckRow, run_selfcheck

__all__ = ["main"]


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
            _progress(f"checking {label} ...")

    progress("the four equations, layer by layer")
    equations = run_equation_checks(seed=args.seed)
    print(format_equation_table(equations), file=out)
    print(file=out)
    rows = run_selfcheck(seed=args.seed, progress=progress)
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
    failed_equations = [name for name, report in equations if not report.passed]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} configurations verified"
        + ("" if not failed else f"; {len(failed)} FAILED")
        + ("" if not failed_equations else f"; equations FAILED for {', '.join(failed_equations)}"),
        file=out,
    )
    return 1 if failed or failed_equations else 0


class _UsageError(Exception):
    """Bad usage of the command line: `main` prints "error: ..." on stderr and exits with status 2."""


def _load(spec: str):
    """`module:function` or `path/to/file.py:function` -> the function, or a `_UsageError`."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise _UsageError(f"candidate {spec!r} must be module:function or path/to/file.py:function")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise _UsageError(f"no file {target!r}")
        try:
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            # a path ending in .py always gets a spec with a source loader
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        except Exception as exc:  # a SyntaxError, or whatever the file raises as it runs
            raise _UsageError(f"cannot import {target!r}: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:  # ImportError, or whatever the module raises as it runs
            raise _UsageError(f"cannot import module {target!r}: {exc}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise _UsageError(f"module {target!r} has no attribute {name!r}") from None


def _sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes must be comma-separated integers like 4,8,3, got {text!r}"
        ) from None


def _progress(line: str) -> None:
    """Long checks say what they are doing, on stderr (stdout stays the report)."""
    print(f"  {line}", file=sys.stderr, flush=True)


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
            progress=None if args.quiet else _progress,
        )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=1) if args.json else str(report), file=out)
    return 0 if report.passed else 1


def _taylor(args: argparse.Namespace, out: TextIO) -> int:
    from .oracle import _check_candidate, trial_case
    from .taylor import taylor_test

    try:
        if args.plot:
            folder = Path(args.plot).parent
            if not folder.is_dir():
                raise _UsageError(
                    f"--plot {args.plot!r}: the directory {str(folder)!r} does not exist"
                )
        net, X, Y = trial_case(
            args.sizes,
            args.batch,
            args.seed,
            hidden=args.hidden,
            output=args.output,
            cost=args.cost,
        )
        if args.candidate:
            from .candidate import call_candidate

            candidate = _load(args.candidate)
            _check_candidate(candidate)
            answer = call_candidate(candidate, net, X, Y, layout=args.layout)
            if answer.problems:
                print("error: " + "; ".join(answer.problems), file=sys.stderr)
                return 1
            assert answer.gradient is not None  # no problems: a gradient
            gradient, source = answer.gradient.astype(np.float64), args.candidate
        else:
            gradient, source = backprop(net, X, Y).flat(), "reference.backprop"
        blocks = [(name, block) for name, block, _ in net.layout.blocks]
        result = taylor_test(
            lambda theta: net.cost(X, Y, theta=theta),
            gradient,
            net.flat(),
            blocks=blocks,
            seed=args.seed,
        )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Taylor test of {source} on {net!r}, d={args.batch}: the remainder "
        "|J(theta + e v) - J(theta) - e grad.v| must fall as e^2 (rate 2) for a right gradient,\n"
        "as e (rate 1) for a wrong one.\n",
        file=out,
    )
    print(result, file=out)
    if args.plot:
        try:
            from .plots import plot_taylor
        except ImportError:
            print("error: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
        try:
            plot_taylor(result, args.plot, title=f"{source}: {net!r}")
        except OSError as exc:
            raise _UsageError(f"cannot write --plot {args.plot!r}: {exc}") from None
        print(f"\nwrote {args.plot}", file=out)
    return 0 if result.passed else 1


def _vectors(args: argparse.Namespace, out: TextIO) -> int:
    from .vectors import write_vectors

    try:
        path = write_vectors(args.out, force=args.force, seed=args.seed)
    except (FileExistsError, ValueError, TypeError) as exc:
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
        "--layout",
        default="article",
        choices=LAYOUTS,
        help="article, torch or flat (default article)",
    )
    check.add_argument("--trials", type=int, default=3, help="random networks (default 3)")
    check.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--quiet", action="store_true", help="no progress on stderr")
    check.set_defaults(run=_check)

    taylor = commands.add_parser(
        "taylor",
        help="the Taylor remainder test of a gradient, with an optional PNG",
        description="Sweep the step e over many decades: the remainder |J(theta + e v) - J(theta) - "
        "e grad.v| falls as e^2 for a right gradient and as e for a wrong one. Checks the "
        "reference, or --candidate module:function.",
    )
    taylor.add_argument(
        "--candidate", default=None, help="module:function to test instead of the reference"
    )
    taylor.add_argument(
        "--layout",
        default="article",
        choices=LAYOUTS,
        help="the candidate's layout: article, torch or flat (default article)",
    )
    taylor.add_argument(
        "--sizes", type=_sizes, default=[4, 8, 3], help="layer sizes (default 4,8,3)"
    )
    taylor.add_argument("--hidden", default="sigmoid")
    taylor.add_argument("--output", default=None)
    taylor.add_argument("--cost", default="quadratic")
    taylor.add_argument("--batch", type=int, default=8, help="examples d (default 8)")
    taylor.add_argument("--seed", type=int, default=0)
    taylor.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="write remainder against step (needs matplotlib)",
    )
    taylor.set_defaults(run=_taylor)

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
    try:
        return args.run(args, out or sys.stdout)
    except (
        _UsageError
    ) as exc:  # a candidate that cannot be loaded, a --plot path that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 2
