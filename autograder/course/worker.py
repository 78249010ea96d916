"""A warm grading worker: `python -I -m autograder.course.worker COURSE_ROOT ASSIGNMENT`.

It imports TensorFlow, pytest, the lab's checks and its data once, then autogrades one student
after another with nbgrader's own `autograde` (its Python API, in this process): a student id per
line on stdin, a JSON result per line on the pipe whose file descriptor is its third argument
(never stdout, which goes to its log with stderr: whatever a library or a kernel prints there
cannot pass for a result). The data load runs while the first notebook executes in its kernel.
No student code runs here (see grade.py), so one process serves a batch.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI

    from autograder.course.nbgrader_course import Course
    from autograder.course.nbgrader_grading import ReportSink


def warm_up(assignment: str) -> None:
    """Import the checks and load the lab's data (kept for every later submission)."""
    from autograder.checks import grader_data, load_lab

    lab = load_lab(assignment)
    lab.module()
    if lab.data is not None:
        grader_data.load(lab.data)


def nbgrader_api(course: Course, report_sink: ReportSink | None = None) -> NbGraderAPI:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    import course_config
    from autograder.course import nbgrader_settings

    config = Config()
    nbgrader_settings.configure(config)
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.db_url
    config.Exchange.root = str(course.exchange)
    config.CourseDirectory.course_id = course_config.COURSE_ID
    config.GradeWithHiddenChecks.report_sink = report_sink
    return NbGraderAPI(config=config)


# The last exception line of nbgrader's log, e.g. "RuntimeError: Inconsistent checksums for cell
# test_decode_review"; its own closing "NbGraderException: Please see ..." says nothing.
EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$", re.MULTILINE)


def failure_reason(result: dict) -> str:
    """One line saying why nbgrader's autograde failed, from its captured log and traceback."""
    text = f"{result.get('log') or ''}\n{result.get('error') or ''}"
    lines = [m for m in EXCEPTION_LINE.finditer(text) if not m.group(2).startswith("Please see")]
    reason = f"{lines[-1].group(1)}: {lines[-1].group(2)}" if lines else "nbgrader's autograde failed"
    # The text may quote the student's file: one printable line, short.
    return "nbgrader refused the submission: " + "".join(c if c.isprintable() else "?" for c in reason)[:200]


def main(root: str, assignment: str, result_fd: int) -> int:
    from autograder.course.nbgrader_course import Course
    from autograder.course.nbgrader_grading import ReportSink

    os.set_inheritable(result_fd, False)  # no kernel or other child of this process gets the pipe
    results = os.fdopen(result_fd, "w", encoding="utf-8")
    course = Course(Path(root))
    reports = ReportSink()
    api = nbgrader_api(course, reports)
    threading.Thread(target=warm_up, args=(assignment,), daemon=True).start()
    for line in sys.stdin:
        student = line.strip()
        if not student:
            continue
        started, cpu = time.monotonic(), time.process_time()
        reports.pop(student, None)
        result = api.autograde(assignment, student, force=True, create=True)  # keeps hand grades: hand_grades.py
        report = reports.pop(student, None)
        if not result.get("success"):
            print((result.get("log") or "")[-5000:] + (result.get("error") or ""), file=sys.stderr, flush=True)
        # The grader's own CPU time (all its threads, not the student's kernel): its cost per submission.
        results.write(json.dumps({
            "student": student, "success": bool(result.get("success")),
            "error": "" if result.get("success") else failure_reason(result),
            "report": report.to_dict() if report is not None and result.get("success") else None,
            "seconds": time.monotonic() - started, "grader_cpu_seconds": time.process_time() - cpu}) + "\n")
        results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
