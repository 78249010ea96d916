"""The plan job of the grading workflow: settings, roster, who is graded by which matrix job.

The roster is nbgrader's CSV (`id,first_name,last_name,email`) with a `github` column (the
student's login) and, for an extension, a `due_<lab>` column; nbgrader's import ignores columns it
does not know. Only the standard library is used, so the plan job needs no installation.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import course_config

GRACE = timedelta(minutes=30)  # the scheduled run starts this long after a due date
MAX_MATRIX_JOBS = 256  # GitHub's limit for one matrix


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


def check_settings(seed: str, token: str, org: str) -> list[str]:
    """What is wrong with the repository's secrets and variables, in words a TA can act on."""
    where = "(Settings → Secrets and variables → Actions)"
    problems = []
    try:
        course_config.parse_seed(seed, 0)
    except SystemExit as error:
        problems.append(str(error))
    if not token.strip():
        problems.append(f"The secret COURSE_GITHUB_TOKEN is not set {where}: a fine-grained token with read "
                        "access to the contents of the organisation's repositories.")
    if not org.strip():
        problems.append(f"The variable COURSE_GITHUB_ORG is not set {where}: the organisation of the "
                        "students' repositories.")
    return problems


# --- the roster ----------------------------------------------------------------------------------

@dataclass
class Student:
    id: str  # nbgrader's student id: the results folder and the gradebook's name
    login: str  # GitHub login
    deadline: str = ""  # ISO 8601; empty: the lab's


def read_roster(path: Path, assignment: str) -> list[Student]:
    """The roster's students, with their own due date for this lab where the roster gives one."""
    if not Path(path).is_file():
        raise ValueError(f"No roster at {path}: a CSV with columns id,first_name,last_name,email,github "
                         "(add it with `git add -f`, or set the variable COURSE_ROSTER to its path).")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    columns = set(rows[0]) if rows else set()
    if not {"id", "github"} <= columns:
        raise ValueError(f"The roster {path} needs the columns id and github (the student's GitHub login); "
                         f"it has: {', '.join(sorted(columns)) or 'no rows'}.")
    students, problems, seen = [], [], {}
    for line, row in enumerate(rows, start=2):
        student = Student(row["id"].strip(), row["github"].strip().removeprefix("@"),
                          (row.get(f"due_{assignment}") or "").strip())
        if not student.id or not student.login:
            problems.append(f"line {line}: id and github must both be filled in")
            continue
        for key in (f"id {student.id}", f"github {student.login.lower()}"):
            if key in seen:
                problems.append(f"line {line}: {key} is already on line {seen[key]}")
            seen[key] = line
        if student.deadline:
            try:
                student.deadline = parse_time(student.deadline).isoformat()
            except ValueError:
                problems.append(f"line {line}: due_{assignment} {student.deadline!r} is not a date (ISO 8601)")
        students.append(student)
    if problems:
        raise ValueError(f"The roster {path} has problems:\n  " + "\n  ".join(problems))
    return students


def repository_name(assignment: str, login: str) -> str:
    return course_config.GITHUB_REPOSITORY_PATTERN.format(assignment=assignment, login=login)


def logins_of(repositories: list[str], assignment: str) -> dict[str, str]:
    """Lowercase login → repository name, for the repositories that follow the naming pattern."""
    prefix, _, suffix = repository_name(assignment, "\0").partition("\0")
    pattern = re.compile(re.escape(prefix) + "(.+)" + re.escape(suffix) + "$", re.IGNORECASE)
    return {m.group(1).lower(): name for name in repositories if (m := pattern.match(name))}


# --- who is graded ---------------------------------------------------------------------------------

@dataclass
class Plan:
    assignment: str
    deadline: str
    students: list[Student] = field(default_factory=list)  # graded by this run
    notes: dict[str, str] = field(default_factory=dict)  # student id → why not graded (0 with this note)
    stray: list[str] = field(default_factory=list)  # repositories of no roster student

    def to_dict(self) -> dict:
        return {"assignment": self.assignment, "deadline": self.deadline, "notes": self.notes,
                "students": [vars(s) for s in self.students], "stray": self.stray}


def plan_students(roster: list[Student], repositories: list[str], assignment: str, deadline: str,
                  chosen: str = "", extension: str = "", now: datetime | None = None) -> Plan:
    """Who this run grades and by when: `chosen` logins (empty: the whole roster), each to its own
    deadline (`extension` for the chosen ones, else the roster's due date, else the lab's). A roster
    student with no repository, or whose deadline is still to come, gets a note instead."""
    now = now or datetime.now(timezone.utc)
    by_login = {s.login.lower(): s for s in roster}
    wanted = list(dict.fromkeys(login.lower().lstrip("@") for login in re.split(r"[\s,]+", chosen) if login))
    unknown = [login for login in wanted if login not in by_login]
    if unknown:
        raise ValueError(f"Not on the roster: {', '.join(unknown)} (the students input takes GitHub logins).")
    repos = logins_of(repositories, assignment)
    result = Plan(assignment, deadline, stray=sorted(name for login, name in repos.items() if login not in by_login))
    for student in [by_login[login] for login in wanted] if wanted else roster:
        due = extension if (wanted and extension) else (student.deadline or deadline)
        due = parse_time(due).isoformat()
        if student.login.lower() not in repos:
            result.notes[student.id] = (f"no repository {repository_name(assignment, student.login)} in the "
                                        "organisation: nothing to grade")
        elif parse_time(due) > now:
            result.notes[student.id] = f"deadline {due} not reached: grade later (students input: {student.login})"
        else:
            result.students.append(Student(student.id, student.login, due))
    return result


def chunks(students: list[Student], max_jobs: int = MAX_MATRIX_JOBS) -> list[dict]:
    """The matrix: at most max_jobs jobs, each grading a few students in turn, every student once."""
    size = max(1, math.ceil(len(students) / max_jobs))
    return [{"job": number, "names": ", ".join(s.login for s in part), "students": [vars(s) for s in part]}
            for number, start in enumerate(range(0, len(students), size), start=1)
            for part in [students[start:start + size]]]


def summary(plan: Plan) -> str:
    """Markdown for the run's page: who is graded, who is not and why, repositories off the roster."""
    lines = [f"## Plan: {plan.assignment}, deadline {plan.deadline}", "",
             f"{len(plan.students)} students graded by this run."]
    extended = [s for s in plan.students if s.deadline != plan.deadline]
    if extended:
        lines += ["", "Own deadlines: " + ", ".join(f"{s.login} ({s.deadline})" for s in extended)]
    if plan.notes:
        lines += ["", "Not graded (0 with a note):"] + [f"- {sid}: {note}" for sid, note in sorted(plan.notes.items())]
    if plan.stray:
        lines += ["", "Repositories of no student on the roster (not graded): " + ", ".join(plan.stray)]
    return "\n".join(lines) + "\n"
