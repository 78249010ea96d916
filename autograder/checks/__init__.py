"""Hidden checks, one module per lab: `autograder/checks/<assignment>.py`.

A lab's module is the one place that declares it, beside its notebook in `assignments/<lab>/`:
its checks, `DATA` (the data set it reads, a name in `grader_data.DATASETS`), `PROTOCOL` and the
thresholds of the grader's own runs, `calibration_run` and `unmet_margins` (what
`python -m autograder calibrate` measures, and which margins the calibrated seeds do not keep),
and `SAMPLES` (the partial and broken sample submissions). Course tools loop over
`course_config.ASSIGNMENTS` and read `DATA` and `SAMPLES` from the source (`declared`) without
importing TensorFlow.

Each check is a pytest test decorated with `@check(points=..., cell=...)`: its points and the
nbgrader test cell (grade id) whose score it counts towards; optionally `visibility=...`, when
Gradescope shows its result to students (default: `course_config.GRADESCOPE_VISIBILITY`). The
grader reads this table from the module's source (`read_check_specs`) without importing it, so
the points it awards come from the grader's own copy of the checks, never from the process that
ran student code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import course_config

CHECKS_DIR = Path(__file__).resolve().parent


# Gradescope's values: never shown to students, after the due date, after grades are published, always.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def check(points: float, cell: str, visibility: str | None = None) -> Callable:
    """Declare a hidden check's points, the nbgrader test cell it belongs to, and optionally when
    Gradescope shows it to students."""

    def mark(function: Callable) -> Callable:
        function.check_points = points
        function.check_cell = cell
        function.check_visibility = visibility or course_config.GRADESCOPE_VISIBILITY
        return function

    return mark


@dataclass(frozen=True)
class CheckSpec:
    name: str
    points: float
    cell: str
    description: str
    visibility: str = course_config.GRADESCOPE_VISIBILITY


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


def declared(assignment: str, name: str):
    """A literal the lab's module assigns to `name` (DATA, SAMPLES), read from its source."""
    for node in parse_python(check_module_path(assignment).read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(getattr(target, "id", None) == name for target in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    raise ValueError(f"autograder/checks/{assignment}.py does not declare {name}")


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
                visibility = arguments.get("visibility", course_config.GRADESCOPE_VISIBILITY)
                if visibility not in VISIBILITIES:
                    raise ValueError(f"{node.name}: visibility {visibility!r} is not one of {VISIBILITIES}")
                points = float(arguments["points"])
                specs.append(CheckSpec(node.name, points, arguments["cell"], doc, visibility))
    return specs
