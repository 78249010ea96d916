"""Official grading on GitHub's runners, from the instructor's private grader repository.

`python -m autograder course workflow` writes .github/workflows/grade-submissions.yml. At each
lab's deadline (or on demand) it runs:

1. plan: checks the secrets and settings, reads the roster (GitHub login → nbgrader id, own due
   dates), lists the organisation's repositories `<lab>-<login>` (COURSE_GITHUB_REPOSITORY_PATTERN)
   and splits the students into at most 256 matrix jobs (github_plan.py);
2. grade (the matrix, a few students per job, one results folder each): fetch each notebook as it
   was at the student's last push before their deadline (push times are GitHub's, not the commit
   dates a student can set), grade it with the sandbox on (as root, through sudo), upload;
3. gather: nbgrader's own autograde, feedback and export on every job's results, a note in the
   gradebook for each student not graded, and the students to rerun;
4. deliver (opt-in): each student's score and checks as an issue in their repository
   (github_feedback.py).

The tokens are used only by the plan, fetch and deliver steps, never in a step that runs student
code. Plan, fetch and deliver use only the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import course_config
from autograder.platforms import github_plan
from autograder.platforms.github_api import GitHub, GitHubError, next_link  # noqa: F401  (the module's API)
from autograder.platforms.github_plan import parse_time, plan, repository_name, schedule_of

WORKFLOW_PATH = Path(".github") / "workflows" / "grade-submissions.yml"
TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "grade-submissions.yml"
# Activities that move a branch (GitHub's activity_type values; a merged pull request counts).
PUSHES = ("push", "force_push", "pr_merge", "merge_queue_merge")
# What the fetch step leaves in a student's results folder when there is no notebook to grade.
NOT_SUBMITTED, FETCH_ERROR = "not-submitted.txt", "fetch-error.txt"
PLAN_FILE = "plan.json"


class NotSubmitted(Exception):
    """Nothing to grade: no push before the deadline, or no notebook in it."""


def last_push_before(activities: list[dict], deadline: datetime, branch: str) -> dict | None:
    """The latest push to `branch` at or before the deadline, from the repository activity API."""
    pushes = [a for a in activities if a.get("ref") == f"refs/heads/{branch}"
              and a.get("activity_type") in PUSHES and parse_time(a["timestamp"]) <= deadline]
    return max(pushes, key=lambda a: parse_time(a["timestamp"]), default=None)


def fetch(github: GitHub, org: str, assignment: str, login: str, deadline: datetime, out: Path) -> Path:
    """Write `<out>/<lab>.ipynb` and its push time (nbgrader's timestamp.txt), as at the student's
    last push before the deadline; NotSubmitted when there is none."""
    repository = f"{org}/{repository_name(assignment, login)}"
    branch = github.get(f"/repos/{repository}")["default_branch"]
    push = last_push_before(github.pages(f"/repos/{repository}/activity", ref=branch), deadline, branch)
    if push is None:
        raise NotSubmitted(f"no push to {branch} of {repository} before {deadline.isoformat()}")
    try:
        notebook = github.get(f"/repos/{repository}/contents/{assignment}.ipynb", raw=True, ref=push["after"])
    except GitHubError as error:
        if error.status != 404:
            raise
        raise NotSubmitted(f"the last push before the deadline ({push['after'][:10]}) "
                           f"has no {assignment}.ipynb") from None
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{assignment}.ipynb").write_bytes(notebook)
    pushed = parse_time(push["timestamp"]).astimezone(timezone.utc)
    (out / "timestamp.txt").write_text(pushed.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    (out.parent / "commit.txt").write_text(f"{repository}@{push['after']} pushed {push['timestamp']}\n")
    return out / f"{assignment}.ipynb"


def fetch_chunk(github: GitHub, org: str, assignment: str, students: list[dict], results: Path) -> list[str]:
    """Fetch each student of a matrix job into `results/<id>/`; a failure is written there
    (fetch-error.txt) and the others go on. Returns the logins that could not be fetched."""
    failed = []
    for student in students:
        folder = results / student["id"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "student.txt").write_text(student["id"] + "\n")
        (folder / "login.txt").write_text(student["login"] + "\n")
        try:
            print(fetch(github, org, assignment, student["login"], parse_time(student["deadline"]),
                        folder / "submission"))
        except NotSubmitted as nothing:
            (folder / NOT_SUBMITTED).write_text(f"{nothing}\n")
            print(f"{student['login']}: {nothing}")
        except (GitHubError, OSError, ValueError, KeyError) as error:
            (folder / FETCH_ERROR).write_text(f"{error}\n")
            print(f"::error title=Could not fetch {student['login']}::{error}")
            failed.append(student["login"])
    return failed


# --- the workflow ------------------------------------------------------------------------------

def render_grading_workflow() -> str:
    crons = [f'    - cron: "{schedule_of(a)}"  # {a}: due {course_config.DUE_DATES[a]}'
             for a in course_config.ASSIGNMENTS if schedule_of(a)]
    return (TEMPLATE.read_text()
            .replace("{schedules}", "\n".join(crons))
            .replace("{labs}", ", ".join(course_config.ASSIGNMENTS)))


def write_grading_workflow(root: Path) -> Path:
    target = root / WORKFLOW_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_grading_workflow())
    return target


def append_summary(markdown: str) -> None:
    """Add to the run's page ($GITHUB_STEP_SUMMARY) when running on GitHub."""
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(markdown)


# --- the plan job --------------------------------------------------------------------------------

def plan_command(args: argparse.Namespace, api: GitHub | None = None, now: datetime | None = None) -> int:
    """Check the settings, then print the plan as GITHUB_OUTPUT lines and write plan.json."""
    problems = github_plan.check_settings(os.environ.get("SEED_TO_CHECK", ""), os.environ.get("GH_TOKEN", ""), args.org)
    try:
        assignment, deadline = plan(args.event, args.schedule, args.assignment, args.deadline)
        roster = github_plan.read_roster(args.roster, assignment)
    except (SystemExit, ValueError) as error:
        problems.append(str(error))
    if not problems:
        api = api or GitHub()
        try:
            names = [r["name"] for r in api.pages(f"/orgs/{args.org}/repos", type="all")]
            run = github_plan.plan_students(roster, names, assignment, deadline, args.students, args.extension, now)
        except GitHubError as error:
            problems.append(f"GitHub could not list the repositories of {args.org} ({error}): check "
                            "COURSE_GITHUB_ORG and that COURSE_GITHUB_TOKEN is valid, not expired, and can read them.")
        except ValueError as error:
            problems.append(str(error))
    if problems:
        for problem in problems:
            print(f"::error title=Grading not started::{problem.replace(chr(10), '%0A')}", file=sys.stderr)
        append_summary("## Grading not started\n\n" + "".join(f"- {p}\n" for p in problems))
        return 1
    for name in run.stray:
        print(f"::warning title=Not on the roster::{name} is not graded: its login is not on the roster",
              file=sys.stderr)
    for student_id, note in sorted(run.notes.items()):
        print(f"::warning title=Not graded::{student_id}: {note}", file=sys.stderr)
    Path(args.plan_file).write_text(json.dumps(run.to_dict(), indent=1) + "\n")
    append_summary(github_plan.summary(run))
    print(f"assignment={assignment}\ndeadline={deadline}\ncount={len(run.students)}\n"
          f"chunks={json.dumps(github_plan.chunks(run.students))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.platforms.github", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    planning = commands.add_parser("plan", help="check the settings; lab, deadline and matrix (GITHUB_OUTPUT lines)")
    planning.add_argument("--event", required=True)
    planning.add_argument("--schedule", default="")
    planning.add_argument("--assignment", default="")
    planning.add_argument("--deadline", default="", help="the lab's deadline for everyone, or for --students")
    planning.add_argument("--students", default="", help="GitHub logins to grade (commas or spaces); empty: the roster")
    planning.add_argument("--roster", type=Path, default=course_config.ROSTER_CSV)
    planning.add_argument("--plan-file", type=Path, default=Path(PLAN_FILE))
    fetching = commands.add_parser("fetch", help="this matrix job's notebooks ($CHUNK), each at the last push "
                                   "before the student's deadline")
    fetching.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    fetching.add_argument("--out", type=Path, required=True, help="results folder: one folder per student")
    delivering = commands.add_parser("deliver", help="each student's grade as an issue in their repository")
    delivering.add_argument("--export", type=Path, required=True, help="the gather job's export folder")
    delivering.add_argument("--published", action="store_true", help="show checks marked after_published too")
    for command in (planning, fetching, delivering):
        command.add_argument("--org", default=os.environ.get("COURSE_GITHUB_ORG", ""))
    args = parser.parse_args(argv)
    if args.command == "plan":
        # A deadline given with students is an extension for them alone.
        args.extension, args.deadline = (args.deadline, "") if args.students.strip() else ("", args.deadline)
        return plan_command(args)
    if not args.org:
        raise SystemExit("No organisation: set the COURSE_GITHUB_ORG variable (or --org).")
    if args.command == "deliver":
        from autograder.platforms import github_feedback

        return github_feedback.deliver_all(GitHub(), args.org, args.export, args.published)
    if not os.environ.get("CHUNK"):
        raise SystemExit("No students: set CHUNK to the matrix job's students (JSON: id, login, deadline).")
    failed = fetch_chunk(GitHub(), args.org, args.assignment, json.loads(os.environ["CHUNK"]), args.out)
    if failed:
        print(f"Could not fetch {', '.join(failed)}: recorded in their results; gather lists them to rerun.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
