"""Run one lab's hidden checks (pytest, in the grader's process) against a submission's kernel.

The checks reach the notebook only through the `submission` fixture (checks/submission.py). The
grader's process imports TensorFlow, pytest, the checks and the lab's data once, and a batch
worker grades one submission after another with them (`autograder/course/worker.py`).
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from autograder.checks import Lab
from autograder.checks.submission import StudentCodeError, Submission


def describe_failure(excinfo: pytest.ExceptionInfo) -> str:
    """The grader's own words, plus the student's exception type and text; never check internals."""
    error = excinfo.value
    if isinstance(error, StudentCodeError):
        return str(error)
    if isinstance(error, AssertionError):
        return str(error).split("\nassert ")[0].strip()[:600] or "A hidden check failed."
    return f"The check could not be completed ({type(error).__name__})."


class ResultCollector:
    """pytest plugin: one outcome and message per check."""

    def __init__(self):
        self.results: dict[str, dict] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        name = item.originalname or item.name
        previous = self.results.get(name, {"passed": True, "seconds": 0.0})
        seconds = previous["seconds"] + report.duration  # with its fixtures (the grader's training runs)
        if report.when == "call" or report.failed:
            passed = previous["passed"] and report.passed
            message = describe_failure(call.excinfo) if call.excinfo else ""
            previous = {"passed": passed, "message": previous.get("message") or message}
        self.results[name] = {**previous, "seconds": seconds}


class SubmissionPlugin:
    """pytest plugin: the `submission` fixture the lab's checks ask for (and `rng` in conftest.py)."""

    def __init__(self, submission: Submission):
        self._submission = submission

    @pytest.fixture(scope="session")
    def submission(self) -> Submission:
        """The student's notebook, reached only through its kernel."""
        return self._submission


def pytest_arguments(lab: Lab, checks: list[str] | None = None) -> list[str]:
    """pytest's command line for the lab's checks (all of them, or the ones named)."""
    targets = [f"{lab.path}::{name}" for name in checks] if checks is not None else [str(lab.path)]
    return [
        *targets, "-qq", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-c", os.devnull,
        "--rootdir", str(lab.path.parent), "-W", "ignore", "--tb=no", "--no-header",
        "--no-summary", "-s",
    ]


def run_checks(lab: Lab, submission: Submission, checks: list[str] | None = None) -> dict[str, dict]:
    """Run the lab's checks (all, or the ones named) against the submission; return each check's outcome."""
    collector = ResultCollector()
    with contextlib.redirect_stdout(io.StringIO()):  # pytest's progress line is not for the report
        pytest.main(pytest_arguments(lab, checks), plugins=[collector, SubmissionPlugin(submission)])
    return collector.results
