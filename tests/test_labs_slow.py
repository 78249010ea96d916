"""The later labs on the real data and real training (minutes): the reference earns every point,
the blank release none, and a partial submission exactly what it got right. Marked slow."""

from __future__ import annotations

import pytest

import course_config
from autograder.course.samples import write_samples
from autograder.grading.grade import grade_file

pytestmark = pytest.mark.slow
# Every lab but IMDB, whose real-data runs go through the whole nbgrader cycle (test_end_to_end_slow.py).
LABS = [lab for lab in course_config.ASSIGNMENTS if lab != "imdb_sentiment"]


def grade_sample(assignment: str, kind: str, folder):
    path = write_samples(assignment, folder, kinds=[kind])[kind]
    report, _ = grade_file(path, assignment)
    return report, {check.name: check for check in report.checks}


@pytest.mark.parametrize("assignment", LABS)
def test_reference_solution_scores_full_points(assignment, tmp_path):
    report, checks = grade_sample(assignment, "reference", tmp_path)
    assert report.execution_status == "completed"
    assert not [(name, check.message) for name, check in checks.items() if not check.passed]
    assert report.score == report.max_score > 0


@pytest.mark.parametrize("assignment", LABS)
def test_blank_release_scores_zero_and_names_each_stub(assignment, tmp_path):
    report, checks = grade_sample(assignment, "blank", tmp_path)
    assert report.score == 0
    assert all(check.message and "Traceback" not in check.message for check in checks.values())
    assert any("is not implemented yet" in check.message for check in checks.values())


def test_partial_multiclass_loses_only_what_it_got_wrong(tmp_path):
    report, checks = grade_sample("multiclass_softmax", "partial", tmp_path)
    failed = {name for name, check in checks.items() if not check.passed}
    assert failed == {"test_softmax_is_stable_for_extreme_logits", "test_big_model_architecture",
                      "test_big_model_uses_adam_at_0_01", "test_predicted_digits", "test_saved_model_loads_back",
                      "test_logits_model_outputs_logits", "test_logits_model_gives_the_softmax_models_loss"}
    assert "subtract each row's maximum" in checks["test_softmax_is_stable_for_extreme_logits"].message
