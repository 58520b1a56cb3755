"""The command line: ``python -m gradcheck`` (the main job) and its subcommands.

With no arguments it verifies the project's own reference (see
`gradcheck.jobs.selfcheck`) and prints one row per configuration; the exit status
is 0 when every row passes and 1 otherwise.

The grammar (subcommands, options, their types) is `gradcheck.cli.parser`;
this module runs the job a parse names, one runner per subcommand.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from gradcheck.adapters.protocol.program import DEFAULT_TIMEOUT
from gradcheck.cli.guard import NO_VERDICT, run_guarded
from gradcheck.cli.parser import build_parser
from gradcheck.html import page
from gradcheck.jobs.selfcheck import (
    format_equation_table,
    format_rows,
    run_equation_checks,
    run_selfcheck,
    selfcheck_page,
    selfcheck_summary,
)
from gradcheck.oracle.candidate import check_signature
from gradcheck.validate import check_command, check_new_file
from reference import Gradients, Network, backprop

__all__ = ["main", "run"]


def _selfcheck(args: argparse.Namespace, out: TextIO) -> int:
    def progress(label: str) -> None:
        if not args.quiet:
            _progress(f"checking {label} ...")

    _html_target(args)
    progress("the four equations, layer by layer")
    equations = run_equation_checks(seed=args.seed)
    print(format_equation_table(equations), file=out)
    print(file=out)
    rows = run_selfcheck(seed=args.seed, progress=progress)
    print(format_rows(rows), file=out)
    print(f"\n{selfcheck_summary(rows, equations)}", file=out)
    _write_page(args, lambda: selfcheck_page(equations, rows), out)
    passed = all(r.passed for r in rows) and all(report.passed for _, report in equations)
    return 0 if passed else 1


def _html_target(args: argparse.Namespace) -> None:
    """--html's path, checked before any work: a missing directory or an existing file is bad usage."""
    if args.html is not None:
        try:
            check_new_file(args.html, force=args.force, what="the HTML report")
        except (ValueError, FileExistsError) as exc:
            raise _UsageError(f"--html: {exc}") from None


def _write_page(args: argparse.Namespace, render: Callable[[], str], out: TextIO) -> None:
    """With --html: the page `render` gives, written atomically; a failing write is bad usage."""
    if args.html is None:
        return
    try:
        path = page.write_html(args.html, render(), force=args.force)
    except (OSError, ValueError) as exc:  # the directory went away, or the disk is full
        raise _UsageError(f"--html: {exc}") from None
    print(f"wrote {path}", file=sys.stderr if getattr(args, "json", False) else out)


#: `check`'s exit status by the report's status: 2 is bad usage (`_UsageError`), so an
#: inconclusive verdict (the oracle disagrees with itself: not the candidate's fault) is 3.
EXIT_STATUS = {"passed": 0, "failed": 1, "inconclusive": 3}


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
        except SystemExit as exc:
            raise _UsageError(_exited_on_import(target, exc)) from None
        except Exception as exc:  # a SyntaxError, or whatever the file raises as it runs
            raise _UsageError(f"cannot import {target!r}: {type(exc).__name__}: {exc}") from None
    else:
        try:
            with _cwd_on_path():
                module = importlib.import_module(target)
        except SystemExit as exc:
            raise _UsageError(_exited_on_import(target, exc)) from None
        except Exception as exc:  # ImportError, or whatever the module raises as it runs
            raise _UsageError(f"cannot import module {target!r}: {exc}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise _UsageError(f"module {target!r} has no attribute {name!r}") from None


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    """The current directory first on `sys.path` while the candidate's module is imported, as
    ``python -m gradcheck`` has it; `sys.path` is as it was afterwards.

    ``python -m`` puts the current directory on the path; the installed
    `gradcheck` script puts its own bin directory there instead, so without
    this ``gradcheck check vec:vec`` could not find ``./vec.py``.
    """
    added = "" not in sys.path and os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        yield
    finally:
        if added and os.getcwd() in sys.path:
            sys.path.remove(os.getcwd())


def _exited_on_import(target: str, exc: SystemExit) -> str:
    """What an import that called sys.exit gets: the candidate never became a function to check."""
    return (
        f"cannot import {target!r}: it called sys.exit({exc.code!r}) as it ran; "
        'guard its script part with `if __name__ == "__main__":`'
    )


def _progress(line: str) -> None:
    """Long checks say what they are doing, on stderr (stdout stays the report)."""
    print(f"  {line}", file=sys.stderr, flush=True)


def _check_signature(candidate: object, spec: str, layout: str) -> None:
    """A candidate whose signature cannot take the oracle's call is bad usage, said before any trial."""
    try:
        check_signature(candidate, layout=layout)
    except TypeError as exc:
        raise _UsageError(f"candidate {spec!r}: {exc}") from None


def _candidate_to_check(args: argparse.Namespace) -> tuple[Any, dict]:
    """The candidate of `check` (an --exec program, or a module:function checked for its call)
    and the options it adds to check_backprop's (`timeout` for a Python candidate)."""
    from gradcheck.adapters.protocol.program import exec_candidate

    more: dict = {}
    if args.exec is not None:
        if args.layout != "article":
            raise _UsageError(
                "--exec programs get and return W^L as (M, N) (docs/PROTOCOL.md); "
                f"--layout {args.layout} does not apply"
            )
        try:
            check_command(args.exec, "--exec")
            candidate = exec_candidate(
                args.exec,
                timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
                persistent=args.persistent,
                hidden=args.hidden,
                output=args.output,
                cost=args.cost,
                l2=args.l2 or 0.0,
                progress=None if args.quiet else _progress,
            )
        except (ValueError, TypeError) as exc:
            raise _UsageError(str(exc)) from None
    else:
        if args.persistent:
            raise _UsageError("--persistent applies to --exec programs only")
        if args.timeout is not None:
            more["timeout"] = args.timeout
        candidate = _load(args.candidate)
        _check_signature(candidate, args.candidate, args.layout)
    return candidate, more


def _check(args: argparse.Namespace, out: TextIO) -> int:
    from gradcheck.oracle.backprop import check_backprop

    if (args.candidate is None) == (args.exec is None):
        raise _UsageError(
            "give either a candidate module:function or --exec 'PROGRAM ARGS', "
            + ("not both" if args.exec is not None else "e.g. check my_module:my_backprop")
        )
    _html_target(args)
    options = {
        name: getattr(args, name)
        for name in ("sizes", "hidden", "output", "cost", "layout", "trials", "seed")
    }
    options["batch_size"] = args.batch_size
    if args.edge_cases is not None:
        options["edge_cases"] = args.edge_cases
    for dest in ("l2", "weight_scale", "libm_ulps"):
        if getattr(args, dest) is not None:
            options[dest] = getattr(args, dest)
    candidate, more = _candidate_to_check(args)
    options.update(more)
    try:
        with contextlib.ExitStack() as stack:
            if args.exec is not None:
                stack.enter_context(candidate)
            report = check_backprop(
                candidate, **options, progress=None if args.quiet else _progress
            )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=1) if args.json else str(report), file=out)
    _write_page(args, lambda: page.render_report(report), out)
    return EXIT_STATUS[report.status]


def _equations(args: argparse.Namespace, out: TextIO) -> int:
    from gradcheck.oracle.backprop import trial_case
    from gradcheck.oracle.candidate import call_candidate
    from gradcheck.oracle.equations import check_equations

    try:
        net, X, Y = trial_case(
            args.sizes,
            args.batch,
            args.seed,
            hidden=args.hidden,
            output=args.output,
            cost=args.cost,
        )
    except (ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from None
    options: dict = {}
    source = "the article's equations"
    if args.candidate is not None:
        candidate = _load(args.candidate)
        _check_signature(candidate, args.candidate, "article")
        answer = call_candidate(candidate, net, X, Y, layout="article")
        if answer.problems:
            print("error: " + "; ".join(answer.problems), file=sys.stderr)
            return 1
        assert answer.gradient is not None  # no problems: a gradient
        options["gradients"] = Gradients.from_flat(answer.gradient.astype(np.float64), net.sizes)
        if answer.deltas is not None:
            options["deltas"] = answer.deltas
        source = args.candidate + (
            ""
            if answer.deltas is not None
            else " (gradients only: return (dW, db, deltas) to check each delta^L)"
        )
    try:
        report = check_equations(net, X, Y, **options)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=1), file=out)
    else:
        print(
            f"Equation by equation: {source} on {net!r}, d={args.batch}, seed {args.seed}\n",
            file=out,
        )
        print(format_equation_table([(report.configuration, report)]), file=out)
        if not report.passed:
            print(f"\n{report.explanation}", file=out)
    return 0 if report.passed else 1


class _CandidateFault(Exception):
    """A candidate's answer that cannot be tested (its problems, joined): exit status 1."""


def _gradient_to_test(args: argparse.Namespace, net: Network, X: np.ndarray, Y: np.ndarray):
    """The flat gradient `taylor` tests, and where it comes from: --candidate, or the reference."""
    from gradcheck.oracle.candidate import call_candidate, check_candidate

    if not args.candidate:
        return backprop(net, X, Y).flat(), "reference.backprop"
    candidate = _load(args.candidate)
    check_candidate(candidate)
    answer = call_candidate(candidate, net, X, Y, layout=args.layout)
    if answer.problems:
        raise _CandidateFault("; ".join(answer.problems))
    assert answer.gradient is not None  # no problems: a gradient
    return answer.gradient.astype(np.float64), args.candidate


def _check_plot_folder(plot: str | None) -> None:
    """Refuse --plot into a directory that does not exist, before any work."""
    if plot and not Path(plot).parent.is_dir():
        raise _UsageError(
            f"--plot {plot!r}: the directory {str(Path(plot).parent)!r} does not exist"
        )


def _write_plot(result, args: argparse.Namespace, title: str, out: TextIO) -> int:
    """Write the Taylor remainder's PNG to --plot: exit status 0, or 2 without matplotlib."""
    try:
        from gradcheck.html.plots import plot_taylor
    except ImportError:
        print(
            "error: --plot needs matplotlib, in the `plot` extra: "
            "pip install 'backprop-gradcheck[plot]'",
            file=sys.stderr,
        )
        return 2
    try:
        plot_taylor(result, args.plot, title=title)
    except OSError as exc:
        raise _UsageError(f"cannot write --plot {args.plot!r}: {exc}") from None
    print(f"\nwrote {args.plot}", file=out)
    return 0


def _taylor(args: argparse.Namespace, out: TextIO) -> int:
    from gradcheck.fd.taylor import taylor_test
    from gradcheck.oracle.backprop import trial_case

    _html_target(args)
    try:
        _check_plot_folder(args.plot)
        net, X, Y = trial_case(
            args.sizes,
            args.batch,
            args.seed,
            hidden=args.hidden,
            output=args.output,
            cost=args.cost,
        )
        gradient, source = _gradient_to_test(args, net, X, Y)
        blocks = [(name, block) for name, block, _ in net.layout.blocks]
        result = taylor_test(
            lambda theta: net.cost(X, Y, theta=theta),
            gradient,
            net.flat(),
            blocks=blocks,
            seed=args.seed,
        )
    except _CandidateFault as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
    if args.plot and _write_plot(result, args, f"{source}: {net!r}", out):
        return 2
    setting = f"{net!r}, d={args.batch}"
    _write_page(args, lambda: page.taylor_page(result, source=source, setting=setting), out)
    return 0 if result.passed else 1


def _vectors(args: argparse.Namespace, out: TextIO) -> int:
    from gradcheck.jobs.vectors import read_vectors, write_vectors

    try:
        path = write_vectors(args.out, force=args.force, seed=args.seed)
    except (FileExistsError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (format described in gradcheck/jobs/vectors.py)", file=out)
    if args.protocol:
        from gradcheck.adapters.protocol.program import format_answer, format_request

        cases = read_vectors(path)
        for case in cases:
            H = len(case["W"]) - 1
            activations = [case["hidden"]] * H + [case["output"]]
            request = format_request(
                case["W"],
                case["b"],
                case["X"],
                case["Y"],
                activations=activations,
                cost=case["cost"],
            )
            (path.parent / f"{case['name']}.request.txt").write_text(request)
            answer = format_answer(case["dJ_dW"], case["dJ_db"])
            (path.parent / f"{case['name']}.answer.txt").write_text(answer)
        print(
            f"wrote {len(cases)} CASE.request.txt and CASE.answer.txt pairs (docs/PROTOCOL.md)",
            file=out,
        )
    return 0


#: What runs each job the parser names (``args.command``).
_RUNNERS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "selfcheck": _selfcheck,
    "check": _check,
    "equations": _equations,
    "taylor": _taylor,
    "vectors": _vectors,
}


def _prog() -> str:
    """The command the user typed: `python -m gradcheck` runs gradcheck/__main__.py."""
    script = Path(sys.argv[0])
    dash_m = script.name == "__main__.py" and script.parent.name == "gradcheck"
    return "python -m gradcheck" if dash_m else "gradcheck"


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, prog: str | None = None
) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status.

    `prog` names the command in usage lines (default: ``gradcheck``, or
    ``python -m gradcheck`` when run that way).
    """
    parser = build_parser(prog or _prog())
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the subcommand's parser, so that its usage line is the one shown
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _RUNNERS[args.command](args, out or sys.stdout)
    # a candidate that cannot be loaded, a --plot path that cannot be written
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # only user code exits: the job did not run to its end
        print(
            f"error: the check did not finish: sys.exit({exc.code!r}) was called during it "
            "(by the candidate?); only a check that runs to the end passes",
            file=sys.stderr,
        )
        return NO_VERDICT


def run() -> int:
    """The installed ``gradcheck`` command and ``python -m gradcheck``: `main`, under
    `gradcheck.cli.guard`, so that no candidate can end the process with a false status 0."""
    return run_guarded(main)
