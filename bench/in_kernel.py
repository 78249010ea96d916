"""The course's hidden checks run the way stock nbgrader runs hidden tests: in the student's kernel.

Benchmark only. The stock run's test cells call `cell_points(...)`, which runs the checks of that
cell on the kernel's own functions and shows the points earned as the cell's value (nbgrader's
partial credit). So stock `nbgrader autograde` grades the same checks as the course's grader, with
nbgrader's own weaknesses intact: one kernel for the notebook and the tests, the student's objects
trusted, no sandbox.
"""

from __future__ import annotations

import contextlib
import functools
import io

import pytest

from autograder.checkrun import CheckInputs, ResultCollector, SubmissionLoadError, pytest_arguments
from autograder import grader_data
from autograder.checks import common, read_check_specs


class KernelSubmission:
    """The kernel's globals, with the interface the checks use (`function(name)`)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.problems: list[str] = []

    def function(self, name: str):
        value = self.namespace.get(name)
        if not callable(value):
            raise SubmissionLoadError(f"Your notebook does not define `{name}`.")
        return value


def kernel_exports(namespace: dict) -> dict:
    """What the grader reads out of the kernel after the last cell, read here directly."""
    history = namespace.get("history")
    exports = {}
    if isinstance(getattr(history, "history", None), dict):
        exports["history"] = {str(k): [float(x) for x in v] for k, v in history.history.items()}
    try:
        exports["iterations"] = int(history.model.optimizer.iterations.numpy())
    except Exception:
        pass
    return exports


def cell_points(assignment: str, cell: str, namespace: dict) -> float:
    """Run the checks of one test cell on the kernel's objects; return the points they earn."""
    common.deterministic_threads = lambda: None  # TensorFlow already runs in this kernel: too late to set
    # Each test cell is a pytest session of its own: load the grader's data once per kernel, not per cell.
    if not hasattr(grader_data.load_imdb_data, "cache_info"):
        grader_data.load_imdb_data = functools.cache(grader_data.load_imdb_data)
    specs = [spec for spec in read_check_specs(assignment) if spec.cell == cell]
    CheckInputs.submission, CheckInputs.exports = KernelSubmission(namespace), kernel_exports(namespace)
    collector = ResultCollector()
    with contextlib.redirect_stderr(io.StringIO()):  # nbgrader gives no points to a cell that wrote to stderr
        pytest.main(pytest_arguments(assignment, [spec.name for spec in specs]), plugins=[collector])
    return float(sum(spec.points for spec in specs if collector.results.get(spec.name, {}).get("passed")))
