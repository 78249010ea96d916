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

# The labs, in course order. Each is declared by assignments/<name>/<name>.ipynb and
# autograder/checks/<name>.py (checks, data, protocol, thresholds, samples; see README, *Adding a lab*).
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
# GitHub (the instructor's grade-submissions workflow, autograder/platforms/github.py): the roster above, with
# a `github` column (each student's login) and optional `due_<lab>` columns (an extension), says who
# is graded; each student's repository in the organisation is named after this pattern.
GITHUB_REPOSITORY_PATTERN = os.environ.get("COURSE_GITHUB_REPOSITORY_PATTERN") or "{assignment}-{login}"
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
# The grader's own training results, one JSON file per distinct model, protocol and data
# (autograder/checks/training_cache.py). Only the grader reads and writes it: it must lie outside every
# folder the sandboxed kernel sees (CACHE_DIR and DATA_DIR included), or it is not used. An empty
# COURSE_TRAINING_CACHE_DIR switches it off; deleting the folder clears it.
TRAINING_CACHE_DIR = os.environ.get("COURSE_TRAINING_CACHE_DIR", str(ROOT / "build" / "training_cache"))
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
def parse_seed(text: str | None, default: int) -> int:
    """COURSE_CHECK_SEED as an integer; a clear error, which never shows the value, when it is not one."""
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        what = "empty (an unset GitHub secret arrives as an empty string)" if not text.strip() else "not an integer"
        raise SystemExit(f"COURSE_CHECK_SEED is {what}: set it to any integer, kept private "
                         "(in GitHub: Settings → Secrets and variables → Actions → COURSE_CHECK_SEED).") from None


CHECK_SEED = parse_seed(os.environ.get("COURSE_CHECK_SEED"), SEED)
NUM_THREADS = int(os.environ.get("COURSE_NUM_THREADS", "2"))  # TF/OMP threads per grading process
# Batch grading: workers in parallel. 0 = choose from free memory and cores. Peak memory of one
# submission's whole process tree, measured here (`make bench`, tests): IMDB reference with the
# lab's uint8 matrices 2.2 GB, overfitting lab 2.1, MNIST 1.6. A student who keeps float32
# matrices needs 5.9 GB, float64 9.6 (up to MEMORY_LIMIT_GB below). Workers are as many as fit
# workers × (MEMORY_LIMIT_GB + WORKER_MEMORY_GB) in free memory (autograder/course/batch.py); with more
# workers asked for (--workers), each kernel's limit is lowered to fit, not under
# MEMORY_PER_SUBMISSION_GB.
BATCH_WORKERS = int(os.environ.get("COURSE_BATCH_WORKERS", "0"))
MEMORY_PER_SUBMISSION_GB = 3.0
# A grading worker's own memory, its kernel not counted: TensorFlow, the checks and the lab's data
# (the IMDB grader peaked at 2.35 GB).
WORKER_MEMORY_GB = 2.5
def _number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# Limits per submission (the tests set small values through the environment). Each cell's limit
# comes from the reference solution's own time for it (calibration/<lab>.timing.json, see
# autograder/grading/timing.py): factor × reference + extra; a cell the student added gets the extra alone.
CELL_LIMIT_FACTOR = _number("COURSE_CELL_LIMIT_FACTOR", 3.0)
CELL_LIMIT_EXTRA_S = _number("COURSE_CELL_LIMIT_EXTRA_S", 30)
NOTEBOOK_LIMIT_FACTOR = _number("COURSE_NOTEBOOK_LIMIT_FACTOR", 1.5)
NOTEBOOK_LIMIT_EXTRA_S = _number("COURSE_NOTEBOOK_LIMIT_EXTRA_S", 30)
# Without a timing file: one cell, and the whole notebook (also the ceiling of the calibrated limit).
CELL_TIMEOUT_S = int(_number("COURSE_CELL_TIMEOUT_S", 600))
NOTEBOOK_TIMEOUT_S = int(_number("COURSE_NOTEBOOK_TIMEOUT_S", 1800))
# One call of a student function by a check (a check that trains asks for more, next to its code).
CALL_TIMEOUT_S = _number("COURSE_CALL_TIMEOUT_S", 10)
# Every limit above counts CPU seconds of the submission's own processes (its cgroup), so a grade
# never depends on how busy the grading machine is. What burns no CPU (a sleep, a blocked read) is
# ended by a wall-clock backstop of WALL_LIMIT_FACTOR × the CPU limit: an honest cell needs
# wall = CPU / its share of the cores, and its CPU limit is at least 3 × the reference's, so the
# backstop holds down to a ninth of a core. Without cgroups (a laptop), the limits are wall-clock
# seconds scaled by a speed probe of the machine (autograder/kernel/speed.py), and the report says so.
WALL_LIMIT_FACTOR = _number("COURSE_WALL_LIMIT_FACTOR", 3.0)
# The kernel's CPU quota (CFS), in cores; Gradescope's default container has 0.5.
KERNEL_CPUS = _number("COURSE_KERNEL_CPUS", NUM_THREADS)
# After the notebook, two budgets per submission, each CHECKS_LIMIT_FACTOR × the reference's check
# time + extra (calibration/<lab>.timing.json; CHECKS_TIMEOUT_S without it, and the ceiling): all
# calls of the student's code together, and the grader's own CPU time training the student's models.
# Measured reference check times: IMDB 64 s, MNIST 17 s, overfitting 119 s (1 thread).
CHECKS_LIMIT_FACTOR = _number("COURSE_CHECKS_LIMIT_FACTOR", 3.0)
CHECKS_LIMIT_EXTRA_S = _number("COURSE_CHECKS_LIMIT_EXTRA_S", 60)
CHECKS_TIMEOUT_S = _number("COURSE_CHECKS_TIMEOUT_S", 900)
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
# runs as root (see autograder/sandbox/namespaces.py).
SANDBOX_USER = os.environ.get("COURSE_SANDBOX_USER", "nobody")
# Processes and threads of one submission: a kernel training with TensorFlow uses about 30.
MAX_PROCESSES = int(_number("COURSE_MAX_PROCESSES", 256))
# Size of each of the kernel's private tmpfs folders (working folder, /tmp, /dev/shm), in MB;
# their pages count towards the memory limit.
SCRATCH_LIMIT_MB = int(_number("COURSE_SCRATCH_LIMIT_MB", 512))

# Each lab's grading protocol and thresholds live in its module, autograder/checks/<lab>.py.
# The IMDB labs' vocabulary (both read the same cached multi-hot matrices):
IMDB_NUM_WORDS = 10_000
