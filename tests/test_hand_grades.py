"""Hand grades of unchanged answers survive any autograde, here nbgrader's own CLI (hand_grades.py).

The regrades read precomputed reports (the GitHub gather's way, none here: every check 0), so no
kernel runs: what is tested is nbgrader's autograde with the repository's nbgrader_config.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

import course_config
from autograder.course.nbgrader_course import Course
from autograder.course.nbgrader_grading import PRECOMPUTED_RESULTS
from autograder.course.samples import make_sample

ASSIGNMENT = "imdb_sentiment"
WRITTEN = "written_answer"  # markdown, 2 points, graded by hand only
TEST_CELL = "test_decode_review"  # an autograded test cell whose points the instructor may override


@pytest.fixture
def course(tmp_path) -> Course:
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, tmp_path / course_config.SOURCE_DIR)
    course = Course(tmp_path)
    course.nbgrader("db", "assignment", "add", ASSIGNMENT)
    course.generate([ASSIGNMENT])
    return course


def submit(course: Course, answers: dict[str, str]) -> None:
    notebook = make_sample(ASSIGNMENT, "blank")
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.source = answers.get(grade_id, cell.source)
    folder = course.path(course_config.SUBMITTED_DIR, ASSIGNMENT, "ada")
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")


def nbgrader_autograde(course: Course, reports: Path) -> None:
    course.nbgrader("autograde", ASSIGNMENT, "--force", "--create", env={PRECOMPUTED_RESULTS: str(reports)})


def grade_by_hand(course: Course, grade_id: str, score: float) -> None:
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        grade = gradebook.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "ada")
        grade.manual_score, grade.needs_manual_grade = score, False
        gradebook.db.commit()


def state(course: Course, grade_id: str) -> tuple[float | None, bool]:
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        grade = gradebook.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "ada")
        return grade.manual_score, grade.needs_manual_grade


def test_nbgrader_autograde_keeps_hand_grades_of_unchanged_answers(course, tmp_path):
    reports = tmp_path / "no-reports"
    reports.mkdir()
    answers = {WRITTEN: "Fewer epochs: validation loss rises after the fourth."}
    submit(course, answers)
    nbgrader_autograde(course, reports)
    assert state(course, WRITTEN) == (None, True), "a written answer waits for its hand grade"
    grade_by_hand(course, WRITTEN, 1.5)
    grade_by_hand(course, TEST_CELL, 1.0)  # the instructor overrides a check's 0

    nbgrader_autograde(course, reports)  # a regrade, e.g. after a grader fix
    assert state(course, WRITTEN) == (1.5, False), "unchanged answer: the hand grade stays"
    assert state(course, TEST_CELL) == (1.0, False), "unchanged answers and score: the override stays"

    submit(course, {**answers, "decode_review": "def decode_review(sequence, word_index):\n    return ''"})
    nbgrader_autograde(course, reports)
    assert state(course, WRITTEN) == (1.5, False), "another answer changed, not this one"
    assert state(course, TEST_CELL) == (1.0, True), "the answer it checks changed: review the override"

    grade_by_hand(course, TEST_CELL, 1.0)
    submit(course, {WRITTEN: "More data."})
    nbgrader_autograde(course, reports)
    assert state(course, WRITTEN) == (1.5, True), "a changed answer goes back to the grading queue"
    nbgrader_autograde(course, reports)
    assert state(course, WRITTEN) == (1.5, True), "still waiting for its hand grade"
