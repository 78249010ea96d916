"""The offline MNIST loader reads the original IDX files exactly, and caches what it read."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import course_config
from labtools import mnist, sources


def write_idx(path: Path, array: np.ndarray, magic: int | None = None, cut: int = 0) -> Path:
    """A gzipped IDX file of unsigned bytes; `magic` overrides the header, `cut` drops final bytes."""
    if magic is None:
        magic = {1: 2049, 3: 2051}[array.ndim]
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data[: len(data) - cut]))
    return path


def tiny_arrays(n_train: int = 5, n_test: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch) -> dict[str, np.ndarray]:
    """Four tiny IDX files in DATA_DIR/mnist, an empty cache, the IDX files as the source."""
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    (data_dir / "mnist").mkdir(parents=True)
    arrays = tiny_arrays()
    for name, file_name in mnist.FILES.items():
        write_idx(data_dir / "mnist" / file_name, arrays[name])
    monkeypatch.setattr(course_config, "DATA_DIR", data_dir)
    monkeypatch.setattr(course_config, "CACHE_DIR", cache_dir)
    monkeypatch.setattr(course_config, "MNIST_SOURCE", "archive")
    monkeypatch.setattr(mnist, "_chosen_source", None)
    return arrays


def assert_same(loaded, arrays: dict[str, np.ndarray]) -> None:
    (x_train, y_train), (x_test, y_test) = loaded
    for name, array in zip(mnist.FILES, (x_train, y_train, x_test, y_test)):
        assert array.dtype == np.uint8, name
        assert array.shape == arrays[name].shape, name
        np.testing.assert_array_equal(array, arrays[name], err_msg=name)


def idx_path(name: str) -> Path:
    return course_config.DATA_DIR / "mnist" / mnist.FILES[name]


def test_arrays_round_trip_exactly(tiny_mnist):
    loaded = mnist.load_mnist()
    assert_same(loaded, tiny_mnist)
    assert loaded[0][0].shape == (5, 28, 28) and loaded[0][1].shape == (5,)
    assert loaded[1][0].shape == (3, 28, 28) and loaded[1][1].shape == (3,)


def test_read_idx_returns_a_writable_array(tiny_mnist):
    images = mnist.read_idx(idx_path("x_train"))
    np.testing.assert_array_equal(images, tiny_mnist["x_train"])
    images[0, 0, 0] = 7  # students may normalize in place


def test_second_load_comes_from_the_checksummed_cache(tiny_mnist, monkeypatch):
    mnist.load_mnist()
    (cache,) = course_config.CACHE_DIR.glob("mnist-*-v1.npz")
    assert cache.with_suffix(".sha256").read_text() == sources.sha256(cache)
    monkeypatch.setattr(mnist, "read_idx", lambda path: pytest.fail(f"{path} parsed again"))
    assert_same(mnist.load_mnist(), tiny_mnist)


def test_changed_files_get_a_new_cache(tiny_mnist):
    mnist.load_mnist()
    changed = dict(tiny_mnist, y_test=(tiny_mnist["y_test"] + 1) % 10)
    write_idx(idx_path("y_test"), changed["y_test"])
    assert_same(mnist.load_mnist(), changed)
    assert len(list(course_config.CACHE_DIR.glob("mnist-*-v1.npz"))) == 2


def test_corrupt_cache_is_rebuilt(tiny_mnist):
    mnist.load_mnist()
    (cache,) = course_config.CACHE_DIR.glob("mnist-*-v1.npz")
    cache.write_bytes(b"not a cache")
    assert_same(mnist.load_mnist(), tiny_mnist)
    assert cache.with_suffix(".sha256").read_text() == sources.sha256(cache)


def test_missing_files_are_all_named_with_the_folder(tiny_mnist):
    idx_path("x_train").unlink()
    idx_path("y_test").unlink()
    with pytest.raises(mnist.DataUnavailableError) as caught:
        mnist.load_mnist()
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "train-labels-idx1-ubyte.gz" not in message
    assert str(course_config.DATA_DIR / "mnist") in message and "COURSE_DATA_DIR" in message


def test_wrong_magic_number_names_the_file(tiny_mnist):
    write_idx(idx_path("x_test"), tiny_mnist["x_test"], magic=2052)
    with pytest.raises(mnist.DataUnavailableError, match=r"t10k-images-idx3-ubyte\.gz.*magic.*Replace"):
        mnist.load_mnist()


def test_labels_in_place_of_images_are_reported(tiny_mnist):
    write_idx(idx_path("x_train"), tiny_mnist["y_train"])
    with pytest.raises(mnist.DataUnavailableError, match=r"train-images-idx3-ubyte\.gz.*not images"):
        mnist.load_mnist()


def test_truncated_payload_is_reported(tiny_mnist):
    write_idx(idx_path("x_train"), tiny_mnist["x_train"], cut=100)
    with pytest.raises(mnist.DataUnavailableError, match=r"train-images-idx3-ubyte\.gz.*holds"):
        mnist.load_mnist()


def test_cut_gzip_stream_is_reported(tiny_mnist):
    path = idx_path("y_train")
    path.write_bytes(path.read_bytes()[:-12])  # a download that stopped early
    with pytest.raises(mnist.DataUnavailableError, match=r"train-labels-idx1-ubyte\.gz.*decompressed"):
        mnist.load_mnist()


def test_not_gzip_is_reported(tiny_mnist):
    idx_path("y_test").write_bytes(b"<html>Not found</html>")
    with pytest.raises(mnist.DataUnavailableError, match=r"t10k-labels-idx1-ubyte\.gz.*Replace"):
        mnist.load_mnist()


def test_mismatched_image_and_label_counts_are_reported(tiny_mnist):
    write_idx(idx_path("y_train"), tiny_mnist["y_train"][:4])
    with pytest.raises(mnist.DataUnavailableError, match=r"train files do not match.*5 images.*4 labels"):
        mnist.load_mnist()


def test_invalid_source_is_a_value_error(tiny_mnist, monkeypatch):
    monkeypatch.setattr(course_config, "MNIST_SOURCE", "internet")
    with pytest.raises(ValueError, match="COURSE_MNIST_SOURCE.*'internet'"):
        mnist.load_mnist()


@pytest.mark.slow
def test_real_mnist_files(tmp_path, monkeypatch):
    folder = course_config.DATA_DIR / "mnist"
    if not folder.is_dir():
        pytest.skip(f"the real MNIST files are not in {folder} (set COURSE_DATA_DIR)")
    monkeypatch.setattr(course_config, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(course_config, "MNIST_SOURCE", "archive")
    monkeypatch.setattr(mnist, "_chosen_source", None)
    (x_train, y_train), (x_test, y_test) = mnist.load_mnist()
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train.max() == 255 and x_test.max() == 255
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    assert np.bincount(y_train, minlength=10).min() >= 5_000


def test_prepared_caches_follow_each_data_sets_own_source_setting(monkeypatch):
    """Changing COURSE_MNIST_SOURCE prepares MNIST again; the IMDB setting does not touch it."""
    from autograder.checks import grader_data

    mnist_stamp, imdb_stamp = (grader_data._stamp_text(name) for name in ("mnist", "imdb"))
    monkeypatch.setattr(course_config, "IMDB_SOURCE", "other-imdb-source")
    assert grader_data._stamp_text("mnist") == mnist_stamp
    assert grader_data._stamp_text("imdb") != imdb_stamp
    monkeypatch.setattr(course_config, "MNIST_SOURCE", "other-mnist-source")
    assert grader_data._stamp_text("mnist") != mnist_stamp


def test_the_data_are_prepared_by_data_set_or_by_lab():
    """`python -m autograder.checks.grader_data NAME` (the GitHub workflow passes the lab's name)."""
    from autograder.checks import grader_data

    assert [grader_data.data_set_named(name) for name in ("mnist", "imdb", "multiclass_softmax", "imdb_sentiment",
                                                          "overfitting_regularization")] == [
        "mnist", "imdb", "mnist", "imdb", "imdb"]
    with pytest.raises(ValueError, match="No hidden checks"):
        grader_data.data_set_named("nonsense")
