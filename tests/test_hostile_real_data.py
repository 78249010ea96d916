"""Hostile submissions that only the real data can judge (minutes): numbers a student's own run
produced, invented where the grader cannot re-evaluate them. Each is graded once; the checks it
attacks fail and every other check of the reference still passes. Marked slow."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.course.samples import make_sample
from autograder.grading.grade import grade_file

pytestmark = pytest.mark.slow

# The last epoch is the model's own (it re-evaluates to it); the 19 before it are invented.
INVENT_EARLIER_EPOCHS = "history.history = {key: [values[-1]] * len(values) for key, values in history.history.items()}"
# A table computed from the validation labels, without training (the majority class).
MAJORITY_CLASS_TABLE = ("    return {name: float(max(y_val.mean(), 1 - y_val.mean())) for name in VARIANTS}\n"
                        "    best = {}")


def after(grade_id: str, source: str):
    def edit(nb):
        index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        nb.cells.insert(index + 1, new_code_cell(source))
    return edit


def replace_in(grade_id: str, old: str, new: str):
    def edit(nb):
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        assert old in cell.source
        cell.source = cell.source.replace(old, new)
    return edit


CASES = {
    "imdb_sentiment": ([after("train_20_epochs", INVENT_EARLIER_EPOCHS),
                        replace_in("variants", "    best = {}", MAJORITY_CLASS_TABLE)],
                       {"test_notebook_history_has_every_epoch": "not what training this model gives",
                        "test_variant_experiment_table": "does not come from training"}),
    "multiclass_softmax": ([after("train_small_model", INVENT_EARLIER_EPOCHS)],
                           {"test_notebook_history": "not what training this model gives"}),
}


@pytest.mark.parametrize("assignment", CASES)
def test_invented_numbers_of_the_students_own_run_are_caught(assignment, tmp_path):
    edits, attacked = CASES[assignment]
    notebook = make_sample(assignment, "reference")
    for edit in edits:
        edit(notebook)
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(notebook, path)
    report, _ = grade_file(path, assignment)
    checks = {check.name: check for check in report.checks}
    assert report.execution_status == "completed"
    assert {name: says in checks[name].message for name, says in attacked.items()} == dict.fromkeys(attacked, True), \
        [(name, checks[name].message) for name in attacked]
    assert not [(c.name, c.message) for c in report.checks if c.name not in attacked and not c.passed]
