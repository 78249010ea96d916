"""The grader's own training runs are cached per distinct model (autograder/checks/training_cache.py):
a second grading of the same model trains nothing, anything that changes the run misses, a damaged
entry is recomputed, parallel writers never leave half an entry, and the kernel cannot see it."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest

import course_config
from autograder.checks import imdb_sentiment as imdb, training_cache
from autograder.sandbox import namespaces
from tests.test_grader_runs import Notebook, model_data, reviews


def dense_net(units=16, functional=False, names=False, learning_rate=0.001) -> keras.Model:
    named = {"name": "hidden"} if names else {}
    if functional:
        inputs = keras.Input((imdb.NUM_WORDS,))
        hidden = keras.layers.Dense(units, activation="relu", **named)(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    else:
        model = keras.Sequential([keras.Input((imdb.NUM_WORDS,)), keras.layers.Dense(units, activation="relu", **named),
                                  keras.layers.Dense(1, activation="sigmoid")], **({"name": "mine"} if names else {}))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


class CountingNotebook(Notebook):
    """A submission whose build_model() returns `build()`'s model; counts the grader's fits."""

    def __init__(self, build):
        super().__init__({"build_model": lambda: model_data(build())})
        self.fits = 0

    def fit(self, model, *args, **kwargs):
        self.fits += 1
        return super().fit(model, *args, **kwargs)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "training_cache"
    monkeypatch.setattr(course_config, "TRAINING_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def lab_data():
    x, y = reviews(700)
    return types.SimpleNamespace(x_train=x[:500], y_train=y[:500], x_test=x[500:], y_test=y[500:])


def test_names_keras_makes_up_do_not_change_the_key():
    plain = training_cache.canonical_config(dense_net())
    assert training_cache.canonical_config(dense_net()) == plain  # dense_2, sequential_1, rm_sprop_1 ...
    assert training_cache.canonical_config(dense_net(names=True)) == plain  # names a student chose
    functional = training_cache.canonical_config(dense_net(functional=True))
    assert training_cache.canonical_config(dense_net(functional=True, names=True)) == functional
    others = {functional, training_cache.canonical_config(dense_net(units=32)),
              training_cache.canonical_config(dense_net(learning_rate=0.01))}
    assert plain not in others and len(others) == 3


def test_a_second_grading_of_the_same_model_trains_nothing(cache, lab_data):
    first = CountingNotebook(dense_net)
    result = imdb.train_and_evaluate(first, lab_data, seed=3)
    assert first.fits == 1 and first.training_used > 0
    again = CountingNotebook(lambda: dense_net(names=True))  # another student, the same network
    assert imdb.train_and_evaluate(again, lab_data, seed=3) == result
    assert again.fits == 0 and again.training_used == 0  # no training: no budget charged
    assert cache.stat().st_mode & 0o777 == 0o700  # the grader's alone
    (entry,) = (cache / "imdb_sentiment").glob("*.json")
    assert json.loads(entry.read_text())["result"] == result


def test_another_model_protocol_data_or_lab_source_trains_again(cache, lab_data, monkeypatch):
    imdb.train_and_evaluate(CountingNotebook(dense_net), lab_data, seed=3)
    changed_data = types.SimpleNamespace(**{**vars(lab_data), "y_train": 1 - lab_data.y_train})
    for build, data, seed in ((lambda: dense_net(units=32), lab_data, 3), (dense_net, lab_data, 4),
                              (dense_net, changed_data, 3)):
        notebook = CountingNotebook(build)
        imdb.train_and_evaluate(notebook, data, seed)
        assert notebook.fits == 1
    monkeypatch.setattr(training_cache, "source_digest", lambda lab: "another version of the checks")
    notebook = CountingNotebook(dense_net)
    imdb.train_and_evaluate(notebook, lab_data, seed=3)
    assert notebook.fits == 1
    assert len(list((cache / "imdb_sentiment").glob("*.json"))) == 5


@pytest.mark.parametrize("damage", ["not json {", '{"key": "another", "result": {}}', '{"key": "KEY", "result": [1]}',
                                    '{"key": "KEY", "result": {"history": {"loss": [1]}, "test_accuracy": 0.5}}'])
def test_a_damaged_entry_is_recomputed(cache, lab_data, damage):
    result = imdb.train_and_evaluate(CountingNotebook(dense_net), lab_data, seed=3)
    (entry,) = (cache / "imdb_sentiment").glob("*.json")
    entry.write_text(damage.replace("KEY", entry.stem))
    notebook = CountingNotebook(dense_net)
    assert imdb.train_and_evaluate(notebook, lab_data, seed=3) == result
    assert notebook.fits == 1
    assert json.loads(entry.read_text())["result"] == result  # stored again


def test_an_exception_is_not_stored(cache):
    model = dense_net()

    def train():
        raise AssertionError("stopped")

    for _ in range(2):
        with pytest.raises(AssertionError, match="stopped"):
            training_cache.cached_run("imdb_sentiment", model, {}, {}, train, lambda r: True)
    assert not list(cache.rglob("*.json"))


WRITER = """
import sys
from pathlib import Path
from autograder.checks import training_cache
result = {"history": {"loss": [float(i) for i in range(20000)]}, "writer": int(sys.argv[2])}
for _ in range(60):
    training_cache.write_entry(Path(sys.argv[1]), "k", result)
"""


def test_parallel_writers_never_leave_half_an_entry(tmp_path):
    path = tmp_path / "lab" / "k.json"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(i)], cwd=course_config.ROOT)
               for i in range(4)]
    seen = 0
    while any(w.poll() is None for w in writers):
        found = training_cache.read_entry(path, "k", lambda r: True)
        if found is not None:
            assert len(found["history"]["loss"]) == 20000 and found["writer"] in range(4)
            seen += 1
    assert all(w.wait() == 0 for w in writers)
    assert training_cache.read_entry(path, "k", lambda r: True) is not None and seen > 0
    assert [p.name for p in path.parent.iterdir()] == ["k.json"]  # no partial file left


def test_the_cache_lies_where_the_kernel_cannot_see_it(tmp_path, monkeypatch):
    default = Path(course_config.ROOT / "build" / "training_cache")
    monkeypatch.setattr(course_config, "TRAINING_CACHE_DIR", str(default))
    assert training_cache.folder() == default.resolve()
    # Inside a folder the sandbox mounts for the kernel (the data caches): not used.
    monkeypatch.setattr(course_config, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(course_config, "TRAINING_CACHE_DIR", str(tmp_path / "training"))
    assert training_cache.folder() is None
    # ... even before that folder exists (the sandbox mounts it once the data are prepared).
    monkeypatch.setattr(course_config, "CACHE_DIR", tmp_path / "not yet")
    monkeypatch.setattr(course_config, "TRAINING_CACHE_DIR", str(tmp_path / "not yet" / "training"))
    assert training_cache.folder() is None
    monkeypatch.setattr(course_config, "TRAINING_CACHE_DIR", "")
    assert training_cache.folder() is None


def test_data_are_hashed_once_per_process_and_slices_by_place(monkeypatch):
    x = np.arange(1_000_000, dtype=np.float32).reshape(1000, 1000)
    digest = training_cache.array_digest(x)
    calls = []
    real = training_cache.hashlib.blake2b
    monkeypatch.setattr(training_cache.hashlib, "blake2b", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert training_cache.array_digest(x) == digest and training_cache.array_digest(x[10:]) == training_cache.array_digest(x[10:])
    assert training_cache.array_digest(x[10:]) != training_cache.array_digest(x[11:]) != digest
    assert not calls  # the owner's digest is remembered; views are described by their place
    changed = x.copy()
    changed[0, 0] = -1
    assert training_cache.array_digest(changed) != digest


class CountingFits(Notebook):
    def __init__(self, functions=None):
        super().__init__(functions or {})
        self.fits = 0

    def fit(self, model, *args, **kwargs):
        self.fits += 1
        return super().fit(model, *args, **kwargs)


def test_the_history_replay_the_moons_and_mnist_runs_are_cached_too(cache, monkeypatch):
    from autograder.checks import common
    from autograder.checks import multiclass_softmax as mnist
    from autograder.checks import overfitting_regularization as overfitting
    from tests.test_grader_runs import TOLERANCE, fitted_history

    x, y = reviews(1_000, words=300)
    history = fitted_history(x, y, seed=3)
    monkeypatch.setitem(overfitting.PROTOCOL, "moons_steps", 500)

    def moons_model(hidden_units, l1=0.0, dropout=0.0):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(hidden_units, activation="tanh"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="binary_crossentropy", metrics=["accuracy"])
        return model_data(model)

    def small_model():
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(15, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model_data(model)

    rng = np.random.default_rng(0)
    digits = types.SimpleNamespace(x_train=rng.random((300, 28, 28), dtype=np.float32), y_train=rng.integers(0, 10, 300),
                                   x_test=rng.random((50, 28, 28), dtype=np.float32), y_test=rng.integers(0, 10, 50))
    runs = {
        "replay": lambda nb: common.assert_history_is_replayed(nb, history, (x[500:], y[500:]), (x[:500], y[:500]), 128,
                                                               (x.shape[1],), seed=7, tolerance=TOLERANCE),
        "moons": lambda nb: overfitting.moons_run(moons_model, nb.fit, 0, 5),
        "mnist": lambda nb: mnist.train_and_evaluate(nb, digits, seed=0),
    }
    for name, run in runs.items():
        first, again = CountingFits({"build_small_model": small_model}), CountingFits({"build_small_model": small_model})
        assert run(first) == run(again), name
        assert (first.fits, again.fits) == (1, 0), name


LOOK = '''
import os
def look(paths):
    return {path: os.path.exists(path) for path in paths}
'''


@pytest.mark.skipif(not namespaces.available(), reason="needs root, bubblewrap and cgroups")
def test_a_sandboxed_kernel_cannot_see_the_cache():
    from tests.conftest import kernel_serving

    folders = [Path(course_config.TRAINING_CACHE_DIR), course_config.ROOT / "build" / "training_cache"]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        training_cache.write_entry(folder / "lab" / "k.json", "k", {"test_accuracy": 0.9})
    assert all(training_cache.folder() is not None and (f / "lab" / "k.json").exists() for f in folders)
    course_config.CACHE_DIR.mkdir(parents=True, exist_ok=True)  # mounted where it exists (a fresh clone has none yet)
    with kernel_serving(LOOK) as submission:
        seen = submission.function("look")([str(f) for f in folders] + [str(course_config.CACHE_DIR)])
    assert seen == {**{str(f): False for f in folders}, str(course_config.CACHE_DIR): True}
    (folders[1] / "lab" / "k.json").unlink()
    (folders[1] / "lab").rmdir()
