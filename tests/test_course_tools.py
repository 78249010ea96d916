"""Instructor tools around nbgrader: LMS collection, batch sizing (GitHub: test_github_workflows.py,
Gradescope: test_gradescope.py, the course steps: test_course_wrapper.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

import course_config
from autograder import batch
from autograder.course import Course
from autograder.samples import make_sample

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


def test_workers_come_from_free_memory_and_the_cgroup_unless_requested(monkeypatch):
    class Memory:
        available = (2 * course_config.MEMORY_PER_SUBMISSION_GB + 1) * 2**30  # room for two submissions

    monkeypatch.setattr(batch.psutil, "virtual_memory", lambda: Memory)
    monkeypatch.setattr(batch.resources, "usable_memory_gb", lambda: 64.0)
    monkeypatch.setattr(batch.resources, "cpu_count", lambda: 8)
    assert batch.choose_workers(0, submissions=100) == 2
    assert batch.choose_workers(0, submissions=1) == 1
    assert batch.choose_workers(5, submissions=100) == 5
    Memory.available = 2 * 2**30
    assert batch.choose_workers(0, submissions=100) == 1
    Memory.available = 64 * 2**30  # a container: the host is free, its cgroup allows 7 GB
    monkeypatch.setattr(batch.resources, "usable_memory_gb", lambda: 7.0)
    assert batch.choose_workers(0, submissions=100) == 2
    monkeypatch.setattr(batch.resources, "cpu_count", lambda: 1)
    assert batch.choose_workers(0, submissions=100) == 1


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
