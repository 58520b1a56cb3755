"""Regenerate the sample outputs in README.md, so that they cannot go stale.

Run it from anywhere::

    python docs/generate.py            # rewrite README.md's samples in place
    python docs/generate.py --check    # exit 1 if a sample is out of date (see `agree`)

Every output shown in the README sits between two marker comments::

    <!-- sample: NAME -->
    ```
    ...
    ```
    <!-- /sample -->

and is produced by ``SAMPLES[NAME]``: either the output of a command run
in-process (``python -m gradcheck``), or what the README's own Python code
above the marker prints (the ```python blocks of its section, run one after
another in one fresh namespace, as tests/test_readme.py runs them).  Every
computation is seeded; a long output is abridged by `abridge`, a fixed rule,
never by hand.  tests/test_readme.py regenerates the samples in memory and
compares them with the README.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMMAND = "python docs/generate.py"  # what regenerates the samples (said by the test on failure)

# The README documents this tree: import its `gradcheck` and `reference`, wherever we run from.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLE = re.compile(
    r"(?P<open><!-- sample: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<close><!-- /sample -->)",
    re.S,
)
PYTHON_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```\n", re.S | re.M)
SECTION = re.compile(r"^## ", re.M)
ELLIPSIS = "..."


@dataclass(frozen=True)
class Block:
    """A ```python block of the README: its section's heading, where it starts, its code."""

    section: str
    start: int
    code: str


def python_blocks(text: str) -> list[Block]:
    """Every ```python block of `text` (a README), in order, with the `## ` section it is in."""
    blocks = []
    for match in PYTHON_BLOCK.finditer(text):
        heading = [m.start() for m in SECTION.finditer(text, 0, match.start())]
        section = text[heading[-1] :].split("\n", 1)[0] if heading else ""
        blocks.append(Block(section, match.start(), match.group("code")))
    return blocks


def run_blocks(blocks: list[Block], *, filename: str = "README.md") -> str:
    """Run `blocks` one after another in one fresh namespace; what they print."""
    namespace: dict = {"__name__": "__main__"}  # as if run as a script
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block.code, filename, "exec"), namespace)
    return out.getvalue()


def abridge(text: str, *, lines: int | None = None) -> str:
    """Shorten `text` by a fixed rule: each paragraph (lines between blank lines) keeps at most
    its first `lines` lines, then "..." indented like the last line kept."""
    paragraphs = []
    for paragraph in text.strip("\n").split("\n\n"):
        rows = paragraph.split("\n")
        if lines is not None and len(rows) > lines:
            indent = re.match(r"\s*", rows[lines - 1]).group()  # type: ignore[union-attr]
            rows = [*rows[:lines], indent + ELLIPSIS]
        paragraphs.append("\n".join(rows))
    return "\n\n".join(paragraphs)


def _selfcheck(readme: str, at: int) -> str:
    """`python -m gradcheck`: the main job's two tables, each cut to its first rows."""
    from gradcheck.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        main(["--quiet"], out=out)
    return abridge(out.getvalue(), lines=8)


def _code_above(**options: int) -> Callable[[str, int], str]:
    """What the README's Python code of the marker's section, up to the marker, prints."""

    def produce(readme: str, at: int) -> str:
        blocks = python_blocks(readme)
        here = [b for b in blocks if b.start < at]
        if not here:
            raise ValueError(f"no ```python block above the sample at offset {at}")
        section = [b for b in here if b.section == here[-1].section]
        return abridge(run_blocks(section), **options)

    return produce


#: name -> producer(readme text, offset of the marker) -> the sample's text
SAMPLES: dict[str, Callable[[str, int], str]] = {
    "selfcheck": _selfcheck,
    "check_backprop": _code_above(lines=8),
    "reference": _code_above(),
    "finite_differences": _code_above(lines=8),
}


def generate(readme: str) -> dict[str, str]:
    """Every sample of `readme`, freshly computed: name -> text (without the code fence)."""
    samples = {}
    for match in SAMPLE.finditer(readme):
        name = match.group("name")
        if name not in SAMPLES:
            raise ValueError(f"README.md has a sample {name!r} that {COMMAND} does not know")
        samples[name] = SAMPLES[name](readme, match.start())
    return samples


def shown(readme: str) -> dict[str, str]:
    """Every sample as the README shows it now: name -> text (without the code fence)."""
    return {m.group("name"): _unfence(m.group("body")) for m in SAMPLE.finditer(readme)}


def stale(readme: str) -> list[tuple[str, str, str]]:
    """The samples of `readme` that `agree` says are out of date: (name, shown, fresh)."""
    now = shown(readme)
    return [
        (name, now[name], text)
        for name, text in generate(readme).items()
        if not agree(now[name], text)
    ]


NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
ROUNDING_LEVEL = 1e-9  # below this, a printed number is rounding noise (errors of order u)


def agree(shown: str, fresh: str) -> bool:
    """Whether a sample as shown agrees with a fresh one, up to rounding noise.

    A sample generated here is reproduced exactly here; on another machine, a different
    BLAS kernel sums in another order, and the last digits of rounding-level numbers move.
    So the text around the numbers and every integer must match exactly, and each decimal
    number must match to within one unit of its last printed digit, a factor of 2, or both
    be below `ROUNDING_LEVEL`: a changed constant, rule or wording still shows.
    """
    if NUMBER.sub("#", shown) != NUMBER.sub("#", fresh):
        return False
    return all(_same_number(a, b) for a, b in zip(NUMBER.findall(shown), NUMBER.findall(fresh)))


def _same_number(a: str, b: str) -> bool:
    if a == b:
        return True
    if not any(c in a + b for c in ".eE"):  # integers: counts, sizes, seeds
        return False
    x, y = abs(float(a)), abs(float(b))
    if (float(a) < 0) != (float(b) < 0):
        return False
    unit = min(_last_digit(a), _last_digit(b))
    return abs(x - y) <= unit or max(x, y) <= ROUNDING_LEVEL or max(x, y) <= 2 * min(x, y)


def _last_digit(number: str) -> float:
    """The value of one unit in the last printed digit of `number`: 0.01 for "0.00"."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def rewrite(readme: str, samples: dict[str, str]) -> str:
    """`readme` with each sample's body replaced by `samples[name]`, fenced."""

    def body(match: re.Match) -> str:
        text = samples[match.group("name")]
        return f"{match.group('open')}```\n{text}\n```\n{match.group('close')}"

    return SAMPLE.sub(body, readme)


def _unfence(body: str) -> str:
    body = body.strip("\n")
    if body.startswith("```") and body.endswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body[: -len("```")]
    return body.rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a sample is stale")
    args = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    if args.check:
        names = [name for name, _, _ in stale(readme)]
        print(
            f"README.md samples out of date: {', '.join(names)}; run {COMMAND}"
            if names
            else "README.md samples are up to date"
        )
        return int(bool(names))
    updated = rewrite(readme, generate(readme))
    if updated != readme:
        README.write_text(updated, encoding="utf-8")
        print(f"rewrote the samples of {README}")
    else:
        print(f"{README}: samples already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
