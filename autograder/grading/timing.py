"""Time limits from the reference solution's own CPU time, measured and stored like the thresholds.

`python -m autograder calibrate-timing --assignment NAME` (calibrate.py) grades the reference notebook and writes
each cell's CPU seconds (its kernel's cgroup), the CPU seconds of the checks' calls of its code and
of the grader's training of its models to `calibration/<lab>.timing.json`, with wall seconds for
sizing. A cell may use CELL_LIMIT_FACTOR × its reference CPU time + CELL_LIMIT_EXTRA_S (a cell a
student added, the extra alone); the whole notebook NOTEBOOK_LIMIT_FACTOR × the reference's total
+ NOTEBOOK_LIMIT_EXTRA_S; the calls and the training after it CHECKS_LIMIT_FACTOR × the
reference's + CHECKS_LIMIT_EXTRA_S each. kernel/session.py counts them on the kernel's CPU clock, each with
a wall-clock backstop; where CPU time cannot be counted they are wall-clock seconds × kernel/speed.py's factor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import course_config

@dataclass
class Limits:
    cells: dict[str, float]  # CPU s, by cell key (kernel.session.cell_keys)
    default_cell: float
    notebook: float
    # After the notebook: all calls of the student's code together (the kernel's CPU s), and the
    # grader's own training of the student's models (CPU s of the grader's process).
    calls: float = course_config.CHECKS_TIMEOUT_S
    training_cpu: float = course_config.CHECKS_TIMEOUT_S


def timing_path(assignment: str) -> Path:
    return course_config.ROOT / "calibration" / f"{assignment}.timing.json"


def flat_limits() -> Limits:
    return Limits({}, course_config.CELL_TIMEOUT_S, course_config.NOTEBOOK_TIMEOUT_S)


def limits(assignment: str) -> Limits:
    """The lab's limits; without a timing file, the flat limits of course_config."""
    path = timing_path(assignment)
    if not path.is_file():
        return flat_limits()
    measured = json.loads(path.read_text())
    cells = {key: min(course_config.CELL_LIMIT_FACTOR * seconds + course_config.CELL_LIMIT_EXTRA_S,
                      course_config.CELL_TIMEOUT_S) for key, seconds in measured["cells_cpu"].items()}
    total = course_config.NOTEBOOK_LIMIT_FACTOR * measured["notebook_cpu_seconds"] + course_config.NOTEBOOK_LIMIT_EXTRA_S

    def checks(seconds: float) -> float:
        return min(course_config.CHECKS_LIMIT_FACTOR * seconds + course_config.CHECKS_LIMIT_EXTRA_S,
                   course_config.CHECKS_TIMEOUT_S)

    return Limits(cells, course_config.CELL_LIMIT_EXTRA_S, min(total, course_config.NOTEBOOK_TIMEOUT_S),
                  calls=checks(measured["calls_cpu_seconds"]), training_cpu=checks(measured["training_cpu_seconds"]))
