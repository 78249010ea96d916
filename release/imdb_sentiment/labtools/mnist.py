"""MNIST digits as `keras.datasets.mnist` returns them, with an offline fallback.

`load_mnist()` returns `(x_train, y_train), (x_test, y_test)`: x uint8 of shape (n, 28, 28),
y uint8 of shape (n,), 60,000 training and 10,000 test images.

Sources, in order, chosen once per process (`config.MNIST_SOURCE` from labtools/settings.py,
environment variable COURSE_MNIST_SOURCE: "auto", the default, or "keras" or "archive" to force one):
1. Keras's own loader: its cache ($KERAS_HOME or ~/.keras, datasets/mnist.npz) or its download.
2. The four original IDX files in `config.DATA_DIR / "mnist"` (train-images-idx3-ubyte.gz,
   train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), parsed
   once by `read_idx` and cached, checksummed, in `config.CACHE_DIR`.

Differences between the two sources: none. Keras's mnist.npz holds the arrays of these IDX files
in the same order, with the same dtypes and shapes.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from labtools import sources
from labtools.settings import config
from labtools.sources import DataUnavailableError

CACHE_FORMAT = 1
SUBFOLDER = "mnist"
# The cached array names and the IDX files they come from, in the order of the cache key.
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# IDX magic numbers: 0x0000, type 0x08 (unsigned byte), number of dimensions.
_MAGIC_DIMS = {2049: 1, 2051: 3}

Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_mnist() -> Splits:
    """Return `(x_train, y_train), (x_test, y_test)` like keras.datasets.mnist.load_data."""
    if _source() == "keras":
        import keras

        return keras.datasets.mnist.load_data()
    with np.load(_cached_arrays()) as cache:
        return (cache["x_train"], cache["y_train"]), (cache["x_test"], cache["y_test"])


def data_folder() -> Path:
    return config.DATA_DIR / SUBFOLDER


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes: labels (magic 2049) 1-D, images (2051) 3-D."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as file:
            header = file.read(4)
            magic = int.from_bytes(header, "big") if len(header) == 4 else None
            if magic not in _MAGIC_DIMS:
                raise _corrupt(path, f"magic number {magic}, expected 2049 (labels) or 2051 (images)")
            ndim = _MAGIC_DIMS[magic]
            sizes = file.read(4 * ndim)
            if len(sizes) != 4 * ndim:
                raise _corrupt(path, "the header is cut short")
            dims = tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
            if 0 in dims:
                raise _corrupt(path, f"dimensions {dims} include a zero")
            payload = file.read()
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise _corrupt(path, f"it cannot be decompressed: {error}") from error
    expected = int(np.prod(dims))
    if len(payload) != expected:
        raise _corrupt(path, f"its header announces {dims} = {expected} bytes, it holds {len(payload)}")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims).copy()


def _corrupt(path: Path, reason: str) -> DataUnavailableError:
    return DataUnavailableError(
        f"The MNIST file {path} is corrupt or not an IDX file of unsigned bytes ({reason}). "
        f"Replace it with a fresh copy of {path.name}."
    )


_chosen_source: str | None = None


def _source() -> str:
    """Pick Keras or the IDX files once per process."""
    global _chosen_source
    if _chosen_source is None:
        _chosen_source = sources.choose_source(config.MNIST_SOURCE, "COURSE_MNIST_SOURCE", ["mnist.npz"])
    return _chosen_source


def _cached_arrays() -> Path:
    """Path of the arrays parsed from the IDX files; parsed (once) if missing or corrupt."""
    folder = data_folder()
    paths = {name: folder / file_name for name, file_name in FILES.items()}
    missing = [path.name for path in paths.values() if not path.is_file()]
    if missing:
        raise DataUnavailableError(
            f"Could not load MNIST: Keras's loader is unavailable (no cache, no download) and "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing from {folder}. "
            f"Set COURSE_DATA_DIR to the folder that holds mnist/ with the four IDX files, "
            f"or put mnist.npz in ~/.keras/datasets."
        )
    key = hashlib.sha256("".join(sources.sha256(path) for path in paths.values()).encode()).hexdigest()[:16]
    cache = config.CACHE_DIR / f"mnist-{key}-v{CACHE_FORMAT}.npz"
    return sources.checksummed_cache(cache, lambda: _parse(paths))


def _parse(paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """Read the four IDX files and check that each split's images and labels belong together."""
    arrays = {name: read_idx(path) for name, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3:
            raise _corrupt(paths[f"x_{split}"], "it holds labels (magic 2049), not images (2051)")
        if labels.ndim != 1:
            raise _corrupt(paths[f"y_{split}"], "it holds images (magic 2051), not labels (2049)")
        if len(images) != len(labels):
            raise DataUnavailableError(
                f"The MNIST {split} files do not match: {paths[f'x_{split}'].name} holds "
                f"{len(images)} images, {paths[f'y_{split}'].name} {len(labels)} labels. "
                f"Replace both with fresh copies."
            )
    return arrays
