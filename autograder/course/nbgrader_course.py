"""The instructor's cycle, as nbgrader's own commands on a course directory.

    setup → generate → release → (students fetch and submit) → collect → autograde → feedback
    → release-feedback → export

Every step is safe to rerun: nbgrader's `update_or_create` gradebook calls, `--force` and
`--update` regenerate or replace in place, and the export overwrites its files. Each step takes
the labs it works on (default: every lab in course_config.ASSIGNMENTS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

import course_config
from autograder.course import ci_templates

GRADE_REPORT_KEY = "course_grader"  # notebook metadata holding the grader's report


class NbgraderError(RuntimeError):
    pass


def gradebook_url(database: Path) -> str:
    return f"sqlite:///{database}?timeout={course_config.GRADEBOOK_TIMEOUT_S}"


def nbgrader_environment(extra: dict | None = None) -> dict[str, str]:
    """The environment for nbgrader: its gradebook runs `alembic` by name, so this Python's bin
    folder comes first on PATH whether or not a virtual environment is activated."""
    env = {**os.environ, **(extra or {})}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return env


class Course:
    """An nbgrader course directory (by default this repository) and its gradebook."""

    def __init__(self, root: Path = course_config.ROOT, exchange: Path | None = None):
        self.root = Path(root)
        self.db_url = (
            course_config.GRADEBOOK_URL if self.root == course_config.ROOT
            else gradebook_url(self.root / "gradebook.db")
        )
        self.exchange = Path(exchange or os.environ.get("COURSE_EXCHANGE_DIR") or self.root / "exchange")

    def path(self, step: str, assignment: str, student: str = ".") -> Path:
        return self.root / step / student / assignment

    def nbgrader(self, *args: str, env: dict | None = None, timeout: float | None = None) -> str:
        """Run one nbgrader command on this course; return its output, raise with it on failure."""
        command = [
            sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={self.root}",
            f"--CourseDirectory.db_url={self.db_url}", f"--Exchange.root={self.exchange}",
        ]
        result = subprocess.run(command, cwd=course_config.ROOT, env=nbgrader_environment(env),
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise NbgraderError(f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout + result.stderr

    # --- the cycle -------------------------------------------------------------------------------

    def setup(self, roster: Path = course_config.ROSTER_CSV, assignments: list[str] = course_config.ASSIGNMENTS) -> None:
        """Add the labs (with their due dates) and the roster's students to the gradebook, and make
        the exchange folder students submit to."""
        if not Path(roster).is_file():
            raise FileNotFoundError(f"No roster at {roster}: a CSV with columns id,first_name,last_name,email.")
        for assignment in assignments:
            due = course_config.DUE_DATES.get(assignment)
            self.nbgrader("db", "assignment", "add", assignment, *([f"--duedate={due}"] if due else []))
        self.nbgrader("db", "student", "import", str(roster))
        self.make_exchange()
        self.write_student_config()

    def write_student_config(self) -> Path:
        """nbgrader's settings for the students' Jupyter servers (their Assignments tab): copy the
        file to /etc/jupyter/nbgrader_config.py in the single-user image."""
        target = self.root / "build" / "jupyterhub" / "nbgrader_config.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            "# nbgrader settings for students' servers (written by `python -m autograder course setup`).\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {course_config.COURSE_ID!r}\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n"
        )
        return target

    def make_exchange(self) -> Path:
        """nbgrader's exchange: every student writes into it, so a new one is world-writable
        (nbgrader's docs); one that exists keeps the modes its administrator gave it."""
        if not self.exchange.is_dir():
            self.exchange.mkdir(parents=True)
            self.exchange.chmod(0o777)
        return self.exchange

    def generate(self, assignments: list[str] = course_config.ASSIGNMENTS) -> None:
        """Student versions of the labs (nbgrader), with each lab's student files and practice workflow;
        first, the table of graded parts in each source notebook's first cell (graded_parts.py)."""
        for assignment in assignments:
            source = self.path(course_config.SOURCE_DIR, assignment) / f"{assignment}.ipynb"
            if not source.is_file():
                raise FileNotFoundError(f"No source notebook for {assignment} at {source}.")
        # nbgrader's --force removes the old release before it writes the new one: first make sure
        # the gradebook opens (this is where a missing `alembic` or a locked database shows).
        self.nbgrader("db", "assignment", "list")
        from autograder.course.graded_parts import write_graded_parts
        from autograder.course.student_files import write_student_files

        for assignment in assignments:
            write_graded_parts(self.path(course_config.SOURCE_DIR, assignment) / f"{assignment}.ipynb", assignment)
            self.nbgrader("generate_assignment", assignment, "--force")
            release = self.path(course_config.RELEASE_DIR, assignment)
            write_student_files(release, assignment)
            ci_templates.write_workflow(release, assignment)

    def release(self, assignments: list[str] = course_config.ASSIGNMENTS, lms_dir: Path | None = None) -> list[Path]:
        """Release the labs to the exchange, and as a zip per lab for courses that use an LMS."""
        zips = []
        lms_dir = Path(lms_dir or self.root / "lms")
        lms_dir.mkdir(parents=True, exist_ok=True)
        self.make_exchange()
        for assignment in assignments:
            if not self.path(course_config.RELEASE_DIR, assignment).is_dir():
                raise FileNotFoundError(f"{assignment} has no student version yet: run `course generate` first.")
            self.nbgrader("release_assignment", assignment, "--force")
            archive = shutil.make_archive(str(lms_dir / assignment), "zip",
                                          self.path(course_config.RELEASE_DIR, assignment).parent, assignment)
            zips.append(Path(archive))
        return zips

    def collect(self, assignment: str) -> None:
        """Collect from the exchange, and from an LMS download in downloaded/<lab>/archive if any."""
        if (self.exchange / course_config.COURSE_ID / "inbound").is_dir():
            self.nbgrader("collect", assignment, "--update")
        if (self.root / "downloaded" / assignment / "archive").is_dir():
            self.nbgrader("zip_collect", assignment, "--force")

    def submitted_students(self, assignment: str) -> list[str]:
        folder = self.root / course_config.SUBMITTED_DIR
        return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())

    def needs_grading(self, assignment: str, student: str) -> bool:
        """Not autograded yet, or submitted again since: autograde copies the submission's
        timestamp.txt, so a different one in submitted/ is a newer submission (file times are not
        used: collect keeps the time the student submitted, which may precede the last autograde)."""
        submitted = self.path(course_config.SUBMITTED_DIR, assignment, student) / "timestamp.txt"
        autograded = self.path(course_config.AUTOGRADED_DIR, assignment, student)
        if not autograded.is_dir():
            return True
        graded = autograded / "timestamp.txt"
        if not (submitted.is_file() and graded.is_file()):
            return True  # no way to tell: grade again
        return submitted.read_text().strip() != graded.read_text().strip()

    def feedback(self, assignment: str) -> None:
        self.nbgrader("generate_feedback", assignment, "--force")

    def release_feedback(self, assignment: str) -> None:
        """Put the feedback where students fetch it (`nbgrader fetch_feedback`, or the Assignments tab)."""
        self.make_exchange()
        self.nbgrader("release_feedback", assignment)

    def export(self, out_dir: Path, assignments: list[str] = course_config.ASSIGNMENTS) -> Path:
        """nbgrader's grades CSV, plus one Gradescope results.json per student and lab."""
        out_dir.mkdir(parents=True, exist_ok=True)
        csv = out_dir / "grades.csv"
        chosen = [f"--assignment={a}" for a in assignments] if set(assignments) != set(course_config.ASSIGNMENTS) else []
        self.nbgrader("export", f"--to={csv}", *chosen)
        for assignment in assignments:
            # A student whose last autograde failed has no report: no earlier export's file stays.
            shutil.rmtree(out_dir / "gradescope" / assignment, ignore_errors=True)
            for student, report in self.grade_reports(assignment).items():
                target = out_dir / "gradescope" / assignment / student / "results.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(report, indent=2) + "\n")
        return csv

    def grade_reports(self, assignment: str) -> dict[str, dict]:
        """The grader's report for each autograded student, read from the autograded notebooks."""
        reports = {}
        for notebook in sorted((self.root / course_config.AUTOGRADED_DIR).glob(f"*/{assignment}/*.ipynb")):
            report = nbformat.read(notebook, as_version=4).metadata.get(GRADE_REPORT_KEY)
            if report:
                reports[notebook.parent.parent.name] = report
        return reports
