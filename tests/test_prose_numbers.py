"""Numbers the notebooks quote agree with course_config and with the README's measurements."""

from __future__ import annotations

import json
import re
import statistics

import nbformat
import pytest

import course_config
from autograder.checks import load_lab
from autograder.course.samples import notebook_path

README = (course_config.ROOT / "README.md").read_text()
THRESHOLDS = {lab: load_lab(lab).min_test_accuracy for lab in course_config.ASSIGNMENTS
              if load_lab(lab).min_test_accuracy is not None}


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


def calibrated(assignment: str) -> dict[str, list[float]]:
    metrics = json.loads((course_config.ROOT / "calibration" / f"{assignment}.json").read_text())["metrics"]
    return {name: figures["values"] for name, figures in metrics.items()}


def spread(values) -> tuple[float, float]:
    values = list(values)
    return min(values), max(values)


def quoted_as(quoted: str, value: float) -> bool:
    """`quoted` is `value` written with as many decimals as it shows."""
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    return abs(float(quoted) - value) <= 0.5 * 10**-decimals + 1e-9


def test_the_readmes_calibrated_figures_are_the_calibrations():
    """Every range the README's *Thresholds* section quotes from a calibration, checked against it."""
    imdb, mnist, lab = calibrated("imdb_sentiment"), calibrated("multiclass_softmax"), calibrated("overfitting_regularization")

    def ratio(variant, of="original", key="gap"):
        return spread(v / o for v, o in zip(lab[f"{variant}_{key}"], lab[f"{of}_{key}"]))

    def difference(first, second):
        return spread(a - b for a, b in zip(lab[first], lab[second]))

    def summary(values):
        return (statistics.mean(values), statistics.stdev(values), min(values), max(values))

    figures = {
        r"30 seeds: mean ([0-9.]+), std ([0-9.]+), min ([0-9.]+), max ([0-9.]+)": summary(imdb["test_accuracy"]),
        r"20 seeds: mean ([0-9.]+), std ([0-9.]+), min ([0-9.]+), max ([0-9.]+)": summary(mnist["test_accuracy"]),
        r"of L2 is ([0-9.]+)-([0-9.]+) × the original's": ratio("l2"),
        r"of L1 ([0-9.]+)-([0-9.]+) ×": ratio("l1"),
        r"L1\+L2 ([0-9.]+)-([0-9.]+) ×": ratio("l1_l2"),
        r"of the 8-unit model ([0-9.]+)-([0-9.]+) ×": ratio("smaller"),
        r"best epoch comes ([0-9]+)-([0-9]+) epochs later": difference("smaller_best_epoch", "original_best_epoch"),
        r"final training loss is ([0-9.]+)-([0-9.]+) × the original's": ratio("dropout", key="final_loss"),
        r"its test accuracy ([0-9.]+)-([0-9.]+) above the original's": difference("dropout_test_accuracy", "original_test_accuracy"),
        r"L2's test accuracy is only ([0-9.]+)-([0-9.]+) above": difference("l2_test_accuracy", "original_test_accuracy"),
        r"the 50-unit network is ([0-9.]+)-([0-9.]+) more accurate": spread(lab["moons_plain_gap"]),
        r"L1 shrinks that gap by ([0-9.]+)-([0-9.]+)": difference("moons_plain_gap", "moons_l1_gap"),
        r"dropout by ([0-9.]+)-([0-9.]+) \(": difference("moons_plain_gap", "moons_dropout_gap"),
        r"our original's is ([0-9.]+)-([0-9.]+)\.": spread(lab["original_gap"]),
        r"the reference's lay at most ([0-9.]+) and ([0-9.]+) away": (max(imdb["variant_table_distance"]),
                                                                      max(imdb["variant_mean_distance"])),
    }
    text = README.replace("\n", " ")
    for pattern, values in figures.items():
        match = re.search(pattern, re.sub(r"\s+", " ", text))
        assert match, f"the README no longer says {pattern!r}"
        assert all(quoted_as(q, v) for q, v in zip(match.groups(), values)), (pattern, match.groups(), values)


def test_the_notebooks_approximate_figures_are_the_calibrations():
    """"About" figures in the notebooks: the calibrated mean, rounded as quoted."""
    (mnist,) = measured(r"this network gets about ([0-9.]+)\)", prose("multiclass_softmax"))
    assert quoted_as(str(mnist), statistics.mean(calibrated("multiclass_softmax")["test_accuracy"]))
    (loss,) = measured(r"which falls to about ([0-9.]+)\)", prose("overfitting_regularization"))
    assert quoted_as(str(loss), statistics.mean(calibrated("overfitting_regularization")["original_final_loss"]))


TABLE_LABS = ("imdb_sentiment", "multiclass_softmax", "overfitting_regularization")  # the README's columns


@pytest.mark.parametrize("row, limit", [("the notebook", "notebook"), ("all calls by the checks", "calls"),
                                        ("the grader's training of the student's models", "training_cpu")])
def test_the_readmes_cpu_budgets_are_the_graders(row, limit):
    from autograder.grading import timing

    quoted = measured(rf"\| {re.escape(row)} \|[^|]*\| ([0-9]+) s \| ([0-9]+) s \| ([0-9]+) s \|", README)
    assert quoted == tuple(round(getattr(timing.limits(lab), limit)) for lab in TABLE_LABS)


def test_the_readmes_gradescope_timeouts_are_the_graders():
    from autograder.platforms import gradescope

    quoted = measured(r"at least\s+([0-9]+) minutes for `imdb_sentiment`\s+and\s+([0-9]+) for\s+`multiclass_softmax`;"
                      r"\s+`overfitting_regularization`\s+needs\s+1\s+CPU\s+and\s+([0-9]+) minutes\s+\(([0-9]+)", README)
    assert quoted == (gradescope.minimum_timeout_minutes("imdb_sentiment"), gradescope.minimum_timeout_minutes("multiclass_softmax"),
                      gradescope.minimum_timeout_minutes("overfitting_regularization", 1.0),
                      gradescope.minimum_timeout_minutes("overfitting_regularization", 0.5))
