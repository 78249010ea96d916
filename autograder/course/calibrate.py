"""Measure the reference solution: its graded figures over many seeds, and its time.

`python -m autograder calibrate --assignment imdb_sentiment --seeds 30 --out calibration/imdb_sentiment.json`
serves the reference functions from a kernel holding the source notebook's definitions, exactly
as a student's kernel serves theirs, runs the lab's `calibration_run` once per seed, and writes the
figures with their summary; the thresholds in each lab's module are set from them with a margin.
`calibrate-timing` grades the reference once and stores its CPU time, from which timing.py
derives the lab's time limits.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

import course_config
from autograder.checks import grader_data, load_lab
from autograder.checks.submission import Submission
from autograder.course.samples import make_sample
from autograder.grading import timing
from autograder.grading.grade import run_submission
from autograder.kernel.session import KernelSession


def calibrate(assignment: str, seeds: int) -> dict:
    """Each lab's check module says what to measure: `calibration_run(reference, data, seed)`
    returns named figures (test accuracy, overfitting gaps...) from the grader's own runs."""
    source = course_config.ROOT / course_config.SOURCE_DIR / assignment / f"{assignment}.ipynb"
    lab = load_lab(assignment)
    checks = lab.module()
    data = None if lab.data is None else grader_data.load(lab.data)
    runs, seconds = [], []
    with tempfile.TemporaryDirectory(prefix="autograder-calibrate-") as folder:
        os.chmod(folder, 0o711)
        with KernelSession(nbformat.read(source, as_version=4), Path(folder)) as kernel:
            reference = Submission(kernel)  # a kernel with the source notebook's definitions
            for seed in range(seeds):
                started = time.monotonic()
                runs.append(checks.calibration_run(reference, data, seed))
                seconds.append(time.monotonic() - started)
                figures = ", ".join(f"{name} {value:.4f}" for name, value in runs[-1].items())
                print(f"seed {seed:>3}: {figures} ({seconds[-1]:.1f} s)", flush=True)
    metrics = {}
    for name in runs[0]:
        values = [run[name] for run in runs]
        metrics[name] = {"values": values, "mean": statistics.mean(values),
                         "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                         "min": min(values), "max": max(values)}
    return {"assignment": assignment, "protocol": lab.protocol, "threads": course_config.NUM_THREADS,
            "metrics": metrics, "mean_seconds_per_run": statistics.mean(seconds)}


def write_calibration(assignment: str, seeds: int, out: Path) -> dict:
    summary = calibrate(assignment, seeds)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    for name, figures in summary["metrics"].items():
        print(f"{name}: mean {figures['mean']:.4f}, std {figures['std']:.4f}, min {figures['min']:.4f}, "
              f"max {figures['max']:.4f} over {seeds} seeds")
    return summary


def measure_timing(assignment: str) -> dict:
    """Grade the reference notebook with the flat limits; its cells' and checks' CPU and wall seconds."""
    lab = load_lab(assignment)
    grader_data.prepare(lab.data)
    execution, outcomes, submission = run_submission(make_sample(assignment, "reference"), lab, timing.flat_limits())
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
    path = timing.timing_path(assignment)
    path.write_text(json.dumps(measure_timing(assignment), indent=2) + "\n")
    return path
