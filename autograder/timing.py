"""Time limits from the reference solution's own times, measured and stored like the thresholds.

`python -m autograder calibrate-timing --assignment NAME` grades the reference notebook and writes
each cell's and each check's seconds to `calibration/<lab>.timing.json`. A cell may take
CELL_LIMIT_FACTOR × its reference time + CELL_LIMIT_EXTRA_S; a cell a student added, the default;
the whole notebook NOTEBOOK_LIMIT_FACTOR × the reference's total + NOTEBOOK_LIMIT_EXTRA_S.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import course_config


@dataclass
class Limits:
    cells: dict[str, float]  # by cell key (kernel.cell_keys)
    default_cell: float
    notebook: float
    # After the notebook: all calls of the student's code together (s), and the grader's own
    # training of the student's models (CPU s of the grader's process).
    calls: float = course_config.CHECKS_TIMEOUT_S
    training_cpu: float = course_config.CHECKS_TIMEOUT_S


def timing_path(assignment: str) -> Path:
    return course_config.ROOT / "calibration" / f"{assignment}.timing.json"


def limits(assignment: str) -> Limits:
    """The lab's limits; without a timing file, the flat limits of course_config."""
    path = timing_path(assignment)
    if not path.is_file():
        return Limits({}, course_config.CELL_TIMEOUT_S, course_config.NOTEBOOK_TIMEOUT_S)
    measured = json.loads(path.read_text())
    cells = {key: course_config.CELL_LIMIT_FACTOR * seconds + course_config.CELL_LIMIT_EXTRA_S
             for key, seconds in measured["cells"].items()}
    total = course_config.NOTEBOOK_LIMIT_FACTOR * measured["notebook_seconds"] + course_config.NOTEBOOK_LIMIT_EXTRA_S
    # The reference's checks (its calls and the grader's training of its models) took `checks` s
    # at one thread: what the reference's own calls or training need is less than that.
    checks = course_config.CHECKS_LIMIT_FACTOR * sum(measured["checks"].values()) + course_config.CHECKS_LIMIT_EXTRA_S
    return Limits(cells, course_config.CELL_LIMIT_EXTRA_S, min(total, course_config.NOTEBOOK_TIMEOUT_S),
                  calls=min(checks, course_config.CHECKS_TIMEOUT_S), training_cpu=min(checks, course_config.CHECKS_TIMEOUT_S))


def measure(assignment: str) -> dict:
    """Grade the reference notebook with the flat limits; its cells' and checks' seconds."""
    from autograder import grader_data
    from autograder.grade import run_submission
    from autograder.samples import make_sample

    grader_data.prepare(assignment)
    flat = Limits({}, course_config.CELL_TIMEOUT_S, course_config.NOTEBOOK_TIMEOUT_S)
    execution, outcomes, _ = run_submission(make_sample(assignment, "reference"), assignment, flat)
    failed = sorted(name for name, outcome in outcomes.items() if not outcome["passed"])
    if execution.status != "completed" or execution.errors or failed:
        raise RuntimeError(f"The reference did not run cleanly: {execution.status}, {execution.errors[:3]}, failed {failed}")
    return {"assignment": assignment, "threads": course_config.NUM_THREADS,
            "cells": {key: round(seconds, 2) for key, seconds in execution.cell_seconds.items()},
            "notebook_seconds": round(execution.seconds, 1),
            "checks": {name: round(outcome["seconds"], 2) for name, outcome in outcomes.items()}}


def write_timing(assignment: str) -> Path:
    path = timing_path(assignment)
    path.write_text(json.dumps(measure(assignment), indent=2) + "\n")
    return path
