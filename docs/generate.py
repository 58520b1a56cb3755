"""Regenerate the sample outputs of README.md and the guides (docs/*.md), so they cannot go stale.

Run it from anywhere::

    python docs/generate.py            # rewrite the samples of every page in place
    python docs/generate.py --check    # exit 1 if a sample is out of date (see `agree`)

Every output shown on a page (`PAGES`: the README and each guide) sits between two
marker comments::

    <!-- sample: NAME -->
    ```
    ...
    ```
    <!-- /sample -->

and is produced by ``SAMPLES[NAME]`` (each name on one page only): either the
output of a command run in-process (``python -m gradcheck``), or what the page's
own Python code above the marker prints (its ```python blocks, run one after
another in one fresh namespace, as tests/test_readme.py runs them: in the
README those of the marker's `## ` section, in a guide those of the whole
page).  Every computation is seeded; a long output is abridged by `abridge`, a
fixed rule, never by hand.  tests/test_readme.py regenerates the samples in
memory and compares them with the pages.
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
DOCS = ROOT / "docs"
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


def pages() -> list[Path]:
    """The pages whose code runs and whose samples are generated: README.md, then each guide."""
    return [README, *sorted(DOCS.glob("*.md"))]


def page_name(path: Path) -> str:
    """A page as the tests and messages name it: its path from the repository root."""
    return path.resolve().relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A ```python block of a page: its page, its run's heading, where it starts, its code.

    The README's blocks run per `## ` section (`section` is its heading); a guide's run
    as one script (`section` is "")."""

    section: str
    start: int
    code: str
    page: str = "README.md"


def python_blocks(text: str, page: str = "README.md") -> list[Block]:
    """Every ```python block of `text` (the page `page`), in order, with its run's heading."""
    blocks = []
    for match in PYTHON_BLOCK.finditer(text):
        heading = [m.start() for m in SECTION.finditer(text, 0, match.start())]
        section = text[heading[-1] :].split("\n", 1)[0] if heading else ""
        if page != "README.md":
            section = ""  # a guide is one script
        blocks.append(Block(section, match.start(), match.group("code"), page))
    return blocks


def run_blocks(blocks: list[Block]) -> str:
    """Run `blocks` one after another in one fresh namespace; what they print."""
    namespace: dict = {"__name__": "__main__"}  # as if run as a script
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block.code, block.page, "exec"), namespace)
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


def _selfcheck(text: str, at: int, page: str) -> str:
    """`python -m gradcheck`: the main job's two tables, each cut to its first rows."""
    from gradcheck.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        main(["--quiet"], out=out)
    return abridge(out.getvalue(), lines=8)


def _code_above(**options: int) -> Callable[[str, int, str], str]:
    """What the page's Python code of the marker's run (see `Block`), up to the marker, prints."""

    def produce(text: str, at: int, page: str) -> str:
        blocks = python_blocks(text, page)
        here = [b for b in blocks if b.start < at]
        if not here:
            raise ValueError(f"no ```python block above the sample at offset {at}")
        section = [b for b in here if b.section == here[-1].section]
        return abridge(run_blocks(section), **options)

    return produce


#: name -> producer(page text, offset of the marker, page name) -> the sample's text
SAMPLES: dict[str, Callable[[str, int, str], str]] = {
    "selfcheck": _selfcheck,
    "check_backprop_brief": _code_above(lines=3),
    "check_backprop": _code_above(lines=8),
    "reference": _code_above(),
    "finite_differences": _code_above(lines=8),
    "to_dict": _code_above(),
}


def generate(text: str, page: str = "README.md") -> dict[str, str]:
    """Every sample of `text` (the page `page`), freshly computed: name -> text (unfenced)."""
    samples = {}
    for match in SAMPLE.finditer(text):
        name = match.group("name")
        if name not in SAMPLES:
            raise ValueError(f"{page} has a sample {name!r} that {COMMAND} does not know")
        samples[name] = SAMPLES[name](text, match.start(), page)
    return samples


def shown(text: str) -> dict[str, str]:
    """Every sample as the page shows it now: name -> text (without the code fence)."""
    return {m.group("name"): _unfence(m.group("body")) for m in SAMPLE.finditer(text)}


def stale(text: str, page: str = "README.md") -> list[tuple[str, str, str]]:
    """The samples of `text` (the page `page`) that `agree` says are out of date:
    (name, shown, fresh)."""
    now = shown(text)
    return [
        (name, now[name], fresh)
        for name, fresh in generate(text, page).items()
        if not agree(now[name], fresh)
    ]


NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
ROUNDING_LEVEL = 1e-9  # below this, a printed number is rounding noise (errors of order u)


def agree(shown: str, fresh: str) -> bool:
    """Whether a sample as shown agrees with a fresh one, up to rounding noise.

    A sample generated here is reproduced exactly here; on another machine, a different
    BLAS kernel sums in another order, and the last digits of rounding-level numbers move.
    So the text around the numbers and every integer must match exactly, and each decimal
    number must match to within one unit of its last printed digit, a factor of 2, or both
    be below `ROUNDING_LEVEL`, except a few (`NOISY_SHARE` of them, within `NOISY_FACTOR`):
    a changed constant, rule or wording still shows.
    """
    if NUMBER.sub("#", shown) != NUMBER.sub("#", fresh):
        return False
    pairs = list(zip(NUMBER.findall(shown), NUMBER.findall(fresh)))
    moved = [(a, b) for a, b in pairs if not _same_number(a, b)]
    decimals = sum(1 for a, _ in pairs if any(c in a for c in ".eE"))
    # Another machine's libm moves a few far-inside ratios by more (the self-check's table on
    # a CPU without AVX-512: 3e-4 where one with it printed 1e-4, 2 cells of 150); a changed
    # constant moves every number it feeds. So a few may move, within a factor of
    # NOISY_FACTOR, and no integer.
    return len(moved) <= NOISY_SHARE * decimals and all(
        any(c in a + b for c in ".eE") and _within(a, b, NOISY_FACTOR) for a, b in moved
    )


NOISY_SHARE = 0.05  # the share of a sample's decimal numbers that may move beyond a factor of 2
NOISY_FACTOR = 10.0  # ... and by how much at most


def _within(a: str, b: str, factor: float) -> bool:
    x, y = abs(float(a)), abs(float(b))
    return (float(a) < 0) == (float(b) < 0) and max(x, y) <= factor * min(x, y)


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
    """`readme` (a page) with each sample's body replaced by `samples[name]`, fenced."""

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
    out_of_date = []
    for path in pages():
        text, page = path.read_text(encoding="utf-8"), page_name(path)
        if args.check:
            out_of_date += [f"{page}: {name}" for name, _, _ in stale(text, page)]
            continue
        updated = rewrite(text, generate(text, page))
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            print(f"rewrote the samples of {page}")
    if args.check:
        print(
            f"samples out of date: {', '.join(out_of_date)}; run {COMMAND}"
            if out_of_date
            else "every sample is up to date"
        )
        return int(bool(out_of_date))
    print("every page's samples are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
