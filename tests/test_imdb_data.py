"""The offline IMDB loader reproduces keras.datasets.imdb's conventions on a tiny archive."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import course_config
from labtools import imdb
from tests.conftest import TINY_REVIEWS


def expected_word_index() -> dict[str, int]:
    counts = Counter(
        word for split, _, _, text in TINY_REVIEWS if split == "train" for word in imdb.text_to_word_sequence(text)
    )
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    return {word: rank for rank, word in enumerate(ranked, start=1)}


def test_tokenizer_matches_keras_text_to_word_sequence():
    from keras.src.legacy.preprocessing.text import text_to_word_sequence

    for text in ["A great, GREAT film!<br /><br />The best.", "it's 10/10 -- (really)\ttabs\nlines", ""]:
        assert imdb.text_to_word_sequence(text) == text_to_word_sequence(text)


def test_word_index_ranks_training_words_by_count_then_word(tiny_data):
    word_index = imdb.get_word_index()
    assert word_index == expected_word_index()
    assert word_index["the"] == 1  # five times in the training reviews
    # "bad", "film" and "great" occur four times each: ties go in alphabetical order.
    assert [word_index[w] for w in ("bad", "film", "great")] == [2, 3, 4]


def test_sequences_use_keras_start_oov_and_offset(tiny_data):
    (x_train, y_train), (x_test, y_test) = imdb.load_imdb(num_words=None)
    word_index = expected_word_index()
    texts = {text for split, _, _, text in TINY_REVIEWS if split == "train"}
    encoded = {
        tuple([1] + [word_index[w] + 3 for w in imdb.text_to_word_sequence(text)]) for text in texts
    }
    assert {tuple(sequence) for sequence in x_train} == encoded
    assert x_train.dtype == object and isinstance(x_train[0], list)
    assert y_train.dtype == np.int64 and sorted(y_train.tolist()) == [0, 0, 0, 1, 1, 1]
    unseen = [s for s in x_test if len(s) == 4 and s[1] == 2]  # "Unseenword great film."
    assert unseen, "a test-set word missing from the training index must become 2 (out of vocabulary)"


def test_num_words_keeps_indices_below_it(tiny_data):
    (x_train, _), (x_test, _) = imdb.load_imdb(num_words=6)
    values = {index for s in list(x_train) + list(x_test) for index in s}
    assert max(values) == 5 and 2 in values


def test_shuffle_follows_keras_seed_113(tiny_data):
    (x_train, y_train), (x_test, y_test) = imdb.load_imdb(num_words=None)
    rng = np.random.RandomState(113)
    train_order, test_order = np.arange(6), np.arange(4)
    rng.shuffle(train_order)
    rng.shuffle(test_order)
    unshuffled_labels = np.array([0, 0, 0, 1, 1, 1])  # negative reviews first, then positive
    assert y_train.tolist() == unshuffled_labels[train_order].tolist()
    assert y_test.tolist() == np.array([0, 0, 1, 1])[test_order].tolist()


def test_second_load_comes_from_the_checksummed_cache(tiny_data, monkeypatch):
    first = imdb.load_imdb()
    monkeypatch.setattr(imdb, "_encode_archive", lambda archive: pytest.fail("archive re-encoded"))
    second = imdb.load_imdb()
    assert [list(s) for s in first[0][0]] == [list(s) for s in second[0][0]]


def test_corrupt_cache_is_rebuilt(tiny_data):
    first = imdb.load_imdb()
    (cache,) = course_config.CACHE_DIR.glob("imdb-*.npz")
    cache.write_bytes(b"not a cache")
    second = imdb.load_imdb()
    assert [list(s) for s in first[1][0]] == [list(s) for s in second[1][0]]


def test_missing_archive_names_what_and_where(tiny_data):
    (tiny_data / course_config.IMDB_ARCHIVE).unlink()
    with pytest.raises(imdb.DataUnavailableError, match=r"aclImdb_v1_labeled\.tar\.gz.*COURSE_DATA_DIR"):
        imdb.load_imdb()


def test_corrupt_archive_is_reported(tiny_data):
    (tiny_data / course_config.IMDB_ARCHIVE).write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(imdb.DataUnavailableError, match="corrupt"):
        imdb.load_imdb()
