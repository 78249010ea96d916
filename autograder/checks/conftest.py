"""Fixtures shared by every lab's hidden checks (`submission` itself comes from checkrun.SubmissionPlugin)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng(submission) -> np.random.Generator:
    """Random inputs of the checks, from a seed the kernel cannot work out (new for each submission)."""
    return np.random.default_rng(submission.input_seed)
