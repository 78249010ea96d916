"""Hidden checks of the overfitting and regularization lab.

Architectures are read from the models the student's functions build. The effects of capacity,
weight penalties and dropout are measured on the grader's own training runs of those functions,
with margins taken from a calibration over many seeds (calibration/overfitting_regularization.json):
each check asks for an effect that every calibrated seed shows clearly, never a win by a hair.
Keras adds the penalties to `val_loss`, so the penalized models are compared by their overfitting
gap (how far the validation loss rises after its lowest point) and by test accuracy, not by raw
losses; the smaller model by the epoch of its lowest validation loss. On the moons, overfitting is training accuracy far above the accuracy on fresh
points from the same distribution.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import make_moons

import course_config
from autograder.checks import check, grader_data, training_cache
from autograder.checks.common import (deterministic_threads, dense_activations, dense_layers, learning_rate,
                                      network, probabilities, require_compiled)
from autograder.checks.common import require_model as require_any_model
from autograder.checks.figures import figure_axes, has_fill, has_legend, labelled_lines, scattered_points
from autograder.kernel import wire

NUM_WORDS = course_config.IMDB_NUM_WORDS
IMDB_LAYERS = (keras.layers.InputLayer, keras.layers.Dense, keras.layers.Activation)
DROPOUT_LAYERS = (*IMDB_LAYERS, keras.layers.Dropout)
DATA = "imdb"  # what the lab reads (grader_data.DATASETS)
PROTOCOL = {"imdb_train_reviews": 10_000, "imdb_val_reviews": 5_000, "imdb_epochs": 20, "imdb_batch_size": 512,
            "imdb_test_reviews": 25_000, "moons_samples": 200, "moons_val_samples": 2_000, "moons_noise": 0.4,
            "moons_steps": 50_000, "moons_steps_per_execution": 500}

# Thresholds of the grader's runs, each below what every calibrated seed shows
# (`python -m autograder calibrate`, calibration/overfitting_regularization.json).
# Reference over 10 seeds (IMDB: 20 epochs on 10,000 reviews): overfitting gap (final minus lowest
# validation loss) of L2 0.37-0.50 × the original's, L1 0.00-0.13 ×, L1 + L2 0.00-0.18 ×; the
# 8-unit model's best epoch 1-6 epochs later (its gap, 0.36-0.81 ×, too uneven to grade); dropout's final
# training loss 4.9-10.6 × the original's (which memorizes: about 0.013) and its test accuracy
# 0.006-0.014 above the original's (L2's only 0.001-0.005: not graded). A copy of the
# unregularized original: 1.0×, 0 epochs later, 1.0×, +0.
MAX_GAP_RATIO = {"l2": 0.75, "l1": 0.5, "l1_l2": 0.5}  # at most this × the original's gap
SMALLER_LATER_EPOCHS = 1  # the 8-unit model's best epoch comes at least this much later
MIN_TRAIN_LOSS_RATIO_DROPOUT = 3.0  # dropout's final training loss, at least this × the original's
MIN_TEST_GAIN = {"dropout": 0.004}  # test accuracy above the original's
# make_moons (200 points, noise 0.40, 50,000 full-batch SGD steps, 2,000 fresh points to validate):
# moons_model(50) is 0.14-0.23 more accurate on its training points than on fresh ones; L1(0.001)
# shrinks that gap by 0.12-0.19, Dropout(0.25) by 0.14-0.24.
MOONS_MIN_OVERFIT_GAP = 0.08  # moons_model(50): training accuracy minus accuracy on fresh points, at least
MOONS_MIN_GAP_REDUCTION = 0.06  # L1 and dropout shrink that gap by at least this

# Sample submissions (autograder/course/samples.py): the solution cells each fills, and text replaced in them.
SAMPLES = {
    "partial": {
        "fill": ["build_sized_model", "plot_val_losses", "build_l2_model"],
        # The regularizer trap: the string "l2" means a factor of 0.01, not the chapter's 0.001.
        "mistakes": {"build_l2_model": [("kernel_regularizer=keras.regularizers.L2(l2)", 'kernel_regularizer="l2"')]},
    },
    "broken": {
        "fill": ["build_sized_model", "plot_val_losses"],
        "mistakes": {"plot_val_losses": [("def plot_val_losses(histories):", "def plot_val_losses(histories)")]},
    },
}

deterministic_threads()


@pytest.fixture(scope="session")
def lab_data():
    return grader_data.load(DATA)


def require_model(value, produced_by: str, layer_types: tuple, inputs: int = NUM_WORDS) -> keras.Model:
    return require_any_model(value, produced_by, layer_types, (inputs,))


# --- the grader's own runs -----------------------------------------------------------------------


def overfitting_run(build, fit, lab_data, seed: int, produced_by: str, layer_types=IMDB_LAYERS) -> dict:
    """Train a fresh model on 10,000 reviews for 20 epochs (with `fit`, the grader's budgeted
    Submission.fit); return its overfitting figures and test accuracy."""
    returned = build()
    keras.utils.set_random_seed(seed)  # the rebuilt model's weights come from the grader's seed
    model = require_model(returned, produced_by, layer_types)
    n_val, n_train = PROTOCOL["imdb_val_reviews"], PROTOCOL["imdb_train_reviews"]

    def train() -> dict:
        history = fit(
            model, lab_data.x_train[n_val:n_val + n_train], lab_data.y_train[n_val:n_val + n_train],
            validation_data=(lab_data.x_train[:n_val], lab_data.y_train[:n_val]),
            epochs=PROTOCOL["imdb_epochs"], batch_size=PROTOCOL["imdb_batch_size"], verbose=0,
        )
        n_test = PROTOCOL["imdb_test_reviews"]
        test = model.evaluate(lab_data.x_test[:n_test], lab_data.y_test[:n_test], batch_size=2048, verbose=0,
                              return_dict=True)
        return {"loss": [float(v) for v in history.history["loss"]],
                "val_loss": [float(v) for v in history.history["val_loss"]],
                "test_accuracy": float(test.get("accuracy", math.nan))}

    data = {"x_train": lab_data.x_train, "y_train": lab_data.y_train, "x_test": lab_data.x_test, "y_test": lab_data.y_test}
    epochs = PROTOCOL["imdb_epochs"]
    run = training_cache.cached_run(
        "overfitting_regularization", model, {"run": "overfitting_run", "protocol": PROTOCOL, "seed": seed}, data, train,
        lambda r: training_cache.run_shape(r, ("test_accuracy",), series={"loss": epochs, "val_loss": epochs}))
    val_loss = run["val_loss"]
    assert all(math.isfinite(v) for v in val_loss), f"{produced_by}: the validation loss became NaN or infinite."
    final_loss = run["loss"][-1]
    return {"gap": val_loss[-1] - min(val_loss), "best_epoch": int(np.argmin(val_loss)) + 1,
            "final_val_loss": val_loss[-1], "final_loss": final_loss, "generalization_gap": val_loss[-1] - final_loss,
            "test_accuracy": run["test_accuracy"]}


def moons_data(seed: int, samples: int):
    X, y = make_moons(n_samples=samples, noise=PROTOCOL["moons_noise"], random_state=seed)
    return X.astype(np.float32), y.astype(np.float32)


def moons_run(moons_model, fit, seed: int, hidden_units: int, **options) -> dict:
    """Train moons_model(hidden_units, **options) with full-batch steps on 200 points; its accuracy
    on them and on 2,000 fresh points, and the gap between the two (overfitting)."""
    produced_by = f"moons_model({', '.join([str(hidden_units)] + [f'{k}={v}' for k, v in options.items()])})"
    X, y = moons_data(seed, PROTOCOL["moons_samples"])
    X_val, y_val = moons_data(seed + 100_000, PROTOCOL["moons_val_samples"])
    returned = moons_model(hidden_units, **options)
    keras.utils.set_random_seed(seed)
    model = require_model(returned, produced_by, DROPOUT_LAYERS, inputs=2)
    model.steps_per_execution = PROTOCOL["moons_steps_per_execution"]  # the same steps, one call per 500

    def train() -> dict:
        fit(model, tf.data.Dataset.from_tensors((X, y)).repeat(), epochs=1, steps_per_epoch=PROTOCOL["moons_steps"],
            verbose=0)
        train, val = (float(np.mean((probabilities(model, x, 1)[:, 0] > 0.5) == (labels > 0.5)))
                      for x, labels in ((X, y), (X_val, y_val)))
        return {"train_accuracy": train, "val_accuracy": val}

    run = training_cache.cached_run(
        "overfitting_regularization", model, {"run": "moons_run", "protocol": PROTOCOL, "seed": seed},
        {"X": X, "y": y, "X_val": X_val, "y_val": y_val}, train,
        lambda r: training_cache.run_shape(r, ("train_accuracy", "val_accuracy")))
    return {**run, "gap": run["train_accuracy"] - run["val_accuracy"]}


MOONS_MODELS = {"plain": {}, "l1": {"l1": 0.001}, "dropout": {"dropout": 0.25}}  # 50 hidden units each


def moons_runs(submission, seed: int) -> dict:
    runs = {}
    for name, options in MOONS_MODELS.items():
        try:
            runs[name] = moons_run(submission.function("moons_model"), submission.fit, seed, 50, **options)
        except Exception as error:  # reported by each check that needs this run
            runs[name] = error
    return runs


MODELS = {  # run name -> the student's function, its arguments, the layers it may use
    "original": ("build_sized_model", (16,), IMDB_LAYERS),
    "smaller": ("build_sized_model", (8,), IMDB_LAYERS),
    "l2": ("build_l2_model", (), IMDB_LAYERS),
    "l1": ("build_l1_model", (), IMDB_LAYERS),
    "l1_l2": ("build_l1_l2_model", (), IMDB_LAYERS),
    "dropout": ("build_dropout_model", (), DROPOUT_LAYERS),
}


def imdb_runs(submission, lab_data, seed: int) -> dict:
    """One run per model; a model that cannot be built or trained is kept as its error."""
    runs = {}
    for name, (function, arguments, layer_types) in MODELS.items():
        produced_by = f"{function}({', '.join(map(str, arguments))})"
        try:
            build = submission.function(function)
            runs[name] = overfitting_run(lambda: build(*arguments), submission.fit, lab_data, seed, produced_by,
                                         layer_types)
        except Exception as error:  # reported by each check that needs this run
            runs[name] = error
    return runs


def calibration_run(reference, lab_data, seed: int) -> dict[str, float]:
    """What `python -m autograder calibrate` measures for this lab's margins."""
    figures = {f"{name}_{key}": float(value) for name, run in imdb_runs(reference, lab_data, seed).items()
               for key, value in run.items()}
    figures.update({f"moons_{name}_{key}": float(value) for name, run in moons_runs(reference, seed).items()
                    for key, value in run.items()})
    return figures


def unmet_margins(metrics: dict[str, list[float]]) -> list[str]:
    """The thresholds some calibrated seed of the reference does not clear (should be none)."""
    def every(name, values, holds):
        return [] if all(holds(*row) for row in zip(*values)) else [name]

    unmet = []
    for variant, ratio in MAX_GAP_RATIO.items():
        unmet += every(f"MAX_GAP_RATIO[{variant!r}]", (metrics[f"{variant}_gap"], metrics["original_gap"]),
                       lambda gap, original: gap <= ratio * original)
    unmet += every("SMALLER_LATER_EPOCHS", (metrics["smaller_best_epoch"], metrics["original_best_epoch"]),
                   lambda best, original: best >= original + SMALLER_LATER_EPOCHS)
    unmet += every("MIN_TRAIN_LOSS_RATIO_DROPOUT", (metrics["dropout_final_loss"], metrics["original_final_loss"]),
                   lambda dropout, original: dropout >= MIN_TRAIN_LOSS_RATIO_DROPOUT * original)
    for variant, gain in MIN_TEST_GAIN.items():
        unmet += every(f"MIN_TEST_GAIN[{variant!r}]", (metrics[f"{variant}_test_accuracy"], metrics["original_test_accuracy"]),
                       lambda accuracy, original: accuracy >= original + gain)
    unmet += every("MOONS_MIN_OVERFIT_GAP", (metrics["moons_plain_gap"],), lambda gap: gap >= MOONS_MIN_OVERFIT_GAP)
    for variant in ("l1", "dropout"):
        unmet += every(f"MOONS_MIN_GAP_REDUCTION ({variant})", (metrics[f"moons_{variant}_gap"], metrics["moons_plain_gap"]),
                       lambda gap, plain: gap <= plain - MOONS_MIN_GAP_REDUCTION)
    return unmet


@pytest.fixture(scope="module")
def runs(submission, lab_data) -> dict:
    return imdb_runs(submission, lab_data, course_config.CHECK_SEED)


@pytest.fixture(scope="module")
def moons(submission) -> dict:
    return moons_runs(submission, course_config.CHECK_SEED)


def run_of(runs: dict, name: str) -> dict:
    if isinstance(runs[name], BaseException):
        raise runs[name]
    return runs[name]


def sized_architecture(model, units: int, produced_by: str) -> None:
    layers = dense_layers(model)
    sizes = [layer.units for layer in layers]
    assert sizes == [units, units, 1], f"{produced_by}: Dense layer sizes are {sizes}; expected {[units, units, 1]}."
    assert layers[0].input.shape[-1] == NUM_WORDS, (
        f"{produced_by}: the first layer should take {NUM_WORDS} inputs (keras.Input(shape=({NUM_WORDS},)))."
    )
    activations = dense_activations(model)
    assert activations == ["relu", "relu", "sigmoid"], f"{produced_by}: activations are {activations}; expected relu, relu, sigmoid."


# --- capacity ------------------------------------------------------------------------------------


@check(points=1, cell="test_capacity")
def test_sized_model_architecture(submission):
    """build_sized_model(units) has two hidden Dense(units, relu) layers and a sigmoid output."""
    build = submission.function("build_sized_model")
    for units in (8, 16, 512):
        sized_architecture(require_model(build(units), f"build_sized_model({units})", IMDB_LAYERS), units,
                           f"build_sized_model({units})")


@check(points=1, cell="test_capacity")
def test_sized_model_compiled(submission):
    """build_sized_model is compiled with rmsprop and binary cross-entropy."""
    model = require_model(submission.function("build_sized_model")(16), "build_sized_model(16)", IMDB_LAYERS)
    require_compiled(model, "build_sized_model(16)", "binary_crossentropy", keras.optimizers.RMSprop)


# --- plot_val_losses -----------------------------------------------------------------------------


@check(points=2, cell="test_plot_val_losses")
def test_plot_val_losses_draws_each_history(submission, rng):
    """plot_val_losses draws one labelled line per history: its validation loss against epochs 1..n."""
    histories = {name: wire.HistoryData({"loss": list(rng.random(length)), "val_loss": list(rng.random(length))})
                 for name, length in (("first run", 6), ("second run", 6), ("third run", 9))}
    figure = submission.function("plot_val_losses")(histories)
    axes = figure_axes(figure, "plot_val_losses")
    lines = labelled_lines(axes)
    for name, history in histories.items():
        assert name in lines, f"No line is labelled {name!r}: pass label=name to plot (lines: {sorted(lines)})."
        x, y = lines[name]
        expected = np.asarray(history.history["val_loss"])
        assert y.shape == expected.shape and np.allclose(y, expected), (
            f"The line {name!r} does not show that history's validation loss (history.history['val_loss'])."
        )
        assert np.array_equal(x, np.arange(1, len(expected) + 1)), "Number the epochs from 1 on the x axis."
    assert has_legend(axes), "Add a legend (ax.legend())."


# --- regularization ------------------------------------------------------------------------------


def penalty_factors(model, produced_by: str, kind: type, attributes: tuple[str, ...]) -> list[tuple[float, ...]]:
    """Each hidden layer's penalty factors, after checking the 16-16-1 shape and the penalty's class."""
    sizes = [layer.units for layer in dense_layers(model)]
    assert sizes == [16, 16, 1], f"{produced_by}: Dense layer sizes are {sizes}; expected [16, 16, 1]."
    factors = []
    for index, layer in enumerate(dense_layers(model)[:-1], start=1):
        regularizer = layer.kernel_regularizer
        assert regularizer is not None, f"{produced_by}: hidden layer {index} has no kernel_regularizer."
        assert type(regularizer) is kind, (
            f"{produced_by}: hidden layer {index} uses {type(regularizer).__name__}; use keras.regularizers.{kind.__name__}."
        )
        factors.append(tuple(float(getattr(regularizer, name)) for name in attributes))
    return factors


def assert_penalty(submission, function: str, arguments: tuple, kind: type, expected: tuple[float, ...]) -> None:
    produced_by = f"{function}({', '.join(map(str, arguments))})"
    model = require_model(submission.function(function)(*arguments), produced_by, IMDB_LAYERS)
    require_compiled(model, produced_by, "binary_crossentropy", keras.optimizers.RMSprop)
    attributes = ("l1", "l2") if kind is keras.regularizers.L1L2 else (kind.__name__.lower(),)
    for factors in penalty_factors(model, produced_by, kind, attributes):
        assert all(math.isclose(f, e, rel_tol=1e-6) for f, e in zip(factors, expected)), (
            f"{produced_by}: the penalty factors are {factors}; expected {expected} on both hidden layers "
            f"(pass the function's arguments to keras.regularizers.{kind.__name__})."
        )


@check(points=1, cell="test_regularization")
def test_l2_model_penalizes_both_hidden_layers(submission):
    """build_l2_model() puts an L2(0.001) kernel penalty on both hidden layers of the 16-16-1 network."""
    model = require_model(submission.function("build_l2_model")(), "build_l2_model()", IMDB_LAYERS)
    factors = [f for (f,) in penalty_factors(model, "build_l2_model()", keras.regularizers.L2, ("l2",))]
    if any(math.isclose(f, 0.01, rel_tol=1e-6) for f in factors):
        raise AssertionError('build_l2_model(): the factor is 0.01, which is what kernel_regularizer="l2" means; '
                             "use keras.regularizers.L2(0.001).")
    assert_penalty(submission, "build_l2_model", (), keras.regularizers.L2, (0.001,))


@check(points=1, cell="test_regularization")
def test_l2_model_uses_the_factor_given(submission):
    """build_l2_model(l2) uses its argument as the factor."""
    for factor in (0.002, 0.0005):
        assert_penalty(submission, "build_l2_model", (factor,), keras.regularizers.L2, (factor,))


@check(points=1, cell="test_regularization")
def test_l1_model_penalizes_both_hidden_layers(submission):
    """build_l1_model(l1) puts an L1(l1) kernel penalty (default 0.001) on both hidden layers."""
    assert_penalty(submission, "build_l1_model", (), keras.regularizers.L1, (0.001,))
    assert_penalty(submission, "build_l1_model", (0.002,), keras.regularizers.L1, (0.002,))


@check(points=1, cell="test_regularization")
def test_l1_l2_model_penalizes_both_hidden_layers(submission):
    """build_l1_l2_model(l1, l2) puts an L1L2(l1, l2) kernel penalty (default 0.001, 0.001) on both hidden layers."""
    assert_penalty(submission, "build_l1_l2_model", (), keras.regularizers.L1L2, (0.001, 0.001))
    assert_penalty(submission, "build_l1_l2_model", (0.002, 0.0005), keras.regularizers.L1L2, (0.002, 0.0005))


@check(points=2, cell="test_dropout")
def test_dropout_model_layers(submission):
    """build_dropout_model(rate): Dense 16 → Dropout(rate) → Dense 16 → Dropout(rate) → Dense 1."""
    for rate in (0.5, 0.3):
        produced_by = f"build_dropout_model({rate})"
        model = require_model(submission.function("build_dropout_model")(rate), produced_by, DROPOUT_LAYERS)
        if rate == 0.5:
            require_compiled(model, produced_by, "binary_crossentropy", keras.optimizers.RMSprop)
        kinds = [(type(layer).__name__, getattr(layer, "units", None) or float(getattr(layer, "rate", 0)))
                 for layer, _ in network(model)]
        expected = [("Dense", 16), ("Dropout", rate), ("Dense", 16), ("Dropout", rate), ("Dense", 1)]
        assert kinds == expected, f"{produced_by}: the layers are {kinds}; expected {expected}."


# --- effects measured on the grader's own training runs -----------------------------------------

PRODUCED_BY = {"original": "build_sized_model(16)", "smaller": "build_sized_model(8)", "l2": "build_l2_model()",
               "l1": "build_l1_model()", "l1_l2": "build_l1_l2_model()", "dropout": "build_dropout_model()"}


def assert_gap_shrinks(runs: dict, name: str) -> None:
    original, variant = run_of(runs, "original")["gap"], run_of(runs, name)["gap"]
    ratio = MAX_GAP_RATIO[name]
    assert variant <= ratio * original, (
        f"Trained by the grader, {PRODUCED_BY[name]}'s validation loss rises {variant:.3f} after its lowest point; "
        f"the original's rises {original:.3f}. Expected at most {ratio:g} × the original's."
    )


def assert_beats_the_original_on_test(runs: dict, name: str) -> None:
    original, variant = run_of(runs, "original")["test_accuracy"], run_of(runs, name)["test_accuracy"]
    gain = MIN_TEST_GAIN[name]
    assert variant >= original + gain, (
        f"Trained by the grader for 20 epochs, {PRODUCED_BY[name]} reaches {variant:.4f} test accuracy and the "
        f"original (which overfits) {original:.4f}; expected at least {gain:g} more than the original."
    )


@check(points=1, cell="test_overfitting_effects")
def test_l2_overfits_less(runs):
    """The L2 model's overfitting gap is clearly smaller than the original's (grader's runs)."""
    assert_gap_shrinks(runs, "l2")


@check(points=1, cell="test_overfitting_effects")
def test_l1_penalties_overfit_less(runs):
    """The L1 and L1 + L2 models' overfitting gaps are clearly smaller than the original's (grader's runs)."""
    assert_gap_shrinks(runs, "l1")
    assert_gap_shrinks(runs, "l1_l2")


@check(points=1, cell="test_overfitting_effects")
def test_dropout_keeps_the_network_from_memorizing(runs):
    """After 20 epochs, the dropout model's training loss stays far above the original's (grader's runs)."""
    original, dropout = run_of(runs, "original")["final_loss"], run_of(runs, "dropout")["final_loss"]
    ratio = MIN_TRAIN_LOSS_RATIO_DROPOUT
    assert dropout >= ratio * original, (
        f"Trained by the grader for 20 epochs, build_dropout_model() ends with training loss {dropout:.4f}, "
        f"the original with {original:.4f} (it has memorized the training reviews); dropout should keep "
        f"it at least {ratio:g} × higher."
    )


@check(points=1, cell="test_overfitting_effects")
def test_dropout_beats_the_original_on_test(runs):
    """After 20 epochs, the dropout model's test accuracy is higher than the original's (grader's runs)."""
    assert_beats_the_original_on_test(runs, "dropout")


@check(points=1, cell="test_overfitting_effects")
def test_smaller_reaches_its_best_epoch_later(runs):
    """The 8-unit model reaches its lowest validation loss later than the original (grader's runs)."""
    original, smaller = run_of(runs, "original")["best_epoch"], run_of(runs, "smaller")["best_epoch"]
    later = SMALLER_LATER_EPOCHS
    assert smaller >= original + later, (
        f"Trained by the grader, build_sized_model(8) is best at epoch {smaller} and the original at epoch "
        f"{original}; the smaller network should be best at least {later} epoch(s) later."
    )


# --- make_moons ----------------------------------------------------------------------------------


def moons_layers(submission, hidden_units: int, **options) -> tuple[str, keras.Model]:
    """What moons_model(hidden_units, **options) built, after checking its input and compile."""
    produced_by = f"moons_model({', '.join([str(hidden_units)] + [f'{k}={v}' for k, v in options.items()])})"
    model = require_model(submission.function("moons_model")(hidden_units, **options), produced_by, DROPOUT_LAYERS,
                          inputs=2)
    assert dense_layers(model)[0].input.shape[-1] == 2, f"{produced_by}: the input has 2 features (keras.Input(shape=(2,)))."
    require_compiled(model, produced_by, "binary_crossentropy", keras.optimizers.SGD)
    assert math.isclose(learning_rate(model), 1.0, rel_tol=1e-6), (
        f"{produced_by}: the learning rate is {learning_rate(model)}; use keras.optimizers.SGD(learning_rate=1.0)."
    )
    return produced_by, model


@check(points=1, cell="test_moons")
def test_moons_model_architecture(submission):
    """moons_model(h): 2 inputs → Dense(h, tanh) → Dense(1, sigmoid), SGD(1.0), binary cross-entropy."""
    for units in (1, 50):
        produced_by, model = moons_layers(submission, units)
        got = [(type(layer).__name__, getattr(layer, "units", None), activation) for layer, activation in network(model)]
        expected = [("Dense", units, "tanh"), ("Dense", 1, "sigmoid")]
        assert got == expected, f"{produced_by}: layers are {got}; expected {expected}."
        assert dense_layers(model)[0].kernel_regularizer is None, f"{produced_by}: no penalty unless l1 is given."


@check(points=2, cell="test_moons")
def test_big_moons_model_overfits(moons):
    """Trained by the grader, moons_model(50) fits its 200 points far better than fresh points (it overfits)."""
    run = run_of(moons, "plain")
    least = MOONS_MIN_OVERFIT_GAP
    assert run["gap"] >= least, (
        f"Trained by the grader ({PROTOCOL['moons_steps']:,} full-batch steps), moons_model(50) reaches {run['train_accuracy']:.3f} "
        f"accuracy on its training points and {run['val_accuracy']:.3f} on fresh ones; with 50 tanh units and "
        f"SGD(1.0) it should bend around noisy points: at least {least:g} higher on the training points."
    )


@check(points=1, cell="test_moons")
def test_plot_decision_boundary(submission, rng):
    """plot_decision_boundary fills the model's predictions over the plane and scatters every point."""
    X = rng.normal(0, 1, size=(40, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.array([[4.0], [0.0]], dtype=np.float32), np.zeros(1, dtype=np.float32)])
    figure = submission.function("plot_decision_boundary")(model, X, y)
    axes = figure_axes(figure, "plot_decision_boundary")
    assert has_fill(axes), "Draw the predicted probabilities over a grid (ax.contourf(xx, yy, probabilities))."
    points = scattered_points(axes)
    assert len(points) == len(X) and np.allclose(np.sort(points, axis=0), np.sort(X.astype(np.float64), axis=0)), (
        f"Scatter every point of X once ({len(X)} points; the figure shows {len(points)})."
    )


@check(points=1, cell="test_moons_regularization")
def test_regularized_moons_model_architecture(submission):
    """moons_model(50, l1=0.001) penalizes the hidden layer with L1(0.001); moons_model(50, dropout=0.25)
    puts Dropout(0.25) between the hidden layer and the output."""
    produced_by, model = moons_layers(submission, 50, l1=0.001)
    regularizer = dense_layers(model)[0].kernel_regularizer
    assert type(regularizer) is keras.regularizers.L1 and math.isclose(float(regularizer.l1), 0.001, rel_tol=1e-6), (
        f"{produced_by}: the hidden layer's penalty is {regularizer!r}; expected keras.regularizers.L1(0.001)."
    )
    produced_by, model = moons_layers(submission, 50, dropout=0.25)
    got = [(type(layer).__name__, getattr(layer, "units", None) or float(getattr(layer, "rate", 0)))
           for layer, _ in network(model)]
    expected = [("Dense", 50), ("Dropout", 0.25), ("Dense", 1)]
    assert got == expected, f"{produced_by}: the layers are {got}; expected {expected}."


def assert_moons_gap_shrinks(moons: dict, name: str, produced_by: str) -> None:
    plain, variant = run_of(moons, "plain")["gap"], run_of(moons, name)["gap"]
    least = MOONS_MIN_GAP_REDUCTION
    assert variant <= plain - least, (
        f"Trained by the grader, {produced_by} is {variant:+.3f} more accurate on its training points than on "
        f"fresh ones, the plain moons_model(50) {plain:+.3f}; expected a gap at least {least:g} smaller."
    )


@check(points=1, cell="test_moons_regularization")
def test_l1_smooths_the_moons_boundary(moons):
    """Trained by the grader, the L1 network's train/fresh-points accuracy gap is clearly smaller than the plain one's."""
    assert_moons_gap_shrinks(moons, "l1", "moons_model(50, l1=0.001)")


@check(points=1, cell="test_moons_regularization")
def test_dropout_smooths_the_moons_boundary(moons):
    """Trained by the grader, the dropout network's train/fresh-points accuracy gap is clearly smaller than the plain one's."""
    assert_moons_gap_shrinks(moons, "dropout", "moons_model(50, dropout=0.25)")
