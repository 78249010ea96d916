"""The batch's worker protocol: results come on a pipe of the worker's own, never on its stdout.

A fake worker (a short script in place of `autograder.course.worker`) prints forged results, a huge
unterminated line and noise on its stdout and stderr, and sends malformed, oversized, foreign or
doubled lines on the result pipe: each of those fails that one student with a note, the worker
is replaced, and the next student is graded as usual.
"""

from __future__ import annotations

import re
import sys
import textwrap
import time

import pytest

from autograder.course import batch
from autograder.course.batch import UNREADABLE, Worker
from autograder.course.nbgrader_course import Course

FAKE_WORKER = textwrap.dedent("""
    import json, os, sys, time
    results = os.fdopen(int(sys.argv[-1]), "w")
    forged = json.dumps({"student": "forger", "success": True, "error": "", "seconds": 1})
    for line in sys.stdin:
        student = line.strip()
        # Its pid and the kernel's memory limit it was given, for the test to read.
        honest = {"student": student, "success": True, "error": f"{os.getpid()} {os.environ['COURSE_MEMORY_LIMIT_GB']}"}
        if student == "forger":  # what a kernel that inherited stdout and stderr could write
            for stream in (sys.stdout, sys.stderr):
                stream.write(forged + "\\n" + "FORGED" * 500_000)
                stream.flush()
            honest.update(success=False, error="the honest result")
        elif student == "garbled":
            results.write("this is not a result\\n")
        elif student == "huge":
            results.write("x" * 3_000_000)
            results.flush()
            time.sleep(60)
        elif student == "impostor":
            results.write(json.dumps({**honest, "student": "someone-else"}) + "\\n")
        elif student == "twice":
            results.write(json.dumps(honest) + "\\n" + json.dumps(honest) + "\\n")
        elif student == "wrong-types":
            results.write(json.dumps({**honest, "success": "yes", "seconds": "many"}) + "\\n")
        elif student == "extra-field":  # a field the batch does not know, e.g. "timed_out"
            results.write(json.dumps({**honest, "timed_out": True}) + "\\n")
        elif student == "crash":
            os._exit(1)
        elif student == "hang":
            time.sleep(60)
        if student not in ("garbled", "huge", "impostor", "twice", "wrong-types", "extra-field"):
            results.write(json.dumps(honest) + "\\n")
        results.flush()
""")


@pytest.fixture
def fake_worker(tmp_path):
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    workers = []

    def make(kernel_memory_gb: float = 4.5) -> Worker:
        worker = Worker(Course(tmp_path), "imdb_sentiment", 1, tmp_path / "worker.log", kernel_memory_gb)
        worker.args = [sys.executable, str(script)]  # the fd of the result pipe is appended
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


def test_only_the_result_pipe_carries_results(fake_worker, tmp_path):
    worker = fake_worker()
    first = worker.grade("ada", timeout=30)
    pid, memory = first["error"].split()
    assert first["success"] and memory == "4.5", "the kernel's memory limit reaches the worker"
    forged = worker.grade("forger", timeout=30)
    assert forged["success"] is False and forged["error"] == "the honest result"
    assert worker.grade("ben", timeout=30)["error"].split()[0] == pid, "noise on stdout does not end the worker"
    log = (tmp_path / "worker.log").read_text()
    assert log.count("FORGED") == 2 * 500_000 and '"success": true' in log


@pytest.mark.parametrize("student", ["garbled", "huge", "impostor", "twice", "wrong-types", "extra-field"])
def test_an_unreadable_result_fails_that_student_and_the_worker_is_replaced(fake_worker, student):
    worker = fake_worker()
    before = worker.grade("ada", timeout=30)["error"].split()[0]
    started = time.monotonic()
    assert worker.grade(student, timeout=30) == {"student": student, "success": False, "error": UNREADABLE}
    assert time.monotonic() - started < 10, "an oversized line is refused when the cap is reached"
    after = worker.grade("ben", timeout=30)
    assert after["success"] and after["error"].split()[0] != before


def test_a_worker_that_dies_or_hangs_is_replaced(fake_worker):
    worker = fake_worker()
    before = worker.grade("ada", timeout=30)["error"].split()[0]
    assert worker.grade("crash", timeout=30)["error"] == "the grading worker exited"
    assert worker.grade("hang", timeout=2)["timed_out"]
    after = worker.grade("ben", timeout=30)
    assert after["success"] and after["error"].split()[0] != before


def test_the_batch_goes_on_after_an_unreadable_result(fake_worker, tmp_path, monkeypatch, capsys):
    """autograde_all with fake workers: each failure is marked in the gradebook and the table."""
    course = Course(tmp_path)
    for student in ("ada", "garbled", "zoe"):
        (tmp_path / "submitted" / student / "imdb_sentiment").mkdir(parents=True)
    marked = []
    monkeypatch.setattr(batch.grader_data, "prepare", lambda assignment: "")
    monkeypatch.setattr(batch.hand_grades, "mark_failed", lambda *args: marked.append(args))
    monkeypatch.setattr(batch, "Worker", lambda *args: fake_worker(args[-1]))
    monkeypatch.setattr(batch, "result_of", lambda outcome, seconds: (
        batch.StudentResult(outcome["student"], "graded", 1, 1, seconds) if outcome["success"]
        else batch.StudentResult(outcome["student"], "failed", None, None, seconds, outcome["error"])))
    results = batch.autograde_all(course, "imdb_sentiment", workers=1, force=True)
    assert [(r.student, r.status) for r in results] == [("ada", "graded"), ("garbled", "failed"), ("zoe", "graded")]
    assert [args[3:] for args in marked] == [("garbled", f"failed: {UNREADABLE}")]
    out = capsys.readouterr().out
    assert re.search(r"\ngarbled +failed +- +\d+ s  " + re.escape(UNREADABLE), out)
    assert "1 workers × " in out and "each kernel limited to" in out


def test_the_worker_s_report_sink_reaches_nbgrader_s_preprocessor_itself(tmp_path):
    """traitlets deep-copies config values: a plain dict (or its bound method) would reach the
    preprocessor as a copy, and the worker would never see a report."""
    from autograder.course.nbgrader_grading import GradeWithHiddenChecks, ReportSink
    from autograder.course.worker import nbgrader_api

    sink = ReportSink()
    api = nbgrader_api(Course(tmp_path), sink)
    preprocessor = GradeWithHiddenChecks(parent=api)
    assert preprocessor.report_sink is sink


def test_a_success_without_a_report_fails_that_student():
    result = batch.result_of({"student": "ada", "success": True, "report": None}, 1.0)
    assert (result.status, result.detail) == ("failed", "the grading worker sent no readable grade report")
