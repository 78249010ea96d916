"""nbgrader `autograde` step that grades with the course's hidden checks.

It replaces nbgrader's `Execute` preprocessor: the notebook is executed once by the course grader,
and each autograder test cell's output becomes its checks' results with the earned points as the
cell's value, which nbgrader's own `SaveAutoGrades` step reads as partial credit. So the gradebook
and `python -m autograder grade` award the same points from one set of checks.

The hidden-test block is removed from the autograded notebook, so feedback made from it (nbgrader
`generate_feedback`) never shows it (nbgrader's issues #917 and #1363). The grader's report is
kept in the notebook's metadata for the export.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade

from autograder.course import GRADE_REPORT_KEY
from autograder.grade import grade_notebook

HIDDEN_TESTS = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.DOTALL)


class GradeWithHiddenChecks(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        # nbgrader has put the hidden-test blocks back into the test cells: take them out before
        # grading, so the cells match their released checksums again and feedback never shows them.
        for cell in nb.cells:
            if cell.cell_type == "code" and is_grade(cell):
                cell.source = HIDDEN_TESTS.sub("", cell.source).rstrip()
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
        return executed, resources
