"""The Gradescope package: its zip, run_autograder in a tree laid out like Gradescope's, results.json
against Gradescope's documented format, and limits that fit the assignment's timeout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest

import course_config
from autograder import checks
from autograder.course.samples import make_sample
from autograder.grading import timing
from autograder.platforms import gradescope
from autograder.report import GradeReport
from autograder.sandbox import namespaces

ASSIGNMENT = "imdb_sentiment"

# Gradescope's results.json, from its Autograder Specifications
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/); "status" from its test-status docs.
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["score", "max_score", "name", "status"],
            "additionalProperties": False,
            "properties": {
                "score": {"type": "number"},
                "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"},
                "number": {"type": "string"},
                "output": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY,
                "extra_data": {"type": "object"},
            },
        }},
    },
}


@pytest.fixture
def gradescope_tree(tiny_data):
    """/autograder as Gradescope lays it out (source, submission, results), readable by the sandbox
    user up to `source` as in Gradescope's image."""
    root = Path(tempfile.mkdtemp(prefix="dl-course-gradescope-"))
    os.chmod(root, 0o755)
    with zipfile.ZipFile(gradescope.build_autograder_zip(ASSIGNMENT, root / "autograder.zip")) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_autograder(root: Path, python: str = sys.executable) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
    completed = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    return results


def test_zip_holds_the_grader_its_data_and_filled_scripts(gradescope_tree):
    with zipfile.ZipFile(gradescope_tree / "autograder.zip") as archive:
        names = set(archive.namelist())
    assert {"setup.sh", "run_autograder", "autograder/checks/imdb_sentiment.py", "labtools/imdb.py",
            f"data/{course_config.IMDB_ARCHIVE}", f"calibration/{ASSIGNMENT}.timing.json"} <= names
    assert not [n for n in names if n.startswith(("tests/", "assignments/", "solutions/", "build/"))]
    for script in ("setup.sh", "run_autograder"):
        text = (gradescope_tree / "source" / script).read_text()
        assert "{assignment}" not in text and "{timeout_minutes}" not in text and "{release}" not in text
        assert subprocess.run(["bash", "-n", "-c", text]).returncode == 0


def test_run_autograder_gives_every_check_a_result(gradescope_tree):
    root = gradescope_tree
    results = run_autograder(root)
    assert "No notebook found" in results["output"]
    assert len(results["tests"]) == 13 and results["score"] == 0

    nbformat.write(make_sample(ASSIGNMENT, "blank"), root / "submission" / f"{ASSIGNMENT}.ipynb")
    results = run_autograder(root)
    assert results["score"] == 0 and results["max_score"] == 16 and len(results["tests"]) == 13
    assert results["visibility"] == course_config.GRADESCOPE_VISIBILITY
    assert {test["visibility"] for test in results["tests"]} == {course_config.GRADESCOPE_VISIBILITY}


def test_grading_stopped_at_the_deadline_still_gives_every_check_a_result(gradescope_tree, tmp_path):
    root = gradescope_tree
    nbformat.write(make_sample(ASSIGNMENT, "blank"), root / "submission" / f"{ASSIGNMENT}.ipynb")
    script = root / "source" / "run_autograder"
    # A 1.1-minute timeout leaves 6 s before the end margin; the grader hangs past it.
    script.write_text(script.read_text().replace("--timeout-minutes 40", "--timeout-minutes 1.1"))
    hanging = tmp_path / "python"
    hanging.write_text(f'#!/bin/bash\n[ "$1 $2 $3" = "-m autograder grade" ] && exec sleep 600\nexec {sys.executable} "$@"\n')
    hanging.chmod(0o755)
    results = run_autograder(root, str(hanging))
    assert results["output"].startswith("Notebook execution: timed out.")
    assert len(results["tests"]) == 13 and all(test["status"] == "failed" for test in results["tests"])


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox user exists only for a root grader")
def test_setup_hides_the_grader_from_the_sandbox_user_but_not_what_the_kernel_needs(gradescope_tree):
    source = gradescope_tree / "source"
    permissions = source.joinpath("setup.sh").read_text().split("# Student code runs as another user")[1]
    subprocess.run(["bash", "-euc", permissions], cwd=source, env={**os.environ, "SOURCE": str(source)}, check=True)
    uid, gid = namespaces.sandbox_user()
    probe = ("import course_config, labtools, pathlib, sys\n"
             "for path in sys.argv[1:]:\n"
             "    try:\n"
             "        pathlib.Path(path).read_bytes()\n"
             "        print('read', path)\n"
             "    except PermissionError:\n"
             "        pass\n")
    hidden = [source / "autograder" / "checks" / f"{ASSIGNMENT}.py", source / "calibration" / f"{ASSIGNMENT}.timing.json",
              source / course_config.RELEASE_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"]
    # Without namespaces (Docker) the kernel runs as the sandbox user and sees the real files.
    as_student = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", sys.executable, "-c", probe,
                  *map(str, hidden), str(source / "data" / course_config.IMDB_ARCHIVE)]
    completed = subprocess.run(as_student, cwd="/", capture_output=True, text=True,
                               env={"PATH": os.environ["PATH"], "PYTHONPATH": str(source)})
    assert completed.returncode == 0, completed.stderr[-1000:]
    assert completed.stdout.splitlines() == [f"read {source / 'data' / course_config.IMDB_ARCHIVE}"]
    # And grading still works with those permissions.
    nbformat.write(make_sample(ASSIGNMENT, "blank"), gradescope_tree / "submission" / f"{ASSIGNMENT}.ipynb")
    assert run_autograder(gradescope_tree)["max_score"] == 16


@pytest.mark.parametrize("assignment", course_config.ASSIGNMENTS)
@pytest.mark.parametrize("cpu_quota", [None, 1.0, 0.5])
def test_limits_fit_the_timeout(assignment, cpu_quota, monkeypatch):
    timeout_s = gradescope.DEFAULT_TIMEOUT_MINUTES * 60
    if gradescope.minimum_timeout_minutes(assignment, cpu_quota or 1.0) > gradescope.DEFAULT_TIMEOUT_MINUTES:
        # The README says so: the overfitting lab's budgets need 1 CPU on Gradescope (42 minutes at 0.5).
        assert (assignment, cpu_quota) == ("overfitting_regularization", 0.5)
        return
    limits = gradescope.run_limits(assignment, timeout_s, 6.0, cpu_quota, 1)
    slowdown = 1 / cpu_quota if cpu_quota else 1.0
    # The notebook's limit in that run (CPU s), from the lab's calibrated times as the grader reads them.
    monkeypatch.setattr(course_config, "NOTEBOOK_TIMEOUT_S", limits["COURSE_NOTEBOOK_TIMEOUT_S"])
    notebook = timing.limits(assignment).notebook
    worst = (gradescope.STARTUP_S + notebook + gradescope.check_budget_s(assignment)) * slowdown
    assert worst <= limits["GRADE_DEADLINE_S"] == timeout_s - gradescope.END_MARGIN_S
    # The reference's calibrated limit is not cut to fit, and the same as without Gradescope.
    measured = json.loads(timing.timing_path(assignment).read_text())["notebook_cpu_seconds"]
    assert notebook == pytest.approx(course_config.NOTEBOOK_LIMIT_FACTOR * measured + course_config.NOTEBOOK_LIMIT_EXTRA_S)



def test_memory_and_threads_come_from_the_container():
    assert gradescope.run_limits(ASSIGNMENT, 2400, 64.0, None, 8)["COURSE_MEMORY_LIMIT_GB"] == course_config.MEMORY_LIMIT_GB
    assert gradescope.run_limits(ASSIGNMENT, 2400, 6.0, None, 2)["COURSE_MEMORY_LIMIT_GB"] == 6.0 - gradescope.GRADER_MEMORY_GB
    tiny = gradescope.run_limits(ASSIGNMENT, 2400, 0.75, 0.5, 1)
    assert tiny["COURSE_MEMORY_LIMIT_GB"] == gradescope.MIN_KERNEL_MEMORY_GB and tiny["COURSE_NUM_THREADS"] == 1


def test_a_timeout_the_lab_does_not_fit_in_or_gradescope_does_not_offer_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        gradescope.build_autograder_zip("overfitting_regularization", tmp_path / "a.zip", timeout_minutes=10)
    with pytest.raises(ValueError, match="1 to 40 minutes, not 90"):
        gradescope.build_autograder_zip("multiclass_softmax", tmp_path / "a.zip", timeout_minutes=90)
    with pytest.raises(ValueError, match="more than 0"):
        gradescope.build_autograder_zip("multiclass_softmax", tmp_path / "a.zip", cpus=0)
    assert not (tmp_path / "a.zip").exists()


def test_visibility_per_check_from_the_decorator(tmp_path, monkeypatch):
    (tmp_path / "lab.py").write_text(
        "DATA = None\nSAMPLES = {}\n\n@check(points=1, cell='a')\ndef test_default():\n    '''Shown.'''\n\n"
        "@check(points=2, cell='a', visibility='after_due_date')\ndef test_later():\n    '''Later.'''\n")
    (tmp_path / "bad.py").write_text("DATA = None\nSAMPLES = {}\n@check(points=1, cell='a', visibility='soon')\ndef test_bad():\n    pass\n")
    monkeypatch.setattr(checks, "CHECKS_DIR", tmp_path)
    specs = checks.load_lab("lab").checks
    assert [s.visibility for s in specs] == [course_config.GRADESCOPE_VISIBILITY, "after_due_date"]
    with pytest.raises(ValueError, match="soon"):
        checks.load_lab("bad").checks
    report = GradeReport("lab", "lab.ipynb", [s.result(0.0) for s in specs])
    results = report.to_gradescope()
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert [t["visibility"] for t in results["tests"]] == [course_config.GRADESCOPE_VISIBILITY, "after_due_date"]
    report.checks[0].visibility = "hidden"
    assert report.to_gradescope()["tests"][0]["visibility"] == "hidden"
