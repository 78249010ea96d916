"""Numbers the notebooks quote agree with course_config and with the README's measurements."""

from __future__ import annotations

import importlib
import json
import re

import nbformat
import pytest

import course_config
from autograder.samples import notebook_path

README = (course_config.ROOT / "README.md").read_text()
THRESHOLDS = {lab: module.MIN_TEST_ACCURACY for lab in course_config.ASSIGNMENTS
              if hasattr(module := importlib.import_module(f"autograder.checks.{lab}"), "MIN_TEST_ACCURACY")}


def prose(assignment: str) -> str:
    notebook = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def measured(pattern: str, text: str) -> tuple[float, ...]:
    match = re.search(pattern, text.replace("\n", " "))
    assert match, f"no sentence matching {pattern!r}"
    return tuple(float(group) for group in match.groups())


@pytest.mark.parametrize("assignment", THRESHOLDS)
def test_the_quoted_threshold_is_the_graders(assignment):
    (quoted,) = measured(r"threshold \(([0-9.]+)[,;)]", prose(assignment))
    assert quoted == THRESHOLDS[assignment]


def test_the_quoted_memory_peaks_are_the_readmes_measurements():
    """float64, float32 and uint8 peaks of the IMDB notebook, as measured in the README."""
    in_notebook = measured(r"peaked at ([0-9.]+) GB \(([0-9.]+) GB with `float32`; ([0-9.]+) GB with `uint8`\)",
                           prose("imdb_sentiment"))
    float32, float64 = measured(r"keeps float32 matrices needs ([0-9.]+) GB and float64 ([0-9.]+) GB", README)
    (uint8,) = measured(r"with the lab's uint8 matrices, peaks at ([0-9.]+) GB", README)
    assert in_notebook == (float64, float32, uint8)


def test_exact_copies_of_keras_data_are_claimed_only_where_they_are():
    """Offline, the IMDB reviews come in another order with another vocabulary (README, *Data*)."""
    assert "returns exactly what `keras.datasets.imdb" not in prose("imdb_sentiment") + README


def test_the_quoted_l2_test_gain_is_the_calibrated_one():
    """The overfitting lab says why L2's test accuracy is not graded: its calibrated gain."""
    quoted = measured(r"only by ([0-9.]+)-([0-9.]+), too little to grade", prose("overfitting_regularization"))
    metrics = json.loads((course_config.ROOT / "calibration" / "overfitting_regularization.json").read_text())["metrics"]
    gains = [l2 - original for l2, original in zip(metrics["l2_test_accuracy"]["values"],
                                                  metrics["original_test_accuracy"]["values"])]
    assert quoted == (round(min(gains), 3), round(max(gains), 3))
