"""Measure the reference solution under the grader's protocol over many seeds.

`python -m autograder calibrate --assignment imdb_sentiment --seeds 30 --out calibration.json`
rebuilds the reference functions from the source notebook exactly as the grader rebuilds a
student's, runs the lab's `train_and_evaluate` once per seed, and writes the accuracies with
their summary; the threshold in course_config.py is set from these figures with a margin.
"""

from __future__ import annotations

import importlib
import json
import statistics
import time
from pathlib import Path

import nbformat

import course_config
from autograder.checkrun import Submission
from autograder.submission import extract_definitions


def calibrate(assignment: str, seeds: int) -> dict:
    source = course_config.ROOT / course_config.SOURCE_DIR / assignment / f"{assignment}.ipynb"
    pieces = [vars(piece) for piece in extract_definitions(nbformat.read(source, as_version=4)).pieces]
    reference = Submission(pieces)
    checks = importlib.import_module(f"autograder.checks.{assignment}")
    data = checks.load_imdb_data()
    accuracies, seconds = [], []
    for seed in range(seeds):
        started = time.monotonic()
        result = checks.train_and_evaluate(reference.function("build_model"), data, seed)
        seconds.append(time.monotonic() - started)
        accuracies.append(result["test_accuracy"])
        print(f"seed {seed:>3}: test accuracy {accuracies[-1]:.4f} ({seconds[-1]:.1f} s)", flush=True)
    return {
        "assignment": assignment,
        "protocol": {"epochs": course_config.IMDB_RETRAIN_EPOCHS, "batch_size": course_config.IMDB_BATCH_SIZE,
                     "threads": course_config.NUM_THREADS},
        "accuracies": accuracies,
        "mean": statistics.mean(accuracies),
        "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "min": min(accuracies),
        "max": max(accuracies),
        "mean_seconds_per_run": statistics.mean(seconds),
    }


def write_calibration(assignment: str, seeds: int, out: Path) -> dict:
    summary = calibrate(assignment, seeds)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"mean {summary['mean']:.4f}, std {summary['std']:.4f}, min {summary['min']:.4f}, "
          f"max {summary['max']:.4f} over {seeds} seeds (threshold now {course_config.IMDB_MIN_TEST_ACCURACY})")
    return summary
