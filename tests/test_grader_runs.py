"""The checks that judge a student's own training, called without a kernel (seconds each): a
history must match the grader's replay of its run epoch by epoch, a variant table the grader's own
training on data the student cannot predict; the grader's own training and the calls of student
code stop at their budgets. The data are small and made here."""

from __future__ import annotations

import json
import time
import types

import keras
import numpy as np
import pytest

from autograder.checks import common, imdb_sentiment as imdb
from autograder.checks.submission import StudentCodeError, Submission
from autograder.kernel import wire


def model_data(model: keras.Model, weights: bool = False) -> wire.ModelData:
    """A model as the kernel describes it (wire.decode's result)."""
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    return wire.ModelData(config, int(model.optimizer.iterations.numpy()), model.get_weights() if weights else None)


class Notebook(Submission):
    """A submission whose functions are the Python callables given: the checks' view, no kernel."""

    def __init__(self, functions: dict, variables: dict | None = None, **budgets):
        super().__init__(kernel=None, **budgets)
        self.functions, self.variables = functions, variables or {}
        self.input_seed = 1  # the draws of this test are fixed

    def function(self, name, **_):
        return self.functions[name]

    def variable(self, name, **_):
        return self.variables.get(name, wire.Missing(name))


def reviews(n: int, words: int = imdb.NUM_WORDS, seed: int = 0):
    """Multi-hot reviews whose label shows in a few cue words, as uint8 like the grader's."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.float32)
    x = (rng.random((n, words)) < 0.002).astype(np.uint8)
    cues = rng.random((n, 100)) < 0.1
    x[:, :100] |= cues & (y[:, None] == 1)
    x[:, 100:200] |= cues & (y[:, None] == 0)
    return x, y


def build_variant(hidden_layers=2, units=16, activation="relu", loss="binary_crossentropy") -> keras.Model:
    model = keras.Sequential([keras.Input((imdb.NUM_WORDS,))])
    for _ in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation=activation))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
    return model


def honest_table(x_train, y_train, x_val, y_val, epochs, batch_size):
    keras.utils.set_random_seed(12345)  # the student's own seed, not the grader's
    return {name: max(build_variant(**{**imdb.VARIANT_DEFAULTS, **overrides}).fit(
        x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val), verbose=0,
    ).history["val_accuracy"]) for name, overrides in imdb.VARIANTS.items()}


@pytest.fixture(scope="module")
def lab_data():
    x, y = reviews(imdb.VARIANT_TABLE_TRAIN + imdb.VARIANT_TABLE_VAL + 100)
    return types.SimpleNamespace(x_train=x, y_train=y)


TABLES = {
    "honest": honest_table,
    "halves": lambda *args, **kwargs: {name: 0.5 for name in imdb.VARIANTS},
    "majority_class": lambda x, y, x_val, y_val, **kwargs: {name: float(max(y_val.mean(), 1 - y_val.mean()))
                                                            for name in imdb.VARIANTS},
}


@pytest.mark.parametrize("kind", TABLES)
def test_only_a_table_from_training_passes(kind, lab_data):
    notebook = Notebook({"run_variant_experiments": TABLES[kind], "build_variant": lambda **s: model_data(build_variant(**s))})
    if kind == "honest":
        imdb.test_variant_experiment_table(notebook, lab_data, np.random.default_rng(notebook.input_seed))
    else:
        with pytest.raises(AssertionError, match="does not come from training"):
            imdb.test_variant_experiment_table(notebook, lab_data, np.random.default_rng(notebook.input_seed))


def test_the_variant_data_are_drawn_from_the_secret_seed(lab_data):
    """Other reviews for each submission; other flipped validation labels for each call."""
    seen = []
    notebook = Notebook({"run_variant_experiments": lambda *data, **_: seen.append(data) or TABLES["halves"](),
                         "build_variant": lambda **s: model_data(build_variant(**s))})
    for seed in (1, 2):
        with pytest.raises(AssertionError):
            imdb.test_variant_experiment_table(notebook, lab_data, np.random.default_rng(seed))
    first, second, other_seed = seen[0], seen[1], seen[imdb.VARIANT_TABLE_CALLS]
    assert np.array_equal(first[0], second[0]) and not np.array_equal(first[3], second[3])
    assert not np.array_equal(first[0], other_seed[0])


TOLERANCE = {"loss": 0.15, "accuracy": 0.15}


def fitted_history(x, y, seed: int) -> wire.HistoryData:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x[500:], y[500:], epochs=8, batch_size=128, validation_data=(x[:500], y[:500]), verbose=0)
    return wire.HistoryData(common.plain_history(history), model_data(model, weights=True))


def replay(history: wire.HistoryData, x, y) -> None:
    common.assert_history_is_replayed(Notebook({}), history, (x[500:], y[500:]), (x[:500], y[:500]), 128,
                                      (x.shape[1],), seed=7, tolerance=TOLERANCE)


def test_a_history_is_replayed_epoch_by_epoch():
    x, y = reviews(2_500, words=500)
    history = fitted_history(x, y, seed=3)
    replay(history, x, y)  # another seed's honest run
    invented = {key: [values[-1]] * (len(values) - 1) + [values[-1]] for key, values in history.history.items()}
    with pytest.raises(AssertionError, match="not what training this model gives"):
        replay(wire.HistoryData(invented, history.model), x, y)


def test_the_graders_training_stops_at_the_submissions_budget():
    x, y = reviews(4_000)
    keras.utils.set_random_seed(0)  # the imdb checks enable TensorFlow's determinism, which needs a seed
    model = build_variant(units=64)
    notebook = Notebook({}, training_cpu_seconds=0.5)
    started = time.process_time()
    with pytest.raises(AssertionError, match="stopped training your model"):
        notebook.fit(model, x, y, epochs=50, batch_size=32, verbose=0)
    assert time.process_time() - started < 20
    assert notebook.training_cpu_left < 0
    with pytest.raises(AssertionError, match="stopped training"):  # spent: the next fit stops at once
        notebook.fit(build_variant(), x[:256], y[:256], epochs=1, batch_size=128, verbose=0)


class SlowKernel:
    """Every call of student code takes 0.4 s (a kernel whose clock is the wall clock)."""

    wall_factor = 3.0

    def usage(self):
        return time.monotonic()

    def call(self, name, *args, timeout, **kwargs):
        time.sleep(min(0.4, timeout))
        return 1

    def variable(self, name, **kwargs):
        time.sleep(0.4)
        return 1


def test_calls_of_student_code_stop_at_the_submissions_budget():
    submission = Submission(SlowKernel(), call_seconds=2.0)
    function = submission.function("decode_review")
    answered = 0
    with pytest.raises(StudentCodeError, match="used up the time"):
        for _ in range(20):
            function()
            answered += 1
    assert 2 <= answered <= 4


def test_a_variable_whose_read_hung_is_not_read_again():
    class HangingKernel(SlowKernel):
        reads = 0

        def variable(self, name, **kwargs):
            self.reads += 1
            return wire.StudentException("TimeoutError", "reading `history` ran past its limit", [])

    kernel = HangingKernel()
    submission = Submission(kernel)
    for _ in range(3):
        assert isinstance(submission.variable("history"), wire.StudentException)
    assert kernel.reads == 1
