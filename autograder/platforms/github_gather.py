"""The gather job of the GitHub workflow: every matrix job's results into one nbgrader gradebook.

Each student of the plan has a row: graded, or 0 with a note saying why (pushed nothing, could not
be fetched, no repository, job lost). Those a rerun can help are listed in export/rerun.txt.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import course_config
from autograder.course import hand_grades
from autograder.course.nbgrader_course import NbgraderError
from autograder.platforms.github import FETCH_ERROR, NOT_SUBMITTED, PLAN_FILE, append_summary
from autograder.platforms.github_plan import parse_time


def why_not_graded(folder: Path) -> tuple[str, bool]:
    """(note, whether a rerun may help) for a results folder that holds no notebook."""
    if (folder / FETCH_ERROR).is_file():
        return f"could not fetch from GitHub ({(folder / FETCH_ERROR).read_text().strip()}): rerun", True
    if (folder / NOT_SUBMITTED).is_file():
        return f"nothing submitted: {(folder / NOT_SUBMITTED).read_text().strip()}", False
    return "the grading job left no notebook and no record of its fetch: rerun", True


def read_plan(results: Path) -> dict:
    """The plan job's plan.json (students, own deadlines, notes), or an empty plan outside GitHub."""
    path = Path(results) / PLAN_FILE
    return json.loads(path.read_text()) if path.is_file() else {"students": [], "notes": {}}


def add_students(course, assignment: str, students: set[str], deadlines: dict[str, str]) -> None:
    """Every student into the gradebook, and each own deadline later than the lab's as nbgrader's
    extension, so that its late policy counts from the student's deadline."""
    from nbgrader.api import Gradebook

    due = course_config.DUE_DATES.get(assignment)
    later = {student: parse_time(own) - parse_time(due) for student, own in deadlines.items()
             if due and parse_time(own) > parse_time(due)}
    with Gradebook(course.db_url, course_config.COURSE_ID) as gradebook:
        for student in sorted(students):
            gradebook.update_or_create_student(student)
        for student, extension in later.items():
            gradebook.update_or_create_submission(assignment, student, extension=extension)


def gather(course, assignment: str, results: Path, roster: Path, out: Path) -> Path:
    """Every matrix job's results into the gradebook with nbgrader's own autograde (reading the
    grader's reports instead of grading again), then notes, feedback and nbgrader's export."""
    from autograder.course.nbgrader_grading import PRECOMPUTED_RESULTS

    if Path(roster).is_file():
        course.setup(roster, [assignment])
    else:
        due = course_config.DUE_DATES.get(assignment)
        course.nbgrader("db", "assignment", "add", assignment, *([f"--duedate={due}"] if due else []))
    course.generate([assignment])
    planned = read_plan(results)
    folders = {p.name: p for p in sorted(Path(results).iterdir()) if p.is_dir()}  # one per student
    if not folders and not planned["students"] and not planned["notes"]:
        raise FileNotFoundError(f"No grading jobs' results in {results}.")
    logins = {s["id"]: s["login"] for s in planned["students"]}
    logins.update({name: (folder / "login.txt").read_text().strip()
                   for name, folder in folders.items() if (folder / "login.txt").is_file()})
    notes, rerun = dict(planned["notes"]), []
    for student in logins.keys() - folders.keys():  # planned, but its job uploaded nothing
        notes[student] = "its grading job left no results (cancelled, or it failed before uploading): rerun"
        rerun.append(student)
    submitted = [name for name, f in folders.items() if (f / "submission" / f"{assignment}.ipynb").is_file()]
    for name, folder in folders.items():
        if name in submitted:
            target = course.path(course_config.SUBMITTED_DIR, assignment, name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder / "submission", target)
        else:
            notes[name], again = why_not_graded(folder)
            if again:
                rerun.append(name)
    add_students(course, assignment, logins.keys() | folders.keys() | notes.keys(),
                 {s["id"]: s["deadline"] for s in planned["students"]})
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
    for student, note in sorted(notes.items()):
        hand_grades.mark_not_graded(course.db_url, course_config.COURSE_ID, assignment, student, f"Not graded: {note}.")
    grades = course.export(out, [assignment])
    report_students(out, assignment, {**{s: s for s in folders}, **logins}, notes, sorted(rerun))
    return grades


def report_students(out: Path, assignment: str, logins: dict[str, str], notes: dict[str, str],
                    rerun: list[str]) -> None:
    """export/github.json (login and note of each student, for the deliver job), export/rerun.txt
    (logins, for the workflow's students input), and the run's summary."""
    everyone = sorted(logins.keys() | notes.keys())
    students = {s: {"login": logins.get(s, s), "note": notes.get(s, "")} for s in everyone}
    (out / "github.json").write_text(json.dumps({"assignment": assignment, "students": students}, indent=1) + "\n")
    again = [logins.get(s, s) for s in rerun]
    (out / "rerun.txt").write_text("".join(f"{login}\n" for login in again))
    lines = [f"## Gathered: {assignment}", "",
             f"{len(everyone) - len(notes)} graded, {len(notes)} not graded (0 with a note)."]
    lines += [f"- {s}: {note}" for s, note in sorted(notes.items())]
    if again:
        lines += ["", f"To rerun: Run workflow with students = `{', '.join(again)}` (also in export/rerun.txt)."]
        print(f"Rerun these students (could not be fetched or graded): {', '.join(again)}")
    append_summary("\n".join(lines) + "\n")
