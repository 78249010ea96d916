"""The instructor's cycle, as nbgrader's own commands on a course directory.

    setup → generate → release → (students fetch and submit) → collect → autograde → feedback → export

Every step is safe to rerun: nbgrader's `update_or_create` gradebook calls, `--force` and
`--update` regenerate or replace in place, and the export overwrites its files.
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
from autograder import ci_templates

GRADE_REPORT_KEY = "course_grader"  # notebook metadata holding the grader's report


class NbgraderError(RuntimeError):
    pass


class Course:
    """An nbgrader course directory (by default this repository) and its gradebook."""

    def __init__(self, root: Path = course_config.ROOT, exchange: Path | None = None):
        self.root = Path(root)
        self.db_url = (
            course_config.GRADEBOOK_URL if self.root == course_config.ROOT
            else f"sqlite:///{self.root / 'gradebook.db'}"
        )
        self.exchange = Path(exchange or course_config.EXCHANGE_DIR)

    def path(self, step: str, assignment: str, student: str = ".") -> Path:
        return self.root / step / student / assignment

    def nbgrader(self, *args: str, env: dict | None = None, timeout: float | None = None) -> str:
        """Run one nbgrader command on this course; return its output, raise with it on failure."""
        command = [
            sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={self.root}",
            f"--CourseDirectory.db_url={self.db_url}", f"--Exchange.root={self.exchange}",
        ]
        result = subprocess.run(
            command, cwd=course_config.ROOT, env={**os.environ, **(env or {})},
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise NbgraderError(f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout + result.stderr

    # --- the cycle -------------------------------------------------------------------------------

    def setup(self, roster: Path = course_config.ROSTER_CSV) -> None:
        """Add every lab (with its due date) and the roster's students to the gradebook."""
        for assignment in course_config.ASSIGNMENTS:
            due = course_config.DUE_DATES.get(assignment)
            self.nbgrader("db", "assignment", "add", assignment, *([f"--duedate={due}"] if due else []))
        if not Path(roster).is_file():
            raise FileNotFoundError(f"No roster at {roster}: a CSV with columns id,first_name,last_name,email.")
        self.nbgrader("db", "student", "import", str(roster))

    def generate(self) -> None:
        """Student versions of every lab (nbgrader), plus each lab's CI grading workflow."""
        for assignment in course_config.ASSIGNMENTS:
            self.nbgrader("generate_assignment", assignment, "--force")
            ci_templates.write_workflow(self.path(course_config.RELEASE_DIR, assignment), assignment)

    def release(self, lms_dir: Path | None = None) -> list[Path]:
        """Release every lab to the exchange, and as a zip per lab for courses that use an LMS."""
        zips = []
        lms_dir = Path(lms_dir or self.root / "lms")
        lms_dir.mkdir(parents=True, exist_ok=True)
        for assignment in course_config.ASSIGNMENTS:
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

    def feedback(self, assignment: str) -> None:
        self.nbgrader("generate_feedback", assignment, "--force")

    def export(self, out_dir: Path) -> Path:
        """nbgrader's grades CSV, plus one Gradescope results.json per student and lab."""
        out_dir.mkdir(parents=True, exist_ok=True)
        csv = out_dir / "grades.csv"
        self.nbgrader("export", f"--to={csv}")
        for assignment in course_config.ASSIGNMENTS:
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
