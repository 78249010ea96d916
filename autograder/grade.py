"""Grade one submission: execute → extract definitions → run hidden checks → report.

1. The notebook runs once, in its own kernel, under time limits (`execute.py`). Its outputs and
   plots are kept for feedback; a few values (the training history) are read out as JSON data.
2. The graded functions are rebuilt from the notebook's source (`submission.py`).
3. The hidden checks run in a fresh process the grader starts (`checkrun.py`), on those
   functions and the grader's own data, seeds and imports. The student's kernel is gone by then.
4. Points come from the grader's own table of checks (`checks/__init__.py`); the check process
   only says which checks passed.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat

import course_config
from autograder import grader_data, sandbox
from autograder.checks import read_check_specs
from autograder.execute import execute_notebook, kernel_environment
from autograder.report import CheckResult, GradeReport
from autograder.submission import extract_definitions
from autograder.tamper import find_tampering

MAX_RESULT_BYTES = 1_000_000


def grade_file(path: Path, assignment: str) -> tuple[GradeReport, nbformat.NotebookNode | None]:
    """Grade a notebook file; an unreadable notebook is a zero with a message, not a crash."""
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # JSON or schema errors in a student's file
        report = GradeReport(assignment, path.name, execution_status="not run")
        report.checks = [_zero(spec, "The notebook could not be read.") for spec in read_check_specs(assignment)]
        report.notes.append(f"{path.name} is not a readable notebook: {type(error).__name__}: {error}"[:500])
        return report, None
    return grade_notebook(notebook, assignment, path.name)


def grade_notebook(
    notebook: nbformat.NotebookNode, assignment: str, name: str
) -> tuple[GradeReport, nbformat.NotebookNode]:
    """Grade a notebook; return the report and the executed notebook (outputs kept for feedback)."""
    specs = read_check_specs(assignment)
    sandbox.protect_course_files()
    data_problem = grader_data.prepare(assignment)
    with tempfile.TemporaryDirectory(prefix="autograder-run-") as workdir:
        execution = execute_notebook(copy.deepcopy(notebook), Path(workdir))
    extracted = extract_definitions(notebook)
    outcomes, load_problems, check_note = run_check_process(assignment, extracted.pieces, execution.exports)

    report = GradeReport(assignment, name, execution_status=execution.status,
                         execution_seconds=execution.seconds, peak_memory_gb=round(execution.peak_memory_gb, 2))
    report.tampering = find_tampering(notebook, assignment)
    if not sandbox.available():
        report.notes.append("Not sandboxed: student code ran as the grader's own user, with network (the "
                            "grader is not root, or the sandbox user cannot reach this Python environment).")
    limits_hit = [e for e in execution.errors if not e.startswith("cell ")]
    cell_errors = [e for e in execution.errors if e.startswith("cell ")][:10]
    if data_problem:
        report.notes.append(data_problem)
    report.notes += limits_hit + cell_errors + extracted.problems + load_problems
    if check_note:
        report.notes.append(check_note)
    for spec in specs:
        outcome = outcomes.get(spec.name)
        if outcome is None:
            report.checks.append(_zero(spec, check_note or "This check did not run."))
        elif outcome.get("passed") is True:
            report.checks.append(CheckResult(spec.name, spec.cell, spec.description, spec.points, spec.points))
        else:
            report.checks.append(_zero(spec, str(outcome.get("message", ""))[:500]))
    return report, execution.notebook


def _zero(spec, message: str) -> CheckResult:
    return CheckResult(spec.name, spec.cell, spec.description, spec.points, 0.0, message)


def run_check_process(assignment: str, pieces: list, exports: dict) -> tuple[dict, list[str], str]:
    """Run the checks in a child process; return (outcomes by check name, load problems, note)."""
    read_end, write_end = os.pipe()
    received = bytearray()

    def read_results():
        while chunk := os.read(read_end, 65536):
            if len(received) < MAX_RESULT_BYTES:
                received.extend(chunk)

    with tempfile.TemporaryDirectory(prefix="autograder-checks-") as workdir:
        sandbox.open_workdir(Path(workdir))
        request = Path(workdir) / "request.json"
        request.write_text(json.dumps({
            "assignment": assignment, "result_fd": write_end, "check_seed": course_config.CHECK_SEED,
            "pieces": [vars(piece) for piece in pieces], "exports": exports,
        }))
        os.chmod(request, 0o600)  # read by the check process before it drops to the sandbox user
        log = open(Path(workdir) / "checks.log", "wb")
        process = subprocess.Popen(
            sandbox.no_network_prefix() + [sys.executable, "-m", "autograder.checkrun", str(request)],
            pass_fds=(write_end,), cwd=workdir, env=kernel_environment(Path(workdir)),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        os.close(write_end)
        reader = threading.Thread(target=read_results, daemon=True)
        reader.start()
        note = ""
        with sandbox.MemoryWatch(process.pid) as memory:
            try:
                process.wait(timeout=course_config.CHECKS_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                note = f"The hidden checks ran past their {course_config.CHECKS_TIMEOUT_S} s limit and were stopped."
        if memory.exceeded:
            note = f"The hidden checks used more than {course_config.MEMORY_LIMIT_GB:g} GB and were stopped."
        reader.join(timeout=10)
        os.close(read_end)
        log.close()
        tail = (Path(workdir) / "checks.log").read_bytes()[-2000:].decode(errors="replace")
    try:
        payload = json.loads(bytes(received))
        return payload["results"], payload.get("load_problems", []), note
    except (json.JSONDecodeError, KeyError, TypeError):
        if not note:
            note = f"The hidden checks stopped before reporting (exit status {process.returncode})."
        if os.environ.get("AUTOGRADER_DEBUG"):
            print(tail, file=sys.stderr)
        return {}, [], note
