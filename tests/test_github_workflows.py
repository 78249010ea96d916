"""GitHub: the students' practice workflow and the instructor's matrix grading workflow."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
import yaml

import course_config
from autograder.checks import load_lab
from autograder.course import ci_templates
from autograder.course.samples import make_sample
from autograder.platforms import github, github_api, github_feedback, github_plan
from autograder.sandbox import namespaces

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


TOKENS = ("COURSE_GITHUB_TOKEN", "COURSE_FEEDBACK_TOKEN")
KNOWN_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4",
                 "actions/download-artifact@v4", "actions/cache@v4"}


def test_grading_workflow_runs_at_each_deadline_with_secrets_only_where_no_student_code_runs():
    workflow = yaml.safe_load(github.render_grading_workflow())
    crons = [entry["cron"] for entry in workflow[True]["schedule"]]  # PyYAML reads `on:` as True
    assert crons == [github.schedule_of(a) for a in course_config.ASSIGNMENTS]
    token_steps = []
    for name, job in workflow["jobs"].items():
        assert not any(t in json.dumps(job.get("env", {})) for t in TOKENS), name
        for step in job["steps"]:
            assert step.get("uses", "run") in KNOWN_ACTIONS | {"run"}, step["uses"]
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False
            if any(t in json.dumps(step.get("env", {})) for t in TOKENS):
                token_steps.append((name, step["run"].split(" --")[0]))
    assert token_steps == [("plan", "python -m autograder.platforms.github plan"),
                           ("grade", ".venv/bin/python -m autograder.platforms.github fetch"),
                           ("deliver", "python -m autograder.platforms.github deliver")], "tokens only to plan, fetch, deliver"
    steps = [s.get("name") for s in workflow["jobs"]["grade"]["steps"]]
    assert steps.index("Fetch each notebook of the last push before the student's deadline") \
        < steps.index("Check the sandbox") < steps.index("Grade"), "every fetch before any student code"
    (grade,) = [s for s in workflow["jobs"]["grade"]["steps"] if s.get("name") == "Grade"]
    assert grade["env"]["AS_ROOT"] == "sudo -E", "root, with the job's settings and the seed"
    assert workflow["jobs"]["grade"]["strategy"]["fail-fast"] is False
    uploads = [s["with"]["name"] for s in workflow["jobs"]["grade"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads == ["results-${{ matrix.chunk.job }}"], "one artifact per matrix job"
    assert "vars.COURSE_DELIVER_FEEDBACK == 'true'" in workflow["jobs"]["deliver"]["if"], "delivery is opt-in"
    assert workflow[True]["workflow_dispatch"]["inputs"].keys() == {"assignment", "students", "deadline"}


# --- plan: settings, roster, who is graded (GitHub's API replaced by recorded answers) -----------

def test_a_scheduled_run_grades_the_lab_whose_deadline_passed():
    assert github.schedule_of("imdb_sentiment") == "29 0 19 12 *"  # due 2026-12-18 23:59 UTC, +30 min
    assert github.plan("schedule", "29 0 19 12 *", "", "") == ("imdb_sentiment", "2026-12-18T23:59:00+00:00")
    assert github.plan("workflow_dispatch", "", "multiclass_softmax", "2027-02-01T12:00:00Z")[1] == "2027-02-01T12:00:00+00:00"
    with pytest.raises(SystemExit, match="Unknown lab"):
        github.plan("workflow_dispatch", "", "no_such_lab", "")


class Response:
    def __init__(self, body: bytes, headers: dict | None = None):
        self.body, self.headers = body, headers or {}

    def read(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeGitHub(github.GitHub):
    """An organisation as GitHub's REST API answers for it, in memory. `repos`: name → {"activity":
    [...], "files": {commit: notebook bytes}, "issues": [...]}; `failures`: path → HTTP statuses
    (or (status, headers)) answered before the real answer. Every request and sleep is recorded."""

    def __init__(self, repos: dict, failures: dict | None = None, org: str = "course-org"):
        self.slept, self.calls = [], []
        super().__init__(token="test", sleep=self.slept.append, clock=lambda: 1_000_000.0)
        self.repos, self.failures, self.org = repos, failures or {}, org

    def open(self, request):
        url = urllib.parse.urlsplit(request.full_url)
        query = dict(urllib.parse.parse_qsl(url.query))
        method, path = request.get_method(), url.path
        self.calls.append((method, path))
        if self.failures.get(path):
            status, headers = (lambda f: f if isinstance(f, tuple) else (f, {}))(self.failures[path].pop(0))
            raise urllib.error.HTTPError(request.full_url, status, "recorded failure", headers, None)
        if path == f"/orgs/{self.org}/repos":
            return self.json([{"name": name} for name in self.repos])
        parts = path.split("/")  # "", "repos", org, name, ...
        repo = self.repos.get(parts[3]) if len(parts) > 3 and parts[2] == self.org else None
        if repo is None:
            raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)
        rest = parts[4:]
        if not rest:
            return self.json({"default_branch": "main"})
        if rest == ["activity"]:
            return self.json(repo.get("activity", []))
        if rest[0] == "contents":
            if query["ref"] not in repo.get("files", {}):
                raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)
            return Response(repo["files"][query["ref"]])
        issues = repo.setdefault("issues", [])
        data = json.loads(request.data) if request.data else None
        if method == "POST":
            issues.append({"number": len(issues) + 1, **data})
            return self.json(issues[-1])
        if method == "PATCH":
            issues[int(rest[1]) - 1].update(data)
            return self.json(issues[int(rest[1]) - 1])
        return self.json(issues)

    @staticmethod
    def json(value) -> Response:
        return Response(json.dumps(value).encode(), {"Link": ""})


PLAN_COMMAND = github.plan_command
LAB_DUE = datetime(2026, 12, 18, 23, 59, tzinfo=timezone.utc)
AFTER_DUE = LAB_DUE + timedelta(hours=1)


def write_roster(path: Path, rows: list[str], header: str = "id,first_name,last_name,email,github,due_imdb_sentiment") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def run_plan(tmp_path, monkeypatch, api, *args, seed="42", token="test-token", now=AFTER_DUE):
    """The plan job's command: (exit status, GITHUB_OUTPUT lines, plan.json, stderr, job summary)."""
    monkeypatch.setenv("SEED_TO_CHECK", seed)
    monkeypatch.setenv("GH_TOKEN", token)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.chdir(tmp_path)
    parser_args = ["plan", "--org", "course-org", "--roster", str(tmp_path / "roster.csv"), *args]
    monkeypatch.setattr(github, "plan_command", functools.partial(PLAN_COMMAND, api=api, now=now))
    output, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
        status = github.main(parser_args)
    lines = dict(line.split("=", 1) for line in output.getvalue().splitlines() if "=" in line)
    plan = json.loads((tmp_path / "plan.json").read_text()) if status == 0 else None
    summary = (tmp_path / "summary.md").read_text() if (tmp_path / "summary.md").exists() else ""
    return status, lines, plan, errors.getvalue(), summary


def test_the_roster_says_who_is_graded_and_what_is_off_it_is_reported(tmp_path, monkeypatch):
    """`<lab>-solutions` is no student; a roster login without a repository gets a row with a note."""
    write_roster(tmp_path / "roster.csv", ["s001,Ada,L,ada@x,ada,", "s002,Ben,M,ben@x,@Ben-2,", "s003,Zoe,N,zoe@x,zoe,"])
    api = FakeGitHub({name: {} for name in ("imdb_sentiment", "imdb_sentiment-ada", "imdb_sentiment-ben-2",
                                             "imdb_sentiment-solutions", "imdb_sentiment-eve", "multiclass_softmax-zoe")})
    status, lines, plan, errors, summary = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch",
                                                    "--assignment", ASSIGNMENT)
    assert status == 0, errors
    assert [(s["id"], s["login"]) for s in plan["students"]] == [("s001", "ada"), ("s002", "Ben-2")]
    assert plan["notes"] == {"s003": "no repository imdb_sentiment-zoe in the organisation: nothing to grade"}
    assert plan["stray"] == ["imdb_sentiment-eve", "imdb_sentiment-solutions"]
    assert "imdb_sentiment-solutions is not graded" in errors and "s003: no repository" in errors
    assert "Repositories of no student on the roster" in summary and lines["count"] == "2"
    assert json.loads(lines["chunks"]) == [{"job": 1, "names": "ada", "students": [plan["students"][0]]},
                                           {"job": 2, "names": "Ben-2", "students": [plan["students"][1]]}]

    status, _, _, errors, _ = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch",
                                       "--assignment", ASSIGNMENT, "--students", "ada, nobody-here")
    assert status == 1 and "Not on the roster: nobody-here" in errors


def test_plan_stops_before_grading_when_a_secret_or_setting_is_missing(tmp_path, monkeypatch):
    write_roster(tmp_path / "roster.csv", ["s001,Ada,L,ada@x,ada,"])
    api = FakeGitHub({"imdb_sentiment-ada": {}})
    status, lines, _, errors, summary = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch",
                                                 "--assignment", ASSIGNMENT, seed="", token="")
    assert status == 1 and "chunks" not in lines and api.calls == [], "nothing graded, GitHub not even asked"
    assert "COURSE_CHECK_SEED is empty (an unset GitHub secret arrives as an empty string)" in errors
    assert "The secret COURSE_GITHUB_TOKEN is not set" in errors and "Grading not started" in summary
    status, _, _, errors, _ = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch",
                                       "--assignment", ASSIGNMENT, seed="s3cret-seed")
    assert status == 1 and "COURSE_CHECK_SEED is not an integer" in errors and "s3cret-seed" not in errors

    (tmp_path / "roster.csv").write_text("id,first_name,last_name,email\ns001,Ada,L,ada@x\n")
    status, _, _, errors, _ = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch", "--assignment", ASSIGNMENT)
    assert status == 1 and "needs the columns id and github" in errors
    write_roster(tmp_path / "roster.csv", ["s001,Ada,L,ada@x,ada,", "s002,Ada,L,ada@y,ADA,next week"])
    status, _, _, errors, _ = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch", "--assignment", ASSIGNMENT)
    assert "%0A  line 3: github ada is already on line 2" in errors and "'next week' is not a date" in errors

    write_roster(tmp_path / "roster.csv", ["s001,Ada,L,ada@x,ada,"])
    api.failures["/orgs/course-org/repos"] = [401]
    status, _, _, errors, _ = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch", "--assignment", ASSIGNMENT)
    assert status == 1 and "HTTP 401" in errors and "COURSE_GITHUB_TOKEN is valid" in errors


def test_plan_needs_only_the_standard_library_and_course_config_names_a_bad_seed(tmp_path):
    env = {"PATH": PLAIN_PATH, **CHECKOUT, "SEED_TO_CHECK": "", "GH_TOKEN": "", "COURSE_GITHUB_ORG": ""}
    plan = subprocess.run([sys.executable, "-S", "-m", "autograder.platforms.github", "plan", "--event", "schedule",
                           "--schedule", "29 0 19 12 *", "--roster", str(tmp_path / "none.csv")],
                          env=env, cwd=tmp_path, capture_output=True, text=True)
    assert plan.returncode == 1 and "Traceback" not in plan.stderr, plan.stderr
    assert all(w in plan.stderr for w in ("COURSE_CHECK_SEED is empty", "COURSE_GITHUB_TOKEN", "COURSE_GITHUB_ORG", "No roster"))
    grading = subprocess.run([sys.executable, "-c", "import course_config"], env={**env, "COURSE_CHECK_SEED": " "},
                             cwd=tmp_path, capture_output=True, text=True)
    assert grading.returncode == 1 and "Traceback" not in grading.stderr
    assert "COURSE_CHECK_SEED is empty" in grading.stderr


def test_own_deadlines_from_the_roster_and_from_a_manual_run(tmp_path, monkeypatch):
    write_roster(tmp_path / "roster.csv", ["s001,Ada,L,ada@x,ada,2026-12-21T12:00:00Z", "s002,Ben,M,ben@x,ben,"])
    api = FakeGitHub({"imdb_sentiment-ada": {}, "imdb_sentiment-ben": {}})
    status, lines, plan, _, summary = run_plan(tmp_path, monkeypatch, api, "--event", "schedule", "--schedule", "29 0 19 12 *")
    assert status == 0 and [s["login"] for s in plan["students"]] == ["ben"]
    assert plan["notes"] == {"s001": "deadline 2026-12-21T12:00:00+00:00 not reached: grade later (students input: ada)"}
    status, _, plan, _, summary = run_plan(tmp_path, monkeypatch, api, "--event", "schedule", "--schedule", "29 0 19 12 *",
                                           now=datetime(2026, 12, 22, tzinfo=timezone.utc))
    assert [(s["login"], s["deadline"]) for s in plan["students"]] == [
        ("ada", "2026-12-21T12:00:00+00:00"), ("ben", "2026-12-18T23:59:00+00:00")]
    assert "Own deadlines: ada (2026-12-21T12:00:00+00:00)" in summary
    # A manual run for one student with a deadline: an extension for that student alone.
    status, lines, plan, _, _ = run_plan(tmp_path, monkeypatch, api, "--event", "workflow_dispatch", "--assignment",
                                         ASSIGNMENT, "--students", "ben", "--deadline", "2026-12-20T08:00:00Z",
                                         now=datetime(2026, 12, 22, tzinfo=timezone.utc))
    assert plan["students"] == [{"id": "s002", "login": "ben", "deadline": "2026-12-20T08:00:00+00:00"}]
    assert lines["deadline"] == "2026-12-18T23:59:00+00:00" and plan["notes"] == {}


def test_300_students_fill_at_most_256_jobs_each_graded_once():
    for count in (0, 1, 255, 256, 257, 300, 1000):
        students = [github_plan.Student(f"s{i:04}", f"login{i}", "2026-12-18T23:59:00+00:00") for i in range(count)]
        matrix = github_plan.chunks(students)
        graded = [s["id"] for job in matrix for s in job["students"]]
        assert len(matrix) <= 256 and sorted(graded) == sorted(s.id for s in students) and len(set(graded)) == count
        assert len({job["job"] for job in matrix}) == len(matrix), "artifact names results-<job> stay unique"
        if count:
            assert max(len(job["students"]) for job in matrix) == -(-count // 256)
    assert len(github_plan.chunks(students[:300])) == 150


# --- GitHub's API: retries --------------------------------------------------------------------------

def test_server_errors_and_rate_limits_are_retried_with_backoff():
    api = FakeGitHub({"imdb_sentiment-ada": {}}, failures={"/repos/course-org/imdb_sentiment-ada": [502]})
    assert api.get("/repos/course-org/imdb_sentiment-ada") == {"default_branch": "main"}
    assert api.slept == [1.0] and len(api.calls) == 2
    api.failures["/repos/course-org/imdb_sentiment-ada"] = [
        (429, {"Retry-After": "7"}), (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000030"}),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1009999"}), 503]
    assert api.get("/repos/course-org/imdb_sentiment-ada")["default_branch"] == "main"
    assert api.slept == [1.0, 7.0, 31.0, github_api.MAX_WAIT_S, 8.0], "retry-after, the reset (capped), backoff"
    api.slept.clear()
    api.failures["/repos/course-org/imdb_sentiment-ada"] = [500] * 5
    with pytest.raises(github.GitHubError, match="HTTP 500"):
        api.get("/repos/course-org/imdb_sentiment-ada")
    assert api.slept == [1.0, 2.0, 4.0, 8.0]
    api.failures["/repos/course-org/imdb_sentiment-ada"] = [(403, {"X-RateLimit-Remaining": "12"})]
    with pytest.raises(github.GitHubError, match="HTTP 403"):  # forbidden, not rate limited: no retry
        api.get("/repos/course-org/imdb_sentiment-ada")
    assert len(api.slept) == 4


# --- fetch: pushed nothing, could not fetch ---------------------------------------------------------

PUSHES = [  # newest first, as the activity API answers
    {"ref": "refs/heads/main", "activity_type": "push", "timestamp": "2026-12-19T00:10:00Z", "after": "late"},
    {"ref": "refs/heads/main", "activity_type": "pr_merge", "timestamp": "2026-12-18T23:50:00Z", "after": "last"},
    {"ref": "refs/heads/main", "activity_type": "branch_creation", "timestamp": "2026-12-18T23:51:00Z", "after": "x"},
    {"ref": "refs/heads/draft", "activity_type": "push", "timestamp": "2026-12-18T23:55:00Z", "after": "branch"},
    {"ref": "refs/heads/main", "activity_type": "push", "timestamp": "2026-12-18T10:00:00Z", "after": "early"},
]
DEADLINE = LAB_DUE


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


class PagedGitHub(FakeGitHub):
    """The activity listing in two pages linked by a cursor."""

    def page(self, url):
        if "/activity?" not in url:
            return super().page(url)
        return (PUSHES[:2], url + "&after=cursor") if "after=cursor" not in url else (PUSHES[2:], None)


def test_fetch_writes_the_notebook_and_its_push_time(tmp_path):
    api = PagedGitHub({"imdb_sentiment-ada": {"files": {"last": b'{"cells": []}'}}})
    out = tmp_path / "ada" / "submission"
    path = github.fetch(api, "course-org", ASSIGNMENT, "ada", DEADLINE, out)
    assert path.read_bytes() == b'{"cells": []}'
    assert (out / "timestamp.txt").read_text() == "2026-12-18 23:50:00.000000 UTC"
    assert "course-org/imdb_sentiment-ada@last" in (tmp_path / "ada" / "commit.txt").read_text()
    with pytest.raises(github.NotSubmitted, match="no push to main"):
        github.fetch(api, "course-org", ASSIGNMENT, "ada", datetime(2026, 1, 1, tzinfo=timezone.utc), tmp_path / "none")


def test_a_matrix_job_fetches_its_students_and_records_what_went_wrong(tmp_path, capsys):
    """ada: fetched after a 502; ben: pushed nothing; cy: GitHub failed every time; dan: pushed, but
    no notebook; eve: an extension, so her push after the lab's deadline counts."""
    late = [{**PUSHES[0], "timestamp": "2026-12-20T10:00:00Z"}]
    api = FakeGitHub({"imdb_sentiment-ada": {"activity": PUSHES, "files": {"last": b"{}"}},
                      "imdb_sentiment-ben": {"activity": PUSHES[:1]},
                      "imdb_sentiment-cy": {"activity": PUSHES},
                      "imdb_sentiment-dan": {"activity": PUSHES, "files": {}},
                      "imdb_sentiment-eve": {"activity": late, "files": {"late": b"{}"}}},
                     failures={"/repos/course-org/imdb_sentiment-ada/activity": [502],
                               "/repos/course-org/imdb_sentiment-cy": [500] * 5})
    chunk = [{"id": f"s-{login}", "login": login, "deadline": DEADLINE.isoformat()} for login in ("ada", "ben", "cy", "dan")]
    chunk.append({"id": "s-eve", "login": "eve", "deadline": "2026-12-21T00:00:00+00:00"})
    assert github.fetch_chunk(api, "course-org", ASSIGNMENT, chunk, tmp_path) == ["cy"]
    assert (tmp_path / "s-ada" / "submission" / f"{ASSIGNMENT}.ipynb").is_file()
    assert (tmp_path / "s-eve" / "submission" / f"{ASSIGNMENT}.ipynb").is_file()
    assert "no push to main" in (tmp_path / "s-ben" / github.NOT_SUBMITTED).read_text()
    assert "has no imdb_sentiment.ipynb" in (tmp_path / "s-dan" / github.NOT_SUBMITTED).read_text()
    assert "HTTP 500" in (tmp_path / "s-cy" / github.FETCH_ERROR).read_text()
    assert not (tmp_path / "s-cy" / github.NOT_SUBMITTED).exists() and not (tmp_path / "s-ben" / github.FETCH_ERROR).exists()
    assert "::error title=Could not fetch cy::" in capsys.readouterr().out
    assert {(f / "login.txt").read_text().strip() for f in tmp_path.iterdir()} == {"ada", "ben", "cy", "dan", "eve"}


def test_gather_tells_pushed_nothing_from_could_not_fetch(tmp_path, monkeypatch):
    """Every student of the plan gets a row: 0 with a note saying why; those a rerun can help are
    listed; an own deadline becomes nbgrader's extension."""
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_course import Course
    from autograder.platforms.github_gather import gather

    results = tmp_path / "results"
    for student, marker, text in (("s-ben", github.NOT_SUBMITTED, "no push to main"),
                                  ("s-cy", github.FETCH_ERROR, "GET /repos/course-org/imdb_sentiment-cy: HTTP 500")):
        (results / student).mkdir(parents=True)
        (results / student / "login.txt").write_text(student.removeprefix("s-"))
        (results / student / marker).write_text(text)
    plan = {"assignment": ASSIGNMENT, "deadline": DEADLINE.isoformat(), "stray": [],
            "students": [{"id": "s-ben", "login": "ben", "deadline": "2026-12-20T23:59:00+00:00"},
                         {"id": "s-cy", "login": "cy", "deadline": DEADLINE.isoformat()},
                         {"id": "s-eve", "login": "eve", "deadline": DEADLINE.isoformat()}],  # her job uploaded nothing
            "notes": {"s-zoe": "no repository imdb_sentiment-zoe in the organisation: nothing to grade"}}
    (results / github.PLAN_FILE).write_text(json.dumps(plan))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    course_root = tmp_path / "course"
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, course_root / course_config.SOURCE_DIR)
    course = Course(course_root)
    gather(course, ASSIGNMENT, results, tmp_path / "no-roster.csv", course_root / "export")

    grades = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader((course_root / "export" / "grades.csv").open())}
    assert grades == {"s-ben": 0.0, "s-cy": 0.0, "s-eve": 0.0, "s-zoe": 0.0}
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        notes = {}
        for student in grades:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            notes[student] = {c.auto_comment for nb in submission.notebooks for c in nb.comments}
            assert all(nb.flagged for nb in submission.notebooks)
        assert gradebook.find_submission(ASSIGNMENT, "s-ben").extension == timedelta(days=2)
    assert notes["s-ben"] == {"Not graded: nothing submitted: no push to main."}
    assert notes["s-cy"] == {"Not graded: could not fetch from GitHub (GET /repos/course-org/imdb_sentiment-cy: HTTP 500): rerun."}
    assert "left no results" in notes["s-eve"].pop() and "no repository" in notes["s-zoe"].pop()
    assert (course_root / "export" / "rerun.txt").read_text() == "cy\neve\n"
    summary = (tmp_path / "summary.md").read_text()
    assert "0 graded, 4 not graded" in summary and "students = `cy, eve`" in summary
    students = json.loads((course_root / "export" / "github.json").read_text())["students"]
    assert students["s-cy"]["login"] == "cy" and students["s-zoe"]["note"].startswith("no repository")


def test_nbgrader_imports_the_roster_with_its_github_columns(tmp_path):
    """One roster for nbgrader and GitHub: `nbgrader db student import` skips the columns it does not know."""
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_course import Course

    roster = write_roster(tmp_path / "roster.csv", ["s001,Ada,Lovelace,ada@x,ada,2026-12-21T12:00:00Z"])
    (tmp_path / "course").mkdir()
    course = Course(tmp_path / "course")
    course.nbgrader("db", "student", "import", str(roster))
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        (student,) = gradebook.students
        assert (student.id, student.first_name, student.email) == ("s001", "Ada", "ada@x")


# --- feedback in the student's repository ----------------------------------------------------------

def results_json(score: float) -> dict:
    tests = [("test_decode", 2, "visible", "passed", ""), ("test_vectorize", 2, "after_due_date", "failed", "expected uint8"),
             ("test_secret_inputs", 3, "hidden", "failed", "SECRET-HIDDEN-MESSAGE"),
             ("test_published_later", 1, "after_published", "passed", "LATER-MESSAGE")]
    return {"score": score, "max_score": 8, "output": "Notebook execution: completed.", "visibility": "visible",
            "tests": [{"name": f"{n} description", "number": n, "score": p if s == "passed" else 0, "max_score": p,
                       "status": s, "output": o, "visibility": v} for n, p, v, s, o in tests]}


def test_feedback_delivered_twice_updates_one_issue(tmp_path):
    export = tmp_path / "export"
    (export / "gradescope" / ASSIGNMENT / "s-ada").mkdir(parents=True)
    (export / "github.json").write_text(json.dumps({"assignment": ASSIGNMENT, "students": {
        "s-ada": {"login": "ada", "note": ""}, "s-ben": {"login": "ben", "note": "nothing submitted: no push to main"},
        "s-zoe": {"login": "zoe", "note": "no repository imdb_sentiment-zoe in the organisation: nothing to grade"}}}))
    report = export / "gradescope" / ASSIGNMENT / "s-ada" / "results.json"
    other = {"number": 1, "title": "Question", "body": "help", "pull_request": None}
    api = FakeGitHub({"imdb_sentiment-ada": {"issues": [other]}, "imdb_sentiment-ben": {}})
    for score in (3, 4):
        report.write_text(json.dumps(results_json(score)))
        assert github_feedback.deliver_all(api, "course-org", export) == 0
    ada, ben = api.repos["imdb_sentiment-ada"]["issues"], api.repos["imdb_sentiment-ben"]["issues"]
    assert len(ada) == 2 and ada[0] == other and len(ben) == 1, "one issue each, edited on the rerun"
    assert [c for c in api.calls if c[0] != "GET"] == [
        ("POST", "/repos/course-org/imdb_sentiment-ada/issues"), ("POST", "/repos/course-org/imdb_sentiment-ben/issues"),
        ("PATCH", "/repos/course-org/imdb_sentiment-ada/issues/2"), ("PATCH", "/repos/course-org/imdb_sentiment-ben/issues/1")]
    body = ada[1]["body"]
    assert ada[1]["title"] == "Grade: imdb_sentiment" and "expected uint8" in body and "test_decode description" in body
    assert "Score of the checks shown: 2 / 4" in body and "2 more checks are shown when grades are published" in body
    assert "SECRET" not in body and "test_secret_inputs" not in body and "LATER" not in body
    assert "Not graded: nothing submitted" in ben[0]["body"]
    published = github_feedback.issue_body(ASSIGNMENT, results_json(4), published=True)
    assert "LATER-MESSAGE" in published and "SECRET" not in published
    mentioning = results_json(4)
    mentioning["tests"][0]["output"] = "ValueError: ask @octocat"
    assert "@octocat" not in github_feedback.issue_body(ASSIGNMENT, mentioning), "no one is notified by a message"


# --- the matrix job's grading command, then the gather job ----------------------------------------

def grading_command() -> str:
    (step,) = [s for s in yaml.safe_load(github.render_grading_workflow())["jobs"]["grade"]["steps"]
               if s.get("name") == "Grade"]
    return step["run"]


def test_matrix_jobs_then_gather_give_nbgrader_grades(tiny_data, tmp_path):
    """One matrix job's grading command on its students' folders (in a workspace holding the
    grader's venv; privileges as the test runs, not sudo), then `course gather` on their results."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / ".venv").symlink_to(BIN.parent)
    for student, kind in {"ada": "reference", "ben": "blank", "cy": "reference"}.items():
        folder = workspace / ("results" if student != "cy" else "lost") / student / "submission"
        folder.mkdir(parents=True)
        nbformat.write(make_sample(ASSIGNMENT, kind), folder / f"{ASSIGNMENT}.ipynb")
        (folder / "timestamp.txt").write_text("2026-12-18 23:50:00.000000 UTC")
    (workspace / "results" / "dan").mkdir()  # dan pushed nothing before the deadline
    (workspace / "results" / "dan" / github.NOT_SUBMITTED).write_text("no push to main before the deadline")
    env = {**os.environ, **CHECKOUT, "PATH": PLAIN_PATH, "ASSIGNMENT": ASSIGNMENT, "AS_ROOT": ""}
    job = subprocess.run(["bash", "-e", "-c", grading_command()], cwd=workspace, env=env, capture_output=True, text=True)
    assert job.returncode == 0, job.stderr[-2000:]
    assert not (workspace / "results" / "dan" / "results.json").exists()
    shutil.move(workspace / "lost" / "cy", workspace / "results" / "cy")  # cy's job never finished: no results
    planned = [{"id": s, "login": s, "deadline": "2026-12-18T23:59:00+00:00"} for s in ("ada", "ben", "cy", "dan")]
    planned[0]["deadline"] = "2026-12-19T23:59:00+00:00"  # ada has a day more
    (workspace / "results" / github.PLAN_FILE).write_text(json.dumps({"students": planned, "notes": {}}))
    results = {s: json.loads((workspace / "results" / s / "results.json").read_text()) for s in ("ada", "ben")}
    points = {spec.name: spec.points for spec in load_lab(ASSIGNMENT).checks}
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
    assert (course_root / "export" / "rerun.txt").read_text() == ""
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_course import Course

    with Gradebook(Course(course_root).db_url, course_config.COURSE_ID) as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, "ada").extension == timedelta(days=1)
    feedback = course_root / course_config.FEEDBACK_DIR / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert feedback.is_file() and "BEGIN HIDDEN TESTS" not in feedback.read_text()


def test_gather_trusts_only_the_graders_table_of_checks(tmp_path):
    """A job's report gives scores only: points and cells are the grader's, scores are clamped,
    unknown checks are ignored, and an unreadable report is a zero with a note."""
    from autograder.course.nbgrader_grading import read_precomputed

    specs = load_lab(ASSIGNMENT).checks
    blank = make_sample(ASSIGNMENT, "blank")
    (tmp_path / "results.json").write_text(json.dumps({
        "output": "Notebook execution: completed.", "execution_time": 12.0,
        "extra_data": {"execution_status": "memory limit", "stopped_by": ["Memory limit"]}, "tests": [
        {"number": specs[0].name, "score": 100, "output": ""},
        {"number": specs[1].name, "score": "lots"},
        {"number": "test_extra_points", "score": 50},
    ]}))
    report, executed = read_precomputed(tmp_path, blank, ASSIGNMENT, ASSIGNMENT)
    assert report.score == specs[0].points and report.max_score == sum(s.points for s in specs)
    # The status is the report's field, not a reading of its text.
    assert (report.execution_status, report.stopped_by, report.ran_whole) == ("memory limit", ["Memory limit"], False)
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
    if os.geteuid() == 0 and namespaces.available():
        assert subprocess.run(["bash", "-c", command], cwd=course_config.ROOT, env={**os.environ, **CHECKOUT}).returncode == 0
