"""What the data loaders share: Keras first, else the course's own files, cached and checksummed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
from pathlib import Path
from typing import Callable

import numpy as np

from labtools.settings import config

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


class DataUnavailableError(RuntimeError):
    """A data set could be found neither through Keras nor in the course's data folder."""


def choose_source(setting: str, variable: str, keras_files: list[str]) -> str:
    """'keras' or 'archive' for a setting of auto|keras|archive (environment variable `variable`)."""
    if setting not in ("auto", "keras", "archive"):
        raise ValueError(f"{variable} must be auto, keras or archive, not {setting!r}")
    if setting != "auto":
        return setting
    return "keras" if keras_files_available(keras_files) else "archive"


def keras_files_available(names: list[str]) -> bool:
    """True if Keras's cache holds every file, or its download of them works now."""
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    if all((cache / name).exists() for name in names):
        return True
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(config.KERAS_DOWNLOAD_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints "Downloading data from ..."
            for name in names:
                keras.utils.get_file(name, KERAS_ORIGIN + name)
        return True
    except Exception:  # offline, proxy, DNS: any failure means "use the course's files"
        return False
    finally:
        socket.setdefaulttimeout(previous)


def checksummed_cache(cache: Path, build: Callable[[], dict[str, np.ndarray]]) -> Path:
    """`cache` (an .npz) if its checksum holds; else build the arrays and write them once."""
    checksum_file = cache.with_suffix(".sha256")
    if cache.exists() and checksum_file.exists() and checksum_file.read_text() == sha256(cache):
        return cache
    arrays = build()
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(partial, **arrays)
    os.replace(partial, cache)  # atomic: a concurrent reader never sees half a file
    checksum_file.write_text(sha256(cache))
    return cache


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
