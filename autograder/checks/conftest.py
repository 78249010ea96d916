"""Fixtures shared by every lab's hidden checks."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checkrun import CheckInputs, Submission


@pytest.fixture(scope="session")
def submission() -> Submission:
    """The student's notebook, reached only through its kernel (see autograder/checkrun.py)."""
    return CheckInputs.submission


@pytest.fixture
def rng(submission) -> np.random.Generator:
    """Random inputs of the checks, from a seed the kernel cannot work out (new for each submission)."""
    return np.random.default_rng(submission.input_seed)
