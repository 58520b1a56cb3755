"""gradcheck.cli.parser: the command line's grammar, its defaults, and bad usage refused before any work."""

from __future__ import annotations

import pytest

from gradcheck.cli.parser import build_parser


def _parse(*argv):
    return build_parser().parse_args(list(argv))


def test_no_command_is_the_self_check():
    args = _parse()
    assert (args.command, args.seed, args.quiet, args.html, args.force) == (
        "selfcheck",
        0,
        False,
        None,
        False,
    )


def test_check_defaults():
    args = _parse("check", "mod:fn")
    assert args.command == "check" and args.candidate == "mod:fn"
    assert args.parser.prog == "gradcheck check"
    assert (args.sizes, args.hidden, args.output, args.cost) == (
        [4, 8, 3],
        "sigmoid",
        None,
        "quadratic",
    )
    assert (args.layout, args.trials, args.seed, args.batch_size) == ("article", 3, 0, 8)
    assert (args.edge_cases, args.l2, args.weight_scale, args.timeout) == (None, None, None, None)
    assert args.libm_ulps is None
    assert not (args.json or args.quiet or args.persistent or args.force) and args.exec is None


def test_check_options_are_typed():
    args = _parse(
        "check", "--exec", "./a.out", "--sizes", "3,5,2", "--hidden", "relu, tanh",
        "--edge-cases", "batch1,width1", "--l2", "0.5", "--weight-scale", "4",
        "--timeout", "2.5", "--layout", "torch", "--batch-size", "4", "--libm-ulps", "4",
    )  # fmt: skip
    assert args.candidate is None and args.exec == "./a.out"
    assert args.sizes == [3, 5, 2] and args.hidden == ["relu", "tanh"]
    assert args.edge_cases == {"batch1", "width1"}
    assert (args.l2, args.weight_scale, args.timeout) == (0.5, 4.0, 2.5)
    assert (args.layout, args.batch_size, args.libm_ulps) == ("torch", 4, 4.0)
    assert _parse("check", "--edge-cases", "all").edge_cases is True
    assert _parse("check", "--edge-cases", "none").edge_cases is False
    assert _parse("check", "--hidden", "tanh").hidden == "tanh"


@pytest.mark.parametrize(
    "command, defaults",
    [
        ("equations", dict(candidate=None, batch=5, seed=0, json=False, sizes=[4, 8, 3])),
        ("taylor", dict(candidate=None, layout="article", batch=8, seed=0, plot=None, html=None)),
    ],
)
def test_the_other_commands_defaults(command, defaults):
    args = _parse(command)
    assert args.command == command
    assert {k: getattr(args, k) for k in defaults} == defaults


def test_vectors_needs_out():
    args = _parse("vectors", "--out", "dir", "--protocol")
    assert (args.command, args.out, args.protocol, args.force, args.seed) == (
        "vectors",
        "dir",
        True,
        False,
        0,
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["check", "--sizes", "4,x"],
            "--sizes must be comma-separated integers like 4,8,3, got '4,x'",
        ),
        (
            ["check", "--hidden", "relu,"],
            "--hidden must be an activation name or a comma-separated list of them, got 'relu,'",
        ),
        (
            ["check", "--edge-cases", "batch1,"],
            "--edge-cases must be all, none or a comma-separated list of names, got 'batch1,'",
        ),
        (["check", "--timeout", "0"], "expected a positive, finite number, got '0'"),
        (["check", "--timeout", "1e7"], "expected at most 1e+06 seconds, got '1e7'"),
        (["check", "--weight-scale", "inf"], "expected a positive, finite number, got 'inf'"),
        (["check", "--libm-ulps", "0"], "expected a positive, finite number, got '0'"),
        (["check", "--l2", "-1"], "expected a non-negative number, got '-1'"),
        (["check", "--l2", "nan"], "expected a non-negative number, got 'nan'"),
        (["check", "--layout", "keras"], "invalid choice: 'keras'"),
        (["check", "--trial", "2"], "unrecognized arguments: --trial"),  # no abbreviations
        (["vectors"], "the following arguments are required: --out"),
    ],
)
def test_bad_usage_exits_2_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        _parse(*argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
