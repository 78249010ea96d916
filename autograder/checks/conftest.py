"""Fixtures shared by every lab's hidden checks."""

from __future__ import annotations

import numpy as np
import pytest

import course_config
from autograder.checkrun import CheckInputs, Submission


@pytest.fixture(scope="session")
def submission(lab_data) -> Submission:
    """The student's functions, rebuilt after the checks and the lab's data (`lab_data`, defined
    by each lab's check module) were loaded, and after this process dropped its privileges."""
    return CheckInputs.load_submission()


@pytest.fixture(scope="session")
def exports() -> dict:
    """Values read out of the student's kernel after the notebook ran (data only, untrusted)."""
    return CheckInputs.exports


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(course_config.CHECK_SEED)
