"""nbgrader `autograde` step that grades with the course's hidden checks.

It replaces nbgrader's `Execute` preprocessor: the notebook is executed once by the course grader,
and each autograder test cell's output becomes its checks' results with the earned points as the
cell's value, which nbgrader's own `SaveAutoGrades` step reads as partial credit. So the gradebook
and `python -m autograder grade` award the same points from one set of checks.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade

from autograder.grade import grade_notebook


class GradeWithHiddenChecks(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        report, executed = grade_notebook(nb, info["assignment"], info["notebook"])
        self.log.info("Course grader: %s/%s points for %s", report.score, report.max_score, info["student"])
        scores = report.cell_scores()
        for cell in executed.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or not is_grade(cell) or grade_id not in scores:
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
        resources.setdefault("course_grader", {})[info["notebook"]] = report.to_gradescope()
        return executed, resources
