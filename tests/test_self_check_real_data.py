"""The IMDB lab's reference passes every visible test of the self-check on the real data set (its
visible tests count 25,000 reviews, which tiny data cannot give). Marked slow: about 4 minutes."""

from __future__ import annotations

import pytest

import course_config
from labtools import check
from tests.test_self_check import expected_state, graded_cells, practice_run, summary_rows

pytestmark = pytest.mark.slow
ASSIGNMENT = "imdb_sentiment"


def test_imdb_reference_passes_every_visible_test_on_the_real_data(tmp_path):
    status, output, summary = practice_run(ASSIGNMENT, "reference", tmp_path / ASSIGNMENT, course_config.DATA_DIR)
    rows = summary_rows(summary)
    assert status == 0, output
    assert {grade_id: state for grade_id, (_, state, _) in rows.items()} == {
        grade_id: expected_state(cell, check.PASSED) for grade_id, cell in graded_cells(ASSIGNMENT).items()}
    passed = sum(state == check.PASSED for _, state, _ in rows.values())
    assert passed >= 5 and f"Visible tests passed: {passed} of {passed}." in summary
