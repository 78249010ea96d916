"""Fixtures shared by every lab's hidden checks."""

from __future__ import annotations

import numpy as np
import pytest

import course_config
from autograder.checkrun import CheckInputs, Submission


@pytest.fixture(scope="session")
def submission() -> Submission:
    """The student's notebook, reached only through its kernel (see autograder/checkrun.py)."""
    return CheckInputs.submission


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(course_config.CHECK_SEED)
