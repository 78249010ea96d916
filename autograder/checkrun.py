"""Child process that runs one lab's hidden checks: `python -m autograder.checkrun REQUEST.json`.

The grader starts it after the student's kernel has finished. It imports pytest, the checks and
the grader's data first; the student's definitions are rebuilt afterwards, inside a fixture, from
the source the grader extracted. Outcomes go back as JSON on a pipe the parent opened (the fd
number is in the request); the parent owns the points table and only reads pass/fail from here.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import json
import os
import signal
import sys
import traceback
import types

import keras
import numpy
import pytest

import course_config
from autograder import sandbox
from autograder.checks import check_module_path

SUBMISSION_FILE_PREFIX = "<notebook cell "


class SubmissionLoadError(Exception):
    """A graded function is missing or could not be rebuilt from the notebook."""


class CheckTimeout(Exception):
    pass


class ProtectedNamespaces:
    """Module and class attributes the checks rely on, put back after every call into student code.

    A student's function may patch numpy, builtins or Keras while it runs (`np.array_equal =
    lambda *a: True`); the grader restores them before it looks at what the function returned.
    """

    def __init__(self):
        self.targets = [builtins, numpy, numpy.random, keras, keras.Model, keras.Sequential,
                        keras.layers.Layer, keras.layers.Dense, keras.optimizers.Optimizer]
        figures = sys.modules.get("autograder.checks.figures")  # loaded by labs whose checks read plots
        if figures:
            self.targets += figures.protected_namespaces()
        self.saved = [dict(vars(target)) for target in self.targets]

    def restore(self) -> None:
        for target, saved in zip(self.targets, self.saved):
            current = vars(target)
            for name in [n for n in current if n not in saved]:
                _set(target, name, None, delete=True)
            for name, value in saved.items():
                if current.get(name, _MISSING) is not value:
                    _set(target, name, value)


_MISSING = object()


def _set(target, name, value, delete=False):
    is_module = isinstance(target, types.ModuleType)
    try:
        if delete and is_module:
            vars(target).pop(name, None)
        elif delete:
            delattr(target, name)
        elif is_module:
            vars(target)[name] = value
        else:
            setattr(target, name, value)
    except (AttributeError, TypeError):
        pass  # read-only slots and the like cannot have been patched either


class Submission:
    """The student's definitions, rebuilt in a module of their own."""

    def __init__(self, pieces: list[dict], protected: ProtectedNamespaces | None = None):
        self.protected = protected or ProtectedNamespaces()
        self.module = types.ModuleType("submission")
        self.module.__dict__["__builtins__"] = __builtins__
        self.problems: list[str] = []
        for piece in pieces:
            try:
                tree = ast.parse(piece["source"])
                ast.increment_lineno(tree, piece["line"] - 1)
                code = compile(tree, f"{SUBMISSION_FILE_PREFIX}{piece['cell']}>", "exec")
                exec(code, self.module.__dict__)
            except Exception as error:  # a failing import or definition costs only what needs it
                self.problems.append(
                    f"Cell {piece['cell']}, line {piece['line']}: {type(error).__name__}: {error}"
                )
        self.protected.restore()  # class bodies and decorators ran student code too

    def function(self, name: str):
        """The student's function, wrapped so that whatever it patches is put back after each call."""
        value = self.module.__dict__.get(name)
        if not callable(value):
            detail = f" ({'; '.join(self.problems)})" if self.problems else ""
            raise SubmissionLoadError(f"Your notebook does not define `{name}`{detail}.")

        @functools.wraps(value)
        def guarded(*args, **kwargs):
            try:
                return value(*args, **kwargs)
            finally:
                self.protected.restore()

        return guarded


def describe_failure(excinfo: pytest.ExceptionInfo) -> str:
    """One line a student can act on, never the hidden check's source."""
    error = excinfo.value
    if isinstance(error, (SubmissionLoadError, CheckTimeout)):
        return str(error)
    if isinstance(error, AssertionError):
        return str(error).split("\nassert ")[0].strip() or "A hidden check failed."
    student_frames = [
        frame for frame in traceback.extract_tb(excinfo.tb)
        if frame.filename.startswith(SUBMISSION_FILE_PREFIX)
    ]
    where = ""
    if student_frames:
        last = student_frames[-1]
        where = f" in `{last.name}` ({last.filename.strip('<>')}, line {last.lineno})"
    if isinstance(error, NotImplementedError) and student_frames:
        return f"`{student_frames[0].name}` is not implemented yet (it raises NotImplementedError)."
    message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return f"{type(error).__name__}{where}: {message}".rstrip(": ")


@contextlib.contextmanager
def time_limit():
    """A time limit per check: student code that loops forever fails only that check."""

    def interrupt(signum, frame):
        raise CheckTimeout(f"This check ran past its {course_config.CHECK_TIMEOUT_S} s limit.")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.alarm(course_config.CHECK_TIMEOUT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class ResultCollector:
    """pytest plugin: one outcome and message per check."""

    def __init__(self):
        self.results: dict[str, dict] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        with time_limit():  # fixtures call student code too (the grader's training run)
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        with time_limit():
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        name = item.originalname or item.name
        if report.when == "call" or report.failed:
            previous = self.results.get(name, {"passed": True})
            passed = previous["passed"] and report.passed
            message = describe_failure(call.excinfo) if call.excinfo else ""
            self.results[name] = {"passed": passed, "message": previous.get("message") or message}


class CheckInputs:
    """What the fixtures in checks/conftest.py hand to the checks."""

    pieces: list[dict] = []
    exports: dict = {}
    submission: Submission | None = None

    @classmethod
    def load_submission(cls) -> Submission:
        """Rebuild the student's code; from here on this process runs as the sandbox user."""
        if cls.submission is None:
            protected = ProtectedNamespaces()
            sandbox.drop_privileges()
            cls.submission = Submission(cls.pieces, protected)
        return cls.submission


def pytest_arguments(assignment: str, checks: list[str] | None = None) -> list[str]:
    """pytest's command line for the lab's checks (all of them, or the ones named)."""
    module = str(check_module_path(assignment))
    targets = [f"{module}::{name}" for name in checks] if checks is not None else [module]
    return [
        *targets, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-c", os.devnull,
        "--rootdir", str(check_module_path(assignment).parent), "-W", "ignore", "--tb=no", "--no-header", "-s",
    ]


def run_checks(assignment: str, pieces: list[dict], exports: dict) -> tuple[dict[str, dict], list[str]]:
    """Run the lab's checks; return each check's outcome and the problems rebuilding the code."""
    collector = ResultCollector()
    CheckInputs.pieces, CheckInputs.exports, CheckInputs.submission = pieces, exports, None
    pytest.main(pytest_arguments(assignment), plugins=[collector])
    problems = CheckInputs.submission.problems if CheckInputs.submission else []
    return collector.results, problems


def main(request_path: str) -> int:
    with open(request_path) as file:
        request = json.load(file)
    result_pipe = os.fdopen(request["result_fd"], "w")
    course_config.CHECK_SEED = request["check_seed"]  # never in the environment student code sees
    results, problems = run_checks(request["assignment"], request["pieces"], request["exports"])
    json.dump({"results": results, "load_problems": problems}, result_pipe)
    result_pipe.close()
    return 0


if __name__ == "__main__":
    # Run the imported module, not this `__main__` copy, so the checks' fixtures see the same state.
    from autograder import checkrun

    sys.exit(checkrun.main(sys.argv[1]))
