"""What the kernel sends is data, validated here: nothing it sends can raise inside the grader."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.kernel import wire

TAGS = ["__ndarray__", "__float__", "__tuple__", "__dict__", "__model__", "__history__", "__figure__",
        "__object__", "__missing__", "__error__", "weights", "iterations", "model", "class_name", "module",
        "config", "layers", "lines", "scatter", "x", "y", "label", "frames", "type", "message", "fills"]
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.sampled_from(TAGS) | st.text(max_size=5),
                                                                        children, max_size=5),
    max_leaves=40,
)


def npy(array: np.ndarray, allow_pickle: bool = False) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return base64.b64encode(buffer.getvalue()).decode()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_the_kernel_sends_decodes_or_raises_wire_error(value):
    try:
        wire.decode({"result": value})
    except wire.WireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_as_an_array_decode_or_raise_wire_error(raw):
    try:
        wire.decode({"result": {"__ndarray__": base64.b64encode(raw).decode()}})
    except wire.WireError:
        pass


def test_arrays_round_trip_and_pickled_objects_are_refused():
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    decoded = wire.decode({"result": {"__tuple__": [{"__ndarray__": npy(array)}, "text", 3]}})
    assert np.array_equal(decoded[0], array) and decoded[0].dtype == np.uint8 and decoded[1:] == ("text", 3)
    with pytest.raises(wire.WireError, match="could not be read"):
        wire.decode({"result": {"__ndarray__": npy(np.array([object()], dtype=object), allow_pickle=True)}})


def test_deeply_nested_values_are_refused_not_a_recursion_error():
    value = "leaf"
    for _ in range(10_000):
        value = [value]
    with pytest.raises(wire.WireError, match="too large or too deeply nested"):
        wire.decode({"result": value})


def sequential(*layers, compile_config=None) -> dict:
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": list(layers)},
              "registered_name": None}
    if compile_config:
        config["compile_config"] = compile_config
    return config


def dense(units: int, **extra) -> dict:
    return {"module": "keras.layers", "class_name": "Dense", "config": {"units": units, **extra}, "registered_name": None}


def test_an_allowlisted_model_decodes_with_function_losses_and_metrics():
    compile_config = {"optimizer": "rmsprop", "metrics": [{"module": "builtins", "class_name": "function",
                                                           "config": "binary_accuracy", "registered_name": "function"}],
                      "loss": {"module": "builtins", "class_name": "function", "config": "binary_crossentropy",
                               "registered_name": "function"}}
    decoded = wire.decode({"result": {"__model__": sequential(dense(16), dense(1), compile_config=compile_config),
                                      "iterations": 0}})
    assert isinstance(decoded, wire.ModelData) and decoded.iterations == 0


@pytest.mark.parametrize("layer, says", [
    ({"module": "keras.layers", "class_name": "Lambda", "config": {"function": "x"}}, "keras.layers.Lambda is not among"),
    ({"module": "os", "class_name": "system", "config": "ls"}, "os.system is not among"),
    ({"module": "builtins", "class_name": "function", "config": "eval"}, "'eval' is not one of Keras's"),
    (dense(16, kernel_initializer={"module": "keras.initializers", "class_name": "Zeros",
                                   "registered_name": "my_package>Zeros"}), "custom registered object"),
    (dense(10**9), "units are not a number from 1 to 20,000"),
    (dense(100_000), "units are not a number from 1 to 20,000"),
    (dense(16, build_config=None) | {"build_config": {"input_shape": [None, 60_000_000]}}, "60,000,000 values per sample"),
    ({"module": "keras", "class_name": "Sequential", "config": {"layers": []}}, "a layer this lab does not accept"),
])
def test_models_outside_the_allowlist_are_refused_with_a_reason(layer, says):
    with pytest.raises(wire.WireError, match=says):
        wire.decode({"result": {"__model__": sequential(layer), "iterations": 0}})


def test_figures_and_histories_decode_to_plain_data():
    axes = {"lines": [{"label": "val", "x": {"__ndarray__": npy(np.arange(3.0))},
                       "y": {"__ndarray__": npy(np.ones(3))}}],
            "scatter": [{"__ndarray__": npy(np.zeros((4, 2)))}], "fills": 1, "legend": True}
    figure = wire.decode({"result": {"__figure__": [axes]}})
    assert figure.axes[0].lines["val"][1].tolist() == [1, 1, 1] and figure.axes[0].scatter.shape == (4, 2)
    history = wire.decode({"result": {"__history__": {"__dict__": [["loss", [0.5, {"__float__": "nan"}]]]},
                                      "model": None}})
    assert history.history["loss"][0] == 0.5 and np.isnan(history.history["loss"][1])


def test_a_reply_can_be_as_large_as_a_trained_imdb_model():
    weights = [np.zeros((10_000, 16), np.float32), np.zeros(16, np.float32)]
    payload = {"__model__": sequential(dense(16)), "iterations": 600,
               "weights": [{"__ndarray__": npy(w)} for w in weights]}
    decoded = wire.decode(json.loads(json.dumps({"result": payload})), weights=True)
    assert [w.shape for w in decoded.weights] == [(10_000, 16), (16,)]


def test_what_the_grader_did_not_ask_for_is_refused():
    """Weights only where a check asked for them; no kind of value carries extra fields."""
    model = {"__model__": sequential(dense(16)), "iterations": 0, "weights": [{"__ndarray__": npy(np.zeros(16))}]}
    with pytest.raises(wire.WireError, match="did not ask for"):
        wire.decode({"result": model})
    history = {"__history__": {"__dict__": []}, "model": model}
    with pytest.raises(wire.WireError, match="did not ask for"):
        wire.decode({"result": history})
    for extra in ({"__ndarray__": npy(np.zeros(2)), "weights": []}, {"__missing__": "f", "__object__": "g"},
                  {"__error__": {"type": "E", "message": "", "frames": [], "seed": 1}}):
        with pytest.raises(wire.WireError, match="did not ask for"):
            wire.decode({"result": extra})
    with pytest.raises(wire.WireError, match="single result"):
        wire.decode({"result": 1, "note": "extra"})


def functional(*layers) -> dict:
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": "f", "layers": list(layers)}, "registered_name": "Functional"}


def node(name: str, kind: str = "Dense", source: str | None = None, **settings) -> dict:
    inbound = [] if source is None else [{"args": [{"class_name": "__keras_tensor__",
                                                     "config": {"shape": [None, 1], "keras_history": [source, 0, 0]}}]}]
    return {"module": "keras.layers", "class_name": kind, "config": {"name": name, **settings}, "registered_name": None,
            "name": name, "inbound_nodes": inbound}


def test_a_functional_model_is_sized_in_graph_order_not_listed_order():
    # Listed backwards, the first Dense seems to read 1 value: built, it holds 150,030,001 weights.
    layers = [node("wide", source="first", units=10_000), node("first", source="input", units=15_000),
              node("input", "InputLayer", batch_shape=[None, 10_000])]
    with pytest.raises(wire.WireError, match="more than 20,000,000 weights"):
        wire.decode({"result": {"__model__": functional(*layers), "iterations": 0}})
    cycle = [node("a", source="b", units=4), node("b", source="a", units=4)]
    with pytest.raises(wire.WireError, match="cycle"):
        wire.decode({"result": {"__model__": functional(*cycle), "iterations": 0}})


def test_metrics_with_huge_state_are_refused():
    auc = {"module": "keras.metrics", "class_name": "AUC", "config": {"num_thresholds": 200, "num_labels": 200_000},
           "registered_name": None}
    with pytest.raises(wire.WireError, match="keeps too much state"):
        wire.decode({"result": {"__model__": sequential(dense(1), compile_config={"metrics": [auc]}), "iterations": 0}})


def test_the_size_of_every_honest_model_is_what_keras_builds():
    import keras

    imdb = [keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    inputs = keras.Input((28, 28))
    hidden = keras.layers.Dense(15, activation="relu")(keras.layers.Flatten()(inputs))
    models = [
        keras.Sequential([keras.Input((10_000,)), *imdb]),
        keras.Sequential([keras.layers.Dense(16), keras.layers.Dense(1)]),  # textbook: no Input, built by fit
        keras.Sequential([keras.Input((10_000,)), keras.layers.Dense(512), keras.layers.Dropout(0.5),
                          keras.layers.Dense(512), keras.layers.Dense(1)]),
        keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden)),
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(50, activation="tanh"), keras.layers.Dense(1)]),
    ]
    models[1].build((None, 10_000))
    for model in models:
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        assert wire.model_weights(config) == model.count_params()
        assert isinstance(wire.decode({"result": {"__model__": config, "iterations": 0}}), wire.ModelData)


layer_kinds = st.sampled_from(["Dense", "Dense", "Dropout", "Flatten", "Activation"])
sizes = st.integers(1, 2_000) | st.integers(1, 2_000) | st.integers(1, 2_000) | st.just(15_000) | st.just(60_000_000)
shapes = st.lists(sizes, min_size=1, max_size=2).map(lambda dims: [None, *dims])


@st.composite
def sized_models(draw) -> dict:
    """Sequential or functional configs of the allowed layers, with declared shapes that may lie."""
    kinds = draw(st.lists(layer_kinds, min_size=1, max_size=4))
    layers = [node("input", "InputLayer", batch_shape=draw(shapes))]
    for number, kind in enumerate(kinds):
        settings = {"units": draw(sizes)} if kind == "Dense" else {}
        settings |= {"rate": 0.5} if kind == "Dropout" else {"activation": "relu"} if kind == "Activation" else {}
        layer = node(f"layer{number}", kind, source=layers[-1]["name"], **settings)
        if draw(st.integers(0, 3)) == 0:
            layer["build_config"] = {"input_shape": draw(shapes)}
        layers.append(layer)
    if draw(st.booleans()):
        return functional(*draw(st.permutations(layers)))
    config = sequential(*layers[draw(st.sampled_from([0, 1])):])
    if draw(st.booleans()):
        config["config"]["build_input_shape"] = draw(shapes)
    return config


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sized_models())
def test_the_size_worked_out_is_never_below_what_keras_builds(config):
    """Whatever a config declares, a model the wire accepts builds no more weights than it said."""
    import keras

    config["config"] |= {"input_layers": ["input", 0, 0], "output_layers": [config["config"]["layers"][-1]["name"], 0, 0]} \
        if config["class_name"] == "Functional" else {}
    try:
        decoded = wire.decode({"result": {"__model__": config, "iterations": 0}})
    except wire.WireError:
        return
    try:
        model = keras.saving.deserialize_keras_object(decoded.config, safe_mode=True)
        if not model.built:
            model.build((None, 10_000))
    except Exception:  # a config Keras itself refuses (shapes that disagree): nothing built
        return
    assert model.count_params() <= wire.model_weights(decoded.config) <= wire.MAX_PARAMETERS
