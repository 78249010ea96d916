"""Instructor tools around nbgrader: LMS collection, batch sizing (GitHub: test_github_workflows.py,
Gradescope: test_gradescope.py, the course steps: test_course_wrapper.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

import course_config
from autograder.course import batch
from autograder.course.nbgrader_course import Course
from autograder.course.samples import make_sample
from autograder.report import CheckResult, GradeReport

ASSIGNMENT = "imdb_sentiment"


@pytest.fixture
def course(tmp_path):
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, tmp_path / course_config.SOURCE_DIR)
    return Course(tmp_path, exchange=tmp_path / "exchange")


def test_missing_roster_is_a_clear_error(course, tmp_path):
    with pytest.raises(FileNotFoundError, match="id,first_name,last_name,email"):
        course.setup(tmp_path / "no_roster.csv")


def test_zip_collect_files_an_lms_download_under_each_student(course):
    course.generate()
    archive = course.root / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    nbformat.write(make_sample(ASSIGNMENT, "blank"), archive / f"lovelaceada_1234_5678_{ASSIGNMENT}.ipynb")
    course.collect(ASSIGNMENT)
    assert (course.path(course_config.SUBMITTED_DIR, ASSIGNMENT, "lovelaceada") / f"{ASSIGNMENT}.ipynb").is_file()
    course.collect(ASSIGNMENT)  # rerunning is safe
    assert course.submitted_students(ASSIGNMENT) == ["lovelaceada"]


def plan(monkeypatch, free_gb: float, cores: int, requested: int = 0, submissions: int = 100,
         cgroup_gb: float = 1024.0) -> batch.MemoryPlan:
    class Memory:
        available = free_gb * 2**30

    monkeypatch.setattr(batch.psutil, "virtual_memory", lambda: Memory)
    monkeypatch.setattr(batch.cgroups, "usable_memory_gb", lambda: cgroup_gb)
    monkeypatch.setattr(batch.cgroups, "cpu_count", lambda: cores)
    return batch.plan_memory(requested, submissions)


def test_workers_and_their_kernels_fit_in_free_memory(monkeypatch):
    """Each worker holds its own memory (TensorFlow, data) besides its submission's kernel: the
    batch never plans more than free memory (a container's cgroup limit included)."""
    assert course_config.MEMORY_LIMIT_GB == 12 and course_config.WORKER_MEMORY_GB == 2.5
    for free in (2, 3.5, 5, 7, 14.5, 23.4, 29, 64, 128, 1000):
        for cores in (1, 2, 8, 64):
            for requested in (0, 1, 2, 5, 40):
                chosen = plan(monkeypatch, free, cores, requested)
                assert chosen.workers >= 1 and chosen.kernel_gb <= course_config.MEMORY_LIMIT_GB
                if free >= 1 + course_config.WORKER_MEMORY_GB:  # else one worker, warned of
                    assert chosen.workers * (chosen.kernel_gb + course_config.WORKER_MEMORY_GB) <= free, chosen
                if requested == 0:  # by default each kernel gets the limit it gets alone, where it can
                    assert chosen.workers <= cores
                    assert chosen.kernel_gb == course_config.MEMORY_LIMIT_GB or chosen.workers == 1
    # This machine (2 cores, 23.4 GB free): one worker with 12 GB, not two that could need 29 GB.
    assert (plan(monkeypatch, 23.4, 2).workers, plan(monkeypatch, 23.4, 2).kernel_gb) == (1, 12)
    assert (plan(monkeypatch, 64, 8).workers, plan(monkeypatch, 64, 8).kernel_gb) == (4, 12)
    assert plan(monkeypatch, 64, 8, submissions=1).workers == 1
    two = plan(monkeypatch, 23.4, 2, requested=2)  # asked for: the kernel's limit is lowered to fit
    assert (two.workers, two.kernel_gb) == (2, 9.2)
    assert "lowered from MEMORY_LIMIT_GB (12 GB) to fit" in two.describe()
    many = plan(monkeypatch, 23.4, 2, requested=8)  # not under MEMORY_PER_SUBMISSION_GB: fewer workers
    assert (many.workers, many.kernel_gb) == (4, 3.3) and "8 workers requested, 4 fit" in many.describe()
    container = plan(monkeypatch, 64, 8, cgroup_gb=7.0)  # the host is free, its cgroup allows 7 GB
    assert (container.workers, container.kernel_gb) == (1, 4.5)
    small = plan(monkeypatch, 3.0, 2)
    assert small.kernel_gb == 1 and "WARNING: more than the free memory" in small.describe()
    assert batch.choose_workers(0, submissions=100) == small.workers


def test_course_autograde_exits_non_zero_when_a_submission_is_not_graded(monkeypatch, tmp_path, capsys):
    from autograder import cli

    outcome = []
    monkeypatch.setattr(batch, "autograde_all", lambda *args: outcome)
    command = ["course", "autograde", "--assignment", ASSIGNMENT, "--root", str(tmp_path)]
    assert cli.main(command) == 0  # nothing to grade
    outcome[:] = [batch.StudentResult("ada", "graded", 16, 16, 1.0), batch.StudentResult("ben", "failed", None, None, 1.0)]
    assert cli.main(command) == cli.EXIT_SUBMISSIONS_FAILED == 3
    outcome[1] = batch.StudentResult("ben", "timed out", 3, 16, 1.0)
    assert cli.main(command) == 3
    outcome[1] = batch.StudentResult("ben", "graded", 3, 16, 1.0, "notebook memory limit")
    assert cli.main(command) == 3  # graded, but a limit stopped its notebook
    outcome[1] = batch.StudentResult("ben", "graded", 3, 16, 1.0)
    assert cli.main(command) == 0
    with pytest.raises(SystemExit):
        cli.main(["course", "--help"])
    assert "3 autograde ran but some submission could not be graded, or its notebook hit a limit" \
        in " ".join(capsys.readouterr().out.split())


def test_grade_exits_non_zero_when_the_notebook_hit_a_limit(monkeypatch, tmp_path):
    from autograder import cli

    notebook = tmp_path / "lab.ipynb"
    notebook.write_text("{}")
    for status, exit_status in [("completed", 0), ("timed out", 3), ("memory limit", 3), ("not run", 3)]:
        monkeypatch.setattr(cli, "grade_file", lambda *args: (GradeReport(ASSIGNMENT, "lab.ipynb", execution_status=status), None))
        assert cli.main(["grade", str(notebook), "--assignment", ASSIGNMENT]) == exit_status
    assert cli.main(["grade", str(tmp_path / "missing.ipynb"), "--assignment", ASSIGNMENT]) == cli.EXIT_CANNOT_GRADE


def test_the_status_line_names_the_limit_and_the_cell():
    report = GradeReport(ASSIGNMENT, "lab.ipynb", [CheckResult("test_a", "cell", "A", 16.0, 3.0)],
                         execution_status="timed out", stopped_by=["CPU limit, cell 7"])
    outcome = {"student": "ben", "success": True, "report": report.to_dict()}
    result = batch.result_of(outcome, 12.0)
    assert (result.status, result.score, result.max_score) == ("timed out", 3.0, 16.0)
    assert (result.detail, result.ran_whole) == ("notebook timed out (CPU limit, cell 7)", False)
    assert batch.result_of({"student": "ben", "success": True, "report": {"checks": "x"}}, 1.0).status == "failed"


def test_a_grade_report_crosses_processes_whole():
    report = GradeReport(ASSIGNMENT, "lab.ipynb", [CheckResult("test_a", "cell_a", "A", 2.0, 2.0),
                                                   CheckResult("test_b", "cell_b", "B", 3.0, 0.0, "wrong", "hidden")],
                         execution_status="memory limit", execution_seconds=12.5, notes=["n"], tampering=["t"],
                         peak_memory_gb=1.5, cpu_seconds=9.0, checks_cpu_seconds=1.0, stopped_by=["Memory limit"])
    copied = GradeReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert copied == report and (copied.score, copied.max_score, copied.ran_whole) == (2.0, 5.0, False)


def test_a_gradebook_write_waits_for_another_workers_lock(tmp_path):
    """SQLite's default gives up after 5 s with "database is locked"; the course's URL waits."""
    course = Course(tmp_path)
    course.nbgrader("db", "student", "list")  # creates the gradebook
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(7); db.execute('COMMIT')"),
        str(tmp_path / "gradebook.db")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        gradebook.update_or_create_student("ada")
    assert holder.wait() == 0


def test_each_course_step_has_its_own_help_and_refuses_options_it_does_not_take(capsys):
    from autograder import cli

    with pytest.raises(SystemExit):
        cli.main(["course", "autograde", "--help"])
    autograde = capsys.readouterr().out
    assert "--workers" in autograde and "--student" in autograde and "--results" not in autograde
    with pytest.raises(SystemExit):
        cli.main(["course", "gather", "--help"])
    gather = capsys.readouterr().out
    assert "--results" in gather and "--workers" not in gather
    for refused in (["course", "export", "--workers", "2"], ["course", "workflow", "--assignment", "imdb_sentiment"],
                    ["course", "gather", "--assignment", "imdb_sentiment"]):  # gather without --results
        with pytest.raises(SystemExit) as stopped:
            cli.main(refused)
        assert stopped.value.code == 2, refused
