"""GitHub: the students' practice workflow and the instructor's matrix grading workflow."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
import yaml

import course_config
from autograder import ci_templates, github, sandbox
from autograder.checks import read_check_specs
from autograder.samples import make_sample

ASSIGNMENT = "imdb_sentiment"
BIN = Path(sys.executable).parent
PLAIN_PATH = "/usr/bin:/bin"  # no virtual environment on PATH, as on a fresh shell
# This checkout's code in subprocesses that run elsewhere (the venv's editable install may point at another).
CHECKOUT = {"PYTHONPATH": str(course_config.ROOT)}


def validate(*workflows: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           *map(str, workflows)], capture_output=True, text=True)


def test_both_workflows_validate_against_githubs_schema(tmp_path):
    grading = tmp_path / "grade-submissions.yml"
    grading.write_text(github.render_grading_workflow())
    practice = [course_config.ROOT / course_config.RELEASE_DIR / a / ci_templates.WORKFLOW_PATH
                for a in course_config.ASSIGNMENTS]
    result = validate(grading, *practice)
    assert result.returncode == 0, result.stdout + result.stderr

    broken = tmp_path / "broken.yml"
    broken.write_text(grading.read_text().replace("runs-on: ubuntu-latest", "runs-on: 3", 1)
                      .replace("jobs:", "jobz:"))
    assert validate(broken).returncode != 0, "the validator must catch a broken workflow"


def test_committed_grading_workflow_is_up_to_date():
    committed = course_config.ROOT / github.WORKFLOW_PATH
    assert committed.read_text() == github.render_grading_workflow(), (
        "run `python -m autograder course workflow` and commit the result")


def test_grading_workflow_runs_at_each_deadline_with_secrets_only_where_no_student_code_runs():
    workflow = yaml.safe_load(github.render_grading_workflow())
    crons = [entry["cron"] for entry in workflow[True]["schedule"]]  # PyYAML reads `on:` as True
    assert crons == [github.schedule_of(a) for a in course_config.ASSIGNMENTS]
    steps = workflow["jobs"]["grade"]["steps"]
    for step in steps:
        env = json.dumps(step.get("env", {}))
        if "COURSE_CLASSROOM_TOKEN" in env:
            assert "autograder.github fetch" in step["run"], "the token is only for fetching"
    (grade,) = [s for s in steps if s.get("name") == "Grade"]
    assert grade["env"]["AS_ROOT"] == "sudo -E", "root, with the job's settings and the seed"
    assert "COURSE_CLASSROOM_TOKEN" not in json.dumps(workflow["jobs"]["grade"]["env"])
    assert workflow["jobs"]["grade"]["strategy"]["fail-fast"] is False


# --- plan and fetch (GitHub's API replaced by recorded answers) ---------------------------------

def test_a_scheduled_run_grades_the_lab_whose_deadline_passed():
    assert github.schedule_of("imdb_sentiment") == "29 0 19 12 *"  # due 2026-12-18 23:59 UTC, +30 min
    assert github.plan("schedule", "29 0 19 12 *", "", "") == ("imdb_sentiment", "2026-12-18T23:59:00+00:00")
    assert github.plan("workflow_dispatch", "", "multiclass_softmax", "2027-02-01T12:00:00Z")[1] == "2027-02-01T12:00:00+00:00"
    with pytest.raises(SystemExit, match="Unknown lab"):
        github.plan("workflow_dispatch", "", "no_such_lab", "")


def test_students_come_from_classroom_repository_names():
    names = ["imdb_sentiment", "imdb_sentiment-ada", "imdb_sentiment-ben-2", "multiclass_softmax-ada", "grader"]
    assert github.students_of(names, "imdb_sentiment") == ["ada", "ben-2"]


PUSHES = [  # newest first, as the activity API answers
    {"ref": "refs/heads/main", "activity_type": "push", "timestamp": "2026-12-19T00:10:00Z", "after": "late"},
    {"ref": "refs/heads/main", "activity_type": "pr_merge", "timestamp": "2026-12-18T23:50:00Z", "after": "last"},
    {"ref": "refs/heads/main", "activity_type": "branch_creation", "timestamp": "2026-12-18T23:51:00Z", "after": "x"},
    {"ref": "refs/heads/draft", "activity_type": "push", "timestamp": "2026-12-18T23:55:00Z", "after": "branch"},
    {"ref": "refs/heads/main", "activity_type": "push", "timestamp": "2026-12-18T10:00:00Z", "after": "early"},
]
DEADLINE = datetime(2026, 12, 18, 23, 59, tzinfo=timezone.utc)


def test_the_last_push_to_the_default_branch_before_the_deadline_counts():
    """Push times are GitHub's: a commit backdated by the student is graded by when it was pushed."""
    assert github.last_push_before(PUSHES, DEADLINE, "main")["after"] == "last"
    assert github.last_push_before(PUSHES, DEADLINE, "draft")["after"] == "branch"
    assert github.last_push_before(PUSHES[:1], DEADLINE, "main") is None


def test_listings_follow_the_link_header():
    header = ('<https://api.github.com/repositories/1/activity?per_page=100&after=Y3Vy>; rel="next", '
              '<https://api.github.com/repositories/1/activity?per_page=100>; rel="first"')
    assert github.next_link(header) == "https://api.github.com/repositories/1/activity?per_page=100&after=Y3Vy"
    assert github.next_link('<https://api.github.com/x?page=1>; rel="prev"') is None
    assert github.next_link("") is None


class RecordedGitHub(github.GitHub):
    """Answers as GitHub would; the activity listing comes in two pages linked by a cursor."""

    def __init__(self, notebook: bytes):
        super().__init__(token="test")
        self.notebook = notebook

    def page(self, url):
        assert "/activity?" in url
        return (PUSHES[:2], url + "&after=cursor") if "after=cursor" not in url else (PUSHES[2:], None)

    def get(self, path, raw=False, **query):
        if "/contents/" in path:
            assert raw and query["ref"] == "last"
            return self.notebook
        return {"default_branch": "main"}


def test_fetch_writes_the_notebook_and_its_push_time(tmp_path):
    api = RecordedGitHub(b'{"cells": []}')
    out = tmp_path / "ada" / "submission"
    path = github.fetch(api, "course-org", ASSIGNMENT, "ada", DEADLINE, out)
    assert path.read_bytes() == b'{"cells": []}'
    assert (out / "timestamp.txt").read_text() == "2026-12-18 23:50:00.000000 UTC"
    assert "course-org/imdb_sentiment-ada@last" in (tmp_path / "ada" / "commit.txt").read_text()
    assert github.fetch(api, "course-org", ASSIGNMENT, "ada", datetime(2026, 1, 1, tzinfo=timezone.utc),
                        tmp_path / "none") is None


# --- the matrix job's grading command, then the gather job ----------------------------------------

def grading_command() -> str:
    (step,) = [s for s in yaml.safe_load(github.render_grading_workflow())["jobs"]["grade"]["steps"]
               if s.get("name") == "Grade"]
    return step["run"]


def test_matrix_jobs_then_gather_give_nbgrader_grades(tiny_data, tmp_path):
    """Each student's grading command as a matrix job runs it (in a workspace holding the grader's
    venv; privileges as the test runs, not sudo), then `course gather` on their results."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / ".venv").symlink_to(BIN.parent)
    submissions = {"ada": "reference", "ben": "blank", "cy": "reference"}
    for student, kind in submissions.items():
        folder = workspace / "results" / student / "submission"
        folder.mkdir(parents=True)
        nbformat.write(make_sample(ASSIGNMENT, kind), folder / f"{ASSIGNMENT}.ipynb")
        (folder / "timestamp.txt").write_text("2026-12-18 23:50:00.000000 UTC")
    (workspace / "results" / "dan").mkdir()  # dan pushed nothing before the deadline
    (workspace / "results" / "dan" / "student.txt").write_text("dan")
    for student in ("ada", "ben"):  # cy's job never finished: no results
        env = {**os.environ, **CHECKOUT, "PATH": PLAIN_PATH, "ASSIGNMENT": ASSIGNMENT, "STUDENT": student, "AS_ROOT": ""}
        job = subprocess.run(["bash", "-c", grading_command()], cwd=workspace, env=env, capture_output=True, text=True)
        assert job.returncode == 0, job.stderr[-2000:]
    results = {s: json.loads((workspace / "results" / s / "results.json").read_text()) for s in ("ada", "ben")}
    points = {spec.name: spec.points for spec in read_check_specs(ASSIGNMENT)}
    assert results["ben"]["score"] == 0 and results["ben"]["max_score"] == sum(points.values())
    passed = {t["number"] for t in results["ada"]["tests"] if t["status"] == "passed"}
    structural = {name for name in points if name.startswith(("test_decode", "test_vectorize", "test_build_model", "test_split"))}
    assert len(structural) == 8 and structural <= passed, "the reference passes every structural check"
    assert (workspace / "results" / "ada" / f"{ASSIGNMENT}.ipynb").is_file()

    course_root = tmp_path / "course"
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, course_root / course_config.SOURCE_DIR)
    gather = subprocess.run(
        [sys.executable, "-m", "autograder", "course", "gather", "--root", str(course_root), "--assignment",
         ASSIGNMENT, "--results", str(workspace / "results"), "--roster", str(tmp_path / "no-roster.csv")],
        cwd=tmp_path, env={**os.environ, **CHECKOUT, "PATH": PLAIN_PATH}, capture_output=True, text=True)
    assert gather.returncode == 0, gather.stderr[-3000:]
    grades = {row["student_id"]: float(row["raw_score"])
              for row in csv.DictReader((course_root / "export" / "grades.csv").open())}
    assert grades == {"ada": results["ada"]["score"], "ben": 0.0, "cy": 0.0, "dan": 0.0}
    reports = json.loads((course_root / "export" / "gradescope" / ASSIGNMENT / "cy" / "results.json").read_text())
    assert "left no readable results" in reports["output"]
    feedback = course_root / course_config.FEEDBACK_DIR / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert feedback.is_file() and "BEGIN HIDDEN TESTS" not in feedback.read_text()


def test_gather_trusts_only_the_graders_table_of_checks(tmp_path):
    """A job's report gives scores only: points and cells are the grader's, scores are clamped,
    unknown checks are ignored, and an unreadable report is a zero with a note."""
    from autograder.nbgrader_grading import read_precomputed

    specs = read_check_specs(ASSIGNMENT)
    blank = make_sample(ASSIGNMENT, "blank")
    (tmp_path / "results.json").write_text(json.dumps({"output": "Notebook execution: completed.", "tests": [
        {"number": specs[0].name, "score": 100, "output": ""},
        {"number": specs[1].name, "score": "lots"},
        {"number": "test_extra_points", "score": 50},
    ]}))
    report, executed = read_precomputed(tmp_path, blank, ASSIGNMENT, ASSIGNMENT)
    assert report.score == specs[0].points and report.max_score == sum(s.points for s in specs)
    assert [c.source for c in executed.cells] == [c.source for c in blank.cells], "no executed notebook"
    (tmp_path / "results.json").write_text("{not json")
    report, _ = read_precomputed(tmp_path, blank, ASSIGNMENT, ASSIGNMENT)
    assert report.score == 0 and "left no readable results" in report.notes[0]

    # The job's executed notebook is the student's file: its metadata must not reach nbgrader.
    forged = make_sample(ASSIGNMENT, "blank")
    answer = next(c for c in forged.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "written_answer")
    answer.cell_type, answer.source, answer.outputs, answer.execution_count = "code", "pass", [], None
    answer.metadata.nbgrader.update(points=100, solution=False)
    nbformat.write(forged, tmp_path / f"{ASSIGNMENT}.ipynb")
    _, executed = read_precomputed(tmp_path, blank, ASSIGNMENT, ASSIGNMENT)
    assert [(c.cell_type, c.source, c.metadata) for c in executed.cells] == \
        [(c.cell_type, c.source, c.metadata) for c in blank.cells]


def test_grading_jobs_stop_when_student_code_would_run_unisolated():
    (step,) = [s for s in yaml.safe_load(github.render_grading_workflow())["jobs"]["grade"]["steps"]
               if s.get("name") == "Check the sandbox"]
    command = step["run"].removeprefix("sudo -E ")
    env = {**os.environ, **CHECKOUT, "COURSE_SANDBOX_USER": "no-such-user-here"}
    stopped = subprocess.run(["bash", "-c", command], cwd=course_config.ROOT, env=env, capture_output=True, text=True)
    assert stopped.returncode == 1 and "Sandbox protection off: separate user" in stopped.stdout
    if os.geteuid() == 0 and sandbox.available():
        assert subprocess.run(["bash", "-c", command], cwd=course_config.ROOT, env={**os.environ, **CHECKOUT}).returncode == 0
