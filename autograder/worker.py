"""A warm grading worker: `python -I -m autograder.worker COURSE_ROOT ASSIGNMENT`.

It imports TensorFlow, pytest, the lab's checks and its data once, then autogrades one student
after another with nbgrader's own `autograde` (its Python API, in this process): a student id per
line on stdin, a JSON result per line on stdout. The data load runs while the first notebook
executes in its kernel. No student code runs here (see grade.py), so one process serves a batch.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI

    from autograder.course import Course


def warm_up(assignment: str) -> None:
    """Import the checks and load the lab's data (cached for every later submission)."""
    checks = importlib.import_module(f"autograder.checks.{assignment}")
    for name in dir(checks):
        if name.startswith("cached_"):
            getattr(checks, name)()


def nbgrader_api(course: Course) -> NbGraderAPI:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    import course_config
    from autograder import nbgrader_settings

    config = Config()
    nbgrader_settings.configure(config)
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.db_url
    config.Exchange.root = str(course.exchange)
    config.CourseDirectory.course_id = course_config.COURSE_ID
    return NbGraderAPI(config=config)


def main(root: str, assignment: str) -> int:
    import course_config
    from autograder import hand_grades
    from autograder.course import Course

    course = Course(Path(root))
    api = nbgrader_api(course)
    threading.Thread(target=warm_up, args=(assignment,), daemon=True).start()
    for line in sys.stdin:
        student = line.strip()
        if not student:
            continue
        started, cpu = time.monotonic(), time.process_time()
        autograded = course.path(course_config.AUTOGRADED_DIR, assignment, student)
        reviewed = hand_grades.reviewed_cells(course.db_url, course_config.COURSE_ID, assignment, student, autograded)
        result = api.autograde(assignment, student, force=True, create=True)
        if result.get("success"):
            hand_grades.restore(course.db_url, course_config.COURSE_ID, assignment, student, autograded, reviewed)
        error = "" if result.get("success") else (result.get("error") or result.get("log") or "")[-2000:]
        # The grader's own CPU time (all its threads, not the student's kernel): its cost per submission.
        print(json.dumps({"student": student, "success": bool(result.get("success")), "error": error,
                          "seconds": time.monotonic() - started, "grader_cpu_seconds": time.process_time() - cpu}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
