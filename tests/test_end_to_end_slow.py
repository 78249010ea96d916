"""The real IMDB data and real training, end to end (minutes): marked slow, run by `make test` and CI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

import course_config
from autograder.cli import main as cli_main
from autograder.samples import write_samples

pytestmark = pytest.mark.slow
ASSIGNMENT = "imdb_sentiment"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return write_samples(ASSIGNMENT, tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def graded(samples):
    """CLI results for each sample: {kind: Gradescope JSON}."""
    results = {}
    for kind, path in samples.items():
        out = path.with_suffix(".json")
        assert cli_main(["grade", str(path), "--assignment", ASSIGNMENT, "--json", str(out)]) == 0
        results[kind] = json.loads(out.read_text())
    return results


def test_reference_solution_scores_full_points(graded):
    failed = [(t["number"], t["output"]) for t in graded["reference"]["tests"] if t["status"] != "passed"]
    assert not failed
    assert graded["reference"]["score"] == graded["reference"]["max_score"] == 16


def test_blank_release_scores_zero_automatic_points(graded):
    assert graded["blank"]["score"] == 0
    messages = [t["output"] for t in graded["blank"]["tests"]]
    assert all(m for m in messages) and not any("Traceback" in m for m in messages)


def test_partial_submission_earns_exactly_what_it_did_right(graded):
    status = {t["number"]: t["status"] for t in graded["partial"]["tests"]}
    wrong = {"test_accuracy_metric_is_meaningful", "test_notebook_history_has_every_epoch",
             "test_build_variant_architectures", "test_variant_experiment_table"}
    assert {name for name, s in status.items() if s == "failed"} == wrong
    metric = next(t for t in graded["partial"]["tests"] if t["number"] == "test_accuracy_metric_is_meaningful")
    assert "keras.metrics.Accuracy()" in metric["output"]
    assert graded["partial"]["score"] == 11


def test_nbgrader_autograde_records_the_same_points_as_the_cli(samples, graded, tmp_path):
    """The real nbgrader commands, in a temporary course, on the partial submission."""
    root, db = tmp_path, f"sqlite:///{tmp_path}/gradebook.db"
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR / ASSIGNMENT,
                    root / course_config.SOURCE_DIR / ASSIGNMENT)
    submitted = root / course_config.SUBMITTED_DIR / "student1" / ASSIGNMENT
    submitted.mkdir(parents=True)
    shutil.copy(samples["partial"], submitted / NOTEBOOK)

    def nbgrader(*args):
        subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}",
                        f"--CourseDirectory.db_url={db}", "--log-level=ERROR"], cwd=course_config.ROOT, check=True)

    nbgrader("db", "student", "add", "student1")
    nbgrader("generate_assignment", ASSIGNMENT, "--force")
    nbgrader("autograde", ASSIGNMENT, "--student", "student1", "--force")

    cli_cells: dict[str, float] = {}
    for test in graded["partial"]["tests"]:
        cli_cells[test["tags"][0]] = cli_cells.get(test["tags"][0], 0) + test["score"]
    with Gradebook(db) as gradebook:
        submission = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "student1")
        recorded = {grade.name: grade.auto_score for grade in submission.grades if grade.name in cli_cells}
        assert recorded == cli_cells
        assert submission.score == graded["partial"]["score"]

