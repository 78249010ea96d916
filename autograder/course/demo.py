"""`make demo`: the whole nbgrader cycle on a throw-away course with three fake students.

ada submits the reference solution, ben a partial one, cy a broken one (see samples.py). They
fetch and submit through nbgrader's exchange like real students; the instructor side then runs
collect → autograde (batch) → feedback → export, and the exported grades are printed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat

import course_config
from autograder.course.batch import autograde_all
from autograder.course.nbgrader_course import Course
from autograder.course.samples import make_sample

DEMO_ROSTER = course_config.ROOT / "demo" / "roster.csv"
DEMO_SUBMISSIONS = {"ada": "reference", "ben": "partial", "cy": "broken"}


def student_submits(course: Course, assignment: str, student: str, notebook: nbformat.NotebookNode) -> None:
    """What a student does: fetch the lab from the exchange, work on it, submit it."""
    home = course.root / "student_homes" / student
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(home / assignment, ignore_errors=True)
    course.nbgrader("fetch_assignment", assignment, f"--Exchange.assignment_dir={home}")
    nbformat.write(notebook, home / assignment / f"{assignment}.ipynb")
    course.nbgrader("submit", assignment, f"--student={student}", f"--Exchange.assignment_dir={home}")


def new_demo_course(root: Path) -> Course:
    """An empty course directory holding a copy of the labs' sources."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, root / course_config.SOURCE_DIR)
    return Course(root, exchange=root / "exchange")


def run_cycle(course: Course, submissions: dict[str, str] = DEMO_SUBMISSIONS,
              workers: int = course_config.BATCH_WORKERS, assignments: list[str] | None = None) -> dict:
    """setup → generate → release → submit → collect → autograde → feedback → export; timings."""
    seconds: dict[str, float] = {}

    def timed(step: str, action, *args):
        started = time.monotonic()
        result = action(*args)
        seconds[step] = seconds.get(step, 0.0) + time.monotonic() - started
        return result

    timed("setup", course.setup, DEMO_ROSTER)
    timed("generate", course.generate)
    timed("release", course.release)
    for assignment in assignments or course_config.ASSIGNMENTS:
        for student, kind in submissions.items():
            timed("submit", student_submits, course, assignment, student, make_sample(assignment, kind))
        timed("collect", course.collect, assignment)
        timed("autograde", autograde_all, course, assignment, workers)
        timed("feedback", course.feedback, assignment)
    csv = timed("export", course.export, course.root / "export")
    return {"csv": csv, "seconds": seconds}


def run_demo(root: Path) -> int:
    started = time.monotonic()
    result = run_cycle(new_demo_course(root))
    print(f"\nExported grades ({result['csv']}):\n")
    print(result["csv"].read_text())
    steps = ", ".join(f"{step} {s:.0f} s" for step, s in result["seconds"].items())
    print(f"Demo cycle: {time.monotonic() - started:.0f} s ({steps})")
    print(f"Feedback: {root / course_config.FEEDBACK_DIR}; Gradescope results: {root / 'export' / 'gradescope'}")
    return 0
