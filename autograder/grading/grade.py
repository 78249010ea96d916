"""Grade one submission: run it in its kernel, then run the hidden checks against that kernel.

1. The notebook runs once, in a sandboxed kernel, under time and memory limits (`kernel/session.py`).
   Its outputs and plots are kept for feedback.
2. The kernel stays up; the hidden checks (`checkrun.py`, pytest in this process) ask it to call
   the notebook's functions on the grader's inputs, and judge the data that comes back.
3. Points come from the grader's own table of checks (`checks/__init__.py`).
No student code runs in this process: it only reads data the kernel sent, and validates it.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import nbformat

import course_config
from autograder.checks import Lab, as_lab, grader_data
from autograder.checks.submission import Submission
from autograder.grading import timing
from autograder.grading.checkrun import run_checks
from autograder.grading.tamper import find_tampering
from autograder.kernel import safe_outputs
from autograder.kernel.session import ExecutionResult, KernelSession
from autograder.report import GradeReport
from autograder.sandbox import namespaces


def grade_file(path: Path, lab: Lab | str) -> tuple[GradeReport, nbformat.NotebookNode | None]:
    """Grade a notebook file; an unreadable notebook is a zero with a message, not a crash."""
    lab = as_lab(lab)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # JSON or schema errors in a student's file
        report = GradeReport(lab.name, path.name, lab.zeros("The notebook could not be read."), execution_status="not run")
        report.notes.append(f"{path.name} is not a readable notebook: {type(error).__name__}: {str(error)[:300]}")
        return report, None
    return grade_notebook(notebook, lab, path.name)


def grade_notebook(
    notebook: nbformat.NotebookNode, lab: Lab | str, name: str, student: str = "submission"
) -> tuple[GradeReport, nbformat.NotebookNode]:
    """Grade a notebook; return the report and the executed notebook (outputs kept for feedback)."""
    lab = as_lab(lab)
    data_problem = grader_data.prepare(lab.data)
    execution, outcomes, submission = run_submission(notebook, lab, timing.limits(lab.name), student)
    kernel = submission.kernel
    problems, peak = kernel.fresh_kernel_problems, kernel.peak_memory_bytes / 2**30

    report = GradeReport(lab.name, name, execution_status=execution.status, execution_seconds=execution.seconds,
                         peak_memory_gb=round(peak, 2), stopped_by=execution.stops,
                         cpu_seconds=_rounded(execution.cpu_seconds), checks_cpu_seconds=_rounded(submission.calls_used))
    report.tampering = find_tampering(notebook, lab.name)
    report.notes += namespaces.off_notes()
    if not kernel.counts_cpu:
        report.notes.append(f"Time limits were wall-clock seconds here (CPU time cannot be counted without a "
                            f"cgroup), scaled by {kernel.wall_factor:.2f} for this machine's measured speed.")
    if data_problem:
        report.notes.append(data_problem)
    if kernel.memory_exceeded and execution.status != "memory limit":
        report.notes.append(f"A call of your code used more than {course_config.MEMORY_LIMIT_GB:g} GB; "
                            "the kernel was restarted.")
    report.notes += execution.limits + execution.errors[:10] + problems
    for spec in lab.checks:
        outcome = outcomes.get(spec.name)
        if outcome is None:
            report.checks.append(spec.result(0.0, "This check did not run."))
        elif outcome.get("passed") is True:
            report.checks.append(spec.result(spec.points))
        else:
            report.checks.append(spec.result(0.0, str(outcome.get("message", ""))[:600]))
    return report, execution.notebook


def run_submission(notebook: nbformat.NotebookNode, lab: Lab, limits: timing.Limits,
                   student: str = "submission") -> tuple[ExecutionResult, dict[str, dict], Submission]:
    """Execute the notebook in its kernel, then run the checks against it; the kernel is gone after."""
    label = "".join(c for c in student if c.isalnum() or c == "_")[:40] or "submission"
    with tempfile.TemporaryDirectory(prefix=f"autograder-{label}-") as folder:
        with KernelSession(copy.deepcopy(notebook), Path(folder), label) as kernel:
            execution = kernel.run_notebook(limits.cells, limits.default_cell, limits.notebook)
            submission = Submission(kernel, limits.calls, limits.training_cpu)
            outcomes = run_checks(lab, submission)
    # The checks' calls ran student code after the notebook was cleaned, and its display updates
    # rewrite the notebook's cells: clean what is kept once more, now that the kernel is gone.
    dropped = safe_outputs.neutralize(execution.notebook)
    if dropped:
        limit_mb = course_config.MAX_EXECUTED_NOTEBOOK_BYTES // 2**20
        execution.limits.append(f"Outputs of cell(s) {dropped} were not kept: display updates sent while the checks "
                                f"ran took the executed notebook past its {limit_mb} MB limit.")
    return execution, outcomes, submission


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
