"""Each lab's data, prepared once before any student code runs and shared by every grading process.

Multi-hot matrices are stored as uint8 `.npy` files and opened memory-mapped: 250 MB each for
IMDB instead of 1 GB (float32) or 2 GB (float64), read from the page cache by every worker at
once. Keras casts each batch to float32, so the results are the same as with float inputs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import course_config
from labtools import imdb, mnist


def multi_hot(sequences, dimension: int, dtype=np.uint8) -> np.ndarray:
    """The grader's reference vectorization (one row per sequence, 1 where an index occurs)."""
    result = np.zeros((len(sequences), dimension), dtype=dtype)
    for row, sequence in enumerate(sequences):
        result[row, np.asarray(sequence, dtype=np.int64)] = 1
    return result


@dataclass
class ImdbData:
    train_sequences: np.ndarray
    test_sequences: np.ndarray
    x_train: np.ndarray  # uint8 multi-hot, memory-mapped
    y_train: np.ndarray  # float32
    x_test: np.ndarray
    y_test: np.ndarray
    word_index: dict[str, int]


def load_imdb_data(num_words: int = course_config.IMDB_NUM_WORDS) -> ImdbData:
    (train_seq, train_labels), (test_seq, test_labels) = imdb.load_imdb(num_words=num_words)
    word_index = imdb.get_word_index()
    folder = _cache_folder(train_seq, test_seq, num_words)
    arrays = {}
    for name, sequences in (("x_train", train_seq), ("x_test", test_seq)):
        path = folder / f"{name}.npy"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f"{name}.tmp{os.getpid()}.npy"
            np.save(partial, multi_hot(sequences, num_words))
            os.replace(partial, path)
        arrays[name] = np.load(path, mmap_mode="r")
    return ImdbData(
        train_seq, test_seq, arrays["x_train"], train_labels.astype(np.float32),
        arrays["x_test"], test_labels.astype(np.float32), word_index,
    )


def _cache_folder(train_seq, test_seq, num_words: int) -> Path:
    """A folder named after the data itself, so a changed data set never reuses stale arrays."""
    digest = hashlib.sha256(str(num_words).encode())
    for sequences in (train_seq, test_seq):
        for sequence in sequences:
            digest.update(np.asarray(sequence, dtype=np.int32).tobytes())
            digest.update(b"|")
    return course_config.CACHE_DIR / "grader" / f"imdb-{digest.hexdigest()[:16]}"


@dataclass
class MnistData:
    x_train: np.ndarray  # float32 in [0, 1], (n, 28, 28)
    y_train: np.ndarray  # int64 digits
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist_data() -> MnistData:
    """MNIST scaled as the lab scales it (188 MB of float32 training images)."""
    (x_train, y_train), (x_test, y_test) = mnist.load_mnist()
    scale = np.float32(1 / 255)
    return MnistData(x_train.astype(np.float32) * scale, y_train.astype(np.int64),
                     x_test.astype(np.float32) * scale, y_test.astype(np.int64))


@dataclass(frozen=True)
class Dataset:
    """What a lab reads, in the student's kernel (labtools' caches) and in the checks (the grader's
    arrays): the function that builds both, the data files they are built from, and the
    course_config setting that chooses the source. A lab names its data set in its module (DATA,
    `Lab.data`)."""

    load: Callable[[], object]
    files: Callable[[], Path]
    source_setting: str


DATASETS = {
    "imdb": Dataset(load_imdb_data, imdb.archive_path, "IMDB_SOURCE"),
    "mnist": Dataset(load_mnist_data, mnist.data_folder, "MNIST_SOURCE"),
}


@functools.lru_cache(maxsize=None)
def load(name: str):
    """A data set's arrays, loaded once per grading process (a batch worker grades many submissions)."""
    return DATASETS[name].load()


def prepare(name: str | None) -> str | None:
    """Build a data set's caches before grading, readable by the sandbox user; return a problem or None.

    The student's kernel runs as a user that cannot write to the course folder, so it must find
    the caches ready. A child process builds them, so the grader never holds the data itself; a
    stamp file names the data files they were built from, so a batch pays for this once.
    """
    if name is None:
        return None
    stamp = course_config.CACHE_DIR / f"{name}.prepared"
    if stamp.is_file() and stamp.read_text() == _stamp_text(name):
        return None
    process = subprocess.run([sys.executable, "-m", "autograder.checks.grader_data", name],
                             capture_output=True, text=True)
    if process.returncode != 0:
        lines = process.stderr.strip().splitlines() or [f"exit status {process.returncode}"]
        return f"The lab's data could not be prepared: {lines[-1][:300]}"
    return None


def _stamp_text(name: str) -> str:
    dataset = DATASETS[name]
    path = dataset.files()
    stat = path.stat() if path.exists() else None
    source = getattr(course_config, dataset.source_setting)
    return json.dumps([name, source, str(path), stat and [stat.st_size, stat.st_mtime_ns]])


def share_cache() -> None:
    """Let every user read the caches (public data): the sandbox user must, whatever the umask."""
    cache = course_config.CACHE_DIR
    folders = [folder for folder in cache.parents if course_config.ROOT in folder.parents]
    paths = [*folders, cache]
    for folder, _, files in os.walk(cache):
        paths += [folder, *(os.path.join(folder, name) for name in files)]
    for path in paths:
        try:
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
        except PermissionError:  # someone else's file: they decide who reads it
            pass


def data_set_named(name: str) -> str | None:
    """The data set `name` is, or the one the lab `name` reads (None: it reads none)."""
    if name in DATASETS:
        return name
    from autograder.checks import load_lab

    return load_lab(name).data


if __name__ == "__main__":  # python -m autograder.checks.grader_data NAME (a data set, or a lab)
    data_set = data_set_named(sys.argv[1])
    if data_set is not None:
        DATASETS[data_set].load()
        (course_config.CACHE_DIR / f"{data_set}.prepared").write_text(_stamp_text(data_set))
        share_cache()
