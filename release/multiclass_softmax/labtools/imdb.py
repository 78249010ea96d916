"""IMDB reviews as `keras.datasets.imdb` returns them, with an offline fallback.

Sources, in order (see `config.IMDB_SOURCE`, from labtools/settings.py):
1. Keras's own loader: its cache (~/.keras/datasets/imdb.npz) or its download.
2. The raw Large Movie Review Dataset archive (`config.DATA_DIR`), from which Keras's
   encoding is rebuilt once and cached, checksummed, in `config.CACHE_DIR`.

The rebuilt encoding follows Keras's conventions: words ranked by training-set frequency
(most frequent = 1, ties broken by the word itself so every machine builds the same index),
sequences start with 1, out-of-vocabulary words are 2, word ranks are shifted by index_from=3,
`num_words` keeps indices below it, and train and test are shuffled with seed 113.
Differences from Keras's published `imdb.npz`: the order of reviews before shuffling (ours:
negative then positive, by file id) and the exact index of tied words, so a given position
holds a different review than with Keras's file; test-set words unseen in training become 2.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np

from labtools import sources
from labtools.settings import config
from labtools.sources import DataUnavailableError

START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
SHUFFLE_SEED = 113
CACHE_FORMAT = 1
# keras.preprocessing.text.text_to_word_sequence's defaults, which produced Keras's word index.
_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_TRANSLATE = str.maketrans({c: " " for c in _FILTERS})


def text_to_word_sequence(text: str) -> list[str]:
    """Lowercase, replace Keras's default punctuation filters by spaces, split on spaces."""
    return text.lower().translate(_TRANSLATE).split()


def load_imdb(num_words: int | None = 10_000):
    """Return `(train_data, train_labels), (test_data, test_labels)` like keras.datasets.imdb.load_data."""
    if _source() == "keras":
        import keras

        return keras.datasets.imdb.load_data(num_words=num_words)
    return _load_from_cache(num_words)


def get_word_index() -> dict[str, int]:
    """Return the word -> rank mapping (rank 1 = most frequent) matching `load_imdb`."""
    if _source() == "keras":
        import keras

        return keras.datasets.imdb.get_word_index()
    with np.load(_cached_encoding()) as cache:
        words = cache["words"]
    return {str(word): rank for rank, word in enumerate(words, start=1)}


_chosen_source: str | None = None


def _source() -> str:
    """Pick Keras or the archive once per process, so data and word index always agree."""
    global _chosen_source
    if _chosen_source is None:
        _chosen_source = sources.choose_source(
            config.IMDB_SOURCE, "COURSE_IMDB_SOURCE", ["imdb.npz", "imdb_word_index.json"])
    return _chosen_source


def _load_from_cache(num_words: int | None):
    with np.load(_cached_encoding()) as cache:
        ranks, offsets, labels = cache["ranks"], cache["offsets"], cache["labels"]
        n_train = int(cache["n_train"])
    codes = np.where(ranks > 0, ranks + INDEX_FROM, OOV_CHAR).astype(np.int64)
    if num_words:
        codes = np.where(codes < num_words, codes, OOV_CHAR)
    reviews = [[START_CHAR, *chunk.tolist()] for chunk in np.split(codes, offsets[1:-1])]
    x_train, x_test = reviews[:n_train], reviews[n_train:]
    y_train, y_test = labels[:n_train].astype(np.int64), labels[n_train:].astype(np.int64)
    # The same shuffle as keras.datasets.imdb.load_data: one generator, train first.
    rng = np.random.RandomState(SHUFFLE_SEED)
    train_order = np.arange(len(x_train))
    rng.shuffle(train_order)
    test_order = np.arange(len(x_test))
    rng.shuffle(test_order)
    x_train = _object_array([x_train[i] for i in train_order])
    x_test = _object_array([x_test[i] for i in test_order])
    return (x_train, y_train[train_order]), (x_test, y_test[test_order])


def _object_array(sequences: list[list[int]]) -> np.ndarray:
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences
    return array


def archive_path() -> Path:
    return config.DATA_DIR / config.IMDB_ARCHIVE


def _cached_encoding() -> Path:
    """Path of the encoding built from the archive; built (once) if missing or corrupt."""
    archive = archive_path()
    if not archive.is_file():
        raise DataUnavailableError(
            f"Could not load IMDB: Keras's loader is unavailable (no cache, no download) and the "
            f"archive {config.IMDB_ARCHIVE} is not at {archive}. Set COURSE_DATA_DIR to the "
            f"folder that holds it, or put imdb.npz and imdb_word_index.json in ~/.keras/datasets."
        )
    cache = config.CACHE_DIR / f"imdb-{sources.sha256(archive)[:16]}-v{CACHE_FORMAT}.npz"
    return sources.checksummed_cache(cache, lambda: _encode_archive(archive))


def _encode_archive(archive: Path) -> dict[str, np.ndarray]:
    """Tokenize every labeled review and rank the training-set words by frequency."""
    texts: dict[tuple[str, int], list[tuple[int, list[str]]]] = {
        (split, label): [] for split in ("train", "test") for label in (0, 1)
    }
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if not (member.isfile() and len(parts) == 4 and parts[3].endswith(".txt")):
                    continue
                _, split, polarity, name = parts
                if split not in ("train", "test") or polarity not in ("neg", "pos"):
                    continue
                text = tar.extractfile(member).read().decode("utf-8")
                review_id = int(name.split("_")[0])
                texts[split, int(polarity == "pos")].append((review_id, text_to_word_sequence(text)))
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, ValueError) as error:
        raise DataUnavailableError(
            f"The IMDB archive at {archive} is corrupt or not the labeled aclImdb v1 archive "
            f"({error}). Replace it with a fresh copy of {config.IMDB_ARCHIVE}."
        ) from error

    ordered = {key: [tokens for _, tokens in sorted(reviews)] for key, reviews in texts.items()}
    train = ordered["train", 0] + ordered["train", 1]
    test = ordered["test", 0] + ordered["test", 1]
    if not train or not test:
        raise DataUnavailableError(
            f"The IMDB archive at {archive} holds no reviews under aclImdb/train and aclImdb/test."
        )
    counts = Counter(word for tokens in train for word in tokens)
    words = sorted(counts, key=lambda word: (-counts[word], word))
    rank = {word: i for i, word in enumerate(words, start=1)}
    sequences = [[rank.get(word, 0) for word in tokens] for tokens in train + test]
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    labels = [0] * len(ordered["train", 0]) + [1] * len(ordered["train", 1])
    labels += [0] * len(ordered["test", 0]) + [1] * len(ordered["test", 1])
    return {
        "ranks": np.fromiter((r for s in sequences for r in s), dtype=np.int32, count=lengths.sum()),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "labels": np.array(labels, dtype=np.int8),
        "n_train": np.array(len(train)),
        "words": np.array(words, dtype=str),
        "format": np.array(json.dumps({"version": CACHE_FORMAT, "archive": archive.name})),
    }
