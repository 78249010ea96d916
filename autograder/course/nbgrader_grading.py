"""nbgrader `autograde` step that grades with the course's hidden checks.

It replaces nbgrader's `Execute` preprocessor: the notebook is executed once by the course grader,
and each autograder test cell's output becomes its checks' results with the earned points as the
cell's value, which nbgrader's own `SaveAutoGrades` step reads as partial credit. So the gradebook
and `python -m autograder grade` award the same points from one set of checks.

With COURSE_PRECOMPUTED_RESULTS set (the GitHub workflow's gather job, platforms/github_gather.py) the
notebook is not run again: the report and executed notebook of the grading job for this student
are read from that folder, their scores checked against the grader's own table of checks.

The hidden-test block is removed from the autograded notebook, so feedback made from it (nbgrader
`generate_feedback`) never shows it (nbgrader's issues #917 and #1363). The grader's report is
kept in the notebook's metadata for the export.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade
from traitlets import Instance

from autograder.checks import load_lab
from autograder.course.nbgrader_course import GRADE_REPORT_KEY
from autograder.grading.grade import grade_notebook
from autograder.report import GradeReport

PRECOMPUTED_RESULTS = "COURSE_PRECOMPUTED_RESULTS"
HIDDEN_TESTS = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.DOTALL)


class ReportSink(dict):
    """student -> GradeReport: where a batch worker (nbgrader's API, in its process) is handed each
    report, typed, to send on, so that nothing reads a report back from a notebook. It reaches the
    preprocessor through nbgrader's config, whose values traitlets deep-copies: a sink stays itself."""

    def __deepcopy__(self, memo: dict) -> ReportSink:
        return self


class GradeWithHiddenChecks(NbGraderPreprocessor):
    report_sink = Instance(ReportSink, allow_none=True, help="where each report is left").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        # nbgrader has put the hidden-test blocks back into the test cells: take them out before
        # grading, so the cells match their released checksums again and feedback never shows them.
        for cell in nb.cells:
            if cell.cell_type == "code" and is_grade(cell):
                cell.source = HIDDEN_TESTS.sub("", cell.source).rstrip()
        precomputed = os.environ.get(PRECOMPUTED_RESULTS)
        if precomputed:
            report, executed = read_precomputed(Path(precomputed) / info["student"], nb, info["assignment"], info["notebook"])
        else:
            report, executed = grade_notebook(nb, info["assignment"], info["notebook"], info["student"])
        self.log.info("Course grader: %s/%s points for %s", report.score, report.max_score, info["student"])
        scores = report.cell_scores()
        for cell in executed.cells:
            if cell.cell_type != "code" or not is_grade(cell):
                continue
            grade_id = cell.metadata.nbgrader.get("grade_id")
            if grade_id not in scores:
                continue
            max_points = float(cell.metadata.nbgrader["points"])
            lines = [
                f"{'passed' if check.passed else 'FAILED'}: {check.description}"
                + ("" if check.passed else f" — {check.message}")
                for check in report.checks if check.cell == grade_id
            ]
            cell.outputs = [
                new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
                new_output("execute_result", data={"text/plain": repr(min(scores[grade_id], max_points))},
                           execution_count=cell.get("execution_count")),
            ]
        executed.metadata[GRADE_REPORT_KEY] = report.to_gradescope()
        if self.report_sink is not None:
            self.report_sink[info["student"]] = report
        return executed, resources


def read_precomputed(folder: Path, nb: NotebookNode, assignment: str, name: str) -> tuple[GradeReport, NotebookNode]:
    """The report and executed notebook a grading job wrote (results.json, <lab>.ipynb). Points and
    cells come from the grader's own table of checks; a missing report is a zero with a note."""
    report = GradeReport(assignment, name, execution_status="not run")
    try:
        results = json.loads((folder / "results.json").read_text())
        tests = {test["number"]: test for test in results["tests"]}
        extra = results["extra_data"]  # the report's own fields (GradeReport.to_gradescope), never its text
        report.execution_status, report.execution_seconds = str(extra["execution_status"])[:100], float(results["execution_time"])
        report.stopped_by = [str(stop)[:200] for stop in extra.get("stopped_by") or []][:10]
        report.notes = results["output"].splitlines()[1:]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        tests = {}
        report.notes = ["The grading job for this submission left no readable results: grade it again."]
    for spec in load_lab(assignment).checks:
        test = tests.get(spec.name)
        try:
            score = min(max(float(test["score"]), 0.0), spec.points)
            message = str(test.get("output", ""))
        except (TypeError, KeyError, ValueError, AttributeError):
            score, message = 0.0, "This check did not run."
        report.checks.append(spec.result(score, message[:600]))
    return report, with_outputs_of(folder / f"{name}.ipynb", nb)


def with_outputs_of(path: Path, nb: NotebookNode) -> NotebookNode:
    """A copy of nbgrader's notebook (its cell types, metadata and locked sources are nbgrader's)
    with the outputs the job recorded for its ungraded code cells, matched by cell id. Nothing
    else of the job's notebook is kept: it is the student's file, which may carry forged metadata."""
    executed = copy.deepcopy(nb)
    for cell in executed.cells:
        if cell.cell_type == "code":  # what the student's file stored is not what ran
            cell.outputs, cell.execution_count = [], None
    try:
        recorded = {cell.get("id"): cell for cell in nbformat.read(path, as_version=4).cells
                    if cell.get("cell_type") == "code" and cell.get("id")}
    except Exception:  # no executed notebook (the job failed), or an unreadable one
        return executed
    for cell in executed.cells:
        source = recorded.get(cell.get("id"))
        if cell.cell_type == "code" and not is_grade(cell) and source is not None:
            cell.outputs = source.get("outputs", [])
            cell.execution_count = source.get("execution_count")
    return executed
