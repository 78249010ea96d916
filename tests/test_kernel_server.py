"""The kernel's side of the protocol, in this process, without a kernel: what `server.py` sends
decodes with the grader's own `wire.decode`, both sides count a reply's size and depth alike, and
the source the session sends into the kernel needs nothing of the grader."""

from __future__ import annotations

import json
from unittest import mock

import keras
import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from autograder.kernel import server, session, wire

matplotlib.use("Agg")


def round_trip(value, weights: bool = False):
    """`value` as the kernel sends it, through JSON, decoded by the grader."""
    return wire.decode(json.loads(json.dumps({"result": server.encode(value, weights)})), weights=weights)


def served(request: dict, namespace: dict):
    return wire.decode(json.loads(json.dumps(server.answer(request, namespace))), weights=request.get("weights") is True)


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def figure() -> Figure:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [3.0, 2.0, 1.0], label="loss")
    ax.scatter([0.5, 1.5], [1.0, 2.0])
    ax.contourf(np.arange(9.0).reshape(3, 3))
    ax.legend()
    return fig


# --- values --------------------------------------------------------------------------------------


def test_arrays_cross_with_their_dtype_and_shape_and_objects_do_not():
    for array in (np.arange(6, dtype=np.int16).reshape(2, 3), np.linspace(0, 1, 5, dtype=np.float32),
                  np.array([True, False]), np.array(["a", "bc"])):
        decoded = round_trip(array)
        assert isinstance(decoded, np.ndarray) and decoded.dtype == array.dtype and np.array_equal(decoded, array)
    scalar = round_trip(np.float32(2.5))  # a numpy scalar crosses as an array of one value
    assert scalar.dtype == np.float32 and scalar.shape == (1,) and scalar[0] == 2.5
    refused = served({"op": "variable", "name": "x"}, {"x": np.array([object()], dtype=object)})
    assert isinstance(refused, wire.StudentException) and refused.type_name == "TypeError"


def test_plain_values_tuples_dicts_and_odd_floats_round_trip():
    value = {"a": (1, "two", None, True), 3: [1.5, {"nested": [()]}], (1, 2): float("inf"), None: float("-inf")}
    assert round_trip(value) == value
    assert np.isnan(round_trip(float("nan")))
    assert round_trip(object()) == wire.Unsupported("object")


def test_a_model_crosses_as_its_config_with_weights_only_when_asked():
    model = tiny_model()
    plain = round_trip(model)
    assert isinstance(plain, wire.ModelData) and plain.weights is None and plain.iterations == 0
    assert [layer["class_name"] for layer in plain.config["config"]["layers"]] == ["InputLayer", "Dense", "Dense"]
    with_weights = round_trip(model, weights=True)
    assert all(np.array_equal(a, b) for a, b in zip(with_weights.weights, model.get_weights(), strict=True))
    with pytest.raises(wire.WireError, match="did not ask for"):  # weights the grader did not ask for
        wire.decode({"result": server.encode(model, weights=True)}, weights=False)


def test_a_history_crosses_with_its_model():
    history = keras.callbacks.History()
    history.set_model(tiny_model())
    history.history = {"loss": [0.9, np.float32(0.5)], "val_loss": [1.0, float("nan")]}
    decoded = round_trip(history, weights=True)
    assert isinstance(decoded, wire.HistoryData) and decoded.history["loss"] == pytest.approx([0.9, 0.5])
    assert np.isnan(decoded.history["val_loss"][1])
    assert isinstance(decoded.model, wire.ModelData) and len(decoded.model.weights) == 4


def test_a_figure_crosses_as_what_it_draws():
    (axes,) = round_trip(figure()).axes
    x, y = axes.lines["loss"]
    assert np.array_equal(x, [0, 1, 2]) and np.array_equal(y, [3, 2, 1])
    assert np.array_equal(axes.scatter, [[0.5, 1.0], [1.5, 2.0]]) and axes.fills == 1 and axes.legend


# --- requests ------------------------------------------------------------------------------------


def notebook(source: str) -> dict:
    namespace = {}
    exec(compile(source, "<notebook cell 1>", "exec"), namespace)
    return namespace


def test_a_call_gets_the_arguments_the_grader_wrote(tmp_path):
    namespace = notebook("def describe(x, pair, history, model):\n"
                         "    return x.sum(), pair, history.history, model.predict(np.ones((1, 4)), verbose=0).shape\n"
                         "import numpy as np\n")
    model = tiny_model()
    request = wire.ArgumentWriter(tmp_path).call_request(
        "describe", (np.arange(4), (1, [2.0]), wire.HistoryData({"loss": [1.0]}), model), {}, seed=3, weights=False)
    assert served(request, namespace) == (6, (1, [2.0]), {"loss": [1.0]}, (1, 1))


def test_what_a_function_raises_comes_back_with_its_notebook_frames():
    namespace = notebook("def inner(x):\n    raise ValueError(f'bad {x}')\n\ndef outer():\n    return inner(3)\n")
    error = served({"op": "call", "name": "outer"}, namespace)
    assert error == wire.StudentException("ValueError", "bad 3", [("outer", 5), ("inner", 2)])
    assert served({"op": "call", "name": "absent"}, namespace) == wire.Missing("absent")
    assert served({"op": "variable", "name": "absent"}, namespace) == wire.Missing("absent")


def test_a_by_hand_call_cannot_use_a_library_and_it_is_back_after():
    namespace = notebook("import fractions\ndef by_hand():\n    return fractions.Fraction(1, 2)\n")
    error = served({"op": "call", "name": "by_hand", "without": ["fractions"]}, namespace)
    assert error.type_name == "ImportError" and "must do without" in error.message
    assert served({"op": "call", "name": "by_hand"}, namespace) == wire.Unsupported("Fraction")


def test_a_fresh_kernel_gets_the_definitions_and_hung_functions_fail_at_once():
    namespace = {}
    cells = [[1, "x = 3\ny = len('abc')\n%matplotlib inline\ndef f():\n    return x\n"], [2, "def (:"]]
    problems = served({"op": "define", "cells": cells}, namespace)
    assert problems == ["Cell 2 could not be parsed (SyntaxError); nothing in it was graded."]
    assert "y" not in namespace and served({"op": "call", "name": "f"}, namespace) == 3
    served({"op": "poison", "names": {"f": "`f` ran too long"}}, namespace)
    assert served({"op": "call", "name": "f"}, namespace) == wire.StudentException("TimeoutError", "`f` ran too long", [])


def test_the_source_sent_into_the_kernel_imports_nothing_of_the_grader_and_leaves_no_names():
    assert "import autograder" not in session.SERVER_SOURCE and "from autograder" not in session.SERVER_SOURCE
    scope = {}
    exec(session.SERVER_SOURCE, scope)
    assert (scope["MAX_DEPTH"], scope["MAX_ITEMS"], scope["MIME"]) == (wire.MAX_DEPTH, wire.MAX_ITEMS, wire.MIME)
    namespace = notebook("def double(x):\n    return 2 * x\n")
    before = set(namespace)
    replies = []
    with mock.patch("IPython.display.display", lambda data, raw=False: replies.append(data)):
        exec(session.request_source({"op": "call", "name": "double", "args": [21]}), namespace)
    assert set(namespace) == before  # the server ran in a dict of its own
    assert wire.decode(json.loads(json.dumps(replies[-1]))[wire.MIME]) == 42


# --- limits --------------------------------------------------------------------------------------


def in_list(value, levels: int):
    for _ in range(levels):
        value = [value]
    return value


def a_history() -> keras.callbacks.History:
    history = keras.callbacks.History()
    history.history = {"loss": [1.0]}
    return history


NESTINGS = {"list": (lambda value: [value], 1), "tuple": (lambda value: (value,), 1),
            "dict": (lambda value: {"key": value}, 2)}  # one more level of each kind, and what it costs
# The depth of a leaf's deepest part: a figure's arrays are two lists down (its axes, their lines),
# a history's numbers four levels (its wrapper, its dict's [key, value] pairs, its lists).
LEAVES = {"a number": (lambda: 1, 0), "a figure": (figure, 2), "a history": (a_history, 4)}


def nest(nesting, leaf, levels: int):
    value = leaf()
    for _ in range(levels):
        value = nesting(value)
    return value


def encoded_with_limit(value, depth: int):
    with mock.patch.object(server, "MAX_DEPTH", depth):
        return server.encode(value)


@pytest.mark.parametrize("leaf", LEAVES)
@pytest.mark.parametrize("nesting", NESTINGS)
def test_a_value_at_the_servers_deepest_decodes_and_one_level_more_is_refused_by_both_sides(nesting, leaf):
    (wrap, cost), (make, leaf_depth) = NESTINGS[nesting], LEAVES[leaf]
    levels = (wire.MAX_DEPTH - leaf_depth) // cost  # the most levels the server sends
    wire.decode(json.loads(json.dumps({"result": server.encode(nest(wrap, make, levels))})))
    with pytest.raises(ValueError, match="too large or too deeply nested"):
        server.encode(nest(wrap, make, levels + 1))
    deeper = encoded_with_limit(nest(wrap, make, levels + 1), wire.MAX_DEPTH + 10)
    with pytest.raises(wire.WireError, match="too large or too deeply nested"):
        wire.decode({"result": deeper})


def test_a_list_nested_to_the_limit_crosses_and_one_level_more_does_not():
    assert round_trip(in_list(1, wire.MAX_DEPTH)) == in_list(1, wire.MAX_DEPTH)
    with pytest.raises(ValueError, match="too deeply nested"):
        server.encode(in_list(1, wire.MAX_DEPTH + 1))


@pytest.mark.parametrize("kind", [list, tuple, dict.fromkeys])
def test_a_value_of_the_most_items_the_server_sends_decodes_and_one_more_is_refused_by_both(kind):
    def value(size):
        return kind(range(size))

    size = {list: wire.MAX_ITEMS - 1, tuple: (wire.MAX_ITEMS - 1) // 2, dict.fromkeys: (wire.MAX_ITEMS - 1) // 4}[kind]
    wire.decode({"result": server.encode(value(size))})
    with pytest.raises(ValueError, match="too large"):
        server.encode(value(size + 1))
    with mock.patch.object(server, "MAX_ITEMS", wire.MAX_ITEMS * 2):
        more = server.encode(value(size + 1))
    with pytest.raises(wire.WireError, match="too large"):
        wire.decode({"result": more})


def test_the_server_counts_items_as_the_decoder_does():
    history = keras.callbacks.History()
    history.set_model(tiny_model())
    history.history = {"loss": [1.0, 0.5], "accuracy": [0.5, float("nan")]}
    values = [[1, (2, 3), {"a": [4.0, None], 5: ()}], figure(), history, tiny_model(), "text", float("inf")]
    for weights in (False, True):
        for value in values:
            budget = server.Budget()
            sent = server.encode(value, weights, budget)
            decoder = wire._Decoder(weights)
            decoder.value(sent, 0)
            assert budget.items == decoder.items, value
