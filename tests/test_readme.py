"""The README and the guides run as written: their Python and shell examples, their generated
samples, their claims; and the documentation site (mkdocs.yml) names every guide.

The pages are `docs/generate.py`'s `pages()`: README.md, then every docs/*.md. How their code
is run:

- ```python blocks run cumulatively, in order, in one fresh namespace
  (`docs/generate.py`'s `run_blocks`, the same runner that generates the
  samples): in the README, the blocks of one `## ` section; in a guide, the
  blocks of the whole page. A later block may use what an earlier one of its
  run defined, never another run's;
- blocks that define ``test_`` functions are test files, not scripts: they
  are written to a temporary directory beside a `mymodule.py` holding a
  correct `my_backprop` (the README's "your backprop in mymodule.py") and run
  by pytest in a subprocess, through the installed plugin;
- ```sh blocks (of every page, each line once): each `python -m gradcheck ...` line runs in-process with the
  same `mymodule.py` (a torch-layout `path/to/model.py`, and `./backprop`
  compiled from tests/c/backprop.c) in the working directory; every other
  line is listed in `NOT_RUN` with the reason.

Everything runs in a temporary working directory: blocks may write files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reference import ACTIVATIONS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MKDOCS = ROOT / "mkdocs.yml"


def _load_generator():
    spec = importlib.util.spec_from_file_location("readme_generate", ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


generate = _load_generator()
#: page name (its path from the root: "README.md", "docs/networks.md") -> its text
TEXTS = {generate.page_name(path): path.read_text(encoding="utf-8") for path in generate.pages()}
TEXT = TEXTS["README.md"]
# Taken at collection, before any test (or doctest) registers an activation of its own.
BUILT_IN_ACTIVATIONS = sorted(ACTIVATIONS)
BLOCKS = [block for page, text in TEXTS.items() for block in generate.python_blocks(text, page)]


def _is_test_file(block) -> bool:
    return re.search(r"^def test_", block.code, re.M) is not None


#: (page, section): each run of blocks, in page order (a guide's section is "": the whole page)
RUNS = list(dict.fromkeys((b.page, b.section) for b in BLOCKS if not _is_test_file(b)))

#: What each run's code must print (beyond running without an exception).
PRINTS = {
    ("README.md", "## Check your backprop (import)"): [
        "check_backprop FAILED: my_backprop",
        "h' applied to a instead of z in the output layer",
    ],
    ("README.md", "## PyTorch"): ["True\n"],
    ("README.md", "## JAX"): ["True\n"],
    ("docs/networks.md", ""): [
        "check_backprop FAILED: my_backprop",
        "h' applied to a instead of z in the output layer",
        "[(4, 8), (8, 3)] [(8,), (3,)] (67,)",
    ],
    ("docs/reports.md", ""): ["None dJ/db (0,)\n[0]\n"],  # shown after "prints", not a sample
    ("docs/layers.md", ""): ["the gradient of `x` is k times the finite differences (k = 0.5)"],
    ("docs/pytorch.md", ""): ["True\n"],
    ("docs/jax.md", ""): ["True\n"],
    ("docs/finite-differences.md", ""): ["Gradient check FAILED", "FIRST ORDER"],
}

#: Optional extras: a section whose code imports one is skipped where it is not installed.
OPTIONAL = ("torch", "jax", "matplotlib")

#: A correct backprop, as the README's reader has it in mymodule.py: tanh, quadratic cost.
MYMODULE = '''
import numpy as np

def my_backprop(weights, biases, X, Y):
    """tanh in every layer, J_i = 1/2 ||a^H - y||^2; weights[L] is W^L, (M, N)."""
    A = [X]
    for W, b in zip(weights, biases):
        A.append(np.tanh(A[-1] @ W + b))
    delta = (A[-1] - Y) * (1 - A[-1] ** 2)
    dW, db = [None] * len(weights), [None] * len(weights)
    for L in reversed(range(len(weights))):
        dW[L] = A[L].T @ delta / len(X)
        db[L] = delta.mean(axis=0)
        if L:
            delta = (delta @ weights[L].T) * (1 - A[L] ** 2)
    return dW, db
'''

#: A correct backprop in PyTorch's layout (weights[L] is (N, M)): sigmoid, quadratic cost.
MODEL = """
import numpy as np

def torch_backprop(weights, biases, X, Y):
    A = [X]
    for W, b in zip(weights, biases):
        A.append(1 / (1 + np.exp(-(A[-1] @ W.T + b))))
    delta = (A[-1] - Y) * A[-1] * (1 - A[-1])
    dW, db = [None] * len(weights), [None] * len(weights)
    for L in reversed(range(len(weights))):
        dW[L] = delta.T @ A[L] / len(X)
        db[L] = delta.mean(axis=0)
        if L:
            delta = (delta @ weights[L]) * A[L] * (1 - A[L])
    return dW, db
"""

#: Shell lines of the README not run here, and why.
NOT_RUN = {
    "pip install . && python -m gradcheck": "installs the package: CI's job (.ci/run)",
    'pip install ".[test]" && pytest': "installs the package and runs this very suite",
    "pytest --benchmark-only": "minutes of timing; its summary is tested below",
    "pytest --gradcheck-html reports/": "runs the reader's own tests; tests/adapters/test_pytest_plugin.py runs "
    "the option on failing and passing tests",
    "python -m gradcheck": "the main job: run in-process for the `selfcheck` sample, which "
    "test_samples_are_up_to_date regenerates",
}


def _shell_lines() -> list[str]:
    """Every command line of the pages' ```sh blocks, each once, without its trailing comment."""
    lines = []
    for text in TEXTS.values():
        for block in re.findall(r"^```sh\n(.*?)^```\n", text, re.S | re.M):
            lines += [
                line
                for line in (re.sub(r"\s+#.*", "", raw).strip() for raw in block.splitlines())
                if line
            ]
    return list(dict.fromkeys(lines))


@pytest.mark.parametrize("page, section", RUNS, ids=[f"{p}{s}" for p, s in RUNS])
def test_python_blocks_run_as_written(page, section, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the HTML section writes report.html
    blocks = [b for b in BLOCKS if (b.page, b.section) == (page, section) and not _is_test_file(b)]
    for package in OPTIONAL:
        if any(re.search(rf"^(import|from) {package}\b", b.code, re.M) for b in blocks):
            pytest.importorskip(package)
    printed = generate.run_blocks(blocks)
    for expected in PRINTS.get((page, section), []):
        assert expected in printed


def test_every_run_with_printed_output_is_checked():
    assert set(PRINTS) <= set(RUNS)


def test_the_readme_keeps_the_two_set_up_commands_literally():
    for command in ("pip install . && python -m gradcheck", 'pip install ".[test]" && pytest'):
        assert command in _shell_lines() and command in TEXT


@pytest.mark.parametrize("page", sorted(TEXTS))
def test_samples_are_up_to_date(page, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the generator finds the pages from anywhere
    stale = generate.stale(TEXTS[page], page)
    message = "\n\n".join(
        f"sample {name!r} in {page} is out of date. Shown:\n{shown}\n\nNow:\n{fresh}"
        for name, shown, fresh in stale
    )
    assert not stale, f"{message}\n\nRegenerate with: {generate.COMMAND}"


def test_every_sample_has_a_generator():
    names = [m.group("name") for text in TEXTS.values() for m in generate.SAMPLE.finditer(text)]
    assert sorted(names) == sorted(generate.SAMPLES), "the pages' markers and SAMPLES differ"
    for text in TEXTS.values():
        assert text.count("<!-- sample:") == text.count("<!-- /sample -->")


def test_abridge_keeps_each_paragraphs_first_lines():
    text = "a\nb\nc\n\n  x\n  y\n  z\n\nlast"
    assert generate.abridge(text, lines=2) == "a\nb\n...\n\n  x\n  y\n  ...\n\nlast"
    assert generate.abridge(text) == text


def test_agree_ignores_rounding_noise_but_not_changes():
    assert generate.agree("err 3.1e-16, ratio 0.00, 11 of 11", "err 4.4e-16, ratio 0.01, 11 of 11")
    assert generate.agree("ratio 5.4e+12", "ratio 6.1e+12")
    assert not generate.agree("ratio 3e-4", "ratio 1e-3")  # FD_SAFETY 10 -> 30 shows
    assert not generate.agree("11 of 11 verified", "10 of 11 verified")
    assert not generate.agree("ratio 1e-3 ok", "ratio 1e-3 FAIL")
    assert not generate.agree("ratio 2.0", "ratio -2.0")
    # another CPU's libm moves a few far-inside cells of a table; a constant moves all of them
    row = " ".join(f"{k + 1}e-4" for k in range(9))
    shown, noisy = "\n".join([row] * 4), "\n".join([row] * 3 + [row.replace("3e-4", "1e-3")])
    assert generate.agree(shown, noisy)
    assert not generate.agree(shown, "\n".join([row.replace("e-4", "e-3")] * 4))
    assert not generate.agree(shown, noisy.replace("1e-3", "1e-1"))  # beyond NOISY_FACTOR
    assert not generate.agree("11 of 11 " + shown, "10 of 11 " + shown)


def test_rewrite_replaces_only_the_sample_bodies():
    readme = "intro\n<!-- sample: x -->\n```\nold\n```\n<!-- /sample -->\nend\n"
    assert generate.rewrite(readme, {"x": "new\nlines"}) == (
        "intro\n<!-- sample: x -->\n```\nnew\nlines\n```\n<!-- /sample -->\nend\n"
    )
    assert generate.shown(readme) == {"x": "old"}


def test_pytest_blocks_run_as_test_files(tmp_path):
    test_blocks = [b for b in BLOCKS if _is_test_file(b)]
    assert len(test_blocks) == 3  # the README's, and the pytest guide's two
    (tmp_path / "mymodule.py").write_text(MYMODULE)
    # a few hypothesis examples suffice to show the block runs; the suite's own profile is ci
    (tmp_path / "conftest.py").write_text(
        "from hypothesis import settings\n"
        "settings.register_profile('readme', max_examples=10, deadline=None, derandomize=True,"
        " database=None)\nsettings.load_profile('readme')\n"
    )
    for k, block in enumerate(test_blocks):
        (tmp_path / f"test_readme_block_{k}.py").write_text(block.code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def _importable(name: str) -> bool:
    """Whether `name` imports here: `importlib.util.find_spec` may itself raise where an import
    hook refuses the module, so the only sure test is the import."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def test_command_lines_run_as_written(tmp_path, monkeypatch, capsys):
    from gradcheck.cli.main import main

    (tmp_path / "mymodule.py").write_text(MYMODULE)
    (tmp_path / "path" / "to").mkdir(parents=True)
    (tmp_path / "path" / "to" / "model.py").write_text(MODEL)
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is not None:
        source = ROOT / "tests" / "c" / "backprop.c"
        subprocess.run(
            [compiler, "-O2", "-o", str(tmp_path / "backprop"), str(source), "-lm"], check=True
        )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # what `python -m` does for the working dir
    monkeypatch.delitem(sys.modules, "mymodule", raising=False)
    ran, skipped = [], []
    for line in _shell_lines():
        if line in NOT_RUN:
            continue
        words = shlex.split(line)
        assert words[:3] == ["python", "-m", "gradcheck"], (
            f"documented line neither run nor listed: {line}"
        )
        if ("--plot" in words and not _importable("matplotlib")) or (
            "--exec" in words and compiler is None
        ):
            # needs matplotlib, or a C compiler (tests/adapters/protocol/test_program.py skips too)
            skipped.append(line)
            continue
        assert main(words[3:]) == 0, f"{line}\n{capsys.readouterr()}"
        out = capsys.readouterr().out
        if "--json" in words:
            assert json.loads(out)["passed"] is True
        ran.append(line)
    assert len(ran) + len(skipped) == 10 and len(ran) >= 8
    assert (tmp_path / "taylor.png").is_file() or any("--plot" in line for line in skipped)
    assert (tmp_path / "golden" / "vectors.json").is_file()
    for page in ("report.html", "selfcheck.html", "taylor.html"):  # the HTML reports' lines
        assert "PASSED" in (tmp_path / page).read_text(encoding="utf-8")


def test_benchmark_only_summary_drops_the_non_benchmark_skips(tmp_path):
    # The hook lives in benchmarks/conftest.py; loaded here as a plugin on two tiny tests.
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    (tmp_path / "test_other.py").write_text(
        "import pytest\n\npytest.skip('could not import something', allow_module_level=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider"]
    plugin = ["-p", "benchmarks.conftest", str(tmp_path)]
    timed = subprocess.run(
        [*command, "--benchmark-only", *plugin],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "Skipping non-benchmark" not in timed.stdout
    assert "could not import something" in timed.stdout  # other skips still listed
    assert "2 skipped" in timed.stdout  # and counted
    plain = subprocess.run(
        [*command, *plugin], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert "SKIPPED [1]" in plain.stdout and "1 passed, 1 skipped" in plain.stdout


def test_claims_about_the_catalogues():
    from gradcheck.diagnosis.bugs import BUGS

    networks = TEXTS["docs/networks.md"]
    assert f"recognises {len(BUGS)} known bugs" in networks
    listed = re.search(r"Activations: (.*?), or your own", networks, re.S).group(1)
    names = [name.split(" ")[0] for name in re.split(r",\s*", listed.replace("\n", " "))]
    assert sorted(names) == BUILT_IN_ACTIVATIONS


def _mapped_modules(section: str) -> set[str]:
    """The modules the map names: a package line (``    gradcheck/fd/``), then its modules indented."""
    mapped, package = set(), ""
    for line in section.splitlines():
        if (
            line.startswith("    ")
            and not line.startswith("      ")
            and line.split()[0].endswith("/")
        ):
            package = line.split()[0]
        elif line.startswith("      ") and line.strip():
            names = line.strip().split("  ")[0]
            mapped.update(package + name.strip() for name in names.split(","))
    return mapped


def test_module_map_names_every_module_under_its_package():
    section = TEXT[TEXT.index("## How it is built") :]
    modules = {
        str(path.relative_to(ROOT))
        for package in ("reference", "gradcheck")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    }
    mapped = _mapped_modules(section)
    assert sorted(modules - mapped) == []  # every module is on the map
    assert sorted(mapped - modules) == []  # and the map names no module that is gone


def _nav_pages() -> list[str]:
    """The pages mkdocs.yml's `nav` names, as paths under docs/."""
    return re.findall(r"^\s*- [^:\n]+: (\S+\.md)$", MKDOCS.read_text(encoding="utf-8"), re.M)


def test_the_docs_site_names_every_page_once():
    config = MKDOCS.read_text(encoding="utf-8")
    assert re.search(r"^docs_dir: docs$", config, re.M)
    pages = sorted(
        path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")
    )
    nav = _nav_pages()
    assert sorted(set(nav)) == sorted(nav), "a page is in the nav twice"
    assert sorted(nav) == pages  # no orphan page, and no nav entry without its page


def test_the_readme_links_every_guide():
    guides = [page for page in _nav_pages() if "/" not in page]
    not_linked = [g for g in guides if f"](docs/{g})" not in TEXT]
    # index.md is the site's own front page (the README is the repository's);
    # how-it-is-built.md includes the README's map.
    assert sorted(not_linked) == ["how-it-is-built.md", "index.md"]


def test_the_docs_page_of_the_map_includes_the_readmes_map():
    page = (ROOT / "docs" / "how-it-is-built.md").read_text(encoding="utf-8")
    assert '--8<-- "README.md:map"' in page
    start, end = TEXT.index("--8<-- [start:map]"), TEXT.index("--8<-- [end:map]")
    assert _mapped_modules(TEXT[start:end]) == _mapped_modules(
        TEXT[TEXT.index("## How it is built") :]
    )


def test_ci_builds_the_docs_site_with_warnings_as_errors_after_the_tests():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    second_pass = run.index('GRADCHECK_EXTRAS_REQUIRED=1 pytest "${extra_tests[@]}"')
    install, build = run.index('pip install --quiet ".[docs]"'), run.index("mkdocs build --strict")
    assert second_pass < install < build
    assert "[docs]" not in run[:second_pass]  # the test passes never see mkdocs
