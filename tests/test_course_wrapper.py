"""Every `course` step through the wrapper, from a fresh shell: no virtual environment on PATH."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

import course_config
from autograder.course.demo import DEMO_ROSTER, student_submits
from autograder.course.nbgrader_course import Course
from autograder.course.samples import make_sample, solution_sources
from autograder.course.worker import nbgrader_api

ASSIGNMENT = "imdb_sentiment"
HAND_GRADED = "written_answer"  # the lab's 2-point written answer, graded by hand
PLAIN_PATH = "/usr/bin:/bin"


def course_step(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "course", *args, "--root", str(root)],
                          cwd=root, env={**os.environ, "PATH": PLAIN_PATH, "PYTHONPATH": str(course_config.ROOT)},
                          capture_output=True, text=True)


def ok(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run.stdout


@pytest.fixture
def root(tmp_path) -> Path:
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, tmp_path / course_config.SOURCE_DIR)
    return tmp_path


def hand_grade(course: Course) -> tuple[float | None, bool]:
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        grade = gradebook.find_grade(HAND_GRADED, ASSIGNMENT, ASSIGNMENT, "ada")
        return grade.manual_score, grade.needs_manual_grade


def one_function_done() -> nbformat.NotebookNode:
    """The release with `decode_review` solved: one point, graded in seconds (no training)."""
    notebook = make_sample(ASSIGNMENT, "blank")
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "decode_review":
            cell.source = solution_sources(ASSIGNMENT)["decode_review"]
    return notebook


def test_every_step_for_one_lab_without_the_venv_on_path(tiny_data, root):
    course = Course(root)
    ok(course_step(root, "setup", "--assignment", ASSIGNMENT, "--roster", str(DEMO_ROSTER)))
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        assert [a.name for a in gradebook.assignments] == [ASSIGNMENT]
    student_config = (root / "build" / "jupyterhub" / "nbgrader_config.py").read_text()
    assert repr(str(root / "exchange")) in student_config and course_config.COURSE_ID in student_config

    ok(course_step(root, "generate", "--assignment", ASSIGNMENT))
    assert sorted(p.name for p in (root / course_config.RELEASE_DIR).iterdir()) == [ASSIGNMENT]
    ok(course_step(root, "release", "--assignment", ASSIGNMENT))
    assert sorted(p.name for p in (root / "lms").iterdir()) == [f"{ASSIGNMENT}.zip"]

    student_submits(course, ASSIGNMENT, "ada", one_function_done())
    ok(course_step(root, "collect", "--assignment", ASSIGNMENT))
    ok(course_step(root, "autograde", "--assignment", ASSIGNMENT))
    autograded = course.path(course_config.AUTOGRADED_DIR, ASSIGNMENT, "ada")
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:  # the instructor grades by hand
        grade = gradebook.find_grade(HAND_GRADED, ASSIGNMENT, ASSIGNMENT, "ada")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gradebook.db.commit()
    graded_at = autograded.stat().st_mtime

    assert "graded already" in ok(course_step(root, "autograde", "--assignment", ASSIGNMENT))
    assert autograded.stat().st_mtime == graded_at, "an unchanged submission is not graded again"
    timestamp = course.path(course_config.SUBMITTED_DIR, ASSIGNMENT, "ada") / "timestamp.txt"
    graded_timestamp = timestamp.read_text()
    timestamp.write_text("2020-01-01 00:00:00.000000 UTC")  # another submission, even an older one
    assert course.needs_grading(ASSIGNMENT, "ada")
    timestamp.write_text(graded_timestamp)
    ok(course_step(root, "autograde", "--assignment", ASSIGNMENT, "--student", "ada"))
    assert autograded.stat().st_mtime > graded_at
    assert hand_grade(course) == (1.0, False), "regrading keeps the hand grade of an unchanged answer"
    missing = course_step(root, "autograde", "--assignment", ASSIGNMENT, "--student", "nobody")
    assert missing.returncode == 1 and "No submission of imdb_sentiment from nobody" in missing.stderr

    ok(course_step(root, "feedback", "--assignment", ASSIGNMENT))
    ok(course_step(root, "release-feedback", "--assignment", ASSIGNMENT))
    assert list((root / "exchange" / course_config.COURSE_ID / "feedback").glob("*.html"))
    ok(course_step(root, "export", "--assignment", ASSIGNMENT))
    rows = list(csv.DictReader((root / "export" / "grades.csv").open()))
    assert {row["assignment"] for row in rows} == {ASSIGNMENT}
    assert float(next(r for r in rows if r["student_id"] == "ada")["raw_score"]) == 2.0  # 1 point + hand grade
    ok(course_step(root, "workflow"))
    assert (root / ".github" / "workflows" / "grade-submissions.yml").is_file()

    # The formgrader's Autograde button calls nbgrader's API from the Jupyter server's event loop.
    async def formgrader_autograde() -> dict:
        return nbgrader_api(course).autograde(ASSIGNMENT, "ada")

    result = asyncio.run(formgrader_autograde())
    assert result["success"], result.get("error") or result.get("log")
    assert hand_grade(course) == (1.0, False), "the formgrader's Autograde keeps it too"
    resubmissions_refused_by_nbgrader(course, root)


def resubmissions_refused_by_nbgrader(course: Course, root: Path) -> None:
    """nbgrader refuses a resubmission whose locked test cell has edited metadata ("Inconsistent
    checksums"), and an unreadable notebook; it used to leave the previous submission's grades."""
    edited = make_sample(ASSIGNMENT, "blank")
    test_cell = next(c for c in edited.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_decode_review")
    test_cell.metadata.nbgrader["grade"] = False
    student_submits(course, ASSIGNMENT, "ada", edited)
    student_submits(course, ASSIGNMENT, "ben", make_sample(ASSIGNMENT, "blank"))
    ok(course_step(root, "collect", "--assignment", ASSIGNMENT))
    (course.path(course_config.SUBMITTED_DIR, ASSIGNMENT, "ben") / f"{ASSIGNMENT}.ipynb").write_text("not a notebook\x1b[2J")
    run = course_step(root, "autograde", "--assignment", ASSIGNMENT, "--student", "ada", "--student", "ben")
    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-3000:]
    table = run.stdout[run.stdout.index("\nstudent "):]
    assert re.search(r"\nada +failed .*nbgrader refused the submission: RuntimeError: Inconsistent checksums "
                     r"for cell test_decode_review", table), table
    assert re.search(r"\nben +failed .*nbgrader refused the submission: NotJSONError", table), table
    assert "\x1b" not in run.stdout and "0 graded, 2 failed" in table
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        for student, reason in (("ada", "Inconsistent checksums"), ("ben", "NotJSONError")):
            submission = gradebook.find_submission(ASSIGNMENT, student)
            assert submission.score == 0, f"{student} keeps no grade of an earlier submission"
            notebook = submission.notebooks[0]
            assert notebook.flagged and all(g.auto_score == 0 and g.manual_score is None for g in notebook.grades)
            assert notebook.comments and all(reason in c.comment for c in notebook.comments)
    ok(course_step(root, "export", "--assignment", ASSIGNMENT))
    rows = {row["student_id"]: row for row in csv.DictReader((root / "export" / "grades.csv").open())}
    assert float(rows["ada"]["raw_score"]) == float(rows["ben"]["raw_score"]) == 0
    assert not list((root / "export" / "gradescope" / ASSIGNMENT).glob("*/results.json")), "no stale export"


def test_generate_leaves_the_release_alone_when_the_gradebook_cannot_open(root):
    ok(course_step(root, "generate", "--assignment", ASSIGNMENT))
    release = root / course_config.RELEASE_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    (root / "gradebook.db").write_text("not a database")
    failed = course_step(root, "generate", "--assignment", ASSIGNMENT)
    assert failed.returncode == 1 and "nbgrader db assignment list failed" in failed.stderr
    assert release.is_file(), "nothing is deleted before the step is known to run"
