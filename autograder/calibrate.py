"""Measure the reference solution under the grader's protocol over many seeds.

`python -m autograder calibrate --assignment imdb_sentiment --seeds 30 --out calibration/imdb_sentiment.json`
serves the reference functions from a kernel holding the source notebook's definitions, exactly
as a student's kernel serves theirs, runs the lab's `calibration_run` once per seed, and writes the
figures with their summary; the thresholds in course_config.py are set from them with a margin.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

import course_config
from autograder import grader_data
from autograder.checkrun import Submission
from autograder.kernel import KernelSession


def calibrate(assignment: str, seeds: int) -> dict:
    """Each lab's check module says what to measure: `calibration_run(reference, data, seed)`
    returns named figures (test accuracy, overfitting gaps...) from the grader's own runs."""
    source = course_config.ROOT / course_config.SOURCE_DIR / assignment / f"{assignment}.ipynb"
    checks = importlib.import_module(f"autograder.checks.{assignment}")
    data = grader_data.dataset_of(assignment).load()
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
    return {"assignment": assignment, "protocol": checks.PROTOCOL, "threads": course_config.NUM_THREADS,
            "metrics": metrics, "mean_seconds_per_run": statistics.mean(seconds)}


def write_calibration(assignment: str, seeds: int, out: Path) -> dict:
    summary = calibrate(assignment, seeds)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    for name, figures in summary["metrics"].items():
        print(f"{name}: mean {figures['mean']:.4f}, std {figures['std']:.4f}, min {figures['min']:.4f}, "
              f"max {figures['max']:.4f} over {seeds} seeds")
    return summary
