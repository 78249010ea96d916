"""Each lab declares everything a lab must (the README's "Adding a lab"), read once into its Lab."""

from __future__ import annotations

import inspect

import nbformat
import pytest

import course_config
from autograder import checks
from autograder.checks import REQUIRED_NAMES, load_lab
from autograder.checks.grader_data import DATASETS
from autograder.course.samples import notebook_path, solution_sources

ASSIGNMENTS = course_config.ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_lab_declares_what_a_lab_must(assignment):
    lab = load_lab(assignment)
    assert lab.checks, "a lab without hidden checks"
    assert lab.data is None or lab.data in DATASETS
    assert set(lab.samples) <= {"partial", "broken"}
    solutions = solution_sources(assignment)
    for kind, sample in lab.samples.items():
        assert set(sample["fill"]) <= set(solutions), f"SAMPLES[{kind!r}] fills a cell that is no solution cell"
        assert set(sample["mistakes"]) <= set(sample["fill"])
    module = lab.module()
    for name in REQUIRED_NAMES:
        assert hasattr(module, name), f"autograder/checks/{assignment}.py does not define {name}"
    assert list(inspect.signature(module.calibration_run).parameters) == ["reference", "lab_data", "seed"]
    for generated in (f"calibration/{assignment}.json", f"calibration/{assignment}.timing.json",
                      f"{course_config.RELEASE_DIR}/{assignment}/{assignment}.ipynb"):
        assert (course_config.ROOT / generated).is_file(), f"{generated} is missing: see the README's 'Adding a lab'"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_check_counts_towards_a_test_cell_worth_its_points(assignment):
    """The points of a test cell in the notebook are the sum of its checks' points, and no check
    counts towards a cell the notebook does not have."""
    notebook = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), as_version=4)
    cells = {cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"].get("points", 0))
             for cell in notebook.cells if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")}
    lab = load_lab(assignment)
    totals = {cell: sum(spec.points for spec in lab.checks if spec.cell == cell) for cell in cells}
    assert {spec.cell for spec in lab.checks} <= set(cells)
    assert totals == cells


def test_every_module_beside_the_labs_is_named_as_no_lab():
    modules = {path.stem for path in checks.CHECKS_DIR.glob("*.py") if not path.stem.startswith("_")}
    assert modules - set(ASSIGNMENTS) == checks.NOT_LABS
    with pytest.raises(ValueError, match="No hidden checks for assignment 'grader_data'"):
        load_lab("grader_data")


def test_the_threshold_read_from_the_source_is_the_module_s():
    """MIN_TEST_ACCURACY must be a literal: the prose test reads it without importing the checks."""
    for lab in ASSIGNMENTS:
        assert load_lab(lab).min_test_accuracy == getattr(load_lab(lab).module(), "MIN_TEST_ACCURACY", None)


def test_a_module_that_misses_a_declaration_is_named(tmp_path, monkeypatch):
    (tmp_path / "half_lab.py").write_text("SAMPLES = {}\n\n@check(points=1, cell='a')\ndef test_a():\n    pass\n")
    monkeypatch.setattr(checks, "CHECKS_DIR", tmp_path)
    with pytest.raises(ValueError, match="half_lab.py does not declare DATA"):
        load_lab("half_lab")
    with pytest.raises(ValueError, match="No hidden checks for assignment 'no_lab'; known: half_lab"):
        load_lab("no_lab")


def test_a_lab_is_read_once_and_again_when_its_module_changes(tmp_path, monkeypatch):
    path = tmp_path / "lab.py"
    path.write_text("DATA = None\nSAMPLES = {}\nMIN_TEST_ACCURACY = 0.5\n")
    monkeypatch.setattr(checks, "CHECKS_DIR", tmp_path)
    first = load_lab("lab")
    assert load_lab("lab") is first and first.min_test_accuracy == 0.5 and first.checks == ()
    path.write_text("DATA = None\nSAMPLES = {}\nMIN_TEST_ACCURACY = 0.75\n")
    assert load_lab("lab").min_test_accuracy == 0.75
