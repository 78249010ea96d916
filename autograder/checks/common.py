"""Helpers the labs' hidden checks share: Keras models checked by exact type, plain-number views."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import course_config

# Only Keras's own classes: their methods (predict, fit) are the library's code, not the student's.
MODEL_TYPES = (keras.Sequential, keras.src.models.functional.Functional)
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


def require_model(model, produced_by: str, layer_types: tuple) -> keras.Model:
    """A new, untrained Keras model built from `layer_types` only."""
    assert type(model) in MODEL_TYPES, (
        f"{produced_by} returned {type(model).__name__}; return a keras.Sequential model "
        "(or a functional keras.Model) built from Keras's own layers."
    )
    names = ", ".join(sorted({t.__name__ for t in layer_types if t is not keras.layers.InputLayer}))
    foreign = [type(layer).__name__ for layer in model.layers if type(layer) not in layer_types]
    assert not foreign, f"{produced_by}: use Keras's {names} layers only, not {foreign}."
    if model.optimizer is not None:
        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        assert steps == 0, f"{produced_by} returned a model that was already trained ({steps} steps): return a new one."
    return model


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


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def activation_name(layer: keras.layers.Layer) -> str:
    return getattr(layer.activation, "__name__", type(layer.activation).__name__)


def plain_history(history) -> dict[str, list[float]]:
    return {str(key): [float(v) for v in values] for key, values in dict(history.history).items()}


def probabilities(model: keras.Model, x: np.ndarray, outputs: int) -> np.ndarray:
    """The model's predictions as float64, after checking their shape."""
    result = np.asarray(model.predict(x, batch_size=2048, verbose=0), dtype=np.float64)
    assert result.shape == (len(x), outputs), f"The model predicts shape {result.shape}; expected ({len(x)}, {outputs})."
    return result
