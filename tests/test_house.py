"""The house rules, pinned: a module is as long as its concept needs, and one over about 800 lines
says why in its docstring; no function over about 60 lines of code (docstring aside); no module
importing a private name from another; every module with its mirrored test file. (The layer
contract is in test_architecture.py.)

Each exception to the function and test-file rules is listed with the reason it stands; an entry
that no longer applies fails too, so that the lists only shrink.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    p for package in ("reference", "gradcheck") for p in (ROOT / package).rglob("*.py")
)
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 60
#: how a long module's docstring says why it is long (a paragraph starting with these words)
WHY_LONG = "Why this module is long:"

#: functions allowed over MAX_FUNCTION_LINES lines of code, and why
LONG_FUNCTIONS: dict[str, str] = {}

#: modules (or patterns of them) without a mirrored test file, and why
UNMIRRORED: dict[str, str] = {
    "*/__init__.py": "a package's public surface: its names are tested where they are defined",
    "*/__main__.py": "`python -m gradcheck` calls gradcheck.cli.main: tests/cli/test_main.py",
    "gradcheck/soak.py": "`python -m gradcheck.soak` calls gradcheck.jobs.soak.main: "
    "tests/jobs/test_soak.py",
    "gradcheck/torch.py": "a thin public re-export of gradcheck.adapters.torch (tests/adapters/torch/)",
    "gradcheck/jax.py": "a thin public re-export of gradcheck.adapters.jax (tests/adapters/test_jax.py)",
    "gradcheck/strategies.py": "a thin public re-export of gradcheck.adapters.strategies "
    "(tests/adapters/test_strategies.py)",
}


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from its `def` to its end, its docstring aside."""
    lines = node.end_lineno - node.lineno + 1
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            lines -= body[0].end_lineno - body[0].lineno + 1
    return lines


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def long_modules() -> dict[str, int]:
    """Module -> its line count, for the modules over MAX_MODULE_LINES."""
    counts = {_relative(p): len(p.read_text().splitlines()) for p in MODULES}
    return {name: n for name, n in counts.items() if n > MAX_MODULE_LINES}


def long_functions() -> dict[str, int]:
    """'module:function' -> its lines of code, for the functions over MAX_FUNCTION_LINES."""
    found = {}
    for path in MODULES:
        for node in _functions(ast.parse(path.read_text())):
            n = _code_lines(node)
            if n > MAX_FUNCTION_LINES:
                found[f"{_relative(path)}:{node.name}"] = n
    return found


def private_imports() -> list[str]:
    """Every `from x import _y` of one module from another (dunders such as __version__ aside)."""
    found = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{_relative(path)}: from {node.module} import {alias.name}")
    return found


def mirrored_test_file(path: Path) -> Path:
    """tests/<path below the package>/test_<name>.py: gradcheck/fd/network.py ->
    tests/fd/test_network.py, reference/network.py -> tests/reference/test_network.py;
    a private module's leading underscore is dropped (reference/_validate.py ->
    tests/reference/test_validate.py)."""
    package, *folders = path.relative_to(ROOT).parent.parts
    if package == "reference":
        folders = ["reference", *folders]
    return ROOT.joinpath("tests", *folders, f"test_{path.stem.lstrip('_')}.py")


def _unmirrored_reason(path: Path) -> str | None:
    name = _relative(path)
    return next((why for pattern, why in UNMIRRORED.items() if fnmatch(name, pattern)), None)


def modules_without_tests() -> list[str]:
    """Every module with neither its mirrored test file nor a reason in UNMIRRORED."""
    return [
        f"{_relative(p)}: no {_relative(mirrored_test_file(p))}"
        for p in MODULES
        if _unmirrored_reason(p) is None and not mirrored_test_file(p).exists()
    ]


def test_the_audit_sees_every_module():
    assert len(MODULES) > 30
    assert all(p.exists() for p in MODULES)


def test_a_module_over_800_lines_says_why_in_its_docstring():
    unexplained = [
        name
        for name in long_modules()
        if WHY_LONG not in (ast.get_docstring(ast.parse((ROOT / name).read_text())) or "")
    ]
    assert unexplained == []


def test_no_test_file_is_over_800_lines():
    # a long test file is several subjects: split it by subject (test_backprop_layouts.py, ...)
    tests = sorted((ROOT / "tests").rglob("test_*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    long = {
        _relative(p): n for p in tests if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_60_lines_unless_listed_with_a_reason():
    assert set(long_functions()) <= set(LONG_FUNCTIONS), long_functions()


def test_every_listed_exception_still_applies():
    assert set(LONG_FUNCTIONS) <= set(long_functions()), set(LONG_FUNCTIONS) - set(long_functions())


def test_every_module_has_its_test_file():
    assert modules_without_tests() == []


def test_every_unmirrored_module_is_still_there_and_still_untested_by_name():
    for pattern in UNMIRRORED:
        matches = [p for p in MODULES if fnmatch(_relative(p), pattern)]
        assert matches, f"{pattern}: no such module any more"
        if "*" not in pattern:
            (path,) = matches
            assert not mirrored_test_file(path).exists(), f"{pattern} has its test file now"


def test_mirrored_test_file_names():
    assert mirrored_test_file(ROOT / "gradcheck/fd/network.py") == ROOT / "tests/fd/test_network.py"
    assert mirrored_test_file(ROOT / "gradcheck/validate.py") == ROOT / "tests/test_validate.py"
    assert (
        mirrored_test_file(ROOT / "reference/_validate.py")
        == ROOT / "tests/reference/test_validate.py"
    )
    assert (
        mirrored_test_file(ROOT / "gradcheck/adapters/protocol/format.py")
        == ROOT / "tests/adapters/protocol/test_format.py"
    )


def test_no_module_imports_a_private_name_from_another():
    assert private_imports() == []


def test_the_audit_counts_code_not_docstrings():
    tree = ast.parse('def f():\n    """Doc.\n\n    More.\n    """\n    return 1\n')
    (node,) = _functions(tree)
    assert _code_lines(node) == 2
