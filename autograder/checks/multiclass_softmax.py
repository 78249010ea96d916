"""Hidden checks of the multiclass classification lab (MNIST, softmax and cross-entropy by hand).

The hand-written functions are compared with TensorFlow and Keras on the grader's own random and
extreme inputs, as float64 arrays the grader converted itself; they run without TensorFlow and
Keras (by hand means NumPy). The test accuracy comes from the
grader's own training run of the student's `build_small_model()`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import course_config
from autograder.checks import check, grader_data, training_cache
from autograder.checks.common import (assert_history_comes_from_its_model, assert_history_is_replayed,
                                      assert_test_accuracy, deterministic_threads, dense_activations,
                                      dense_layers, learning_rate, loss_name, network, notebook_history,
                                      plain_history, probabilities, require_compiled, type_name)
from autograder.checks.common import require_model as require_any_model

DATA = "mnist"  # what the lab reads (grader_data.DATASETS)
# The grader's own training run of build_small_model(): all 60,000 training images, then the test set.
EPOCHS, BATCH_SIZE = 5, 128
PROTOCOL = {"epochs": EPOCHS, "batch_size": BATCH_SIZE}
# Minimum test accuracy of that run. Calibrated with `python -m autograder calibrate`
# (calibration/multiclass_softmax.json): the reference gave mean 0.9363, std 0.0030, min 0.9281,
# max 0.9411 over 20 seeds on a 2-core machine. 0.92 (the chapter's figure) is 0.008 below the
# worst seed, 5 std below the mean.
MIN_TEST_ACCURACY = 0.92
LAYER_TYPES = (keras.layers.InputLayer, keras.layers.Flatten, keras.layers.Dense, keras.layers.Activation)
EPOCHS_IN_NOTEBOOK = 5
# How far, epoch by epoch, the notebook's history may lie from the grader's replay of its run.
# Measured between 6 seeds of a 5-epoch run (15 pairs): accuracy up to 0.018 apart, loss 0.045,
# val_accuracy 0.008, val_loss 0.022.
HISTORY_TOLERANCE = {"loss": 0.1, "accuracy": 0.05}
# Tolerances: softmax in float64 by hand vs TensorFlow's float64 softmax; cross-entropy against
# Keras, which computes in float32 (relative error about 1e-7 per value).
SOFTMAX_ATOL = 1e-6
CROSS_ENTROPY_RTOL = 1e-4
# Sample submissions (autograder/course/samples.py): the solution cells each fills, and text replaced in them.
SAMPLES = {
    "partial": {
        "fill": ["build_small_model", "train_small_model", "softmax_by_hand"],
        # The overflow trap: exp of large logits without subtracting the maximum first.
        "mistakes": {"softmax_by_hand": [("logits - logits.max(axis=-1, keepdims=True)", "logits")]},
    },
    "broken": {
        "fill": ["build_small_model", "softmax_by_hand"],
        "mistakes": {"softmax_by_hand": [("def one_hot(labels, depth):", "def one_hot(labels, depth)")]},
    },
}

deterministic_threads()


@pytest.fixture(scope="session")
def lab_data():
    return grader_data.load(DATA)


def require_model(value, produced_by: str, weights: bool = False) -> keras.Model:
    return require_any_model(value, produced_by, LAYER_TYPES, (28, 28), weights)


@pytest.fixture(scope="module")
def grader_run(submission, lab_data):
    """The grader's own training run of the student's build_small_model()."""
    return train_and_evaluate(submission, lab_data, course_config.CHECK_SEED)


def train_and_evaluate(submission, lab_data, seed: int) -> dict:
    """The course protocol: 5 epochs, batch 128, all training images; accuracy from predictions."""
    returned = submission.function("build_small_model")()
    keras.utils.set_random_seed(seed)  # the rebuilt model's weights come from the grader's seed
    model = require_model(returned, "build_small_model()")

    def train() -> dict:
        history = submission.fit(model, lab_data.x_train, lab_data.y_train, epochs=EPOCHS, batch_size=BATCH_SIZE,
                                 verbose=0)
        predicted = probabilities(model, lab_data.x_test, outputs=10).argmax(axis=1)
        return {"history": plain_history(history), "test_accuracy": float(np.mean(predicted == lab_data.y_test))}

    data = {"x_train": lab_data.x_train, "y_train": lab_data.y_train, "x_test": lab_data.x_test, "y_test": lab_data.y_test}
    return training_cache.cached_run(
        "multiclass_softmax", model, {"run": "train_and_evaluate", "epochs": EPOCHS, "batch_size": BATCH_SIZE, "seed": seed},
        data, train, lambda r: training_cache.run_shape(r, ("test_accuracy",), histories={"history": EPOCHS}))


def calibration_run(reference, lab_data, seed: int) -> dict[str, float]:
    """What `python -m autograder calibrate` measures for this lab's threshold."""
    run = train_and_evaluate(reference, lab_data, seed)
    return {"test_accuracy": run["test_accuracy"]}


def unmet_margins(metrics: dict[str, list[float]]) -> list[str]:
    """The thresholds some calibrated seed of the reference does not clear (should be none)."""
    return [] if min(metrics["test_accuracy"]) > MIN_TEST_ACCURACY else ["MIN_TEST_ACCURACY"]


def numbers(value, produced_by: str) -> np.ndarray:
    """What a student's function returned, as a float64 array the grader made itself."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(np.float64)
    if type(value) in (int, float):
        return np.array(value, dtype=np.float64)
    raise AssertionError(f"{produced_by} returned {type_name(value)}, not a numpy array of numbers.")


def assert_layers(model, produced_by: str, units: list[int], activations: list[str]) -> None:
    steps = network(model)
    assert steps and isinstance(steps[0][0], keras.layers.Flatten), (
        f"{produced_by}: start with keras.Input(shape=(28, 28)) and a Flatten layer."
    )
    assert tuple(model.inputs[0].shape[1:]) == (28, 28), (
        f"{produced_by}: the input shape is {tuple(model.inputs[0].shape[1:])}; expected (28, 28)."
    )
    layers = dense_layers(model)
    got = [layer.units for layer in layers]
    assert got == units, f"{produced_by}: Dense layer sizes are {got}; expected {units}."
    got_activations = dense_activations(model)
    assert got_activations == activations, f"{produced_by}: activations are {got_activations}; expected {activations}."


# --- the small network ---------------------------------------------------------------------------


@check(points=1, cell="test_small_model")
def test_small_model_architecture(submission):
    """build_small_model: Flatten(28×28) → Dense 15 relu → Dense 10 softmax."""
    model = require_model(submission.function("build_small_model")(), "build_small_model()")
    assert_layers(model, "build_small_model()", [15, 10], ["relu", "softmax"])


@check(points=1, cell="test_small_model")
def test_small_model_compiled(submission, rng):
    """build_small_model is compiled with rmsprop and sparse categorical cross-entropy."""
    model = require_model(submission.function("build_small_model")(), "build_small_model()")
    require_compiled(model, "build_small_model()", "sparse_categorical_crossentropy", keras.optimizers.RMSprop)
    rows = probabilities(model, rng.random((4, 28, 28)).astype(np.float32), outputs=10)
    assert np.allclose(rows.sum(axis=1), 1.0, atol=1e-4), "Each row of predictions should sum to 1 (softmax)."


@check(points=1, cell="test_small_model")
def test_small_model_reports_accuracy(grader_run):
    """build_small_model's accuracy metric reports real accuracy when the grader trains it."""
    history = grader_run["history"]
    assert "accuracy" in history, f"Training reports {sorted(history)}; compile with metrics=['accuracy']."
    assert history["accuracy"][-1] > 0.5, (
        f"The model's 'accuracy' stays at {history['accuracy'][-1]:.2f} while it learns: use 'accuracy' "
        "(Keras picks the sparse categorical accuracy for you)."
    )


@check(points=3, cell="test_test_accuracy")
def test_grader_trained_test_accuracy(grader_run):
    """The grader trains build_small_model() (5 epochs, batch 128, fixed seed) and evaluates it."""
    assert_test_accuracy(grader_run["test_accuracy"], MIN_TEST_ACCURACY)


@check(points=1, cell="test_test_accuracy")
def test_notebook_history(submission, lab_data):
    """The notebook's `history` holds 5 epochs of loss/accuracy with validation, from its model."""
    history = notebook_history(submission)
    series = history.history
    expected = {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert expected <= set(series), f"history.history has keys {sorted(series)}; expected {sorted(expected)}."
    assert {len(values) for values in series.values()} == {EPOCHS_IN_NOTEBOOK}, (
        f"Train for {EPOCHS_IN_NOTEBOOK} epochs (the history holds {sorted({len(v) for v in series.values()})})."
    )
    assert all(math.isfinite(v) for values in series.values() for v in values), "The history contains NaN or infinite values."
    # validation_split=0.1 holds out the last tenth of the training images.
    n_val = len(lab_data.x_train) // 10
    assert_history_comes_from_its_model(history, lab_data.x_train[-n_val:], lab_data.y_train[-n_val:], "accuracy",
                                        input_shape=(28, 28), layer_types=LAYER_TYPES)
    assert_history_is_replayed(submission, history, (lab_data.x_train[:-n_val], lab_data.y_train[:-n_val]),
                               (lab_data.x_train[-n_val:], lab_data.y_train[-n_val:]), BATCH_SIZE, (28, 28),
                               course_config.CHECK_SEED, HISTORY_TOLERANCE)


@check(points=1, cell="test_one_hot_vs_sparse")
def test_small_model_takes_the_loss_argument(submission):
    """build_small_model('categorical_crossentropy') is compiled with that loss, for one-hot labels."""
    model = require_model(submission.function("build_small_model")("categorical_crossentropy"),
                          "build_small_model('categorical_crossentropy')")
    assert loss_name(model.loss) == "categorical_crossentropy", (
        f"build_small_model('categorical_crossentropy') is compiled with {loss_name(model.loss)}: "
        "pass the `loss` argument to compile."
    )


# --- predictions, saving and loading ------------------------------------------------------------


def grader_model(rng) -> keras.Model:
    """A small digit model with the grader's own random weights (the student never saw it)."""
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(15, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.set_weights([rng.normal(0, 0.3, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@check(points=1, cell="test_predictions_and_saving")
def test_predicted_digits(submission, lab_data, rng):
    """predicted_digits(model, images) gives the argmax of the model's outputs, one integer per image."""
    model = grader_model(rng)
    images = lab_data.x_test[rng.choice(len(lab_data.x_test), size=50, replace=False)]
    result = submission.function("predicted_digits")(model, images)
    assert isinstance(result, np.ndarray) and result.dtype.kind in "iu", (
        f"predicted_digits returned {type_name(result)}"
        f"{' of ' + str(result.dtype) if isinstance(result, np.ndarray) else ''}; return an integer numpy array."
    )
    expected = probabilities(model, images, outputs=10).argmax(axis=1)
    assert result.shape == expected.shape, f"predicted_digits returned shape {result.shape}; expected {expected.shape}."
    assert np.array_equal(result, expected), "predicted_digits differs from the index of each row's largest output."


@check(points=2, cell="test_predictions_and_saving")
def test_saved_model_loads_back(submission, lab_data, rng):
    """save_model_files then load_model_files give back the same architecture and weights."""
    model = grader_model(rng)
    folder = f"grader-saved-{rng.integers(10**9)}"
    submission.function("save_model_files")(model, folder)
    loaded = submission.function("load_model_files", weights=True)(folder)
    reloaded = require_model(loaded, "load_model_files(folder)", weights=True)
    assert_layers(reloaded, "load_model_files(folder)", [15, 10], ["relu", "softmax"])
    images = lab_data.x_test[:64]
    assert np.array_equal(probabilities(reloaded, images, 10), probabilities(model, images, 10)), (
        "The loaded model predicts differently from the saved one: save and load the weights too "
        "(model.save_weights / model.load_weights with a .weights.h5 file)."
    )


# --- softmax, cross-entropy and one-hot by hand --------------------------------------------------

# "By hand" means NumPy: these functions are called with TensorFlow, Keras and the other libraries
# that have a softmax or a cross-entropy unavailable (in the student's kernel, see kernel/server.py).
NOT_BY_HAND = ("tensorflow", "keras", "torch", "jax", "scipy", "sklearn")


def by_hand(submission, name: str):
    return submission.function(name, without=NOT_BY_HAND)



@check(points=1, cell="test_softmax")
def test_softmax_matches_tensorflow(submission, rng):
    """softmax equals tf.nn.softmax on random logits, 1-D and 2-D, over the last axis."""
    softmax = by_hand(submission, "softmax")
    for logits in (rng.normal(0, 3, size=(6, 10)), rng.normal(0, 3, size=7), rng.normal(0, 1, size=(3, 4))):
        result = numbers(softmax(logits.copy()), "softmax")
        expected = tf.nn.softmax(logits).numpy()
        assert result.shape == expected.shape, f"softmax returned shape {result.shape} for logits of shape {logits.shape}."
        assert np.allclose(result, expected, atol=SOFTMAX_ATOL, rtol=0), (
            "softmax differs from tf.nn.softmax: take exp of the logits and divide by the sum over the last axis."
        )


@check(points=1, cell="test_softmax")
def test_softmax_is_stable_for_extreme_logits(submission):
    """softmax stays finite and exact for logits of ±1000 and beyond."""
    softmax = by_hand(submission, "softmax")
    logits = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4], [800.0, 800.0, 0.0], [1e5, 1e5 - 1, 0.0]])
    result = numbers(softmax(logits.copy()), "softmax")
    assert result.shape == logits.shape and np.all(np.isfinite(result)), (
        "softmax gives NaN or inf for large logits: subtract each row's maximum before exp."
    )
    assert np.allclose(result, tf.nn.softmax(logits).numpy(), atol=SOFTMAX_ATOL, rtol=0), (
        "softmax is wrong for large logits: subtract each row's maximum before exp."
    )


@check(points=1, cell="test_cross_entropy")
def test_cross_entropy_matches_keras(submission, rng):
    """cross_entropy equals Keras's sparse and categorical cross-entropy (mean over the batch)."""
    cross_entropy = by_hand(submission, "cross_entropy")
    probs = tf.nn.softmax(rng.normal(0, 2, size=(12, 10))).numpy()
    labels = rng.integers(0, 10, size=12)
    onehot = np.eye(10)[labels]
    sparse = float(keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    categorical = float(keras.losses.CategoricalCrossentropy()(onehot, probs))
    result = numbers(cross_entropy(probs.copy(), labels.copy()), "cross_entropy")
    assert result.shape == (), f"cross_entropy returned shape {result.shape}; return one number, the batch mean."
    assert math.isclose(float(result), sparse, rel_tol=CROSS_ENTROPY_RTOL), (
        f"cross_entropy with integer labels gives {float(result):.6f}; Keras's sparse categorical "
        f"cross-entropy gives {sparse:.6f}."
    )
    result = numbers(cross_entropy(probs.copy(), onehot.copy()), "cross_entropy")
    assert result.shape == () and math.isclose(float(result), categorical, rel_tol=CROSS_ENTROPY_RTOL), (
        f"cross_entropy with one-hot labels gives {result}; Keras's categorical cross-entropy gives {categorical:.6f}."
    )


@check(points=1, cell="test_cross_entropy")
def test_cross_entropy_is_stable_for_zero_probabilities(submission):
    """A probability of 0 for the true class gives Keras's large finite loss, not inf or NaN."""
    cross_entropy = by_hand(submission, "cross_entropy")
    probs = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    labels = np.array([0, 1, 2])
    expected = float(keras.losses.SparseCategoricalCrossentropy()(labels, probs))  # clips at 1e-7
    result = numbers(cross_entropy(probs.copy(), labels.copy()), "cross_entropy")
    assert result.shape == () and np.isfinite(result), (
        "cross_entropy gives inf or NaN when a probability is 0: clip to [1e-7, 1 - 1e-7] first."
    )
    assert math.isclose(float(result), expected, rel_tol=CROSS_ENTROPY_RTOL), (
        f"cross_entropy gives {float(result):.4f} for zero probabilities; clipped like Keras (1e-7) it is {expected:.4f}."
    )


@check(points=1, cell="test_one_hot")
def test_one_hot_rows(submission, rng):
    """one_hot puts a single 1 at each label, for any depth."""
    one_hot = by_hand(submission, "one_hot")
    for depth in (10, 4):
        labels = rng.integers(0, depth, size=15)
        result = numbers(one_hot(labels.copy(), depth), "one_hot")
        assert result.shape == (15, depth), f"one_hot returned shape {result.shape}; expected (n, depth) = (15, {depth})."
        assert np.array_equal(result, np.eye(depth)[labels]), "one_hot rows must hold a single 1 at the label's index."


# --- logits and from_logits ----------------------------------------------------------------------


def from_logits(loss) -> bool:
    config = loss.get_config() if isinstance(loss, keras.losses.Loss) else {}
    return bool(config.get("from_logits", False))


@check(points=1, cell="test_logits")
def test_logits_model_outputs_logits(submission):
    """build_logits_model: Flatten → Dense 15 relu → Dense 10 without activation, sparse cross-entropy from logits."""
    model = require_model(submission.function("build_logits_model")(), "build_logits_model()")
    assert_layers(model, "build_logits_model()", [15, 10], ["relu", "linear"])
    require_compiled(model, "build_logits_model()", "sparse_categorical_crossentropy", keras.optimizers.RMSprop)
    assert from_logits(model.loss), (
        "build_logits_model(): the last layer outputs logits, so the loss needs "
        "keras.losses.SparseCategoricalCrossentropy(from_logits=True)."
    )


@check(points=1, cell="test_logits")
def test_logits_model_gives_the_softmax_models_loss(submission, lab_data, rng):
    """With the same weights, the logits model's loss equals the softmax model's (grader's weights and images)."""
    weights = grader_model(rng).get_weights()
    images, labels = lab_data.x_test[:256], lab_data.y_test[:256]
    losses = {}
    for function in ("build_logits_model", "build_small_model"):
        model = require_model(submission.function(function)(), f"{function}()")
        model.set_weights(weights)
        losses[function] = float(model.evaluate(images, labels, batch_size=256, verbose=0, return_dict=True)["loss"])
    logits, softmax = losses["build_logits_model"], losses["build_small_model"]
    assert math.isclose(logits, softmax, rel_tol=CROSS_ENTROPY_RTOL), (
        f"With the same weights, build_logits_model()'s loss is {logits:.5f} and build_small_model()'s {softmax:.5f}; "
        "they should be equal: a Dense(10) without activation and a loss with from_logits=True."
    )


# --- the bigger network --------------------------------------------------------------------------


@check(points=1, cell="test_big_model")
def test_big_model_architecture(submission):
    """build_big_model: Flatten → Dense 20 tanh → Dense 50 relu → Dense 10 softmax."""
    model = require_model(submission.function("build_big_model")(), "build_big_model()")
    assert_layers(model, "build_big_model()", [20, 50, 10], ["tanh", "relu", "softmax"])


@check(points=1, cell="test_big_model")
def test_big_model_uses_adam_at_0_01(submission):
    """build_big_model is compiled with Adam(learning_rate=0.01) and sparse categorical cross-entropy."""
    model = require_model(submission.function("build_big_model")(), "build_big_model()")
    require_compiled(model, "build_big_model()", "sparse_categorical_crossentropy", keras.optimizers.Adam)
    assert math.isclose(learning_rate(model), 0.01, rel_tol=1e-6), (
        f"build_big_model(): the learning rate is {learning_rate(model)}; use keras.optimizers.Adam(learning_rate=0.01)."
    )
