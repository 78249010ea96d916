"""Regrading keeps the instructor's hand grades where the student's answer did not change.

nbgrader's autograde marks every cell that has a manual score as "needs manual grade" again
(SaveAutoGrades), so a regrade after a grader fix would send every hand-graded answer back to
the grading queue. Here a cell that was graded by hand and is unchanged since stays graded.

When an autograde fails (nbgrader refuses the submission: "Inconsistent checksums", an unreadable
notebook; or the worker timed out or died), nbgrader leaves the previous submission's grades in
the gradebook; `mark_failed` zeroes them with the reason as a comment (`mark_not_graded`: any note,
for a student with nothing to grade).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, InvalidEntry, MissingEntry


def _cell_sources(notebook_dir: Path) -> dict[tuple[str, str], str]:
    sources = {}
    for path in notebook_dir.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id:
                sources[(path.stem, grade_id)] = cell.source
    return sources


def reviewed_cells(db_url: str, course_id: str, assignment: str, student: str,
                   autograded_dir: Path) -> dict[tuple[str, str], str]:
    """(notebook, grade id) → source of each cell the instructor has graded by hand, before a regrade."""
    if not autograded_dir.is_dir():
        return {}
    sources = _cell_sources(autograded_dir)
    with Gradebook(db_url, course_id) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return {}
        return {(nb.name, grade.name): sources[(nb.name, grade.name)]
                for nb in submission.notebooks for grade in nb.grades
                if grade.manual_score is not None and not grade.needs_manual_grade
                and (nb.name, grade.name) in sources}


def restore(db_url: str, course_id: str, assignment: str, student: str, autograded_dir: Path,
            reviewed: dict[tuple[str, str], str]) -> int:
    """Mark the unchanged hand-graded cells as graded again; return how many."""
    if not reviewed:
        return 0
    sources = _cell_sources(autograded_dir)
    kept = 0
    with Gradebook(db_url, course_id) as gradebook:
        for (notebook, grade_id), source in reviewed.items():
            if sources.get((notebook, grade_id)) == source:
                grade = gradebook.find_grade(grade_id, notebook, assignment, student)
                grade.needs_manual_grade = False
                kept += 1
        gradebook.db.commit()
    return kept


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
