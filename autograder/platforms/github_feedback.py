"""Each student's grade and checks, as an issue "Grade: <lab>" in their own repository.

Made from the grader's report (results.json: score, and each check's name, points, result and
message; never a check's code, never the seed). A check is shown as its `visibility` says:
"visible" and "after_due_date" (grading starts after the deadline) always, "after_published" only
once grades are published (--published), "hidden" never. A rerun finds its issue again by a marker
in the body and edits it. Only the standard library is used.
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder.platforms.github_api import GitHub, GitHubError
from autograder.platforms.github_plan import repository_name

SHOWN = {"visible", "after_due_date"}


def quiet(text: object) -> str:
    """Text a submission can influence (a check's message quotes its errors), without @mentions:
    posted with the course's token, `@someone` would notify people outside the student's repository."""
    return str(text).replace("@", "@\u200b")


def marker(assignment: str) -> str:
    return f"<!-- autograder-feedback: {assignment} -->"


def shown(visibility: str | None, published: bool) -> bool:
    return (visibility or "visible") in SHOWN or (published and visibility == "after_published")


def issue_body(assignment: str, report: dict | None, note: str = "", published: bool = False) -> str:
    """Markdown for the student: the score and a table of the checks they may see."""
    lines = [marker(assignment), f"# {assignment}", ""]
    if report is None:
        return "\n".join(lines + [f"Not graded: {note or 'no report'}. Score: 0."]) + "\n"
    tests = report.get("tests", [])
    visible = [t for t in tests if shown(t.get("visibility"), published)]
    if shown(report.get("visibility"), published) and len(visible) == len(tests):
        lines.append(f"**Score: {report.get('score', 0):g} / {report.get('max_score', 0):g}**")
    else:
        lines.append(f"Score of the checks shown: {sum(t.get('score', 0) for t in visible):g} / "
                     f"{sum(t.get('max_score', 0) for t in visible):g}; the total comes when grades are published.")
    if shown(report.get("visibility"), published) and report.get("output"):
        lines += ["", "```", quiet(report["output"]).replace("```", "'''"), "```"]
    lines += ["", "| check | points | result | message |", "| --- | --- | --- | --- |"]
    for test in visible:
        message = quiet(" ".join(str(test.get("output", "")).split())).replace("|", "\\|")
        points = f"{test.get('score', 0):g} / {test.get('max_score', 0):g}"
        lines.append(f"| {test.get('name') or test.get('number')} | {points} | {test.get('status', '')} | {message} |")
    if len(visible) < len(tests):
        lines += ["", f"{len(tests) - len(visible)} more checks are shown when grades are published."]
    return "\n".join(lines) + "\n"


def deliver(github: GitHub, repository: str, assignment: str, body: str) -> int:
    """Create or edit the repository's issue "Grade: <lab>" (found by its marker); its number."""
    title = f"Grade: {assignment}"
    for issue in github.pages(f"/repos/{repository}/issues", state="all"):
        if "pull_request" not in issue and marker(assignment) in (issue.get("body") or ""):
            github.send("PATCH", f"/repos/{repository}/issues/{issue['number']}", {"title": title, "body": body})
            return issue["number"]
    return github.send("POST", f"/repos/{repository}/issues", {"title": title, "body": body})["number"]


def deliver_all(github: GitHub, org: str, export: Path, published: bool = False) -> int:
    """Every student of the gather job's export/github.json; 1 when some could not be reached."""
    gathered = json.loads((Path(export) / "github.json").read_text())
    assignment, failed = gathered["assignment"], []
    for student, entry in sorted(gathered["students"].items()):
        path = Path(export) / "gradescope" / assignment / student / "results.json"
        report = json.loads(path.read_text()) if path.is_file() else None
        repository = f"{org}/{repository_name(assignment, entry['login'])}"
        try:
            number = deliver(github, repository, assignment, issue_body(assignment, report, entry["note"], published))
            print(f"{repository}#{number}")
        except GitHubError as error:
            if report is None and error.status == 404:  # a roster student with no repository
                print(f"{repository}: no such repository, nothing delivered")
                continue
            print(f"::error title=Feedback not delivered::{entry['login']}: {error}")
            failed.append(entry["login"])
    return 1 if failed else 0
