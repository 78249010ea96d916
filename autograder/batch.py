"""Autograde every submission of a lab with nbgrader's `autograde`, several students at a time.

nbgrader grades one submission at a time and shows no progress (its issues #174 and #1456).
Here warm workers (`worker.py`) run side by side, each with its share of the cores as
TensorFlow/OpenMP threads, their number chosen from free memory; each has imported TensorFlow, the
checks and the lab's data once and runs nbgrader's autograde for one student after another.
A progress bar, a status line per student, and a summary table at the end; a failing or hanging
submission is reported (a hung worker is replaced) and the batch goes on.
"""

from __future__ import annotations

import json
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from tqdm import tqdm

import course_config
from autograder import grader_data, resources
from autograder.course import Course, nbgrader_environment

# A last resort per student: the notebook's ceiling, every check's calls, start-up.
STUDENT_TIMEOUT_S = course_config.NOTEBOOK_TIMEOUT_S + 900


@dataclass
class StudentResult:
    student: str
    status: str  # graded | failed | timed out
    score: float | None
    max_score: float | None
    seconds: float
    detail: str = ""
    grader_cpu_seconds: float | None = None  # the worker's own CPU time, the kernel's not counted

    def line(self) -> str:
        score = f"{self.score:g}/{self.max_score:g}" if self.score is not None else "-"
        return f"{self.student:<16} {self.status:<10} {score:>8} {self.seconds:>7.0f} s  {self.detail}".rstrip()


def choose_workers(requested: int, submissions: int) -> int:
    """Workers that fit in free memory and cores (at least one), a container's cgroup limits
    included; `requested` > 0 overrides."""
    if requested > 0:
        return requested
    free_gb = min(psutil.virtual_memory().available / 2**30, resources.usable_memory_gb())
    by_memory = int(free_gb // course_config.MEMORY_PER_SUBMISSION_GB)
    return max(1, min(by_memory, resources.cpu_count(), submissions))


class Worker:
    """One warm `autograder.worker` process, replaced when it hangs or dies."""

    def __init__(self, course: Course, assignment: str, threads: int, log: Path):
        self.args = [sys.executable, "-I", "-m", "autograder.worker", str(course.root), assignment]
        self.env = nbgrader_environment({"COURSE_NUM_THREADS": str(threads)})
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            text=True, cwd=course_config.ROOT, env=self.env)

    def grade(self, student: str, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.start()
        self.process.stdin.write(student + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if not ready:
                break
            line = self.process.stdout.readline()
            if not line:
                self.process = None
                return {"student": student, "success": False, "error": "the grading worker exited"}
            try:
                result = json.loads(line)
            except json.JSONDecodeError:
                continue  # something else printed to stdout
            if isinstance(result, dict) and result.get("student") == student:
                return result
        self.stop()
        return {"student": student, "success": False, "timed_out": True}

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def result_of(course: Course, assignment: str, outcome: dict, seconds: float) -> StudentResult:
    student = outcome["student"]
    if outcome.get("timed_out"):
        return StudentResult(student, "timed out", None, None, seconds, f"stopped after {STUDENT_TIMEOUT_S} s")
    if not outcome.get("success"):
        last_line = (str(outcome.get("error", "")).strip().splitlines() or ["nbgrader failed"])[-1][:200]
        return StudentResult(student, "failed", None, None, seconds, last_line)
    report = course.grade_reports(assignment).get(student)
    if report is None:
        return StudentResult(student, "failed", None, None, seconds, "no grade report in the autograded notebook")
    execution = report["output"].splitlines()[0].removeprefix("Notebook execution: ").rstrip(".")
    status = "timed out" if execution == "timed out" else "graded"
    detail = "" if execution == "completed" else f"notebook {execution}"
    return StudentResult(student, status, report["score"], report["max_score"], seconds, detail,
                         outcome.get("grader_cpu_seconds"))


def autograde_all(course: Course, assignment: str, workers: int = course_config.BATCH_WORKERS,
                  students: list[str] | None = None, force: bool = False) -> list[StudentResult]:
    """Autograde the lab for the students named (regraded), or for every submitted student not
    graded since their last submission (all of them with `force`). Hand grades of unchanged
    answers are kept (hand_grades.py)."""
    submitted = course.submitted_students(assignment)
    if students is not None:
        missing = sorted(set(students) - set(submitted))
        if missing:
            raise FileNotFoundError(f"No submission of {assignment} from {', '.join(missing)} in "
                                    f"{course.root / course_config.SUBMITTED_DIR}: run `course collect` first.")
        students = [s for s in submitted if s in students]
    else:
        students = [s for s in submitted if force or course.needs_grading(assignment, s)]
        if len(students) < len(submitted):
            print(f"{len(submitted) - len(students)} submissions of {assignment} are graded already "
                  "(--force regrades them).")
    if not students:
        print(f"No submissions of {assignment} to grade in {course.root / course_config.SUBMITTED_DIR}.")
        return []
    problem = grader_data.prepare(assignment)  # once, before workers would each build the caches
    if problem:
        print(problem)
    workers = choose_workers(workers, len(students))
    threads = max(1, resources.cpu_count() // workers)
    print(f"Autograding {len(students)} submissions of {assignment}: {workers} workers × {threads} threads")
    logs = course_config.ROOT / "build" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    todo: queue.Queue[str] = queue.Queue()
    for student in students:
        todo.put(student)
    results: list[StudentResult] = []
    lock = threading.Lock()

    def serve(worker: Worker, progress: tqdm) -> None:
        try:
            while True:
                try:
                    student = todo.get_nowait()
                except queue.Empty:
                    return
                started = time.monotonic()
                outcome = worker.grade(student, STUDENT_TIMEOUT_S)
                result = result_of(course, assignment, outcome, time.monotonic() - started)
                with lock:
                    results.append(result)
                    progress.write(result.line())
                    progress.update()
        finally:
            worker.stop()

    with tqdm(total=len(students), unit="submission") as progress:
        pool = [threading.Thread(target=serve, args=(Worker(course, assignment, threads, logs / f"{assignment}-{n}.log"),
                                                     progress)) for n in range(workers)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    results.sort(key=lambda r: r.student)
    print(f"\n{'student':<16} {'status':<10} {'score':>8} {'time':>9}")
    for result in results:
        print(result.line())
    counts = {s: sum(r.status == s for r in results) for s in ("graded", "failed", "timed out")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return results
