"""The benchmark's inputs: the same checks for stock nbgrader, and the batch it grades."""

from __future__ import annotations

from bench import grading_benchmark as bench
from autograder.checks import load_lab


def test_stock_source_runs_every_test_cells_checks_in_the_kernel():
    source = bench.stock_source()
    test_cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert set(test_cells) == {spec.cell for spec in load_lab(bench.ASSIGNMENT).checks}
    for cell, text in test_cells.items():
        visible, hidden = text.split("### BEGIN HIDDEN TESTS")
        assert visible.strip(), f"{cell} lost its visible sanity check"
        assert f"cell_points({bench.ASSIGNMENT!r}, {cell!r}, globals())" in hidden
        assert text.rstrip().endswith("### END HIDDEN TESTS")


def test_batch_has_eight_distinct_submissions_with_different_seeds():
    batch = bench.submissions(references=2)
    assert len(batch) == 8
    sources = {name: "\n".join(cell.source for cell in notebook.cells) for name, notebook in batch.items()}
    assert len(set(sources.values())) == 8
    assert "set_random_seed(1)" in sources["reference_seed1"] and "set_random_seed(2)" in sources["reference_seed2"]


def test_process_trees_are_told_apart_by_submission():
    assert bench._student_of(["python", "-m", "nbgrader", "autograde", "lab", "--student", "ada", "--force"]) == "ada"
    assert bench._student_of(["python", "-m", "nbgrader", "generate_assignment", "lab"]) is None
    assert bench._notebook_folder_of(["python", "-m", "jupyter", "execute", "/b/bare/ada/lab/lab.ipynb"]) == "ada"


def test_a_warm_workers_kernel_is_told_apart_by_its_folder():
    assert bench._student_of_folder("/tmp/autograder-ada_l-x1y2z3/work") == "ada_l"
    assert bench._student_of_folder("/home/ada/notebooks") is None
