"""The house rules, pinned: a module is as long as its concept needs, and one over about 800 lines
says why in its docstring; no function over about 60 lines of code (docstring aside); no module
importing a private name from another. (The layer contract is in test_architecture.py.)

Each exception to the function rule is listed with the reason it stands; an entry that no longer
applies fails too, so that the list only shrinks.
"""

from __future__ import annotations

import ast
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


def test_no_function_is_over_60_lines_unless_listed_with_a_reason():
    assert set(long_functions()) <= set(LONG_FUNCTIONS), long_functions()


def test_every_listed_exception_still_applies():
    assert set(LONG_FUNCTIONS) <= set(long_functions()), set(LONG_FUNCTIONS) - set(long_functions())


def test_no_module_imports_a_private_name_from_another():
    assert private_imports() == []


def test_the_audit_counts_code_not_docstrings():
    tree = ast.parse('def f():\n    """Doc.\n\n    More.\n    """\n    return 1\n')
    (node,) = _functions(tree)
    assert _code_lines(node) == 2
