"""The IMDB lab's dtype check: uint8 or float32 pass, numpy's default float64 does not."""

from __future__ import annotations

import numpy as np
import pytest

import autograder.checks.imdb_sentiment as checks
from tests.conftest import kernel_serving

VECTORIZE = '''
import numpy as np

def vectorize_sequences(sequences, dimension=10000):
    results = np.zeros((len(sequences), dimension), dtype=DTYPE)
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1
    return results
'''


@pytest.mark.parametrize("dtype, passes", [("uint8", True), ("float32", True), ("float64", False)])
def test_vectorize_dtype(dtype, passes):
    source = VECTORIZE.replace("DTYPE", repr(dtype))
    with kernel_serving(source) as submission:
        try:
            checks.test_vectorize_shape_and_dtype(submission, np.random.default_rng(0))
        except AssertionError as error:
            assert not passes and "use uint8" in str(error)
        else:
            assert passes
