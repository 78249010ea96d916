"""Autograde every submission of a lab with nbgrader's `autograde`, several students at a time.

nbgrader grades one submission at a time and shows no progress (its issues #174 and #1456).
Here warm workers (`worker.py`) run side by side, each with its share of the cores as
TensorFlow/OpenMP threads, their number chosen so that every worker with its submission's kernel
fits in memory; each has imported TensorFlow, the checks and the lab's data once and runs
nbgrader's autograde for one student after another, its result coming back on a pipe of its own.
A progress bar, a status line per student, and a summary table at the end; a failing or hanging
submission is reported, its grades in the gradebook zeroed with a note (never the previous
submission's), a hung worker is replaced, and the batch goes on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
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
from autograder.checks import grader_data, load_lab
from autograder.course import hand_grades
from autograder.course.nbgrader_course import Course, nbgrader_environment
from autograder.report import GradeReport
from autograder.sandbox import cgroups

# A last resort per student, past every wall-clock backstop: the notebook's ceiling, the checks'
# calls and the grader's training, start-up.
STUDENT_TIMEOUT_S = course_config.WALL_LIMIT_FACTOR * (course_config.NOTEBOOK_TIMEOUT_S + 2 * course_config.CHECKS_TIMEOUT_S) + 300
# A worker's result is one short JSON line; anything longer is not one.
MAX_RESULT_BYTES = 2**20
UNREADABLE = "the grading worker sent an unreadable result"


@dataclass
class StudentResult:
    student: str
    status: str  # graded | failed | timed out
    score: float | None
    max_score: float | None
    seconds: float
    detail: str = ""
    grader_cpu_seconds: float | None = None  # the worker's own CPU time, the kernel's not counted

    @property
    def ran_whole(self) -> bool:
        """Graded, and its notebook ran to the end within every limit."""
        return self.status == "graded" and not self.detail

    def line(self) -> str:
        score = f"{self.score:g}/{self.max_score:g}" if self.score is not None else "-"
        return f"{self.student:<16} {self.status:<10} {score:>8} {self.seconds:>7.0f} s  {self.detail}".rstrip()


@dataclass
class MemoryPlan:
    workers: int
    kernel_gb: float  # each submission's kernel limit (COURSE_MEMORY_LIMIT_GB of its worker)
    usable_gb: float
    requested: int = 0

    def describe(self) -> str:
        text = (f"each kernel limited to {self.kernel_gb:g} GB + {course_config.WORKER_MEMORY_GB:g} GB for its "
                f"worker, {self.usable_gb:.1f} GB free")
        if self.kernel_gb < course_config.MEMORY_LIMIT_GB:
            text += f"; lowered from MEMORY_LIMIT_GB ({course_config.MEMORY_LIMIT_GB:g} GB) to fit"
        if self.requested > self.workers:
            text += f"; {self.requested} workers requested, {self.workers} fit"
        if self.workers * (self.kernel_gb + course_config.WORKER_MEMORY_GB) > self.usable_gb:
            text += "; WARNING: more than the free memory"
        return text


def plan_memory(requested: int, submissions: int) -> MemoryPlan:
    """Workers and each kernel's memory limit such that workers × (kernel limit + a worker's own
    memory) fits in free memory (a container's cgroup limit included).

    By default every kernel keeps the full MEMORY_LIMIT_GB, as when graded alone, so a grade does
    not depend on the batch: workers are as many as fit that way (at least one), at most one per
    core and per submission. `requested` > 0 asks for that many workers: the kernel's limit is then
    lowered to fit them, but not under MEMORY_PER_SUBMISSION_GB (the reference runs in it), and
    fewer workers start if even that does not fit."""
    usable = min(psutil.virtual_memory().available / 2**30, cgroups.usable_memory_gb())
    worker, full = course_config.WORKER_MEMORY_GB, course_config.MEMORY_LIMIT_GB
    if requested > 0:
        least = min(course_config.MEMORY_PER_SUBMISSION_GB, full)
        workers = min(requested, submissions, int(usable // (least + worker)))
    else:
        workers = min(cgroups.cpu_count(), submissions, int(usable // (full + worker)))
    workers = max(1, workers)
    kernel = min(full, math.floor((usable / workers - worker) * 10) / 10)
    # One worker on a machine too small for it: its kernel still gets 1 GB (the header warns).
    return MemoryPlan(workers, max(kernel, min(1.0, full)), usable, requested)


def choose_workers(requested: int, submissions: int) -> int:
    """The number of workers of `plan_memory`."""
    return plan_memory(requested, submissions).workers


class Worker:
    """One warm `autograder.course.worker` process, replaced when it hangs, dies or sends anything but
    one well-formed result. Its results come on a pipe of its own (its fd is the last argument);
    its stdout and stderr go to its log, so nothing printed there can pass for a result."""

    def __init__(self, course: Course, assignment: str, threads: int, log: Path,
                 kernel_memory_gb: float = course_config.MEMORY_LIMIT_GB):
        self.args = [sys.executable, "-I", "-m", "autograder.course.worker", str(course.root), assignment]
        self.env = nbgrader_environment({"COURSE_NUM_THREADS": str(threads),
                                         "COURSE_MEMORY_LIMIT_GB": f"{kernel_memory_gb:g}"})
        self.log = log
        self.process: subprocess.Popen | None = None
        self.results: int | None = None  # the pipe's read end
        self.unread = b""

    def start(self) -> None:
        read, write = os.pipe()
        try:
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen([*self.args, str(write)], stdin=subprocess.PIPE, stdout=log,
                                                stderr=subprocess.STDOUT, pass_fds=(write,), text=True,
                                                cwd=course_config.ROOT, env=self.env)
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)  # the worker holds the only write end: its exit is the pipe's end
        self.results, self.unread = read, b""

    def grade(self, student: str, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.start()
        try:
            self.process.stdin.write(student + "\n")
            self.process.stdin.flush()
            line = self.read_line(time.monotonic() + timeout)
        except TimeoutError:
            self.stop()
            return {"student": student, "success": False, "timed_out": True}
        except (EOFError, BrokenPipeError):
            self.stop()
            return {"student": student, "success": False, "error": "the grading worker exited"}
        except ValueError:  # a line over MAX_RESULT_BYTES
            line = b""
        result = parse_result(line, student)
        if result is None or self.unread:
            self.stop()
            return {"student": student, "success": False, "error": UNREADABLE}
        return result

    def read_line(self, deadline: float) -> bytes:
        """The next line of the result pipe, read in bounded chunks: at most MAX_RESULT_BYTES held."""
        while b"\n" not in self.unread:
            if len(self.unread) > MAX_RESULT_BYTES:
                raise ValueError("result line too long")
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.results], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self.results, 65536)
            if not chunk:
                raise EOFError
            self.unread += chunk
        line, _, self.unread = self.unread.partition(b"\n")
        if len(line) > MAX_RESULT_BYTES:
            raise ValueError("result line too long")
        return line

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            self.process = None
        if self.results is not None:
            os.close(self.results)
            self.results = None


RESULT_FIELDS = {"student": str, "success": bool, "error": str, "seconds": float, "grader_cpu_seconds": float}


def parse_result(line: bytes, student: str) -> dict | None:
    """The worker's result for this student (its known fields, each of its type), or None."""
    try:
        result = json.loads(line)
    except ValueError:  # not JSON, not UTF-8
        return None
    if not isinstance(result, dict) or result.get("student") != student or set(result) - {*RESULT_FIELDS, "report"}:
        return None
    if not isinstance(result.get("report"), (dict, type(None))):  # the grader's report, GradeReport.to_dict()
        return None
    for key, kind in RESULT_FIELDS.items():
        value = result.get(key, kind())
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not kind:
            return None
    return result


def result_of(outcome: dict, seconds: float) -> StudentResult:
    """The batch's line for one student, from its worker's outcome and the typed report in it."""
    student = outcome["student"]
    if outcome.get("timed_out"):
        return StudentResult(student, "timed out", None, None, seconds, f"stopped after {STUDENT_TIMEOUT_S:.0f} s")
    if not outcome.get("success"):
        last_line = (str(outcome.get("error", "")).strip().splitlines() or ["nbgrader failed"])[-1][:300]
        return StudentResult(student, "failed", None, None, seconds, last_line)
    try:
        report = GradeReport.from_dict(outcome["report"])
    except (KeyError, TypeError, ValueError, AttributeError):  # no report, or not a report's fields
        return StudentResult(student, "failed", None, None, seconds, "the grading worker sent no readable grade report")
    status = "timed out" if report.execution_status == "timed out" else "graded"
    detail = "" if report.ran_whole else f"notebook {report.execution_status}"
    if report.stopped_by:  # "CPU limit, cell 7": which limit, and where
        detail += f" ({'; '.join(str(stop) for stop in report.stopped_by[:3])})"
    return StudentResult(student, status, report.score, report.max_score, seconds, detail,
                         outcome.get("grader_cpu_seconds"))


def record_failure(course: Course, assignment: str, result: StudentResult) -> str:
    """Zero the submission's grades in the gradebook with the reason as a note (nbgrader would keep
    the previous submission's); return the status line's note."""
    try:
        hand_grades.mark_failed(course.db_url, course_config.COURSE_ID, assignment, result.student,
                                f"{result.status}: {result.detail}")
    except Exception as error:  # the table still says it failed; the gradebook may be locked or gone
        return f"{result.detail} (the gradebook could not be updated: {type(error).__name__})"
    return result.detail


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
    problem = grader_data.prepare(load_lab(assignment).data)  # once, before workers would each build the caches
    if problem:
        print(problem)
    plan = plan_memory(workers, len(students))
    workers = plan.workers
    threads = max(1, cgroups.cpu_count() // workers)
    print(f"Autograding {len(students)} submissions of {assignment}: {workers} workers × {threads} threads; "
          f"{plan.describe()}")
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
                result = result_of(outcome, time.monotonic() - started)
                if not outcome.get("success"):
                    result.detail = record_failure(course, assignment, result)
                with lock:
                    results.append(result)
                    progress.write(result.line())
                    progress.update()
        finally:
            worker.stop()

    with tqdm(total=len(students), unit="submission") as progress:
        pool = [threading.Thread(target=serve, args=(Worker(course, assignment, threads, logs / f"{assignment}-{n}.log",
                                                            plan.kernel_gb), progress)) for n in range(workers)]
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
