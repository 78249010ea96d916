"""The release and solutions are nbgrader's output from assignments/, up to date, and leak nothing."""

from __future__ import annotations

import importlib
import json
import re
import shutil

import nbformat
import pytest

import course_config
from autograder.checks import load_lab
from autograder.course.nbgrader_course import Course
from autograder.course.samples import notebook_path

ASSIGNMENTS = course_config.ASSIGNMENTS
BLOCK = r"### BEGIN {0}(.*?)### END {0}"


def nbgrader_cells(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def secret_lines(assignment: str) -> set[str]:
    """Non-trivial lines of the source's solution and hidden-test blocks that occur nowhere else
    in the source (not even inside a visible line), so that finding one elsewhere is a leak."""
    source = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), 4)
    inside, outside = set(), []
    for cell in source.cells:
        rest = cell.source
        for kind in ("SOLUTION", "HIDDEN TESTS"):
            for block in re.findall(BLOCK.format(kind), cell.source, flags=re.DOTALL):
                inside |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
            rest = re.sub(BLOCK.format(kind), "", rest, flags=re.DOTALL)
        outside.append(rest)
    assert inside, "the source notebook should have solution and hidden-test blocks"
    visible = "\n".join(outside)
    return {line for line in inside if line not in visible}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solution_code_or_hidden_tests(assignment):
    release = notebook_path(course_config.RELEASE_DIR, assignment).read_text()
    assert "BEGIN SOLUTION" not in release and "BEGIN HIDDEN TESTS" not in release
    released_lines = {line.strip() for cell in nbformat.reads(release, 4).cells for line in cell.source.splitlines()}
    leaked = secret_lines(assignment) & released_lines
    assert not leaked, f"solution or hidden-test lines in the release: {sorted(leaked)[:5]}"


def test_release_is_what_the_generate_step_makes_from_the_source(tmp_path):
    """`make release` output is committed: regenerate it in a scratch course and compare."""
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, tmp_path / course_config.SOURCE_DIR)
    Course(tmp_path, exchange=tmp_path / "exchange").generate()
    fresh_root, committed_root = tmp_path / course_config.RELEASE_DIR, course_config.ROOT / course_config.RELEASE_DIR
    fresh = sorted(p.relative_to(fresh_root) for p in fresh_root.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(committed_root) for p in committed_root.rglob("*") if p.is_file())
    assert fresh == committed, "release/ is stale: run `make release` and commit the result"
    for relative in fresh:
        if relative.suffix == ".ipynb":
            same = nbformat.read(fresh_root / relative, 4) == nbformat.read(committed_root / relative, 4)
        else:
            same = (fresh_root / relative).read_bytes() == (committed_root / relative).read_bytes()
        assert same, f"release/{relative} is stale: run `make release` and commit the result"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_is_stored_without_outputs(assignment):
    source = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), 4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in source.cells if c.cell_type == "code")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_is_the_executed_source(assignment):
    source = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), 4)
    solution = nbformat.read(notebook_path(course_config.SOLUTION_DIR, assignment), 4)
    assert [c.source for c in solution.cells] == [c.source for c in source.cells], (
        "solutions/ is stale: run `make solutions` and commit the result"
    )
    code_cells = [c for c in solution.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), "every code cell of the solution was executed"
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for c in code_cells for o in c.outputs), "plots are kept"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_points_equal_the_hidden_checks_points(assignment):
    source = nbgrader_cells(nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), 4))
    auto_cells = {gid: c for gid, c in source.items() if c.metadata.nbgrader["grade"] and c.cell_type == "code"}
    check_points: dict[str, float] = {}
    for spec in load_lab(assignment).checks:
        check_points[spec.cell] = check_points.get(spec.cell, 0) + spec.points
    assert check_points == {gid: float(c.metadata.nbgrader["points"]) for gid, c in auto_cells.items()}


def calibration(assignment: str) -> dict:
    """calibration/<lab>.json is written by `python -m autograder calibrate` (figures per seed)."""
    metrics = json.loads((course_config.ROOT / "calibration" / f"{assignment}.json").read_text())["metrics"]
    assert all(len(figures["values"]) >= 5 for figures in metrics.values())
    return metrics


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_threshold_is_cleared_by_every_calibrated_seed(assignment):
    """Each threshold the lab's module declares holds for the reference on every calibrated seed."""
    metrics = {name: figures["values"] for name, figures in calibration(assignment).items()}
    assert load_lab(assignment).module().unmet_margins(metrics) == []


def test_a_threshold_above_a_calibrated_seed_is_caught(monkeypatch):
    """unmet_margins can fail: a threshold just above the worst calibrated seed is reported."""
    module = importlib.import_module("autograder.checks.overfitting_regularization")
    metrics = {name: figures["values"] for name, figures in calibration("overfitting_regularization").items()}
    monkeypatch.setattr(module, "MOONS_MIN_OVERFIT_GAP", min(metrics["moons_plain_gap"]) + 1e-6)
    assert module.unmet_margins(metrics) == ["MOONS_MIN_OVERFIT_GAP"]
    imdb = importlib.import_module("autograder.checks.imdb_sentiment")
    monkeypatch.setattr(imdb, "MIN_TEST_ACCURACY", 0.99)
    assert imdb.unmet_margins({name: figures["values"] for name, figures in calibration("imdb_sentiment").items()}) != []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_calibration_was_measured_under_the_labs_protocol(assignment):
    """Changing a lab's grading protocol (epochs, data sizes) makes its calibration stale."""
    stored = json.loads((course_config.ROOT / "calibration" / f"{assignment}.json").read_text())["protocol"]
    assert stored == load_lab(assignment).protocol
