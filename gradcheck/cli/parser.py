"""The command line's grammar: every subcommand, its options and their types, and no behaviour.

`build_parser` gives the parser of ``python -m gradcheck``; each parse names
the job to run (``args.command``), and `gradcheck.cli.main` runs it. An option's
type checks its text here, so that bad usage is said before any work.
"""

from __future__ import annotations

import argparse
import math

from gradcheck.adapters.protocol.program import DEFAULT_TIMEOUT
from gradcheck.oracle.candidate import LAYOUTS
from gradcheck.validate import MAX_TIMEOUT, check_timeout

__all__ = ["build_parser"]


def _html_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--html PATH and --force: the same result as one self-contained HTML page."""
    parser.add_argument(
        "--html",
        default=None,
        metavar="PATH",
        help=f"also write {what} as a self-contained HTML page",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --html file")


def _sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes must be comma-separated integers like 4,8,3, got {text!r}"
        ) from None


def _hidden(text: str) -> str | list[str]:
    """`--hidden tanh` (every hidden layer) or `--hidden relu,tanh` (one name per hidden layer)."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"--hidden must be an activation name or a comma-separated list of them, got {text!r}"
        )
    return names[0] if len(names) == 1 else names


def _edge_cases(text: str) -> bool | set[str]:
    """`--edge-cases all|none|NAME,NAME`: True, False, or the subset of edge trials."""
    if text in ("all", "none"):
        return text == "all"
    names = {part.strip() for part in text.split(",")}
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"--edge-cases must be all, none or a comma-separated list of names, got {text!r}"
        )
    return names


def _positive_float(text: str) -> float:
    """A positive finite number (--timeout, --weight-scale: so the message names no unit)."""
    try:
        return check_timeout(float(text), "value")
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected a positive, finite number, got {text!r}"
        ) from None


def _timeout(text: str) -> float:
    """--timeout: positive seconds, at most `MAX_TIMEOUT` (the waits behind it take no more)."""
    try:
        return check_timeout(float(text), "--timeout")
    except (TypeError, ValueError) as exc:
        if "at most" in str(exc):
            raise argparse.ArgumentTypeError(
                f"expected at most {MAX_TIMEOUT:g} seconds, got {text!r}"
            ) from None
        raise argparse.ArgumentTypeError(
            f"expected a positive, finite number, got {text!r}"
        ) from None


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _network_options(parser: argparse.ArgumentParser) -> None:
    """--sizes, --hidden, --output, --cost: the network a subcommand draws."""
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[4, 8, 3],
        help="layer sizes n_in,n_0,...,n_H (default 4,8,3)",
    )
    parser.add_argument(
        "--hidden",
        type=_hidden,
        default="sigmoid",
        help="hidden activation, or one per hidden layer: relu,tanh (default sigmoid)",
    )
    parser.add_argument(
        "--output", default=None, help="output activation (default: same as hidden)"
    )
    parser.add_argument("--cost", default="quadratic", help="cost (default quadratic)")


CHECK_DESCRIPTION = (
    "Check candidate(weights, biases, X, Y) -> (dW_list, db_list) against the "
    "reference and finite differences; or, with --exec, a program in any language speaking "
    "the protocol of docs/PROTOCOL.md on stdin/stdout. Exit status 0 if it passes, 1 if "
    "not, 2 on bad usage, 3 if the verdict is inconclusive (the oracle's reference and "
    "finite differences disagree: its own fault, to be reported, not the candidate's)."
)


#: `check`'s numeric options that default to the oracle's own (None: not passed on).
_CHECK_NUMBERS = (
    ("--l2", _non_negative_float, "L2 penalty (lam/2) sum_L ||W^L||^2"),
    ("--weight-scale", _positive_float, "scale of the random weights"),
    (
        "--libm-ulps",
        _positive_float,
        "how many ulps the candidate's tanh, exp, expm1 may err by (default 1.5, numpy's "
        "and torch's; XLA's is 7; a C build with -ffast-math or libmvec, up to 4)",
    ),
)


def _add_check(commands: argparse._SubParsersAction) -> None:
    """The `check` subcommand: a candidate against the reference and finite differences."""
    check = commands.add_parser(
        "check",
        allow_abbrev=False,
        help="check a backprop implementation: module:function, or a program with --exec",
        description=CHECK_DESCRIPTION,
    )
    check.add_argument(
        "candidate", nargs="?", default=None, help="module:function or path/to/file.py:function"
    )
    check.add_argument(
        "--exec",
        default=None,
        metavar="'PROGRAM ARGS'",
        help="check a program speaking docs/PROTOCOL.md instead of a Python function",
    )
    check.add_argument(
        "--timeout",
        type=_timeout,
        default=None,
        metavar="S",
        help="wall-clock seconds a call may take: an --exec program is killed then "
        f"(default {DEFAULT_TIMEOUT:g}); a Python candidate fails (default: no limit)",
    )
    check.add_argument(
        "--persistent",
        action="store_true",
        help="with --exec: one long-lived process answers every case (default: one per case)",
    )
    _network_options(check)
    check.add_argument(
        "--layout",
        default="article",
        choices=LAYOUTS,
        help="article, torch or flat (default article)",
    )
    check.add_argument("--trials", type=int, default=3, help="random networks (default 3)")
    check.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    check.add_argument(
        "--batch-size", type=int, default=8, metavar="D", help="examples per batch (default 8)"
    )
    check.add_argument(
        "--edge-cases",
        type=_edge_cases,
        default=None,
        metavar="all|none|NAMES",
        help="edge trials: all (default), none, or a comma-separated subset",
    )
    for flag, kind, text in _CHECK_NUMBERS:
        check.add_argument(flag, type=kind, default=None, help=text)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _html_options(check, "the report, with per-layer error maps,")
    check.set_defaults(command="check", parser=check)


def _add_equations(commands: argparse._SubParsersAction) -> None:
    """The `equations` subcommand: the derivation checked equation by equation."""
    equations = commands.add_parser(
        "equations",
        allow_abbrev=False,
        help="check backpropagation equation by equation on a seeded network",
        description="Check each equation of the derivation (delta^H, the recursion, dJ/dW^L, "
        "dJ/db^L) at each layer against finite differences: the article's own, or those of "
        "--candidate module:function returning (dW_list, db_list, deltas). Exit status 0 if "
        "every equation holds, 1 if not, 2 on bad usage.",
    )
    equations.add_argument(
        "--candidate",
        default=None,
        help="module:function returning (dW_list, db_list, deltas) with deltas[L] of shape (d, N)",
    )
    _network_options(equations)
    equations.add_argument("--batch", type=int, default=5, help="examples d (default 5)")
    equations.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    equations.add_argument("--json", action="store_true", help="print the report as JSON")
    equations.set_defaults(command="equations", parser=equations)


def _add_taylor(commands: argparse._SubParsersAction) -> None:
    """The `taylor` subcommand: the Taylor remainder test, with an optional PNG."""
    taylor = commands.add_parser(
        "taylor",
        allow_abbrev=False,
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
    _network_options(taylor)
    taylor.add_argument("--batch", type=int, default=8, help="examples d (default 8)")
    taylor.add_argument("--seed", type=int, default=0)
    taylor.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="write remainder against step (needs matplotlib)",
    )
    _html_options(taylor, "the remainder curves")
    taylor.set_defaults(command="taylor", parser=taylor)


def _add_vectors(commands: argparse._SubParsersAction) -> None:
    """The `vectors` subcommand: golden test vectors for other languages."""
    vectors = commands.add_parser(
        "vectors",
        allow_abbrev=False,
        help="write golden test vectors for other languages",
        description="Write networks, data, expected gradients and tolerances as JSON (exact "
        "floats) and .npz into --out; with --protocol, also each case's request and expected "
        "answer in the text format of docs/PROTOCOL.md.",
    )
    vectors.add_argument("--out", required=True, help="directory to write into")
    vectors.add_argument("--force", action="store_true", help="overwrite a non-empty directory")
    vectors.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    vectors.add_argument(
        "--protocol",
        action="store_true",
        help="also write CASE.request.txt and CASE.answer.txt (docs/PROTOCOL.md)",
    )
    vectors.set_defaults(command="vectors", parser=vectors)


def build_parser(prog: str = "gradcheck") -> argparse.ArgumentParser:
    """The command line's parser: ``args.command`` names the job, ``args.parser`` its parser.

    ``args.command`` is ``"selfcheck"`` (no command: the main job), ``"check"``,
    ``"equations"``, ``"taylor"`` or ``"vectors"``; `gradcheck.cli.main` runs it.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        allow_abbrev=False,
        description="The gradient oracle for backpropagation. With no command: verify the "
        "project's own reference (the three forms against each other and finite differences).",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random networks (default 0)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _html_options(parser, "the self-check's tables")
    parser.set_defaults(command="selfcheck")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (_add_check, _add_equations, _add_taylor, _add_vectors):
        add(commands)
    return parser
