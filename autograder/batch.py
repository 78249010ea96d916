"""Autograde every submission of a lab with `nbgrader autograde`, several students at a time.

nbgrader grades one submission at a time and shows no progress (its issues #174 and #1456).
Here each student is one `nbgrader autograde --student` process; workers run side by side, each
with its share of the cores as TensorFlow/OpenMP threads, and their number is chosen from free
memory. A progress bar, a status line per student, and a summary table at the end; a failing or
hanging submission is reported and the batch goes on.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import psutil
from tqdm import tqdm

import course_config
from autograder import grader_data
from autograder.course import Course, NbgraderError

# One student's `nbgrader autograde`: the notebook and the checks, with room for start-up.
STUDENT_TIMEOUT_S = course_config.NOTEBOOK_TIMEOUT_S + course_config.CHECKS_TIMEOUT_S + 120


@dataclass
class StudentResult:
    student: str
    status: str  # graded | failed | timed out
    score: float | None
    max_score: float | None
    seconds: float
    detail: str = ""

    def line(self) -> str:
        score = f"{self.score:g}/{self.max_score:g}" if self.score is not None else "-"
        return f"{self.student:<16} {self.status:<10} {score:>8} {self.seconds:>7.0f} s  {self.detail}".rstrip()


def choose_workers(requested: int, submissions: int) -> int:
    """Workers that fit in free memory and cores (at least one); `requested` > 0 overrides."""
    if requested > 0:
        return requested
    free_gb = psutil.virtual_memory().available / 2**30
    by_memory = int(free_gb // course_config.MEMORY_PER_SUBMISSION_GB)
    by_cores = os.cpu_count() or 1
    return max(1, min(by_memory, by_cores, submissions))


def autograde_student(course: Course, assignment: str, student: str, threads: int) -> StudentResult:
    started = time.monotonic()
    try:
        course.nbgrader("autograde", assignment, "--student", student, "--force",
                        env={"COURSE_NUM_THREADS": str(threads)}, timeout=STUDENT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return StudentResult(student, "timed out", None, None, time.monotonic() - started,
                             f"stopped after {STUDENT_TIMEOUT_S} s")
    except NbgraderError as error:
        last_line = str(error).strip().splitlines()[-1][:200]
        return StudentResult(student, "failed", None, None, time.monotonic() - started, last_line)
    report = course.grade_reports(assignment).get(student)
    seconds = time.monotonic() - started
    if report is None:
        return StudentResult(student, "failed", None, None, seconds, "no grade report in the autograded notebook")
    execution = report["output"].splitlines()[0].removeprefix("Notebook execution: ").rstrip(".")
    status = "timed out" if execution == "timed out" else "graded"
    detail = "" if execution == "completed" else f"notebook {execution}"
    return StudentResult(student, status, report["score"], report["max_score"], seconds, detail)


def autograde_all(course: Course, assignment: str, workers: int = course_config.BATCH_WORKERS) -> list[StudentResult]:
    students = course.submitted_students(assignment)
    if not students:
        print(f"No submissions of {assignment} in {course.root / course_config.SUBMITTED_DIR}.")
        return []
    problem = grader_data.prepare(assignment)  # once, before workers would each build the caches
    if problem:
        print(problem)
    workers = choose_workers(workers, len(students))
    threads = max(1, (os.cpu_count() or 1) // workers)
    print(f"Autograding {len(students)} submissions of {assignment}: {workers} workers × {threads} threads")
    results = []
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(students), unit="submission") as progress:
        futures = [pool.submit(autograde_student, course, assignment, s, threads) for s in students]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            progress.write(result.line())
            progress.update()
    results.sort(key=lambda r: r.student)
    print(f"\n{'student':<16} {'status':<10} {'score':>8} {'time':>9}")
    for result in results:
        print(result.line())
    counts = {s: sum(r.status == s for r in results) for s in ("graded", "failed", "timed out")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return results
