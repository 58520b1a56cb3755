"""The house's layer contract (pyproject.toml, [tool.importlinter]), enforced: a violation fails pytest.

Three contracts: `reference` imports nothing from `gradcheck`; `gradcheck`'s sub-packages form
layers (the data never imports its view; an engine never imports a job, an adapter or the
command line); no import cycles, lazy imports inside functions included. The tester is tested
too: a toy package that breaks each rule makes the same check fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def _lint(config: Path, cwd: Path) -> int:
    """`lint-imports` on `config`, in a fresh process whose path starts at `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(%r, no_cache=True))"
    done = subprocess.run(
        [sys.executable, "-c", code % str(config)], cwd=cwd, env=env, capture_output=True, text=True
    )
    return done.returncode


def test_the_project_keeps_its_contracts():
    assert lint_imports(str(ROOT / "pyproject.toml"), no_cache=True) == 0


def _reachable(graph: grimp.ImportGraph, start: str) -> set[str]:
    """Every module that `start` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for module in graph.find_modules_directly_imported_by(todo.pop()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def test_no_module_is_in_an_import_cycle():
    # acyclic_siblings above sees cycles between siblings; this sees every module, the packages'
    # __init__ included (grimp reads imports inside functions and under TYPE_CHECKING too)
    graph = grimp.build_graph("gradcheck", "reference", cache_dir=None)
    cycles = [
        (importer, imported)
        for importer in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if importer in _reachable(graph, imported)
    ]
    assert cycles == []


TOY_CONFIG = """
[tool.importlinter]
root_packages = ["toy"]

[[tool.importlinter.contracts]]
name = "layers"
type = "layers"
containers = ["toy"]
layers = ["view", "data"]

[[tool.importlinter.contracts]]
name = "acyclic"
type = "acyclic_siblings"
ancestors = ["toy"]
"""


def _toy(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"toy/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text(TOY_CONFIG)
    return tmp_path / "pyproject.toml"


def test_a_toy_package_that_keeps_the_rules_passes(tmp_path):
    config = _toy(
        tmp_path,
        {"toy/view.py": "from toy import data\n", "toy/data.py": "X = 1\n"},
    )
    assert _lint(config, tmp_path) == 0


@pytest.mark.parametrize(
    "files",
    [
        # the data imports its view, lazily inside a function
        {"toy/view.py": "X = 1\n", "toy/data.py": "def f():\n    from toy import view\n"},
        # a cycle between two modules of one layer
        {
            "toy/view.py": "",
            "toy/data.py": "",
            "toy/a.py": "from toy import b\n",
            "toy/b.py": "def f():\n    from toy import a\n",
        },
    ],
    ids=["data-imports-view-lazily", "lazy-cycle"],
)
def test_a_toy_package_that_breaks_a_rule_fails(tmp_path, files):
    assert _lint(_toy(tmp_path, files), tmp_path) == 1
