"""Grading a submission end to end on tiny data: real kernels, real check processes, seconds each."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder import cli
from autograder.course.samples import make_sample
from autograder.grading.grade import grade_file

ASSIGNMENT = "imdb_sentiment"
STRUCTURAL_CHECKS = {
    "test_decode_review_matches_word_index", "test_vectorize_shape_and_dtype", "test_vectorize_exact_multi_hot",
    "test_build_model_architecture", "test_build_model_compiled", "test_build_model_with_objects",
    "test_split_holds_out_the_first_samples", "test_split_keeps_labels_aligned", "test_build_variant_architectures",
}


def grade(notebook, folder, name="submission"):
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    report, _ = grade_file(path, ASSIGNMENT)
    return {check.name: check for check in report.checks}, report


@pytest.fixture(scope="module")
def blank(tiny_data_for_module, tmp_path_factory):
    return grade(make_sample(ASSIGNMENT, "blank"), tmp_path_factory.mktemp("blank"))


@pytest.fixture(scope="module")
def reference(tiny_data_for_module, tmp_path_factory):
    return grade(make_sample(ASSIGNMENT, "reference"), tmp_path_factory.mktemp("reference"))


def test_blank_release_scores_zero_and_names_each_stub(blank):
    checks, report = blank
    assert report.score == 0 and report.max_score == 16
    assert report.execution_status == "completed"
    assert checks["test_decode_review_matches_word_index"].message == (
        "`decode_review` is not implemented yet (it raises NotImplementedError)."
    )
    assert "not implemented yet" in checks["test_grader_trained_test_accuracy"].message
    assert all("Traceback" not in check.message for check in checks.values())


def test_reference_functions_pass_every_structural_check(reference):
    checks, report = reference
    # The kernel loaded the data (as the sandbox user when root: caches prepared by the grader),
    # so no later cell misses a variable; only the 10,000-review split fails on tiny data.
    assert not [note for note in report.notes if "not defined" in note or "PermissionError" in note]
    assert {name for name, check in checks.items() if check.passed} >= STRUCTURAL_CHECKS
    # Tiny data: the notebook's 10,000-review validation split cannot train, so no history.
    assert not checks["test_notebook_history_has_every_epoch"].passed


def test_kernel_state_cannot_change_the_hidden_checks(tiny_data_for_module, tmp_path):
    """A wrong function stays wrong even if the notebook patches numpy's comparisons in its kernel."""
    notebook = make_sample(ASSIGNMENT, "reference")
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "vectorize_sequences":
            cell.source = cell.source.replace("    return results", "    return results * 0")
    notebook.cells.insert(1, new_code_cell(
        "import numpy\nnumpy.array_equal = lambda *a, **k: True\nnumpy.issubdtype = lambda *a: True"
    ))
    checks, _ = grade(notebook, tmp_path)
    assert not checks["test_vectorize_exact_multi_hot"].passed
    assert checks["test_vectorize_shape_and_dtype"].passed and checks["test_decode_review_matches_word_index"].passed


def test_wrong_function_loses_only_its_own_points(tiny_data_for_module, tmp_path):
    notebook = make_sample(ASSIGNMENT, "reference")
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "vectorize_sequences":
            cell.source = cell.source.replace("(len(sequences), dimension)", "(len(sequences), dimension + 1)")
    checks, _ = grade(notebook, tmp_path)
    assert not checks["test_vectorize_shape_and_dtype"].passed
    assert "Shape is (7, 101); expected (len(sequences), 100)." == checks["test_vectorize_shape_and_dtype"].message
    assert checks["test_build_model_architecture"].passed and checks["test_decode_review_matches_word_index"].passed


def test_cli_writes_gradescope_results_and_the_executed_notebook(tiny_data_for_module, tmp_path, capsys):
    path = tmp_path / "blank.ipynb"
    nbformat.write(make_sample(ASSIGNMENT, "blank"), path)
    assert cli.main(["grade", str(path), "--assignment", ASSIGNMENT, "--json", str(tmp_path / "out.json"),
                     "--executed", str(tmp_path / "executed" / "blank.ipynb")]) == 0
    results = json.loads((tmp_path / "out.json").read_text())
    assert results["score"] == 0 and results["max_score"] == 16
    assert {"name", "score", "max_score", "status", "output"} <= set(results["tests"][0])
    assert "total" in capsys.readouterr().out
    executed = nbformat.read(tmp_path / "executed" / "blank.ipynb", as_version=4)
    assert "NotImplementedError" in json.dumps([cell.get("outputs", []) for cell in executed.cells])


def test_unreadable_notebook_is_a_zero_with_a_message(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{ this is not json")
    report, executed = grade_file(path, ASSIGNMENT)
    assert executed is None and report.score == 0 and report.max_score == 16
    assert "not a readable notebook" in report.notes[0]


def test_missing_notebook_is_an_error_of_the_grader(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nope.ipynb"), "--assignment", ASSIGNMENT]) == cli.EXIT_CANNOT_GRADE
    assert "no notebook at" in capsys.readouterr().err
