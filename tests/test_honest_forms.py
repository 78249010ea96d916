"""Honest code is never under-scored by the form it takes: every lab's model functions, written in
each way Keras 3 builds the same network, earn exactly what the reference earns, check by check.

The forms rewrite the reference's own functions: its `keras.Sequential([...])` becomes `stack([...])`,
and each form's `stack` builds the same layers its own way (the functional API, whose `layers`
include its InputLayer; `model.add` one by one; no Input; explicit names; Dense + Activation).
The fast test runs the checks that read models in this process, each model crossing as its config
exactly as the kernel sends it (then `wire.decode`); the slow one serves every form from one real
kernel."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from types import SimpleNamespace

import keras
import nbformat
import numpy as np
import pytest

from autograder.course.samples import solution_sources
from autograder.kernel import server, wire
from tests.conftest import kernel_serving
from tests.test_multiclass_checks import tiny_mnist

FORMS = {
    "reference": '''
def stack(layers):
    return keras.Sequential(layers)
''',
    "functional": '''
def stack(layers):
    inputs = layers[0]
    x = inputs
    for layer in layers[1:]:
        x = layer(x)
    return keras.Model(inputs, x)
''',
    "added_one_by_one": '''
def stack(layers):
    model = keras.Sequential()
    for layer in layers:
        model.add(layer)
    return model
''',
    "sequential_without_input": '''
def stack(layers):
    return keras.Sequential(layers[1:])
''',
    "functional_with_names": '''
def stack(layers):
    inputs = keras.Input(shape=layers[0].shape[1:], name="features")
    x = inputs
    for number, layer in enumerate(layers[1:]):
        x = type(layer).from_config({**layer.get_config(), "name": f"step_{number}"})(x)
    return keras.Model(inputs=[inputs], outputs=[x], name="my_network")
''',
    "activation_layers": '''
def stack(layers):
    split = [layers[0]]
    for layer in layers[1:]:
        config = layer.get_config()
        if isinstance(layer, keras.layers.Dense) and config["activation"] != "linear":
            split += [keras.layers.Dense.from_config({**config, "activation": "linear"}),
                      keras.layers.Activation(config["activation"])]
        else:
            split.append(layer)
    return keras.Sequential(split)
''',
}

# Each lab's solution cells that build models, and the checks that read those models.
LABS = {
    "imdb_sentiment": (["build_model", "variants"],
                       ["test_build_model_architecture", "test_build_model_compiled", "test_build_model_with_objects",
                        "test_build_variant_architectures"]),
    "overfitting_regularization": (["build_sized_model", "build_l2_model", "build_l1_models", "build_dropout_model",
                                    "moons_model"],
                                   ["test_sized_model_architecture", "test_sized_model_compiled",
                                    "test_l2_model_penalizes_both_hidden_layers", "test_l2_model_uses_the_factor_given",
                                    "test_l1_model_penalizes_both_hidden_layers",
                                    "test_l1_l2_model_penalizes_both_hidden_layers", "test_dropout_model_layers",
                                    "test_moons_model_architecture", "test_regularized_moons_model_architecture"]),
    "multiclass_softmax": (["build_small_model", "build_logits_model", "build_big_model"],
                           ["test_small_model_architecture", "test_small_model_compiled",
                            "test_small_model_takes_the_loss_argument", "test_logits_model_outputs_logits",
                            "test_logits_model_gives_the_softmax_models_loss", "test_big_model_architecture",
                            "test_big_model_uses_adam_at_0_01"]),
}
# The reference's variants add layers one by one: as a list for `stack`.
VARIANT_EDITS = [
    ("model = keras.Sequential([keras.Input(shape=(10000,))])", "layers = [keras.Input(shape=(10000,))]"),
    ("model.add(keras.layers.Dense(units, activation=activation))",
     "layers.append(keras.layers.Dense(units, activation=activation))"),
    ('model.add(keras.layers.Dense(1, activation="sigmoid"))',
     'model = stack(layers + [keras.layers.Dense(1, activation="sigmoid")])'),
]


def lab_source(lab: str) -> str:
    """The reference's model functions, building every model with `stack`."""
    cells, _ = LABS[lab]
    solutions = solution_sources(lab)
    source = "\n\n".join(solutions[cell] for cell in cells)
    for old, new in VARIANT_EDITS if lab == "imdb_sentiment" else []:
        assert old in source, old
        source = source.replace(old, new)
    assert "keras.Sequential(" in source and ".add(" not in source
    return source.replace("keras.Sequential(", "stack(")


class InProcess:
    """The checks' view of functions and variables defined here: a model or a history crosses as
    kernel/server.py sends it (its config; weights where asked) and is decoded by wire.decode."""

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def function(self, name: str, weights: bool = False, **options):
        return lambda *args, **kwargs: self.sent(self.namespace[name](*args, **kwargs), weights)

    def variable(self, name: str, weights: bool = False):
        return self.sent(self.namespace[name], weights)

    def fit(self, model, *args, **kwargs):
        return model.fit(*args, **kwargs)

    @staticmethod
    def sent(value, weights: bool):
        if isinstance(value, (keras.Model, keras.callbacks.History)):
            return wire.decode(json.loads(json.dumps({"result": server.encode(value, weights)})), weights=weights)
        return value


class Prefixed:
    """One form's functions in a kernel that serves every form, under `<form>__<name>`."""

    def __init__(self, submission, form: str):
        self.submission, self.form = submission, form

    def function(self, name: str, **options):
        return self.submission.function(f"{self.form}__{name}", **options)


def outcomes(lab: str, submission) -> dict[str, bool | str]:
    """Each model check of `lab`: True where it passes, else its message."""
    checks = importlib.import_module(f"autograder.checks.{lab}")
    fixtures = {"submission": submission, "lab_data": tiny_mnist() if lab == "multiclass_softmax" else None}
    results = {}
    for name in LABS[lab][1]:
        check = getattr(checks, name)
        arguments = {key: fixtures.get(key) for key in inspect.signature(check).parameters}
        if "rng" in arguments:
            arguments["rng"] = np.random.default_rng(0)
        try:
            check(**arguments)
            results[name] = True
        except Exception as error:  # the grader reports any error as a failed check
            results[name] = f"{type(error).__name__}: {error}"
    return results


@pytest.mark.parametrize("lab", LABS)
def test_every_form_scores_like_the_reference(lab):
    results = {}
    for form, helper in FORMS.items():
        namespace = {"keras": keras, "np": np}
        exec(helper + "\n" + lab_source(lab), namespace)
        results[form] = outcomes(lab, InProcess(namespace))
    assert results["reference"] == {name: True for name in LABS[lab][1]}, results["reference"]
    failed = {form: {name: result for name, result in r.items() if result is not True} for form, r in results.items()}
    assert failed == {form: {} for form in FORMS}


# Not the lab's network: an Activation layer on top of a Dense that has one already.
DOUBLED_ACTIVATIONS = FORMS["activation_layers"].replace('{**config, "activation": "linear"}', "config")


@pytest.mark.parametrize("lab", LABS)
def test_an_activation_layer_is_not_folded_into_an_activated_dense(lab):
    namespace = {"keras": keras, "np": np}
    exec(DOUBLED_ACTIVATIONS + "\n" + lab_source(lab), namespace)
    results = outcomes(lab, InProcess(namespace))
    assert not [name for name, result in results.items() if result is True]
    assert all("put each Activation layer right after a Dense" in result for result in results.values()), results


def prefixed(form: str, source: str) -> str:
    """`source` with every function it defines renamed `<form>__<name>` (a fresh kernel runs only
    definitions, so each form's functions sit side by side under their own names)."""
    names = re.findall(r"^def (\w+)", source, re.MULTILINE)
    return re.sub(rf"\b({'|'.join(names)})\b", rf"{form}__\1", source)


@pytest.mark.slow
def test_every_form_scores_like_the_reference_in_a_real_kernel():
    cells = ["import keras\nimport numpy as np"]
    cells += [prefixed(form, helper + "\n" + lab_source(lab)) for form, helper in FORMS.items() for lab in LABS]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    with kernel_serving(notebook=notebook) as submission:
        results = {(lab, form): outcomes(lab, Prefixed(submission, form)) for lab in LABS for form in FORMS}
    failed = {key: {k: v for k, v in result.items() if v is not True} for key, result in results.items()}
    assert failed == {key: {} for key in results}


# The textbook holds out the first 10,000 reviews; this student holds out the last 10,000.
FROM_THE_END = "return x[-n_val:], x[:-n_val], y[-n_val:], y[:-n_val]"
SPLIT_CHECKS = {"test_split_holds_out_the_first_samples", "test_split_keeps_labels_aligned"}
NOTEBOOK = """
x_val, partial_x_train, y_val, partial_y_train = split_validation(x_train, y_train)
model = build_model()
history = model.fit(partial_x_train, partial_y_train, epochs=20, batch_size=512,
                    validation_data=(x_val, y_val), verbose=0)
"""


@pytest.mark.parametrize("split", ["reference", "from_the_end"])
def test_a_split_from_the_end_costs_the_split_checks_only(split):
    """The history is judged on the student's own split (10,300 reviews of 50 words here: the
    history's model takes its own input width, and only the split's rows matter)."""
    from autograder.checks import imdb_sentiment as checks

    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, size=(10_300, 50)).astype(np.uint8)
    y = (x[:, :10].sum(axis=1) > 5).astype(np.float32)
    source = solution_sources("imdb_sentiment")["split_validation"]
    if split == "from_the_end":
        source = source.replace("return x[:n_val], x[n_val:], y[:n_val], y[n_val:]", FROM_THE_END)
        assert FROM_THE_END in source
    build = solution_sources("imdb_sentiment")["build_model"].replace("keras.Input(shape=(10000,))", "keras.Input(shape=(50,))")
    namespace = {"keras": keras, "np": np, "x_train": x, "y_train": y}
    keras.utils.set_random_seed(0)
    exec(source + "\n" + build + NOTEBOOK, namespace)
    submission, lab_data = InProcess(namespace), SimpleNamespace(x_train=x, y_train=y)
    failed = set()
    for name in (*SPLIT_CHECKS, "test_notebook_history_has_every_epoch"):
        check = getattr(checks, name)
        arguments = {"submission": submission, "lab_data": lab_data, "rng": np.random.default_rng(0)}
        try:
            check(**{key: arguments[key] for key in inspect.signature(check).parameters})
        except AssertionError as error:
            failed.add(name)
            print(name, error)
    assert failed == (SPLIT_CHECKS if split == "from_the_end" else set())
