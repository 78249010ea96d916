"""The course's hidden checks run the way stock nbgrader runs hidden tests: in the student's kernel.

Benchmark only. The stock run's test cells call `cell_points(...)`, which runs the checks of that
cell in the kernel itself and shows the points earned as the cell's value (nbgrader's partial
credit). The functions are called directly in the kernel's namespace and their results go through
the same encoding and validation as the course grader's (`kernel/server.py`, `kernel/wire.py`), so both runs
grade the same things, with nbgrader's own weaknesses intact: one kernel for the notebook and the
tests, grader state in reach of student code, no sandbox.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from autograder.checks import common, load_lab
from autograder.checks.submission import StudentCodeError
from autograder.grading.checkrun import run_checks
from autograder.kernel import server, wire
from autograder.kernel.wire import ArgumentWriter


class InKernelSubmission:
    """The kernel's own namespace, with the interface the checks use (`function`, `variable`)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.arguments = ArgumentWriter(Path(tempfile.mkdtemp(prefix="in-kernel-")))

    def _serve(self, request: dict):
        return wire.decode(server.answer(request, self.namespace), weights=request.get("weights") is True)

    def function(self, name: str, *, weights: bool = False, **_):
        def call(*args, **kwargs):
            value = self._serve(self.arguments.call_request(name, args, kwargs, 0, weights))
            if isinstance(value, (wire.StudentException, wire.Missing)):
                raise StudentCodeError(name, value)
            return value

        return call

    def variable(self, name: str, *, weights: bool = False):
        return self._serve({"op": "variable", "name": name, "weights": weights})

    input_seed = 0

    @staticmethod
    def fit(model, *args, **kwargs):
        return model.fit(*args, **kwargs)


def cell_points(assignment: str, cell: str, namespace: dict) -> float:
    """Run the checks of one test cell on the kernel's objects; return the points they earn."""
    common.deterministic_threads = lambda: None  # TensorFlow already runs in this kernel: too late to set
    lab = load_lab(assignment)
    specs = [spec for spec in lab.checks if spec.cell == cell]
    # nbgrader gives no points to a cell that wrote to stderr; pytest's progress line is noise here.
    with contextlib.redirect_stderr(io.StringIO()):
        results = run_checks(lab, InKernelSubmission(namespace), [spec.name for spec in specs])
    return float(sum(spec.points for spec in specs if results.get(spec.name, {}).get("passed")))
