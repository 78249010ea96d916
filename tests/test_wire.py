"""What the kernel sends is data, validated here: nothing it sends can raise inside the grader."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import wire

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
    (dense(10**9), "units are not a sensible number"),
    (dense(100_000), "more than 20,000,000 weights"),
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
    decoded = wire.decode(json.loads(json.dumps({"result": payload})))
    assert [w.shape for w in decoded.weights] == [(10_000, 16), (16,)]
