"""Hidden checks of the IMDB sentiment lab.

Every check asks the student's kernel to call a notebook function on the grader's own inputs and
compares what comes back (plain data, see autograder/kernel/wire.py) with what the grader computes
itself. Models cross as their config and are rebuilt, trained and evaluated here: the test
accuracy comes from the grader's own training run of `build_model()`, never from the notebook;
the notebook's history and variant table must prove they came from training.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import course_config
from autograder.checks import check, grader_data, training_cache
from autograder.checks.common import (assert_history_comes_from_its_model, assert_history_is_replayed,
                                      assert_test_accuracy, deterministic_threads, dense_activations,
                                      dense_layers, learning_rate,
                                      notebook_history, plain_history, probabilities, require_compiled, type_name)
from autograder.checks.common import require_model as require_any_model
from autograder.checks.grader_data import multi_hot
from autograder.checks.submission import StudentCodeError

DATA = "imdb"  # what the lab reads (grader_data.DATASETS)
NUM_WORDS = course_config.IMDB_NUM_WORDS
# The grader's own training run of build_model(): all 25,000 training reviews, then the test set.
RETRAIN_EPOCHS, BATCH_SIZE = 4, 512
PROTOCOL = {"epochs": RETRAIN_EPOCHS, "batch_size": BATCH_SIZE}  # and the variant table's, below
# Minimum test accuracy of that run (uint8 inputs, NUM_THREADS threads). Calibrated with
# `python -m autograder calibrate` (calibration/imdb_sentiment.json): the reference gave mean
# 0.8816, std 0.0062, min 0.8641, max 0.8882 over 30 seeds on a 2-core machine. 0.85 is 0.014
# below the worst seed (5 std below the mean); a constant model scores 0.50.
MIN_TEST_ACCURACY = 0.85
EPOCHS_IN_NOTEBOOK = 20
# How far, epoch by epoch, the notebook's history may lie from the grader's replay of its run.
# Measured between 6 seeds of the reference's 20-epoch run (15 pairs): accuracy up to 0.030 apart,
# loss 0.022, val_accuracy 0.076, val_loss 0.064 (the first epochs differ most).
HISTORY_TOLERANCE = {"loss": 0.15, "accuracy": 0.15}
N_VAL = 10_000  # the notebook's validation reviews: the first 10,000 training reviews
ACCURACY_KEYS = ("accuracy", "acc", "binary_accuracy")
VARIANTS = {  # the textbook's further experiments: name -> build_variant arguments
    "1_hidden_layer": {"hidden_layers": 1},
    "3_hidden_layers": {"hidden_layers": 3},
    "32_units": {"units": 32},
    "64_units": {"units": 64},
    "mse_loss": {"loss": "mse"},
    "tanh_activation": {"activation": "tanh"},
}
VARIANT_DEFAULTS = {"hidden_layers": 2, "units": 16, "activation": "relu", "loss": "binary_crossentropy"}
# The variant table must come from training on data the student cannot predict. The grader
# draws 2,500 training reviews at random for each submission (a seed the kernel never sees) and
# calls run_variant_experiments twice on them, each time with a secret fraction of the 500
# validation labels flipped (any from 0 to 1, drawn anew per call), so that a trained model's
# validation accuracy lies anywhere from about 0.15 to 0.85 and a majority class is no help. It
# trains each variant itself (build_variant's model, its own seed) on the same reviews: every
# variant of each table must lie within VARIANT_TABLE_TOLERANCE of the grader's, and each table's
# mean within VARIANT_MEAN_TOLERANCE. Calibrated (calibration/imdb_sentiment.json, 30 seeds): the
# reference's tables lay at most 0.120 from the grader's per variant (mean 0.050, std 0.024) and
# 0.031 in their mean (mean 0.016, std 0.009). A guessed table passes both calls about one time in
# thirty ((2 × 0.06 / 0.7)²). Six models of 2 epochs on 2,000 reviews per call in the kernel
# (7 s each), six in the grader (7 s).
VARIANT_TABLE_TRAIN, VARIANT_TABLE_VAL, VARIANT_TABLE_EPOCHS, VARIANT_TABLE_BATCH = 2_000, 500, 2, 128
VARIANT_TABLE_CALLS = 2
VARIANT_TABLE_TOLERANCE, VARIANT_MEAN_TOLERANCE = 0.2, 0.06
VARIANT_CALL_TIMEOUT_S = 60
PROTOCOL |= {"variant_table": [VARIANT_TABLE_TRAIN, VARIANT_TABLE_VAL, VARIANT_TABLE_EPOCHS, VARIANT_TABLE_BATCH,
                               VARIANT_TABLE_CALLS]}

LAYER_TYPES = (keras.layers.InputLayer, keras.layers.Dense, keras.layers.Activation)
# Sample submissions (autograder/course/samples.py): the solution cells each fills, and text replaced in them.
SAMPLES = {
    "partial": {
        "fill": ["decode_review", "vectorize_sequences", "build_model", "split_validation"],
        # The metric trap: Accuracy() compares exact values, so it reports 0 on sigmoid outputs.
        "mistakes": {"build_model": [('metrics=["accuracy"]', "metrics=[keras.metrics.Accuracy()]")]},
    },
    "broken": {
        "fill": ["decode_review", "vectorize_sequences"],
        "mistakes": {"vectorize_sequences": [("dimension=10000):", "dimension=10000)")]},  # SyntaxError
    },
}

deterministic_threads()


@pytest.fixture(scope="session")
def lab_data():
    return grader_data.load(DATA)


@pytest.fixture(scope="module")
def grader_run(submission, lab_data):
    """The grader's own training run of the student's build_model()."""
    return train_and_evaluate(submission, lab_data, course_config.CHECK_SEED)


def train_and_evaluate(submission, lab_data, seed: int) -> dict:
    """The course protocol: fit on all training reviews, accuracy computed here from predictions."""
    returned = submission.function("build_model")()
    keras.utils.set_random_seed(seed)  # the rebuilt model's weights come from the grader's seed
    model = require_model(returned, "build_model()")

    def train() -> dict:
        history = submission.fit(
            model, lab_data.x_train, lab_data.y_train, epochs=RETRAIN_EPOCHS, batch_size=BATCH_SIZE, verbose=0,
        )
        return {"history": plain_history(history), "test_accuracy": accuracy_of(model, lab_data)}

    data = {"x_train": lab_data.x_train, "y_train": lab_data.y_train, "x_test": lab_data.x_test, "y_test": lab_data.y_test}
    return training_cache.cached_run(
        "imdb_sentiment", model, {"run": "train_and_evaluate", "epochs": RETRAIN_EPOCHS, "batch_size": BATCH_SIZE,
                                  "seed": seed}, data, train,
        lambda r: training_cache.run_shape(r, ("test_accuracy",), histories={"history": RETRAIN_EPOCHS}))


def calibration_run(reference, lab_data, seed: int) -> dict[str, float]:
    """What `python -m autograder calibrate` measures for this lab's thresholds: the grader's test
    accuracy, and how far the reference's variant table lies from the grader's own."""
    pairs = variant_tables(reference, lab_data, np.random.default_rng(seed), seed)
    return {"test_accuracy": train_and_evaluate(reference, lab_data, seed)["test_accuracy"],
            "variant_table_distance": max(max(table_distances(table, expected).values()) for table, expected in pairs),
            "variant_mean_distance": max(mean_distance(table, expected) for table, expected in pairs)}


def unmet_margins(metrics: dict[str, list[float]]) -> list[str]:
    """The thresholds some calibrated seed of the reference does not clear (should be none)."""
    unmet = [] if min(metrics["test_accuracy"]) > MIN_TEST_ACCURACY else ["MIN_TEST_ACCURACY"]
    unmet += [] if max(metrics["variant_table_distance"]) < VARIANT_TABLE_TOLERANCE else ["VARIANT_TABLE_TOLERANCE"]
    return unmet + ([] if max(metrics["variant_mean_distance"]) < VARIANT_MEAN_TOLERANCE else ["VARIANT_MEAN_TOLERANCE"])


def accuracy_of(model: keras.Model, lab_data) -> float:
    probabilities = predictions(model, lab_data.x_test)
    return float(np.mean((probabilities > 0.5) == (lab_data.y_test > 0.5)))


def require_model(value, produced_by: str) -> keras.Model:
    return require_any_model(value, produced_by, LAYER_TYPES, (NUM_WORDS,))


def predictions(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return probabilities(model, x, outputs=1)[:, 0]


def assert_architecture(model, hidden_layers: int, units: int, activation: str, produced_by: str):
    layers = dense_layers(model)
    expected = [units] * hidden_layers + [1]
    got = [layer.units for layer in layers]
    assert got == expected, f"{produced_by}: Dense layer sizes are {got}; expected {expected}."
    assert all(len(layer.input.shape) == 2 for layer in layers[:1]) and layers[0].input.shape[-1] == NUM_WORDS, (
        f"{produced_by}: the first layer should take {NUM_WORDS} inputs (keras.Input(shape=({NUM_WORDS},)))."
    )
    activations = dense_activations(model)
    expected_activations = [activation] * hidden_layers + ["sigmoid"]
    assert activations == expected_activations, (
        f"{produced_by}: activations are {activations}; expected {expected_activations}."
    )


def assert_compiled_for_binary_classification(model, produced_by: str, loss: str = "binary_crossentropy"):
    require_compiled(model, produced_by, loss, keras.optimizers.RMSprop)


# --- decode_review -------------------------------------------------------------------------------


@check(points=1, cell="test_decode_review")
def test_decode_review_matches_word_index(submission, lab_data, rng):
    """decode_review turns indices back into words, '?' for the reserved indices 0-2."""
    decode_review = submission.function("decode_review")
    reverse = {rank: word for word, rank in lab_data.word_index.items()}
    for row in rng.choice(len(lab_data.train_sequences), size=3, replace=False):
        sequence = list(lab_data.train_sequences[row])
        expected = " ".join(reverse.get(i - 3, "?") for i in sequence)
        # The review's own words and a few hundred others: the whole index (88,000 words) would
        # cross to the kernel with every call.
        ranks = {i - 3 for i in sequence} | set(range(1, 300))
        word_index = {word: rank for word, rank in lab_data.word_index.items() if rank in ranks}
        result = decode_review(sequence, word_index)
        assert type(result) is str, f"decode_review returned {type_name(result)}; return a str."
        assert result == expected, (
            "decode_review gives different words than the word index: remember the offset of 3 "
            "(0 = padding, 1 = start, 2 = unknown) and join the words with single spaces."
        )


# --- vectorize_sequences -------------------------------------------------------------------------


@check(points=1, cell="test_vectorize_sequences")
def test_vectorize_shape_and_dtype(submission, rng):
    """vectorize_sequences returns an (n, dimension) numeric array of at most 4 bytes per entry."""
    vectorize = submission.function("vectorize_sequences")
    sequences = [list(rng.integers(0, 100, size=rng.integers(1, 20))) for _ in range(7)]
    for dimension in (100, 10_000):
        result = vectorize(sequences, dimension) if dimension != 10_000 else vectorize(sequences)
        assert isinstance(result, np.ndarray), f"vectorize_sequences returned {type_name(result)}; return a numpy array."
        assert result.shape == (7, dimension), f"Shape is {result.shape}; expected (len(sequences), {dimension})."
        # float64 (numpy's default) doubles float32's memory: 9.6 GB peak for the notebook, measured.
        assert np.issubdtype(result.dtype, np.number) and result.dtype.itemsize <= 4, (
            f"dtype is {result.dtype}; use uint8 (or float32): Keras casts each batch to float32, "
            "and float64 matrices need 2 GB each."
        )


@check(points=1, cell="test_vectorize_sequences")
def test_vectorize_exact_multi_hot(submission, rng):
    """vectorize_sequences sets exactly the indices that occur, once, in the right row."""
    vectorize = submission.function("vectorize_sequences")
    dimension = 50
    sequences = [[3, 3, 3, 7], [], [dimension - 1, 0], list(rng.integers(0, dimension, size=30))]
    result = vectorize(sequences, dimension)
    assert isinstance(result, np.ndarray), f"vectorize_sequences returned {type_name(result)}; return a numpy array."
    result = result.astype(np.float64)
    expected = multi_hot(sequences, dimension, dtype=np.float64)
    assert result.shape == expected.shape, f"Shape is {result.shape}; expected {expected.shape}."
    assert np.array_equal(result, expected), (
        "Rows differ from the multi-hot encoding: each row must hold 1.0 at every index in its "
        "sequence (repeated indices still give 1.0, an empty sequence gives a row of zeros) and 0 elsewhere."
    )


# --- build_model ---------------------------------------------------------------------------------


@check(points=1, cell="test_build_model")
def test_build_model_architecture(submission):
    """build_model: 10000 inputs, Dense 16 relu, Dense 16 relu, Dense 1 sigmoid."""
    model = require_model(submission.function("build_model")(), "build_model()")
    assert_architecture(model, hidden_layers=2, units=16, activation="relu", produced_by="build_model()")


@check(points=1, cell="test_build_model")
def test_build_model_compiled(submission, rng):
    """build_model is compiled with rmsprop and binary cross-entropy and predicts (n, 1)."""
    model = require_model(submission.function("build_model")(), "build_model()")
    assert_compiled_for_binary_classification(model, "build_model()")
    probabilities = predictions(model, rng.integers(0, 2, size=(5, NUM_WORDS)).astype(np.float32))
    assert np.all((probabilities >= 0) & (probabilities <= 1)), "Outputs should be probabilities in [0, 1]."


@check(points=1, cell="test_build_model")
def test_build_model_with_objects(submission):
    """build_model_with_objects: same network, compiled with RMSprop / BinaryCrossentropy objects."""
    model = require_model(submission.function("build_model_with_objects")(), "build_model_with_objects()")
    assert_architecture(model, 2, 16, "relu", "build_model_with_objects()")
    assert_compiled_for_binary_classification(model, "build_model_with_objects()")
    assert not isinstance(model.loss, str), (
        "build_model_with_objects(): pass a loss object, e.g. keras.losses.BinaryCrossentropy()."
    )
    rate = learning_rate(model)
    assert math.isclose(rate, 0.001, rel_tol=1e-6), (
        f"build_model_with_objects(): learning rate is {rate}; use "
        "keras.optimizers.RMSprop(learning_rate=0.001) (Keras 3 rejects the old `lr=`)."
    )


# --- split_validation ----------------------------------------------------------------------------


@check(points=1, cell="test_split_validation")
def test_split_holds_out_the_first_samples(submission, rng):
    """split_validation holds out the first n_val samples and trains on the rest."""
    split = submission.function("split_validation")
    x = rng.integers(0, 2, size=(60, 8)).astype(np.float32)
    y = rng.integers(0, 2, size=60).astype(np.float32)
    x_val, partial_x, y_val, partial_y = four_arrays(split(x, y, n_val=25))
    assert x_val.shape == (25, 8) and partial_x.shape == (35, 8), (
        f"Shapes are x_val {x_val.shape}, partial_x {partial_x.shape}; expected (25, 8) and (35, 8)."
    )
    assert np.array_equal(x_val, x[:25]) and np.array_equal(partial_x, x[25:]), (
        "Hold out the *first* n_val samples (x[:n_val]) and train on x[n_val:]; "
        "note that Keras's validation_split takes the *last* fraction instead."
    )


@check(points=1, cell="test_split_validation")
def test_split_keeps_labels_aligned(submission, rng):
    """split_validation splits the labels exactly like the inputs."""
    split = submission.function("split_validation")
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = rng.permutation(20).astype(np.float32)
    _, _, y_val, partial_y = four_arrays(split(x, y, n_val=8))
    assert np.array_equal(y_val, y[:8]) and np.array_equal(partial_y, y[8:]), (
        "Labels are not split like the inputs: y_val must be y[:n_val] and partial_y y[n_val:]."
    )
    default = four_arrays(split(x.repeat(600, axis=0), y.repeat(600)))
    assert len(default[0]) == 10_000, "By default, n_val is 10000."


def four_arrays(returned) -> list[np.ndarray]:
    assert isinstance(returned, (tuple, list)) and len(returned) == 4, (
        f"split_validation returned {type_name(returned)}; return the four arrays "
        "(x_val, partial_x_train, y_val, partial_y_train)."
    )
    assert all(isinstance(a, np.ndarray) and a.dtype.kind in "biuf" for a in returned), (
        "split_validation should return numpy arrays of numbers (slices of x and y)."
    )
    return list(returned)


# --- training history ----------------------------------------------------------------------------


@check(points=1, cell="test_history")
def test_notebook_history_has_every_epoch(submission, lab_data):
    """The notebook's `history` has loss, accuracy and their validation twins for all 20 epochs, from its model."""
    history = notebook_history(submission)
    series = history.history
    accuracy = next((key for key in ACCURACY_KEYS if key in series), None)
    assert "loss" in series and accuracy, (
        f"history.history has keys {sorted(series)}; it needs 'loss' and 'accuracy' (compile with metrics=['accuracy'])."
    )
    assert "val_loss" in series and f"val_{accuracy}" in series, (
        "history.history has no validation metrics: pass validation_data=(x_val, y_val) to fit."
    )
    lengths = {len(values) for values in series.values()}
    assert lengths == {EPOCHS_IN_NOTEBOOK}, (
        f"The history holds {sorted(lengths)} values per metric; train for {EPOCHS_IN_NOTEBOOK} epochs."
    )
    assert all(math.isfinite(v) for values in series.values() for v in values), "The history contains NaN or infinite values."
    held_out, trained = notebook_split(submission, len(lab_data.x_train))
    x_val, y_val = lab_data.x_train[held_out], lab_data.y_train[held_out]
    assert_history_comes_from_its_model(history, x_val, y_val, accuracy, input_shape=(NUM_WORDS,),
                                        layer_types=LAYER_TYPES)
    assert_history_is_replayed(submission, history, (lab_data.x_train[trained], lab_data.y_train[trained]),
                               (x_val, y_val), BATCH_SIZE, (NUM_WORDS,), course_config.CHECK_SEED, HISTORY_TOLERANCE)


def notebook_split(submission, rows: int) -> tuple[slice | np.ndarray, slice | np.ndarray]:
    """The rows the notebook held out and trained on. Its locked cell splits with the student's own
    `split_validation(x_train, y_train)`: called here on row numbers, that names the rows, when it
    returns a partition of them with the labels split alike; else the lab's split (the first N_VAL).
    So a wrong split costs the split checks, and the history is judged on the data it came from."""
    numbers = np.arange(rows)
    try:
        x_val, x_rest, y_val, y_rest = four_arrays(submission.function("split_validation")(numbers[:, None], numbers))
    except (AssertionError, StudentCodeError):
        return slice(0, N_VAL), slice(N_VAL, None)
    aligned = all(x.shape[1:] == (1,) and np.array_equal(x[:, 0], y) for x, y in ((x_val, y_val), (x_rest, y_rest)))
    if not aligned or not np.array_equal(np.sort(np.concatenate([y_val, y_rest])), numbers):
        return slice(0, N_VAL), slice(N_VAL, None)
    return as_slice(y_val.astype(np.int64)), as_slice(y_rest.astype(np.int64))


def as_slice(rows: np.ndarray) -> slice | np.ndarray:
    """Consecutive rows as a slice: a view of the data, not a copy."""
    start = int(rows[0]) if len(rows) else 0
    return slice(start, start + len(rows)) if np.array_equal(rows, np.arange(start, start + len(rows))) else rows


@check(points=1, cell="test_history")
def test_accuracy_metric_is_meaningful(grader_run):
    """build_model's accuracy metric reports real accuracy when the grader trains it."""
    history = grader_run["history"]
    accuracy = next((key for key in ACCURACY_KEYS if key in history), None)
    assert accuracy, f"Training reports {sorted(history)}; compile with metrics=['accuracy']."
    assert history[accuracy][-1] > 0.6, (
        f"The model's '{accuracy}' stays at {history[accuracy][-1]:.2f} while it learns: "
        "keras.metrics.Accuracy() compares exact values and reports 0 on sigmoid outputs; "
        "use 'accuracy' or keras.metrics.BinaryAccuracy()."
    )


# --- test accuracy, computed by the grader -------------------------------------------------------


@check(points=3, cell="test_test_accuracy")
def test_grader_trained_test_accuracy(grader_run):
    """The grader trains build_model() (4 epochs, batch 512, fixed seed) and evaluates it."""
    assert_test_accuracy(grader_run["test_accuracy"], MIN_TEST_ACCURACY)


# --- variants ------------------------------------------------------------------------------------


@check(points=2, cell="test_variants")
def test_build_variant_architectures(submission):
    """build_variant builds each textbook variant with its layers, units, activation and loss."""
    build_variant = submission.function("build_variant")
    for name, overrides in VARIANTS.items():
        settings = {**VARIANT_DEFAULTS, **overrides}
        model = require_model(build_variant(**settings), f"build_variant(**{settings})")
        assert_architecture(model, settings["hidden_layers"], settings["units"], settings["activation"],
                            f"Variant {name}")
        assert_compiled_for_binary_classification(model, f"Variant {name}", loss=settings["loss"])


@check(points=1, cell="test_variants")
def test_variant_experiment_table(submission, lab_data, rng):
    """run_variant_experiments returns each variant's best validation accuracy, from real training runs."""
    for table, expected in variant_tables(submission, lab_data, rng, course_config.CHECK_SEED):
        far = {name: (round(table[name], 3), round(expected[name], 3))
               for name, distance in table_distances(table, expected).items() if not distance < VARIANT_TABLE_TOLERANCE}
        if not mean_distance(table, expected) < VARIANT_MEAN_TOLERANCE:
            far["mean"] = (round(float(np.mean(list(table.values()))), 3), round(float(np.mean(list(expected.values()))), 3))
        assert not far, (
            "The table does not come from training: on reviews the grader drew at random, with some validation "
            f"labels flipped, its own training of the variants gives other accuracies: {far} (yours, the grader's; "
            f"allowed: {VARIANT_TABLE_TOLERANCE} per variant, {VARIANT_MEAN_TOLERANCE} for the mean). Return the "
            "best val_accuracy of each variant's own fit on the data given."
        )


def variant_tables(submission, lab_data, rng, seed: int) -> list[tuple[dict[str, float], dict[str, float]]]:
    """(the notebook's table, the grader's) for each call: the same reviews drawn with `rng`, each
    call with its own secret fraction of the validation labels flipped."""
    rows = np.sort(rng.choice(len(lab_data.x_train), VARIANT_TABLE_VAL + VARIANT_TABLE_TRAIN, replace=False))
    x, y, n_val = np.asarray(lab_data.x_train[rows]), np.asarray(lab_data.y_train[rows]), VARIANT_TABLE_VAL
    labels = [np.where(rng.random(n_val) < rng.random(), 1 - y[:n_val], y[:n_val]).astype(y.dtype)
              for _ in range(VARIANT_TABLE_CALLS)]
    run = submission.function("run_variant_experiments", timeout=VARIANT_CALL_TIMEOUT_S)
    tables = [variant_table(run(x[n_val:], y[n_val:], x[:n_val], y_val, epochs=VARIANT_TABLE_EPOCHS,
                                batch_size=VARIANT_TABLE_BATCH)) for y_val in labels]
    build_variant, expected = submission.function("build_variant"), [{} for _ in labels]
    for name, overrides in VARIANTS.items():
        returned = build_variant(**{**VARIANT_DEFAULTS, **overrides})
        keras.utils.set_random_seed(seed)
        model = require_model(returned, f"Variant {name}")
        for _ in range(VARIANT_TABLE_EPOCHS):  # one run, each epoch scored against every call's labels
            submission.fit(model, x[n_val:], y[n_val:], epochs=1, batch_size=VARIANT_TABLE_BATCH, verbose=0)
            predicted = predictions(model, x[:n_val]) > 0.5
            for best, y_val in zip(expected, labels):
                best[name] = max(best.get(name, 0.0), float(np.mean(predicted == (y_val > 0.5))))
    return list(zip(tables, expected))


def table_distances(table: dict[str, float], expected: dict[str, float]) -> dict[str, float]:
    return {name: abs(table[name] - expected[name]) for name in VARIANTS}


def mean_distance(table: dict[str, float], expected: dict[str, float]) -> float:
    return abs(float(np.mean([table[name] for name in VARIANTS])) - float(np.mean([expected[name] for name in VARIANTS])))


def variant_table(table) -> dict[str, float]:
    assert isinstance(table, dict), f"run_variant_experiments returned {type_name(table)}; return a dict."
    keys = sorted(str(key) for key in table)
    assert keys == sorted(VARIANTS), f"The table's keys are {keys}; expected {sorted(VARIANTS)}."
    assert all(type(v) in (int, float) or (isinstance(v, np.ndarray) and v.size == 1) for v in table.values()), (
        "The table's values should be numbers (the best validation accuracy of each variant)."
    )
    values = {str(key): float(value) for key, value in table.items()}
    assert all(0.0 <= value <= 1.0 for value in values.values()), (
        f"Best validation accuracies must lie in [0, 1]; got {values}."
    )
    return values
