"""Shared fixtures: a tiny IMDB archive in the real format, and an environment that uses it."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import course_config
from autograder.checks.submission import Submission
from autograder.kernel.session import KernelSession
from labtools import imdb

REPO = Path(__file__).resolve().parent.parent
# The grader's training cache (autograder/checks/training_cache.py): a folder of this test process's own,
# empty at the start, so that no test sees an entry of an earlier run (a budget or a count of
# training runs would be skipped). Subprocesses (workers, `course autograde`) inherit it.
_TRAINING_CACHE = tempfile.mkdtemp(prefix="dl-course-training-cache-")
os.environ["COURSE_TRAINING_CACHE_DIR"] = course_config.TRAINING_CACHE_DIR = _TRAINING_CACHE
atexit.register(shutil.rmtree, _TRAINING_CACHE, ignore_errors=True)
ASSIGNMENT = "imdb_sentiment"

# (split, polarity, file name, text): enough to check ranking, ties, OOV and shuffling.
TINY_REVIEWS = [
    ("train", "pos", "0_9.txt", "A great, great film!<br /><br />The best."),
    ("train", "pos", "1_8.txt", "Great acting; the plot is great."),
    ("train", "pos", "2_10.txt", "Loved it. The film is a gem."),
    ("train", "neg", "0_1.txt", "A bad film. The worst plot."),
    ("train", "neg", "1_2.txt", "Bad, bad acting: zebra."),
    ("train", "neg", "2_3.txt", "The film is dull and bad."),
    ("test", "pos", "0_7.txt", "A great plot and a great cast."),
    ("test", "pos", "1_9.txt", "Unseenword great film."),
    ("test", "neg", "0_4.txt", "The worst film, bad acting."),
    ("test", "neg", "1_1.txt", "Dull. Dull. Dull."),
]


def write_tiny_archive(folder: Path, reviews=TINY_REVIEWS) -> Path:
    """An aclImdb_v1_labeled.tar.gz with the real layout and a handful of reviews."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / course_config.IMDB_ARCHIVE
    with tarfile.open(path, "w:gz") as tar:
        members = [("aclImdb/README", "tiny test archive"), ("aclImdb/imdb.vocab", "the\nfilm\n")]
        members += [(f"aclImdb/{split}/{polarity}/{name}", text) for split, polarity, name, text in reviews]
        for name, text in members:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@contextmanager
def tiny_data_environment():
    """Point this process and its children (kernels, check processes) at a tiny archive.

    The folder is readable by everyone: as root, the grader runs student code as another user.
    """
    folder = Path(tempfile.mkdtemp(prefix="dl-course-tiny-"))
    os.chmod(folder, 0o755)
    data_dir, cache_dir = folder / "data", folder / "cache"
    write_tiny_archive(data_dir)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("DATA_DIR", data_dir), ("CACHE_DIR", cache_dir), ("IMDB_SOURCE", "archive")):
            patch.setattr(course_config, name, value)
        patch.setenv("COURSE_DATA_DIR", str(data_dir))
        patch.setenv("COURSE_CACHE_DIR", str(cache_dir))
        patch.setenv("COURSE_IMDB_SOURCE", "archive")
        patch.setattr(imdb, "_chosen_source", None)
        yield data_dir
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tiny_data() -> Path:
    with tiny_data_environment() as data_dir:
        yield data_dir


@pytest.fixture(scope="module")
def tiny_data_for_module() -> Path:
    with tiny_data_environment() as data_dir:
        yield data_dir


@contextmanager
def kernel_serving(*sources: str, notebook: nbformat.NotebookNode | None = None):
    """A Submission served by a real sandboxed kernel holding the definitions in `sources` (or in
    `notebook`), as the grader serves a student's notebook whose own kernel did not survive."""
    notebook = notebook or new_notebook(cells=[new_code_cell(source) for source in sources])
    with tempfile.TemporaryDirectory(prefix="dl-course-kernel-") as folder:
        os.chmod(folder, 0o711)
        with KernelSession(notebook, Path(folder)) as kernel:
            yield Submission(kernel)
