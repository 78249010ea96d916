"""Hidden checks of the overfitting and regularization lab.

Architectures are read from the models the student's functions build. The effects of capacity,
L2 and dropout are measured on the grader's own training runs of those functions, with margins
taken from a calibration over many seeds (calibration/overfitting_regularization.json): each
check asks for an effect that every calibrated seed shows clearly, never a win by a hair.
Keras adds the L2 penalty to `val_loss`, so the L2 and smaller models are compared by their
overfitting gap (how far the validation loss rises after its lowest point), not by raw losses.
On this protocol dropout's gap varies too much from seed to seed to be graded (0.67-1.09 × the
original's); what it does on every seed is keep the network from memorizing the training set.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.linear_model import LogisticRegression

import course_config
from autograder import wire
from autograder.checks import check
from autograder.checks.common import (activation_name, cached, deterministic_threads, dense_layers, learning_rate,
                                      require_compiled)
from autograder.checks.common import require_model as require_any_model
from autograder.checks.figures import figure_axes, has_fill, has_legend, labelled_lines, scattered_points
from autograder.grader_data import load_imdb_data

NUM_WORDS = course_config.IMDB_NUM_WORDS
IMDB_LAYERS = (keras.layers.InputLayer, keras.layers.Dense)
DROPOUT_LAYERS = (keras.layers.InputLayer, keras.layers.Dense, keras.layers.Dropout)
PROTOCOL = {"imdb_train_reviews": 10_000, "imdb_val_reviews": 5_000, "imdb_epochs": 20, "imdb_batch_size": 512,
            "moons_samples": 300, "moons_noise": 0.2, "moons_epochs": 200, "moons_batch_size": 32}

deterministic_threads()


@pytest.fixture(scope="session")
def lab_data():
    return cached_imdb_data()


cached_imdb_data = cached(load_imdb_data)


def require_model(value, produced_by: str, layer_types: tuple, inputs: int = NUM_WORDS) -> keras.Model:
    return require_any_model(value, produced_by, layer_types, (inputs,))


# --- the grader's own runs -----------------------------------------------------------------------


def overfitting_run(build, lab_data, seed: int, produced_by: str, layer_types=IMDB_LAYERS) -> dict:
    """Train a fresh model on 10,000 reviews for 20 epochs; return its overfitting figures."""
    returned = build()
    keras.utils.set_random_seed(seed)  # the rebuilt model's weights come from the grader's seed
    model = require_model(returned, produced_by, layer_types)
    n_val, n_train = PROTOCOL["imdb_val_reviews"], PROTOCOL["imdb_train_reviews"]
    history = model.fit(
        lab_data.x_train[n_val:n_val + n_train], lab_data.y_train[n_val:n_val + n_train],
        validation_data=(lab_data.x_train[:n_val], lab_data.y_train[:n_val]),
        epochs=PROTOCOL["imdb_epochs"], batch_size=PROTOCOL["imdb_batch_size"], verbose=0,
    )
    val_loss = [float(v) for v in history.history["val_loss"]]
    assert all(math.isfinite(v) for v in val_loss), f"{produced_by}: the validation loss became NaN or infinite."
    final_loss = float(history.history["loss"][-1])
    return {"gap": val_loss[-1] - min(val_loss), "best_epoch": int(np.argmin(val_loss)) + 1,
            "final_val_loss": val_loss[-1], "final_loss": final_loss, "generalization_gap": val_loss[-1] - final_loss}


def moons_data(seed: int):
    X, y = make_moons(n_samples=PROTOCOL["moons_samples"], noise=PROTOCOL["moons_noise"], random_state=seed)
    return X.astype(np.float32), y.astype(np.float32)


def moons_run(moons_model, hidden_units: int, seed: int) -> float:
    """Training accuracy of moons_model(hidden_units) after the grader's fit."""
    X, y = moons_data(seed)
    returned = moons_model(hidden_units)
    keras.utils.set_random_seed(seed)
    model = require_model(returned, f"moons_model({hidden_units})", IMDB_LAYERS, inputs=2)
    model.fit(X, y, epochs=PROTOCOL["moons_epochs"], batch_size=PROTOCOL["moons_batch_size"], verbose=0)
    probabilities = np.asarray(model.predict(X, verbose=0), dtype=np.float64).reshape(-1)
    return float(np.mean((probabilities > 0.5) == (y > 0.5)))


def linear_ceiling(seed: int) -> float:
    """The training accuracy of a straight boundary (logistic regression): all a 1-unit network can draw."""
    X, y = moons_data(seed)
    return float(LogisticRegression().fit(X, y).score(X, y))


MODELS = {  # run name -> the student's function, its arguments, the layers it may use
    "original": ("build_sized_model", (16,), IMDB_LAYERS),
    "smaller": ("build_sized_model", (4,), IMDB_LAYERS),
    "l2": ("build_l2_model", (), IMDB_LAYERS),
    "dropout": ("build_dropout_model", (), DROPOUT_LAYERS),
}


def imdb_runs(submission, lab_data, seed: int) -> dict:
    """One run per model; a model that cannot be built or trained is kept as its error."""
    runs = {}
    for name, (function, arguments, layer_types) in MODELS.items():
        produced_by = f"{function}({', '.join(map(str, arguments))})"
        try:
            build = submission.function(function)
            runs[name] = overfitting_run(lambda: build(*arguments), lab_data, seed, produced_by, layer_types)
        except Exception as error:  # reported by each check that needs this run
            runs[name] = error
    return runs


def calibration_run(reference, lab_data, seed: int) -> dict[str, float]:
    """What `python -m autograder calibrate` measures for this lab's margins."""
    figures = {f"{name}_{key}": float(value) for name, run in imdb_runs(reference, lab_data, seed).items()
               for key, value in run.items()}
    moons = reference.function("moons_model")
    figures.update(moons_50_units=moons_run(moons, 50, seed), moons_1_unit=moons_run(moons, 1, seed),
                   moons_linear_ceiling=linear_ceiling(seed))
    return figures


@pytest.fixture(scope="module")
def runs(submission, lab_data) -> dict:
    return imdb_runs(submission, lab_data, course_config.CHECK_SEED)


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
    activations = [activation_name(layer) for layer in layers]
    assert activations == ["relu", "relu", "sigmoid"], f"{produced_by}: activations are {activations}; expected relu, relu, sigmoid."


# --- capacity ------------------------------------------------------------------------------------


@check(points=1, cell="test_capacity")
def test_sized_model_architecture(submission):
    """build_sized_model(units) has two hidden Dense(units, relu) layers and a sigmoid output."""
    build = submission.function("build_sized_model")
    for units in (4, 16, 512):
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


def l2_factors(model, produced_by: str) -> list[float]:
    hidden = dense_layers(model)[:-1]
    sizes = [layer.units for layer in dense_layers(model)]
    assert sizes == [16, 16, 1], f"{produced_by}: Dense layer sizes are {sizes}; expected [16, 16, 1]."
    factors = []
    for index, layer in enumerate(hidden, start=1):
        regularizer = layer.kernel_regularizer
        assert regularizer is not None, f"{produced_by}: hidden layer {index} has no kernel_regularizer."
        assert type(regularizer) is keras.regularizers.L2, (
            f"{produced_by}: hidden layer {index} uses {type(regularizer).__name__}; use keras.regularizers.L2(l2)."
        )
        factors.append(float(regularizer.l2))
    return factors


@check(points=1, cell="test_regularization")
def test_l2_model_penalizes_both_hidden_layers(submission):
    """build_l2_model() puts an L2(0.001) kernel penalty on both hidden layers of the 16-16-1 network."""
    model = require_model(submission.function("build_l2_model")(), "build_l2_model()", IMDB_LAYERS)
    require_compiled(model, "build_l2_model()", "binary_crossentropy", keras.optimizers.RMSprop)
    factors = l2_factors(model, "build_l2_model()")
    if any(math.isclose(f, 0.01, rel_tol=1e-6) for f in factors):
        raise AssertionError('build_l2_model(): the factor is 0.01, which is what kernel_regularizer="l2" means; '
                             "use keras.regularizers.L2(0.001).")
    assert all(math.isclose(f, 0.001, rel_tol=1e-6) for f in factors), (
        f"build_l2_model(): the L2 factors are {factors}; expected 0.001 on both hidden layers."
    )


@check(points=1, cell="test_regularization")
def test_l2_model_uses_the_factor_given(submission):
    """build_l2_model(l2) uses its argument as the factor."""
    for factor in (0.002, 0.0005):
        produced_by = f"build_l2_model({factor})"
        model = require_model(submission.function("build_l2_model")(factor), produced_by, IMDB_LAYERS)
        factors = l2_factors(model, produced_by)
        assert all(math.isclose(f, factor, rel_tol=1e-6) for f in factors), (
            f"{produced_by}: the L2 factors are {factors}; pass the argument l2 to keras.regularizers.L2."
        )


@check(points=2, cell="test_dropout")
def test_dropout_model_layers(submission):
    """build_dropout_model(rate): Dense 16 → Dropout(rate) → Dense 16 → Dropout(rate) → Dense 1."""
    for rate in (0.5, 0.3):
        produced_by = f"build_dropout_model({rate})"
        model = require_model(submission.function("build_dropout_model")(rate), produced_by, DROPOUT_LAYERS)
        if rate == 0.5:
            require_compiled(model, produced_by, "binary_crossentropy", keras.optimizers.RMSprop)
        kinds = [(type(layer).__name__, getattr(layer, "units", None) or float(getattr(layer, "rate", 0)))
                 for layer in model.layers]
        expected = [("Dense", 16), ("Dropout", rate), ("Dense", 16), ("Dropout", rate), ("Dense", 1)]
        assert kinds == expected, f"{produced_by}: the layers are {kinds}; expected {expected}."


# --- effects measured on the grader's own training runs -----------------------------------------


def assert_gap_shrinks(runs: dict, name: str, produced_by: str) -> None:
    original, variant = run_of(runs, "original")["gap"], run_of(runs, name)["gap"]
    ratio = course_config.OVERFIT_MAX_GAP_RATIO[name]
    assert variant <= ratio * original, (
        f"Trained by the grader, {produced_by}'s validation loss rises {variant:.3f} after its lowest point; "
        f"the original's rises {original:.3f}. Expected at most {ratio:g} × the original's."
    )


@check(points=1, cell="test_overfitting_effects")
def test_l2_overfits_less(runs):
    """The L2 model's overfitting gap is clearly smaller than the original's (grader's runs)."""
    assert_gap_shrinks(runs, "l2", "build_l2_model()")


@check(points=1, cell="test_overfitting_effects")
def test_dropout_keeps_the_network_from_memorizing(runs):
    """After 20 epochs, the dropout model's training loss stays far above the original's (grader's runs)."""
    original, dropout = run_of(runs, "original")["final_loss"], run_of(runs, "dropout")["final_loss"]
    ratio = course_config.OVERFIT_MIN_TRAIN_LOSS_RATIO_DROPOUT
    assert dropout >= ratio * original, (
        f"Trained by the grader for 20 epochs, build_dropout_model() ends with training loss {dropout:.4f}, "
        f"the original with {original:.4f} (it has memorized the training reviews); dropout should keep "
        f"it at least {ratio:g} × higher."
    )


@check(points=1, cell="test_overfitting_effects")
def test_smaller_overfits_less(runs):
    """The 4-unit model's overfitting gap is clearly smaller than the original's (grader's runs)."""
    assert_gap_shrinks(runs, "smaller", "build_sized_model(4)")


@check(points=1, cell="test_overfitting_effects")
def test_smaller_reaches_its_best_epoch_later(runs):
    """The 4-unit model reaches its lowest validation loss later than the original (grader's runs)."""
    original, smaller = run_of(runs, "original")["best_epoch"], run_of(runs, "smaller")["best_epoch"]
    later = course_config.OVERFIT_SMALLER_LATER_EPOCHS
    assert smaller >= original + later, (
        f"Trained by the grader, build_sized_model(4) is best at epoch {smaller} and the original at epoch "
        f"{original}; the smaller network should be best at least {later} epoch(s) later."
    )


# --- make_moons ----------------------------------------------------------------------------------


@check(points=1, cell="test_moons")
def test_moons_model_architecture(submission):
    """moons_model(h): 2 inputs → Dense(h, relu) → Dense(1, sigmoid), Adam(0.01), binary cross-entropy."""
    for units in (1, 50):
        produced_by = f"moons_model({units})"
        model = require_model(submission.function("moons_model")(units), produced_by, IMDB_LAYERS, inputs=2)
        layers = dense_layers(model)
        got = [(layer.units, activation_name(layer)) for layer in layers]
        assert got == [(units, "relu"), (1, "sigmoid")], f"{produced_by}: layers are {got}; expected {[(units, 'relu'), (1, 'sigmoid')]}."
        assert layers[0].input.shape[-1] == 2, f"{produced_by}: the input has 2 features (keras.Input(shape=(2,)))."
        require_compiled(model, produced_by, "binary_crossentropy", keras.optimizers.Adam)
        assert math.isclose(learning_rate(model), 0.01, rel_tol=1e-6), (
            f"{produced_by}: the learning rate is {learning_rate(model)}; use keras.optimizers.Adam(learning_rate=0.01)."
        )


@check(points=2, cell="test_moons")
def test_big_moons_model_bends_its_boundary(submission):
    """Trained by the grader, moons_model(50) fits the moons better than any straight boundary can."""
    seed = course_config.CHECK_SEED
    accuracy, ceiling = moons_run(submission.function("moons_model"), 50, seed), linear_ceiling(seed)
    margin = course_config.MOONS_MIN_GAIN_OVER_LINEAR
    assert accuracy >= ceiling + margin, (
        f"Trained by the grader, moons_model(50) reaches {accuracy:.3f} training accuracy; a straight boundary "
        f"(all that 1 unit can draw) reaches {ceiling:.3f}. Expected at least {ceiling + margin:.3f}."
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
