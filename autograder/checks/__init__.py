"""Hidden checks, one module per lab: `autograder/checks/<assignment>.py`.

Each check is a pytest test decorated with `@check(points=..., cell=...)`: its points and the
nbgrader test cell (grade id) whose score it counts towards. The grader reads this table from
the module's source (`read_check_specs`) without importing it, so the points it awards come from
the grader's own copy of the checks, never from the process that ran student code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHECKS_DIR = Path(__file__).resolve().parent


def check(points: float, cell: str) -> Callable:
    """Declare a hidden check's points and the nbgrader test cell it belongs to."""

    def mark(function: Callable) -> Callable:
        function.check_points = points
        function.check_cell = cell
        return function

    return mark


@dataclass(frozen=True)
class CheckSpec:
    name: str
    points: float
    cell: str
    description: str


def check_module_path(assignment: str) -> Path:
    path = CHECKS_DIR / f"{assignment}.py"
    if not path.is_file():
        known = sorted(p.stem for p in CHECKS_DIR.glob("*.py") if not p.stem.startswith("_"))
        raise ValueError(f"No hidden checks for assignment {assignment!r}; known: {', '.join(known)}")
    return path


def parse_python(source: str) -> ast.Module:
    """ast.parse, once more if CPython 3.11 raises its spurious "AST constructor recursion depth
    mismatch" SystemError (python/cpython#106905, fixed in later releases: ast.parse in another thread of
    the same process can trigger it; seen under pytest-xdist)."""
    try:
        return ast.parse(source)
    except SystemError:
        return ast.parse(source)


def read_check_specs(assignment: str) -> list[CheckSpec]:
    """The checks of one lab, in source order, read from their decorators."""
    tree = parse_python(check_module_path(assignment).read_text())
    specs = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "check":
                arguments = {kw.arg: ast.literal_eval(kw.value) for kw in decorator.keywords}
                doc = (ast.get_docstring(node) or node.name).strip().splitlines()[0]
                specs.append(CheckSpec(node.name, float(arguments["points"]), arguments["cell"], doc))
    return specs
