"""Instructor tools around nbgrader: LMS collection, batch sizing, CI workflow, Gradescope zip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
import yaml

import course_config
from autograder import batch, ci_templates
from autograder.course import Course
from autograder.gradescope import build_autograder_zip
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


def test_workers_come_from_free_memory_unless_requested(monkeypatch):
    class Memory:
        available = (2 * course_config.MEMORY_PER_SUBMISSION_GB + 1) * 2**30  # room for two submissions

    monkeypatch.setattr(batch.psutil, "virtual_memory", lambda: Memory)
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 8)
    assert batch.choose_workers(0, submissions=100) == 2
    assert batch.choose_workers(0, submissions=1) == 1
    assert batch.choose_workers(5, submissions=100) == 5
    Memory.available = 2 * 2**30
    assert batch.choose_workers(0, submissions=100) == 1


def test_release_workflow_is_valid_and_its_grading_step_runs_here(tiny_data, tmp_path):
    workflow = yaml.safe_load((course_config.ROOT / course_config.RELEASE_DIR / ASSIGNMENT /
                               ci_templates.WORKFLOW_PATH).read_text())
    assert workflow["jobs"]["grade"]["steps"][0]["uses"].startswith("actions/checkout")
    nbformat.write(make_sample(ASSIGNMENT, "blank"), tmp_path / f"{ASSIGNMENT}.ipynb")
    (tmp_path / "results").mkdir()
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path)}
    completed = subprocess.run(["bash", "-c", ci_templates.grading_command(ASSIGNMENT)], cwd=tmp_path, env=env)
    assert completed.returncode == 0, "a zero score is a result, not a failed job"
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["max_score"] == 16


def test_gradescope_run_autograder_writes_results_json(tiny_data, tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(build_autograder_zip(ASSIGNMENT, tmp_path / "autograder.zip")) as archive:
        assert {"setup.sh", "run_autograder", "autograder/checks/imdb_sentiment.py"} <= set(archive.namelist())
        assert not [n for n in archive.namelist() if n.startswith(("tests/", "assignments/", "solutions/"))]
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    run_autograder = ["bash", str(root / "source" / "run_autograder")]

    subprocess.run(run_autograder, env=env, check=True)
    assert "No notebook found" in json.loads((root / "results" / "results.json").read_text())["output"]

    nbformat.write(make_sample(ASSIGNMENT, "blank"), root / "submission" / f"{ASSIGNMENT}.ipynb")
    subprocess.run(run_autograder, env=env, check=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["max_score"] == 16 and len(results["tests"]) == 13
