"""Helpers the labs' hidden checks share: models rebuilt from what the kernel sent, plain values."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

import course_config
from autograder.checks import training_cache
from autograder.kernel import wire
LOSS_NAMES = {  # what each way of naming a loss means
    "binary_crossentropy": "binary_crossentropy", "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error", "categorical_crossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    keras.losses.BinaryCrossentropy: "binary_crossentropy", keras.losses.MeanSquaredError: "mean_squared_error",
    keras.losses.CategoricalCrossentropy: "categorical_crossentropy",
    keras.losses.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
    keras.losses.binary_crossentropy: "binary_crossentropy", keras.losses.mean_squared_error: "mean_squared_error",
    keras.losses.categorical_crossentropy: "categorical_crossentropy",
    keras.losses.sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
}


def deterministic_threads() -> None:
    """The same results for the same seed, on the thread budget of one grading worker."""
    tf.config.threading.set_intra_op_parallelism_threads(course_config.NUM_THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(course_config.NUM_THREADS)
    tf.config.experimental.enable_op_determinism()


def type_name(value) -> str:
    """What a student's function returned, as a student would name it."""
    if isinstance(value, wire.Missing):
        return "nothing (no such variable)"
    return value.type_name if isinstance(value, wire.Unsupported) else type(value).__name__


def rebuild_model(data: wire.ModelData, produced_by: str, input_shape: tuple, weights: bool = False) -> keras.Model:
    """The grader's own Keras model from the config the kernel sent (classes allowlisted, size
    bounded by wire.py). A model without an Input (the textbook's, built by its first fit) gets the
    lab's input shape. The kernel's weights are loaded only with `weights` (a check that asked for
    them): never into a model the grader trains itself."""
    try:
        model = keras.saving.deserialize_keras_object(data.config, safe_mode=True)
        if not model.built:
            model.build((None, *input_shape))
        if weights:
            model.set_weights(data.weights or [])
    except Exception as error:  # a config Keras refuses: the student's own mistake, explained
        raise AssertionError(f"{produced_by}: Keras could not rebuild the model ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:200] if str(error) else ''}).") from None
    return model


def require_model(value, produced_by: str, layer_types: tuple, input_shape: tuple, weights: bool = False) -> keras.Model:
    """A new, untrained Keras model of `layer_types` only, rebuilt by the grader from its config
    (with the kernel's weights only where the check asked for them)."""
    assert isinstance(value, wire.ModelData), (
        f"{produced_by} returned {type_name(value)}; return a keras.Sequential model "
        "(or a functional keras.Model) built from Keras's own layers."
    )
    assert value.iterations == 0, (
        f"{produced_by} returned a model that was already trained ({value.iterations} steps): return a new one."
    )
    model = rebuild_model(value, produced_by, input_shape, weights)
    names = ", ".join(sorted({t.__name__ for t in layer_types if t is not keras.layers.InputLayer}))
    foreign = [type(layer).__name__ for layer in model.layers if type(layer) not in layer_types]
    assert not foreign, f"{produced_by}: use Keras's {names} layers only, not {foreign}."
    assert not any(isinstance(layer, keras.layers.Activation) for layer, _ in network(model)), (
        f"{produced_by}: put each Activation layer right after a Dense layer without an activation "
        "(Dense(16) then Activation(\"relu\") is Dense(16, activation=\"relu\")), or give the Dense its activation."
    )
    return model


# The notebook's history is proven by its model: re-evaluated here on the validation data, its
# weights must give the history's last validation loss and accuracy (float32 round-off: 1e-5).
HISTORY_LOSS_RTOL, HISTORY_ACCURACY_ATOL = 1e-3, 1e-3


def notebook_history(submission) -> wire.HistoryData:
    """The notebook's `history`, with its model's weights."""
    history = submission.variable("history", weights=True)
    assert isinstance(history, wire.HistoryData), (
        "No training history was found: keep the result of model.fit(...) in a variable named `history` "
        f"(it holds {type_name(history)})."
    )
    return history


def assert_history_comes_from_its_model(history: wire.HistoryData, x_val, y_val, accuracy: str, input_shape: tuple,
                                        layer_types: tuple) -> None:
    """The history's own model, re-evaluated by the grader on the validation data, gives the
    history's last validation figures: numbers typed in, or a history of another run, do not."""
    assert history.model is not None and history.model.weights is not None, (
        "The history has no model: keep the History object that model.fit(...) returned."
    )
    model = rebuild_model(history.model, "The history's model", input_shape, weights=True)
    assert all(type(layer) in layer_types for layer in model.layers), "The history's model uses layers this lab does not."
    results = model.evaluate(x_val, y_val, batch_size=2048, verbose=0, return_dict=True)
    loss, measured = float(results.get("loss", math.nan)), float(results.get(accuracy, math.nan))
    reported_loss, reported = history.history["val_loss"][-1], history.history[f"val_{accuracy}"][-1]
    assert math.isclose(loss, reported_loss, rel_tol=HISTORY_LOSS_RTOL) and abs(measured - reported) <= HISTORY_ACCURACY_ATOL, (
        "The history does not match the model that produced it: re-evaluated by the grader on the validation "
        f"data, its model gives loss {loss:.4f} and {accuracy} {measured:.4f}, the history's last epoch "
        f"{reported_loss:.4f} and {reported:.4f}. Validate on the held-out data, fit a fresh model once, and keep its history."
    )


def assert_history_is_replayed(submission, history: wire.HistoryData, train: tuple, validation: tuple, batch_size: int,
                               input_shape: tuple, seed: int, tolerance: dict[str, float]) -> None:
    """Every epoch of the history lies near the grader's own replay of its run: the history's model
    (its config and compile settings, fresh weights from the grader's seed) trained by the grader on
    the lab's split for as many epochs. `tolerance` bounds each series' distance per epoch ("loss",
    "accuracy"; a "val_" series takes its own key's), measured between seeds of the reference."""
    keras.utils.set_random_seed(seed)
    model = rebuild_model(history.model, "The history's model", input_shape)
    epochs = len(history.history["loss"])
    replay = training_cache.cached_run(  # the replay depends on this module's code alone, not the lab's
        "common", model, {"run": "history_replay", "epochs": epochs, "batch_size": batch_size, "seed": seed},
        {"x_train": train[0], "y_train": train[1], "x_val": validation[0], "y_val": validation[1]},
        lambda: plain_history(submission.fit(model, *train, validation_data=validation, epochs=epochs,
                                             batch_size=batch_size, verbose=0)),
        lambda r: training_cache.history_shape(r, epochs))
    far = []
    for key, values in history.history.items():
        limit = tolerance.get(key.removeprefix("val_"), tolerance["accuracy"] if "acc" in key else None)
        if limit is None or key not in replay:
            continue
        distance = max(abs(mine - theirs) for mine, theirs in zip(values, replay[key]))
        if not distance <= limit:
            far.append(f"{key} (up to {distance:.3f} apart)")
    assert not far, (
        f"The history is not what training this model gives: the grader trained the history's model afresh "
        f"for {epochs} epochs, and epoch by epoch {', '.join(far)} differ more than any two honest runs do. "
        "Keep the History that model.fit(...) returned, unedited."
    )


def require_compiled(model, produced_by: str, loss: str, optimizer: type) -> None:
    assert model.optimizer is not None and model.compiled, f"{produced_by}: compile the model before returning it."
    assert isinstance(model.optimizer, optimizer), (
        f"{produced_by}: the optimizer is {type(model.optimizer).__name__}; use {optimizer.__name__}."
    )
    assert loss_name(model.loss) == loss_name(loss), (
        f"{produced_by}: the loss is {loss_name(model.loss)}; expected {loss_name(loss)}."
    )


def assert_test_accuracy(accuracy: float, threshold: float) -> None:
    assert accuracy >= threshold, (
        f"Trained by the grader, your model reaches {accuracy:.4f} test accuracy; at least "
        f"{threshold} is needed. Check the architecture, the loss and the optimizer."
    )


def loss_name(loss) -> str:
    """One name per loss, whether given as a string, a function or a loss object."""
    for key in (loss, type(loss)):
        try:
            if key in LOSS_NAMES:
                return LOSS_NAMES[key]
        except TypeError:  # an unhashable object
            pass
    return loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)


def learning_rate(model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def network(model: keras.Model) -> list[tuple[keras.layers.Layer, str]]:
    """The layers the data passes through, in order, each with the activation it applies: the same
    for every way Keras builds the network. The InputLayer a functional model lists is not one, and
    an Activation layer right after a Dense without one is that Dense's activation."""
    steps = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if (isinstance(layer, keras.layers.Activation) and steps and isinstance(steps[-1][0], keras.layers.Dense)
                and steps[-1][1] == "linear"):
            steps[-1] = (steps[-1][0], activation_name(layer))
        else:
            steps.append((layer, activation_name(layer) if hasattr(layer, "activation") else ""))
    return steps


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer, _ in network(model) if isinstance(layer, keras.layers.Dense)]


def dense_activations(model: keras.Model) -> list[str]:
    """Each Dense layer's activation, or the Activation layer's that follows it."""
    return [activation for layer, activation in network(model) if isinstance(layer, keras.layers.Dense)]


def activation_name(layer: keras.layers.Layer) -> str:
    return getattr(layer.activation, "__name__", type(layer.activation).__name__)


def plain_history(history) -> dict[str, list[float]]:
    return {str(key): [float(v) for v in values] for key, values in dict(history.history).items()}


def probabilities(model: keras.Model, x: np.ndarray, outputs: int) -> np.ndarray:
    """The model's predictions as float64, after checking their shape."""
    result = np.asarray(model.predict(x, batch_size=2048, verbose=0), dtype=np.float64)
    assert result.shape == (len(x), outputs), f"The model predicts shape {result.shape}; expected ({len(x)}, {outputs})."
    return result
