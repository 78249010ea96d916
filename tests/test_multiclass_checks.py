"""The multiclass lab's newer checks on small data made here: the reference passes; by-hand
functions that call TensorFlow or Keras, an integer-less prediction, a load without weights and a
logits model without from_logits each fail with a message that says what to fix."""

from __future__ import annotations

import inspect

import nbformat
import numpy as np

import autograder.checks.multiclass_softmax as checks
from autograder.checks.grader_data import MnistData
from autograder.checks.submission import StudentCodeError
from autograder.course.samples import make_sample
from tests.conftest import kernel_serving

CHECKS = ["test_predicted_digits", "test_saved_model_loads_back", "test_logits_model_outputs_logits",
          "test_logits_model_gives_the_softmax_models_loss", "test_softmax_matches_tensorflow",
          "test_softmax_is_stable_for_extreme_logits", "test_cross_entropy_matches_keras",
          "test_cross_entropy_is_stable_for_zero_probabilities", "test_one_hot_rows"]

WRONG = '''
def softmax(logits):
    return tf.nn.softmax(logits).numpy()

def cross_entropy(probs, labels):
    import keras as library
    return float(library.losses.SparseCategoricalCrossentropy()(labels, probs))

def predicted_digits(model, images):
    return model.predict(images, verbose=0).argmax(axis=-1).astype("float32")

def build_logits_model():
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(15, activation="relu"), keras.layers.Dense(10)])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

def load_model_files(folder):
    with open(os.path.join(folder, "model.json")) as file:
        return keras.models.model_from_json(file.read())
'''


def tiny_mnist() -> MnistData:
    rng = np.random.default_rng(1)
    images = rng.random((300, 28, 28)).astype(np.float32)
    return MnistData(images[:200], rng.integers(0, 10, 200), images[200:], rng.integers(0, 10, 100))


def outcomes(extra: str = "") -> dict[str, str | None]:
    """Each check's message on the reference's definitions (plus `extra`), None where it passes."""
    notebook = make_sample("multiclass_softmax", "reference")
    if extra:
        notebook.cells.append(nbformat.v4.new_code_cell(extra))
    fixtures = {"lab_data": tiny_mnist()}
    results = {}
    with kernel_serving(notebook=notebook) as submission:
        fixtures["submission"] = submission
        for name in CHECKS:
            check = getattr(checks, name)
            arguments = {key: fixtures[key] for key in inspect.signature(check).parameters if key in fixtures}
            if "rng" in inspect.signature(check).parameters:
                arguments["rng"] = np.random.default_rng(0)
            try:
                check(**arguments)
                results[name] = None
            except (AssertionError, StudentCodeError) as error:
                results[name] = str(error)
    return results


def test_the_reference_passes_and_the_shortcuts_fail():
    assert outcomes() == {name: None for name in CHECKS}
    wrong = outcomes(WRONG)
    assert "return an integer numpy array" in wrong["test_predicted_digits"]
    assert "save and load the weights too" in wrong["test_saved_model_loads_back"]
    assert "from_logits=True" in wrong["test_logits_model_outputs_logits"]
    assert "they should be equal" in wrong["test_logits_model_gives_the_softmax_models_loss"]
    for name in ("test_softmax_matches_tensorflow", "test_softmax_is_stable_for_extreme_logits"):
        assert "ImportError in `softmax`" in wrong[name] and "`tf` comes from a library" in wrong[name]
    for name in ("test_cross_entropy_matches_keras", "test_cross_entropy_is_stable_for_zero_probabilities"):
        assert "`keras` comes from a library" in wrong[name]
    assert wrong["test_one_hot_rows"] is None
