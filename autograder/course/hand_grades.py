"""Hand grades survive a regrade of an unchanged answer; a failed autograde shows as not graded.

nbgrader's autograde marks every cell that has a manual score as "needs manual grade" again (its
SaveAutoGrades step), so a regrade after a grader fix would send every hand-graded answer back to
the grading queue. `SaveAutoGradesKeepingHandGrades` takes that step's place in nbgrader's
Autograde (nbgrader_settings.py), so every autograde passes through it: `course autograde` (the
batch workers call nbgrader's API), `nbgrader autograde` run by hand, the formgrader's Autograde
button and the GitHub gather job. At each autograde it records a fingerprint of each graded
cell's answer in the gradebook (table `course_graded_answer`, by nbgrader's grade id); at the
next, a cell graded by hand since then whose answer has the same fingerprint stays graded.

The fingerprint lives in the gradebook rather than being read back from the previous autograded
notebook: nbgrader deletes that folder before any step it lets a config add runs
(Autograde.init_destination), and a gradebook may travel without it (the GitHub artifact). A
written answer's fingerprint is its own text; a test cell whose points the instructor overrode
never changes itself, so its fingerprint is every answer of the notebook and its new automatic
score. A gradebook from before this step has no fingerprints: its hand grades are queued once.

When an autograde fails (nbgrader refuses the submission: "Inconsistent checksums", an unreadable
notebook; or the worker timed out or died), nbgrader leaves the previous submission's grades in
the gradebook; `mark_failed` zeroes them with the reason as a comment (`mark_not_graded`: any note,
for a student with nothing to grade).
"""

from __future__ import annotations

import hashlib

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook, InvalidEntry, MissingEntry
from nbgrader.preprocessors import SaveAutoGrades
from nbgrader.utils import is_solution
from sqlalchemy import Column, MetaData, String, Table, delete, insert, select
from sqlalchemy.schema import CreateTable

GRADED_ANSWERS = Table("course_graded_answer", MetaData(),
                       Column("grade_id", String(32), primary_key=True),
                       Column("fingerprint", String(64), nullable=False))


def answer_fingerprint(cell: NotebookNode, answers: list[str], auto_score: float | None) -> str:
    """What a hand grade of this cell judged: a written answer's text; for a test cell, every
    answer of the notebook and the score the checks gave them."""
    parts = [cell.source] if is_solution(cell) else [cell.source, *answers, repr(auto_score)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class SaveAutoGradesKeepingHandGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, except that a cell graded by hand whose answer did not change
    since its last autograde stays graded."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self.answers = [cell.source for cell in nb.cells if is_solution(cell)]
        return super().preprocess(nb, resources)

    def _add_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        grade = self.gradebook.find_grade(cell.metadata.nbgrader["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        graded_by_hand = grade.manual_score is not None and not grade.needs_manual_grade
        super()._add_score(cell, resources)  # needs_manual_grade again wherever a manual score is
        fingerprint = answer_fingerprint(cell, self.answers, grade.auto_score)
        db = self.gradebook.db
        # IF NOT EXISTS: two workers may save their first grades at once.
        db.execute(CreateTable(GRADED_ANSWERS, if_not_exists=True))
        recorded = db.scalar(select(GRADED_ANSWERS.c.fingerprint).where(GRADED_ANSWERS.c.grade_id == grade.id))
        if graded_by_hand and recorded == fingerprint:
            grade.needs_manual_grade = False
        db.execute(delete(GRADED_ANSWERS).where(GRADED_ANSWERS.c.grade_id == grade.id))
        db.execute(insert(GRADED_ANSWERS).values(grade_id=grade.id, fingerprint=fingerprint))
        db.commit()


def mark_failed(db_url: str, course_id: str, assignment: str, student: str, reason: str) -> None:
    """Show the student's submission as not graded: every grade 0 (hand grades of the previous
    submission included), every cell's comment the reason, each notebook flagged for review."""
    mark_not_graded(db_url, course_id, assignment, student,
                    f"Autograding failed ({reason}); every grade of this submission is 0 until it is graded again.")


def mark_not_graded(db_url: str, course_id: str, assignment: str, student: str, note: str) -> None:
    """Every grade of the student's submission 0 (made if missing), every cell's comment the note,
    each notebook flagged for review."""
    with Gradebook(db_url, course_id) as gradebook:
        try:
            submission = gradebook.update_or_create_submission(assignment, student)
        except (MissingEntry, InvalidEntry):  # no such lab or student in the gradebook: nothing to mark
            return
        for notebook in submission.notebooks:
            notebook.flagged = True
            for grade in notebook.grades:
                grade.auto_score, grade.manual_score, grade.extra_credit = 0.0, None, None
                grade.needs_manual_grade = False
            for comment in notebook.comments:
                comment.auto_comment, comment.manual_comment = note, None
        gradebook.db.commit()
