"""Hidden checks, one module per lab: `autograder/checks/<assignment>.py`.

A lab's module is the one place that declares it, beside its notebook in `assignments/<lab>/`:
its checks, `DATA` (the data set it reads, a name in `grader_data.DATASETS`), `PROTOCOL` and the
thresholds of the grader's own runs (`MIN_TEST_ACCURACY` where the grader computes one),
`calibration_run` and `unmet_margins` (what `python -m autograder calibrate` measures, and which
margins the calibrated seeds do not keep), and `SAMPLES` (the partial and broken sample
submissions). `load_lab` reads all of it once into a `Lab` that every step is handed: the literals
from the source, without importing TensorFlow (course tools), the rest (`Lab.module`) on first use.

Each check is a pytest test decorated with `@check(points=..., cell=...)`: its points and the
nbgrader test cell (grade id) whose score it counts towards; optionally `visibility=...`, when
Gradescope shows its result to students (default: `course_config.GRADESCOPE_VISIBILITY`). The
grader reads this table from the module's source (`Lab.checks`) without importing it, so
the points it awards come from the grader's own copy of the checks, never from the process that
ran student code.
"""

from __future__ import annotations

import ast
import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import course_config
from autograder.report import CheckResult

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

    def result(self, score: float, message: str = "") -> CheckResult:
        return CheckResult(self.name, self.cell, self.description, self.points, score, message, self.visibility)


# The modules beside the labs' that serve them all: none of them is a lab.
NOT_LABS = {"common", "conftest", "figures", "grader_data", "submission", "training_cache"}


def check_module_path(assignment: str) -> Path:
    path = CHECKS_DIR / f"{assignment}.py"
    if not path.is_file() or assignment in NOT_LABS:
        known = sorted(p.stem for p in CHECKS_DIR.glob("*.py") if not p.stem.startswith("_") and p.stem not in NOT_LABS)
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


# What every lab module defines (the README's "Adding a lab"; tests/test_lab_modules.py).
REQUIRED_LITERALS = ("DATA", "SAMPLES")
REQUIRED_NAMES = ("PROTOCOL", "calibration_run", "unmet_margins")


@dataclass(frozen=True, eq=False)
class Lab:
    """One lab as every grading step sees it, read once from `autograder/checks/<name>.py`."""

    name: str
    path: Path
    checks: tuple[CheckSpec, ...]
    data: str | None  # the data set it reads (grader_data.DATASETS), or None
    samples: dict  # which solution cells the partial and broken samples fill (samples.py)
    # The grader's own test-accuracy threshold, or None; the notebook's prose quotes it as
    # "threshold (0.xx" (tests/test_prose_numbers.py).
    min_test_accuracy: float | None

    def module(self) -> ModuleType:
        """The checks themselves (imports TensorFlow): PROTOCOL, calibration_run, unmet_margins."""
        return importlib.import_module(f"autograder.checks.{self.name}")

    @property
    def protocol(self) -> dict:
        """The grader's own training runs (epochs, data sizes): what its calibration was measured under."""
        return self.module().PROTOCOL

    @property
    def points(self) -> float:
        return sum(spec.points for spec in self.checks)

    def zeros(self, message: str) -> list[CheckResult]:
        """Every check at zero with one message (a submission that could not be graded)."""
        return [spec.result(0.0, message) for spec in self.checks]


def load_lab(name: str) -> Lab:
    """The lab's record; a name with no module is a ValueError naming the labs there are."""
    path = check_module_path(name)
    return _parse_lab(name, path, path.read_text())


@functools.lru_cache(maxsize=None)
def _parse_lab(name: str, path: Path, source: str) -> Lab:
    """Parsed once per version of the module's source (a changed module is read again)."""
    tree = parse_python(source)
    literals = _literals(tree)
    missing = [literal for literal in REQUIRED_LITERALS if literal not in literals]
    if missing:
        raise ValueError(f"autograder/checks/{name}.py does not declare {', '.join(missing)}")
    return Lab(name, path, tuple(_check_specs(tree)), literals["DATA"], literals["SAMPLES"],
               literals.get("MIN_TEST_ACCURACY"))


def as_lab(lab: Lab | str) -> Lab:
    return lab if isinstance(lab, Lab) else load_lab(lab)


def _literals(tree: ast.Module) -> dict:
    """The module's top-level assignments whose value is a literal (DATA, SAMPLES, thresholds)."""
    values = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and node.value is not None:
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, RecursionError):  # computed: read through Lab.module()
                    pass
    return values


def _check_specs(tree: ast.Module) -> list[CheckSpec]:
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
