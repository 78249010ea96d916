"""The real IMDB data and real training, end to end (minutes): marked slow, run by `make test-slow` and CI."""

from __future__ import annotations

import csv
import json
import re
from html import unescape as html_unescape

import nbformat
import pytest
from nbgrader.api import Gradebook

import course_config
from autograder.cli import main as cli_main
from autograder.course.batch import autograde_all
from autograder.course.demo import DEMO_SUBMISSIONS, new_demo_course, run_cycle
from autograder.course.samples import write_samples
from tests.test_generated_files import secret_lines

pytestmark = pytest.mark.slow
ASSIGNMENT = "imdb_sentiment"


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    """The whole nbgrader cycle on a temporary course with three students (the reference, the
    partial and the broken sample); then cy autograded again."""
    course = new_demo_course(tmp_path_factory.mktemp("course"))
    first = run_cycle(course, workers=2, assignments=[ASSIGNMENT])  # the other labs: tests/test_labs_slow.py
    rows_after_first = gradebook_rows(course)
    autograde_all(course, ASSIGNMENT, workers=1, students=["cy"])
    return course, first, rows_after_first


@pytest.fixture(scope="module")
def graded(cycle, tmp_path_factory):
    """Gradescope results per sample kind: from the cycle's export (reference, partial, broken),
    and from the command line for the broken sample again and the blank release."""
    course = cycle[0]
    results = {kind: json.loads((course.root / "export" / "gradescope" / ASSIGNMENT / student / "results.json").read_text())
               for student, kind in DEMO_SUBMISSIONS.items()}
    samples = write_samples(ASSIGNMENT, tmp_path_factory.mktemp("samples"), kinds=("broken", "blank"))
    for kind, path in samples.items():
        out = path.with_suffix(".json")
        assert cli_main(["grade", str(path), "--assignment", ASSIGNMENT, "--json", str(out)]) == 0
        results[f"{kind} (command line)"] = json.loads(out.read_text())
    return results


def test_reference_solution_scores_full_points(graded):
    failed = [(t["number"], t["output"]) for t in graded["reference"]["tests"] if t["status"] != "passed"]
    assert not failed
    assert graded["reference"]["score"] == graded["reference"]["max_score"] == 16


def test_blank_release_scores_zero_automatic_points(graded):
    assert graded["blank (command line)"]["score"] == 0
    messages = [t["output"] for t in graded["blank (command line)"]["tests"]]
    assert all(m for m in messages) and not any("Traceback" in m for m in messages)


def test_partial_submission_earns_exactly_what_it_did_right(graded):
    status = {t["number"]: t["status"] for t in graded["partial"]["tests"]}
    wrong = {"test_accuracy_metric_is_meaningful", "test_notebook_history_has_every_epoch",
             "test_build_variant_architectures", "test_variant_experiment_table"}
    assert {name for name, s in status.items() if s == "failed"} == wrong
    metric = next(t for t in graded["partial"]["tests"] if t["number"] == "test_accuracy_metric_is_meaningful")
    assert "keras.metrics.Accuracy()" in metric["output"]
    assert graded["partial"]["score"] == 11


def test_broken_submission_gets_what_works_and_says_what_broke(graded):
    assert graded["broken"]["score"] == 1  # decode_review
    assert "SyntaxError" in graded["broken"]["output"]


def gradebook_rows(course) -> dict[tuple[str, str], tuple]:
    with Gradebook(course.db_url) as gradebook:
        return {
            (student, grade.name): (grade.auto_score, grade.max_score, grade.needs_manual_grade)
            for student in DEMO_SUBMISSIONS
            for grade in gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades
        }


def test_cycle_records_the_same_points_as_the_cli_in_gradebook_and_csv(cycle, graded):
    course, result, _ = cycle
    rows = gradebook_rows(course)
    csv_scores = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(result["csv"].open())
                  if row["assignment"] == ASSIGNMENT}
    cli_cells: dict[str, float] = {}
    for test in graded["broken (command line)"]["tests"]:
        cli_cells[test["tags"][0]] = cli_cells.get(test["tags"][0], 0) + test["score"]
    assert {cell: rows["cy", cell][0] for cell in cli_cells} == cli_cells
    assert graded["broken (command line)"]["score"] == graded["broken"]["score"]
    for student, kind in DEMO_SUBMISSIONS.items():
        assert csv_scores[student] == graded[kind]["score"], student
    assert csv_scores == {"ada": 16, "ben": 11, "cy": 1}


def test_untouched_submissions_are_not_reported_as_tampered(cycle):
    """nbgrader puts the hidden-test blocks back before grading; that must not look like an edit."""
    course, _, _ = cycle
    reports = course.grade_reports(ASSIGNMENT)
    assert set(reports) == set(DEMO_SUBMISSIONS)
    assert not [student for student, report in reports.items() if "Changed by the student" in report["output"]]


def test_autograding_again_gives_identical_gradebook_rows(cycle):
    course, _, rows_after_first = cycle
    assert gradebook_rows(course) == rows_after_first


def feedback_text(course, student: str) -> str:
    """The feedback HTML as the text a reader sees (code highlighting splits lines into tags)."""
    html = (course.path(course_config.FEEDBACK_DIR, ASSIGNMENT, student) / f"{ASSIGNMENT}.html").read_text()
    return html_unescape(re.sub(r"<[^>]+>", "", html)), html


def test_feedback_shows_results_and_plots_but_no_hidden_tests_or_solutions(cycle):
    course, _, _ = cycle
    solution_only = secret_lines(ASSIGNMENT)
    for student in DEMO_SUBMISSIONS:
        text, html = feedback_text(course, student)
        assert "passed: " in text and "HIDDEN TESTS" not in text and "Graded by the course autograder" not in text
        submitted = nbformat.read(course.path(course_config.SUBMITTED_DIR, ASSIGNMENT, student) / f"{ASSIGNMENT}.ipynb", 4)
        own_code = "\n".join(cell.source for cell in submitted.cells)
        shown = [line for line in solution_only if line in text]
        assert not [line for line in shown if line not in own_code], f"{student}'s feedback shows solution code"
        if student == "ada":  # she submitted the reference: the detector sees solution lines when present
            assert shown
    _, ada_html = feedback_text(course, "ada")
    assert ada_html.count("data:image/png") >= 2, "the learning-curve plots are in the feedback"


def test_export_writes_gradescope_results_per_student(cycle):
    course, _, _ = cycle
    for student in DEMO_SUBMISSIONS:
        results = json.loads((course.root / "export" / "gradescope" / ASSIGNMENT / student / "results.json").read_text())
        assert results["max_score"] == 16 and len(results["tests"]) == 13
