"""Official grading on GitHub's runners, from the instructor's private grader repository.

`python -m autograder course workflow` writes .github/workflows/grade-submissions.yml. At each
lab's deadline (or on demand) it runs three jobs:

1. plan: the students of the lab, from the organisation's repositories named `<lab>-<login>`
   (GitHub Classroom's naming), and the deadline;
2. grade (a matrix, one job per student): fetch the notebook as it was at the student's last push
   before the deadline (push times are GitHub's, not the commit dates a student can set), grade it
   with the sandbox on (as root, through sudo), upload the results;
3. gather: nbgrader's own autograde, feedback and export on every job's results (course.gather).

The token that reads student repositories is used only by the fetch step (`python -m
autograder.github fetch`), never in a step that runs student code. Only the standard library is
used here, so the plan job needs no installation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import course_config
from autograder import hand_grades
from autograder.course import NbgraderError

API = "https://api.github.com"
WORKFLOW_PATH = Path(".github") / "workflows" / "grade-submissions.yml"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "grade-submissions.yml"
GRACE = timedelta(minutes=30)  # the scheduled run starts this long after a due date
# Activities that move a branch (GitHub's activity_type values; a merged pull request counts).
PUSHES = ("push", "force_push", "pr_merge", "merge_queue_merge")


# --- dates and schedules ---------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """An ISO 8601 time, or nbgrader's "2026-12-18 23:59:00 UTC"; naive times are UTC."""
    parsed = datetime.fromisoformat(text.strip().removesuffix(" UTC").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def schedule_of(assignment: str) -> str | None:
    """Cron line (UTC) of the scheduled run for a lab: GRACE after its due date."""
    due = course_config.DUE_DATES.get(assignment)
    if not due:
        return None
    start = parse_time(due).astimezone(timezone.utc) + GRACE
    return f"{start.minute} {start.hour} {start.day} {start.month} *"


def plan(event: str, schedule: str, assignment: str, deadline: str) -> tuple[str, str]:
    """(lab, deadline) of a run: the lab whose cron line fired, or the one asked for."""
    if event == "schedule":
        labs = [a for a in course_config.ASSIGNMENTS if schedule_of(a) == schedule.strip()]
        if not labs:
            raise SystemExit(f"No lab is scheduled at {schedule!r}: regenerate the workflow.")
        assignment = labs[0]
    if assignment not in course_config.ASSIGNMENTS:
        raise SystemExit(f"Unknown lab {assignment!r}; labs: {', '.join(course_config.ASSIGNMENTS)}")
    due = deadline or course_config.DUE_DATES.get(assignment)
    if not due:
        raise SystemExit(f"{assignment} has no due date in course_config.DUE_DATES: give --deadline.")
    return assignment, parse_time(due).isoformat()


def students_of(repositories: list[str], assignment: str) -> list[str]:
    """Student logins from repository names `<lab>-<login>` (the template `<lab>` itself is not one)."""
    prefix = f"{assignment}-"
    return sorted(name[len(prefix):] for name in repositories if name.startswith(prefix) and len(name) > len(prefix))


def last_push_before(activities: list[dict], deadline: datetime, branch: str) -> dict | None:
    """The latest push to `branch` at or before the deadline, from the repository activity API."""
    pushes = [a for a in activities if a.get("ref") == f"refs/heads/{branch}"
              and a.get("activity_type") in PUSHES and parse_time(a["timestamp"]) <= deadline]
    return max(pushes, key=lambda a: parse_time(a["timestamp"]), default=None)


# --- GitHub's REST API -----------------------------------------------------------------------

class GitHub:
    def __init__(self, token: str | None = None, base: str = API):
        self.token = token or os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
        if not self.token:
            raise SystemExit("No token: set GH_TOKEN (the course's COURSE_CLASSROOM_TOKEN secret).")
        self.base = base

    def get(self, path: str, raw: bool = False, **query) -> bytes | list | dict:
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        body, _ = self._request(url, raw)
        return body if raw else json.loads(body)

    def pages(self, path: str, **query) -> list:
        """Every item of a listing, following the Link header (the activity API pages by cursor)."""
        url, items = f"{self.base}{path}?{urllib.parse.urlencode({'per_page': 100, **query})}", []
        while url:
            batch, url = self.page(url)
            items += batch
        return items

    def page(self, url: str) -> tuple[list, str | None]:
        body, link = self._request(url, raw=False)
        return json.loads(body), next_link(link)

    def _request(self, url: str, raw: bool) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers={
            "Authorization": f"Bearer {self.token}", "X-GitHub-Api-Version": "2022-11-28",
            "Accept": "application/vnd.github.raw" if raw else "application/vnd.github+json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read(), response.headers.get("Link", "")


def next_link(header: str) -> str | None:
    """The rel="next" address of a Link header, or None on the last page."""
    for part in header.split(","):
        address, _, relation = part.partition(";")
        if 'rel="next"' in relation:
            return address.strip().strip("<>")
    return None


def fetch(github: GitHub, org: str, assignment: str, student: str, deadline: datetime, out: Path) -> Path | None:
    """Write `<out>/<lab>.ipynb` and its push time (nbgrader's timestamp.txt), as at the student's
    last push before the deadline; None when there was none."""
    repository = f"{org}/{assignment}-{student}"
    branch = github.get(f"/repos/{repository}")["default_branch"]
    push = last_push_before(github.pages(f"/repos/{repository}/activity", ref=branch), deadline, branch)
    if push is None:
        return None
    notebook = github.get(f"/repos/{repository}/contents/{assignment}.ipynb", raw=True, ref=push["after"])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{assignment}.ipynb").write_bytes(notebook)
    pushed = parse_time(push["timestamp"]).astimezone(timezone.utc)
    (out / "timestamp.txt").write_text(pushed.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    (out.parent / "commit.txt").write_text(f"{repository}@{push['after']} pushed {push['timestamp']}\n")
    return out / f"{assignment}.ipynb"


# --- the workflow and the gather job ---------------------------------------------------------

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


def gather(course, assignment: str, results: Path, roster: Path, out: Path) -> Path:
    """Every matrix job's results into the gradebook with nbgrader's own autograde (reading the
    grader's reports instead of grading again), then feedback and nbgrader's export."""
    from autograder.nbgrader_grading import PRECOMPUTED_RESULTS

    if Path(roster).is_file():
        course.setup(roster, [assignment])
    else:
        due = course_config.DUE_DATES.get(assignment)
        course.nbgrader("db", "assignment", "add", assignment, *([f"--duedate={due}"] if due else []))
    course.generate([assignment])
    folders = sorted(p for p in Path(results).iterdir() if p.is_dir())  # one per job, whatever its end
    if not folders:
        raise FileNotFoundError(f"No grading jobs' results in {results}.")
    submitted = [p.name for p in folders if (p / "submission" / f"{assignment}.ipynb").is_file()]
    for folder in folders:
        if folder.name not in submitted:  # nothing pushed before the deadline, or the fetch failed
            course.nbgrader("db", "student", "add", folder.name)
            continue
        target = course.path(course_config.SUBMITTED_DIR, assignment, folder.name)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder / "submission", target)
    if submitted:
        try:
            course.nbgrader("autograde", assignment, "--force", "--create",
                            env={PRECOMPUTED_RESULTS: str(Path(results).resolve())})
        except NbgraderError:  # nbgrader refused some submissions and graded the others
            refused = [s for s in submitted if not course.path(course_config.AUTOGRADED_DIR, assignment, s).is_dir()]
            if not refused:  # it failed for another reason: say so, do not hide it
                raise
            for student in refused:
                hand_grades.mark_failed(course.db_url, course_config.COURSE_ID, assignment, student,
                                        "nbgrader refused the submission (changed cell metadata or an unreadable file)")
            print(f"nbgrader refused the submissions of {', '.join(refused)}: 0 with a note.")
        course.feedback(assignment)
    return course.export(out, [assignment])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.github", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    planning = commands.add_parser("plan", help="lab, deadline and students of this run (GITHUB_OUTPUT lines)")
    planning.add_argument("--event", required=True)
    planning.add_argument("--schedule", default="")
    planning.add_argument("--assignment", default="")
    planning.add_argument("--deadline", default="")
    planning.add_argument("--org", default=os.environ.get("COURSE_GITHUB_ORG", ""))
    fetching = commands.add_parser("fetch", help="a student's notebook at the last push before the deadline")
    fetching.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    fetching.add_argument("--student", required=True)
    fetching.add_argument("--deadline", required=True)
    fetching.add_argument("--org", default=os.environ.get("COURSE_GITHUB_ORG", ""))
    fetching.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.org:
        raise SystemExit("No organisation: set the COURSE_GITHUB_ORG variable (or --org).")
    github = GitHub()
    if args.command == "plan":
        assignment, deadline = plan(args.event, args.schedule, args.assignment, args.deadline)
        names = [r["name"] for r in github.pages(f"/orgs/{args.org}/repos", type="all")]
        print(f"assignment={assignment}\ndeadline={deadline}\nstudents={json.dumps(students_of(names, assignment))}")
        return 0
    notebook = fetch(github, args.org, args.assignment, args.student, parse_time(args.deadline), args.out)
    print(notebook or f"{args.student} pushed nothing to {args.assignment} before {args.deadline}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
