"""Course settings: the one place for paths, seeds, timeouts and grading thresholds.

nbgrader reads this file through `nbgrader_config.py`; the student helpers (`labtools`) and the
grader (`autograder`) import it. Paths can be overridden with the environment variables named
below, so the same code runs on an instructor's laptop, in CI and in the tests.

Points are not listed here: each hidden check declares its own points next to its code
(`autograder/checks/`), and a test keeps the notebooks' nbgrader points equal to them.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

COURSE_ID = "dl-course"

# The labs, in course order. Each has assignments/<name>/<name>.ipynb and autograder/checks/<name>.py.
ASSIGNMENTS = ["imdb_sentiment", "overfitting_regularization", "multiclass_softmax"]

# nbgrader's course directory mapped onto the top level fixed by the client:
# {step}/{student}/{assignment}/{notebook}, where the source and release steps have no student.
SOURCE_DIR = "assignments"
RELEASE_DIR = "release"
SOLUTION_DIR = "solutions"
SUBMITTED_DIR = "submitted"
AUTOGRADED_DIR = "autograded"
FEEDBACK_DIR = "feedback"
# Seconds SQLite waits for another grading worker's write before "database is locked" (its default
# is 5 s; one autograde holds the write lock for well under a second).
GRADEBOOK_TIMEOUT_S = 60
GRADEBOOK_URL = f"sqlite:///{ROOT / 'gradebook.db'}?timeout={GRADEBOOK_TIMEOUT_S}"
# nbgrader's exchange, where `release_assignment` puts labs and `submit` leaves submissions.
# A shared server uses a folder all users can reach (nbgrader's default: /srv/nbgrader/exchange).
EXCHANGE_DIR = Path(os.environ.get("COURSE_EXCHANGE_DIR", ROOT / "exchange"))

# Course roster: a CSV with columns id,first_name,last_name,email, imported into the gradebook.
ROSTER_CSV = Path(os.environ.get("COURSE_ROSTER", ROOT / "roster.csv"))
# Due dates (ISO 8601 with a time zone), one per lab; a lab not listed has no due date.
DUE_DATES = {
    "imdb_sentiment": "2026-12-18 23:59:00 UTC",
    "overfitting_regularization": "2027-01-15 23:59:00 UTC",
    "multiclass_softmax": "2027-01-29 23:59:00 UTC",
}
# nbgrader's late-submission policy: "none" (late work keeps its points) or "zero".
LATE_PENALTY = "none"
# File names in an LMS download (zip_collect), Canvas style: lastfirst_12345_67890_notebook.ipynb.
# nbgrader matches it against the whole path, hence the leading ".*/".
LMS_FILENAME_REGEXP = r".*/(?P<student_id>[^_/]+)_\d+_\d+_(?P<file_id>[^/]+)"

# Data. The IMDB archive and MNIST files live beside the repository (never inside it).
DATA_DIR = Path(os.environ.get("COURSE_DATA_DIR", ROOT.parent / "shared" / "data"))
IMDB_ARCHIVE = "aclImdb_v1_labeled.tar.gz"
# Where encodings built from the raw archive and the grader's vectorized arrays are cached.
# Inside the checkout (ignored by git) rather than in a home folder, so that the sandboxed
# grading kernel, which runs as another user, can read it.
CACHE_DIR = Path(os.environ.get("COURSE_CACHE_DIR", ROOT / "build" / "cache"))
# "auto": Keras's own loader and cache first, then the archive; "keras" or "archive" force one.
IMDB_SOURCE = os.environ.get("COURSE_IMDB_SOURCE", "auto")
MNIST_SOURCE = os.environ.get("COURSE_MNIST_SOURCE", "auto")
# Seconds to wait for Keras's download before falling back to the archive.
KERAS_DOWNLOAD_TIMEOUT_S = 20

# Grading.
SEED = 0  # seeds of the labs' own code and of the calibration
# Seed of the hidden checks' random inputs and of the grader's training run. Set COURSE_CHECK_SEED
# privately (a CI secret) so that students cannot know the inputs; any seed passes the reference
# (the threshold is calibrated over 30 seeds).
CHECK_SEED = int(os.environ.get("COURSE_CHECK_SEED", SEED))
NUM_THREADS = int(os.environ.get("COURSE_NUM_THREADS", "2"))  # TF/OMP threads per grading process
# Batch grading: workers in parallel. 0 = choose from free memory and cores. Peak memory of one
# submission's whole process tree, measured here (`make bench`, tests): IMDB reference with the
# lab's uint8 matrices 2.2 GB, overfitting lab 2.1, MNIST 1.6. A student who keeps float32
# matrices needs 5.9 GB, float64 9.6 (up to MEMORY_LIMIT_GB below).
BATCH_WORKERS = int(os.environ.get("COURSE_BATCH_WORKERS", "0"))
MEMORY_PER_SUBMISSION_GB = 3.0
def _number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# Limits per submission (the tests set small values through the environment). Each cell's limit
# comes from the reference solution's own time for it (calibration/<lab>.timing.json, see
# autograder/timing.py): factor × reference + extra; a cell the student added gets the extra alone.
CELL_LIMIT_FACTOR = _number("COURSE_CELL_LIMIT_FACTOR", 3.0)
CELL_LIMIT_EXTRA_S = _number("COURSE_CELL_LIMIT_EXTRA_S", 30)
NOTEBOOK_LIMIT_FACTOR = _number("COURSE_NOTEBOOK_LIMIT_FACTOR", 1.5)
NOTEBOOK_LIMIT_EXTRA_S = _number("COURSE_NOTEBOOK_LIMIT_EXTRA_S", 30)
# Without a timing file: one cell, and the whole notebook (also the ceiling of the calibrated limit).
CELL_TIMEOUT_S = int(_number("COURSE_CELL_TIMEOUT_S", 600))
NOTEBOOK_TIMEOUT_S = int(_number("COURSE_NOTEBOOK_TIMEOUT_S", 1800))
# One call of a student function by a check (a check that trains asks for more, next to its code).
CALL_TIMEOUT_S = _number("COURSE_CALL_TIMEOUT_S", 10)
# Memory of the submission's processes and tmpfs files. The reference (uint8) peaks at 2.2 GB; the
# textbook's float64 arrays at 9.6 GB, which an honest student may still use.
MEMORY_LIMIT_GB = _number("COURSE_MEMORY_LIMIT_GB", 12.0)
MAX_OUTPUT_BYTES_PER_CELL = int(_number("COURSE_MAX_OUTPUT_BYTES", 1_000_000))  # more is cut, with a note
# One message from the kernel (any type) larger than this is refused unread by the transport.
# The largest the checks need is a model with its weights: under 2 MB for every lab.
MAX_MESSAGE_BYTES = 16 * 2**20
# The executed notebook kept for feedback: outputs past this size are dropped, with a note.
MAX_EXECUTED_NOTEBOOK_BYTES = 8 * 2**20
# When Gradescope shows each check's result to students: "visible", "after_due_date",
# "after_published" or "hidden" (Gradescope's values); a check may set its own (`@check(visibility=...)`).
GRADESCOPE_VISIBILITY = "visible"
# Student code runs as this user (a name, or a bare uid), in its own namespaces, when the grader
# runs as root (see autograder/sandbox.py).
SANDBOX_USER = os.environ.get("COURSE_SANDBOX_USER", "nobody")
# Processes and threads of one submission: a kernel training with TensorFlow uses about 30.
MAX_PROCESSES = int(_number("COURSE_MAX_PROCESSES", 256))
# Size of each of the kernel's private tmpfs folders (working folder, /tmp, /dev/shm), in MB;
# their pages count towards the memory limit.
SCRATCH_LIMIT_MB = int(_number("COURSE_SCRATCH_LIMIT_MB", 512))

# The IMDB lab's grading protocol: the grader trains the student's build_model() itself.
IMDB_NUM_WORDS = 10_000
IMDB_RETRAIN_EPOCHS = 4
IMDB_BATCH_SIZE = 512
# Minimum test accuracy of the grader's own training run (uint8 inputs, NUM_THREADS threads).
# Calibrated with `python -m autograder calibrate` (calibration/imdb_sentiment.json): the reference
# gave mean 0.8816, std 0.0062, min 0.8641, max 0.8882 over 30 seeds on this 2-core machine.
# 0.85 is 0.014 below the worst seed (5 std below the mean); a constant model scores 0.50.
IMDB_MIN_TEST_ACCURACY = 0.85

# The multiclass lab's grading protocol: the grader trains the student's build_small_model().
MNIST_EPOCHS = 5
MNIST_BATCH_SIZE = 128
# Calibrated with `python -m autograder calibrate` (calibration/multiclass_softmax.json): the
# reference gave mean 0.9363, std 0.0030, min 0.9281, max 0.9411 over 20 seeds on this 2-core
# machine. 0.92 (the chapter's figure) is 0.008 below the worst seed, 5 std below the mean.
MNIST_MIN_TEST_ACCURACY = 0.92

# The overfitting lab's grading protocol (see autograder/checks/overfitting_regularization.py):
# the grader trains the student's models itself and asks for effects every calibrated seed shows.
# Calibrated with `python -m autograder calibrate` (calibration/overfitting_regularization.json).
# Reference over 10 seeds (IMDB: 20 epochs on 10,000 reviews): overfitting gap (final minus lowest
# validation loss) of L2 0.37-0.50 × the original's, L1 0.00-0.13 ×, L1 + L2 0.00-0.18 ×, the
# 8-unit model 0.36-0.81 ×; the 8-unit model's best epoch 1-6 epochs later; dropout's final
# training loss 5.0-10.6 × the original's (which memorizes: about 0.013) and its test accuracy
# 0.007-0.014 above the original's (L2's only 0.001-0.005: not graded). A copy of the
# unregularized original: 1.0×, 0 epochs later, 1.0×, +0.
OVERFIT_MAX_GAP_RATIO = {"l2": 0.75, "l1": 0.5, "l1_l2": 0.5, "smaller": 0.9}  # at most this × the original's gap
OVERFIT_SMALLER_LATER_EPOCHS = 1  # the 8-unit model's best epoch comes at least this much later
OVERFIT_MIN_TRAIN_LOSS_RATIO_DROPOUT = 3.0  # dropout's final training loss, at least this × the original's
OVERFIT_MIN_TEST_GAIN = {"dropout": 0.004}  # test accuracy above the original's
# make_moons (200 points, noise 0.40, 50,000 full-batch SGD steps, 2,000 fresh points to validate):
# moons_model(50) is 0.14-0.23 more accurate on its training points than on fresh ones; L1(0.001)
# shrinks that gap by 0.12-0.19, Dropout(0.25) by 0.14-0.24.
MOONS_MIN_OVERFIT_GAP = 0.08  # moons_model(50): training accuracy minus accuracy on fresh points, at least
MOONS_MIN_GAP_REDUCTION = 0.06  # L1 and dropout shrink that gap by at least this
