"""Students see where they stand: the self-check (labtools/check.py), the practice workflow that
runs it on each push, and the table of graded parts in each notebook's first cell (issue 22)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import course_config
from autograder.checks import load_lab
from autograder.course import ci_templates
from autograder.course.graded_parts import with_graded_parts
from autograder.course.samples import make_sample, notebook_path
from autograder.platforms import github
from labtools import check, mnist
from tests.test_github_workflows import KNOWN_ACTIONS  # actions known to exist at their majors
from tests.test_mnist_data import tiny_arrays, write_idx

LABS = course_config.ASSIGNMENTS
BIN = Path(sys.executable).parent



def practice_command(assignment: str) -> str:
    (step,) = [s for s in yaml.safe_load(ci_templates.render_workflow(assignment))["jobs"]["practice"]["steps"]
               if "labtools.check" in s.get("run", "")]
    return step["run"]


def practice_run(assignment: str, kind: str, folder: Path, data_dir: Path) -> tuple[int, str, str]:
    """The practice workflow's self-check step, run in a copy of the release folder as GitHub's
    runner would (its own `python`, the job summary in a file): exit status, output, job summary."""
    shutil.copytree(notebook_path(course_config.RELEASE_DIR, assignment).parent, folder)
    if kind != "blank":
        nbformat.write(make_sample(assignment, kind), folder / f"{assignment}.ipynb")
    summary = folder.parent / f"summary-{assignment}-{kind}.md"
    env = {**os.environ, "PATH": f"{BIN}:/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(summary),
           "COURSE_DATA_DIR": str(data_dir), "COURSE_IMDB_SOURCE": "archive", "COURSE_MNIST_SOURCE": "archive",
           "COURSE_CACHE_DIR": str(folder.parent / "cache")}
    done = subprocess.run(["bash", "-c", practice_command(assignment)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=1800)
    return done.returncode, done.stdout, summary.read_text() if summary.exists() else ""


def summary_rows(summary: str) -> dict[str, tuple[str, str, str]]:
    """cell -> (points, visible test, message) from the Markdown table."""
    rows = {}
    for line in summary.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = (cells[2], cells[3], cells[4])
    return rows


def graded_cells(assignment: str) -> dict[str, nbformat.NotebookNode]:
    """grade id -> cell, of every graded cell of the release."""
    notebook = nbformat.read(notebook_path(course_config.RELEASE_DIR, assignment), 4)
    return {c.metadata.nbgrader["grade_id"]: c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")}


def expected_state(cell: nbformat.NotebookNode, when_it_runs: str) -> str:
    if cell.cell_type == "markdown":
        return check.BY_HAND
    return when_it_runs if "assert" in cell.source else check.NO_TEST


@pytest.fixture(scope="module")
def tiny_lab_data(tmp_path_factory) -> Path:
    """A tiny IMDB archive and tiny MNIST IDX files (60 training, 20 test images)."""
    from tests.conftest import write_tiny_archive

    data_dir = tmp_path_factory.mktemp("data")
    write_tiny_archive(data_dir)
    (data_dir / "mnist").mkdir()
    arrays = tiny_arrays(60, 20)
    for name, file_name in mnist.FILES.items():
        write_idx(data_dir / "mnist" / file_name, arrays[name])
    return data_dir


# --- the self-check and the practice workflow on the labs --------------------------------------

@pytest.mark.parametrize("assignment", LABS)
def test_blank_release_lists_every_part_failed_and_why(assignment, tiny_lab_data, tmp_path):
    status, output, summary = practice_run(assignment, "blank", tmp_path / assignment, tiny_lab_data)
    assert status == 1, output
    rows = summary_rows(summary)
    cells = graded_cells(assignment)
    assert {cell: points for cell, (points, _, _) in rows.items()} == {
        grade_id: f"{float(cell.metadata.nbgrader['points']):g}" for grade_id, cell in cells.items()}
    for grade_id, (_, state, message) in rows.items():
        expected = expected_state(cells[grade_id], check.FAILED)
        assert state == expected or expected == check.NO_TEST and state == check.FAILED, (grade_id, state)
        assert bool(message) == (state == check.FAILED)
    assert any("NotImplementedError" in message for _, _, message in rows.values())
    tests = sum(state == check.FAILED for _, state, _ in rows.values())
    assert f"Visible tests passed: 0 of {tests}." in summary and "not the grade" in summary
    assert "First error outside the tests" in output


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [lab for lab in LABS if lab != "imdb_sentiment"])
def test_reference_passes_every_visible_test(assignment, tiny_lab_data, tmp_path):
    """IMDB's visible tests need the real data set (25,000 reviews): tests/test_self_check_real_data.py."""
    status, output, summary = practice_run(assignment, "reference", tmp_path / assignment, tiny_lab_data)
    rows = summary_rows(summary)
    assert status == 0, output
    assert {grade_id: state for grade_id, (_, state, _) in rows.items()} == {
        grade_id: expected_state(cell, check.PASSED) for grade_id, cell in graded_cells(assignment).items()}
    assert (tmp_path / assignment / "practice-run.ipynb").is_file(), "kept for the run's artifact"


def test_a_dead_kernel_leaves_later_parts_not_run_and_bare_asserts_show_their_line(tmp_path):
    def graded(source: str, grade_id: str) -> nbformat.NotebookNode:
        cell = new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 1, "solution": False, "locked": True}
        return cell

    notebook = new_notebook(cells=[
        new_markdown_cell("## 1. First"), new_code_cell("x = 1"),
        graded("assert x == 2", "test_bare_assert"),
        graded("assert x == 1, 'fine'", "test_passes"),
        new_markdown_cell("## 2. Second"), new_code_cell("import os\nos._exit(1)"),
        graded("assert True", "test_after_the_crash"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "lab.ipynb"
    nbformat.write(notebook, path)
    assert check.main([str(path), "--summary", str(tmp_path / "summary.md")]) == 1
    rows = summary_rows((tmp_path / "summary.md").read_text())
    assert rows["test_bare_assert"] == ("1", check.FAILED, "AssertionError at `assert x == 2`")
    assert rows["test_passes"][1] == check.PASSED
    assert rows["test_after_the_crash"][1] == check.NOT_RUN
    assert "The run stopped early: DeadKernelError" in (tmp_path / "summary.md").read_text()


def test_no_notebook_or_many_is_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert check.main([]) == 2
    assert "notebooks in" in capsys.readouterr().err
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "b.ipynb").write_text("{}")
    assert check.main([]) == 2
    assert "a.ipynb, b.ipynb" in capsys.readouterr().err
    assert check.main([str(tmp_path / "missing.ipynb")]) == 2
    assert "No notebook at" in capsys.readouterr().err


# --- the workflow files ------------------------------------------------------------------------

@pytest.mark.parametrize("assignment", LABS)
def test_practice_workflow_runs_only_the_visible_tests_without_classroom_or_secrets(assignment):
    text = ci_templates.render_workflow(assignment)
    workflow = yaml.safe_load(text)
    assert "secrets." not in text and "classroom" not in text.lower()
    assert workflow["permissions"] == {"contents": "read"}
    assert "autograder" not in practice_command(assignment), "never the grader"
    assert '--summary "$GITHUB_STEP_SUMMARY"' in practice_command(assignment)


def test_every_action_used_exists_at_its_pinned_major():
    workflows = [ci_templates.render_workflow(a) for a in LABS] + [github.render_grading_workflow()]
    used = {step["uses"] for text in workflows for job in yaml.safe_load(text)["jobs"].values()
            for step in job.get("steps", []) if "uses" in step}
    assert used and used <= KNOWN_ACTIONS, used - KNOWN_ACTIONS


# --- the first cell's table of graded parts ----------------------------------------------------

@pytest.mark.parametrize("assignment", LABS)
def test_first_cell_lists_the_graded_parts_from_the_check_table(assignment):
    source = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), 4)
    assert with_graded_parts(nbformat.from_dict(json.loads(json.dumps(source))), assignment) == source, (
        "the graded parts are stale: run `make release` and commit the result")
    intro = nbformat.read(notebook_path(course_config.RELEASE_DIR, assignment), 4).cells[0].source
    listed = dict(re.findall(r"\| `(\w+)`[^|]*\| ([\d.]+) \|", intro))
    points: dict[str, float] = {}
    for spec in load_lab(assignment).checks:
        points[spec.cell] = points.get(spec.cell, 0) + spec.points
    assert {cell: float(p) for cell, p in listed.items() if cell != "written_answer"} == points
    assert "python -m labtools.check" in intro
