"""Time limits from the reference solution's own CPU time, measured and stored like the thresholds.

`python -m autograder calibrate-timing --assignment NAME` grades the reference notebook and writes
each cell's CPU seconds (its kernel's cgroup), the CPU seconds of the checks' calls of its code and
of the grader's training of its models to `calibration/<lab>.timing.json`, with wall seconds for
sizing. A cell may use CELL_LIMIT_FACTOR × its reference CPU time + CELL_LIMIT_EXTRA_S (a cell a
student added, the extra alone); the whole notebook NOTEBOOK_LIMIT_FACTOR × the reference's total
+ NOTEBOOK_LIMIT_EXTRA_S; the calls and the training after it CHECKS_LIMIT_FACTOR × the
reference's + CHECKS_LIMIT_EXTRA_S each. kernel.py counts them on the kernel's CPU clock, each with
a wall-clock backstop; where CPU time cannot be counted they are wall-clock seconds × speed_factor().
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import course_config

# speed_probe() on the machine that measured calibration/*.timing.json (2-core Debian 12, quiet):
# 0.16-0.26 s over 5 runs, the best of three 0.16-0.18.
PROBE_REFERENCE_S = 0.17
MAX_SPEED_FACTOR = 10.0


@dataclass
class Limits:
    cells: dict[str, float]  # CPU s, by cell key (kernel.cell_keys)
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


def speed_probe() -> float:
    """Seconds of a fixed single-threaded workload (pure Python: no BLAS threads to vary)."""
    started = time.perf_counter()
    sum(i * i % 7 for i in range(2_000_000))
    return time.perf_counter() - started


@functools.lru_cache(maxsize=None)
def speed_factor() -> float:
    """How much slower this machine runs now than the calibration machine did (at least 1): the
    factor of wall-clock limits where CPU time cannot be counted. Measured once per process, when
    its first submission is graded (the best of three runs)."""
    return min(max(1.0, min(speed_probe() for _ in range(3)) / PROBE_REFERENCE_S), MAX_SPEED_FACTOR)


def measure(assignment: str) -> dict:
    """Grade the reference notebook with the flat limits; its cells' and checks' CPU and wall seconds."""
    from autograder import grader_data
    from autograder.grade import run_submission
    from autograder.samples import make_sample

    grader_data.prepare(assignment)
    execution, outcomes, submission = run_submission(make_sample(assignment, "reference"), assignment, flat_limits())
    failed = sorted(name for name, outcome in outcomes.items() if not outcome["passed"])
    if execution.status != "completed" or execution.errors or failed:
        raise RuntimeError(f"The reference did not run cleanly: {execution.status}, {execution.errors[:3]}, failed {failed}")
    if execution.cpu_seconds is None:
        raise RuntimeError("Timing needs the kernel's CPU time: run it as root where cgroups can be made.")
    return {"assignment": assignment, "threads": course_config.NUM_THREADS,
            "cells_cpu": {key: round(seconds, 2) for key, seconds in execution.cell_cpu_seconds.items()},
            "notebook_cpu_seconds": round(execution.cpu_seconds, 1),
            "calls_cpu_seconds": round(submission.calls_used, 1),
            "training_cpu_seconds": round(submission.training_used, 1),
            "cells": {key: round(seconds, 2) for key, seconds in execution.cell_seconds.items()},
            "notebook_seconds": round(execution.seconds, 1),
            "checks": {name: round(outcome["seconds"], 2) for name, outcome in outcomes.items()}}


def write_timing(assignment: str) -> Path:
    path = timing_path(assignment)
    path.write_text(json.dumps(measure(assignment), indent=2) + "\n")
    return path
