"""The protocol between the grader and the student's kernel, both directions, and its limits.

To the kernel: `ArgumentWriter` writes a call's arguments (JSON, arrays as `.npy` files), which
`server.decode_arguments` reads there. From the kernel: `decode` turns a reply of `server.py` into
plain values: JSON scalars, lists, tuples, dicts, numpy arrays (read from `.npy` bytes without
pickle), and the data classes below. Only that direction is untrusted: what crosses from the kernel
is validated, size-capped data, nothing else. A Keras model arrives as its config, checked here
against an allowlist of Keras classes (`check_model_config`) before anything rebuilds it. Anything
malformed raises `WireError` with a message a student understands; no other exception leaves
`decode` (tests/test_wire.py fuzzes it).
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIME = "application/x.autograder+json"  # the display message that carries the kernel's reply
# The limits of a reply, for both sides: server.py (its `Budget`) counts items and depth in the very
# units `decode` counts them in (a level per JSON list around a value, so a dict's [key, value] pairs
# are two levels down, and one for a history's wrapper), so neither side needs slack over the other:
# a value the server sends at MAX_DEPTH decodes, and one level more is refused by both (the server
# names the limit to the student; the decoder is the guard, since kernel code can be changed).
MAX_ITEMS = 100_000
MAX_DEPTH = 20
MAX_ARRAY_BYTES = 64 * 2**20
MAX_PARAMETERS = 20_000_000  # the course's largest model (512 units on 10,000 inputs) has 5.4 M

# Keras classes a model's config may name, by the module Keras serializes them under.
ALLOWED_CLASSES = {
    "keras": {"Sequential", "Functional", "Model", "DTypePolicy"},
    "keras.src.models.functional": {"Functional"},
    "keras.layers": {"InputLayer", "Dense", "Dropout", "Flatten", "Activation"},
    "keras.regularizers": {"L1", "L2", "L1L2"},
    "keras.initializers": {"GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
                           "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal"},
    "keras.optimizers": {"RMSprop", "Adam", "AdamW", "SGD", "Adagrad", "Adadelta", "Adamax", "Nadam"},
    "keras.losses": {"BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                     "MeanSquaredError", "MeanAbsoluteError", "Hinge"},
    "keras.metrics": {"BinaryAccuracy", "Accuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
                      "MeanSquaredError", "MeanAbsoluteError", "AUC", "Precision", "Recall",
                      "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy"},
}
# Losses and metrics given as functions (`losses.binary_crossentropy`, `metrics.binary_accuracy`).
ALLOWED_FUNCTIONS = {
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mean_squared_error",
    "mean_absolute_error", "hinge", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "accuracy", "mse", "mae",
}


class WireError(ValueError):
    """What the kernel sent is not data the grader accepts."""


@dataclass
class ModelData:
    """A Keras model as the kernel described it: its serialized config, optimizer steps, weights."""

    config: dict
    iterations: int = 0
    weights: list[np.ndarray] | None = None


@dataclass
class HistoryData:
    history: dict[str, list[float]]
    model: ModelData | None = None


@dataclass
class AxesData:
    lines: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # label -> (x, y)
    scatter: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))  # every scattered point
    fills: int = 0  # filled contours, meshes and images
    legend: bool = False


@dataclass
class FigureData:
    axes: list[AxesData]


@dataclass
class Unsupported:
    """A value of a type that does not cross (a custom class, a generator, ...): only its type's name."""

    type_name: str


@dataclass
class StudentException:
    """What the student's function raised: type, text and where, for the report."""

    type_name: str
    message: str
    frames: list[tuple[str, int]]


@dataclass
class Missing:
    name: str


class ArgumentWriter:
    """Arguments for the kernel: JSON, with arrays as .npy files in a folder the kernel can read
    but not write (so it cannot swap a file the grader is about to write). The grader's own values
    only, so nothing here is validated; server.decode_arguments reads them back."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._files = itertools.count()

    def encode(self, value):
        if isinstance(value, np.ndarray):
            name = f"{next(self._files)}.npy"
            np.save(self.folder / name, value, allow_pickle=False)
            os.chmod(self.folder / name, 0o644)
            return {"__ndarray__": name}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.encode(v) for k, v in value.items()}
        if isinstance(value, HistoryData):
            return {"__history__": self.encode(value.history)}
        if hasattr(value, "get_weights") and hasattr(value, "get_config"):  # the grader's own Keras model
            import keras

            return {"__model__": keras.saving.serialize_keras_object(value),
                    "weights": [self.encode(w)["__ndarray__"] for w in value.get_weights()]}
        if isinstance(value, (np.integer, np.floating)):
            return value.item()
        return value

    def call_request(self, name: str, args: tuple, kwargs: dict, seed: int, weights: bool) -> dict:
        return {"op": "call", "name": name, "args": self.encode(list(args)), "kwargs": self.encode(kwargs),
                "seed": seed, "weights": weights, "inputs": str(self.folder)}


def decode(reply, weights: bool = False) -> object:
    """The value of one kernel reply; WireError for anything that is not valid data, or that the
    grader did not ask for: a field a kind of value does not have, or weights unless `weights`."""
    try:
        if not isinstance(reply, dict) or set(reply) != {"result"}:
            raise WireError("the kernel's reply is not a single result")
        return _Decoder(weights).value(reply["result"], 0)
    except WireError:
        raise
    except (RecursionError, MemoryError):
        raise WireError("the value is too large or too deeply nested") from None
    except Exception as error:  # anything else malformed; the message names only the type
        raise WireError(f"the value could not be read ({type(error).__name__})") from None


# The fields each kind of tagged value may carry; anything else in a reply is refused.
FIELDS = {"__ndarray__": {"__ndarray__"}, "__float__": {"__float__"}, "__tuple__": {"__tuple__"},
          "__dict__": {"__dict__"}, "__model__": {"__model__", "iterations", "weights"},
          "__history__": {"__history__", "model"}, "__figure__": {"__figure__"}, "__object__": {"__object__"},
          "__missing__": {"__missing__"}, "__error__": {"__error__"}}


def _only(value: dict, fields: set, what: str) -> None:
    if not set(value) <= fields:
        raise WireError(f"{what} carries fields the grader did not ask for")


class _Decoder:
    def __init__(self, weights: bool = False):
        self.items = 0
        self.weights = weights  # the grader asked for a model's weights

    def value(self, value, depth: int):
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise WireError("the value is too large or too deeply nested")
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            if abs(value) > 2**63:
                raise WireError("an integer is out of range")
            return value
        if type(value) is float:
            return value
        if type(value) is list:
            return [self.value(item, depth + 1) for item in value]
        if not isinstance(value, dict):
            raise WireError(f"unexpected {type(value).__name__}")
        return self.tagged(value, depth)

    def tagged(self, value: dict, depth: int):
        tag = next((key for key in FIELDS if key in value), None)
        if tag is None:
            raise WireError("an object of unknown kind")
        _only(value, FIELDS[tag], "a value")
        if "__ndarray__" in value:
            return decode_array(value["__ndarray__"])
        if "__float__" in value:
            text = _text(value["__float__"], 10)
            if text not in ("nan", "inf", "-inf"):
                raise WireError("a float is malformed")
            return float(text)
        if "__tuple__" in value:
            return tuple(self.list(value["__tuple__"], depth))
        if "__dict__" in value:
            pairs = self.list(value["__dict__"], depth)
            result = {}
            for pair in pairs:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("a dict entry is malformed")
                key = pair[0]
                if type(key) not in (str, int, float, bool, tuple) and key is not None:
                    raise WireError("a dict key is not a plain value")
                result[key] = pair[1]
            return result
        if "__model__" in value:
            return self.model(value)
        if "__history__" in value:
            history = self.value(value["__history__"], depth + 1)
            if not isinstance(history, dict) or not all(type(k) is str and type(v) is list for k, v in history.items()):
                raise WireError("the history is not a dict of lists")
            series = {k: [_number(x) for x in v] for k, v in history.items()}
            model = value.get("model")
            return HistoryData(series, self.model(model) if model is not None else None)
        if "__figure__" in value:
            return FigureData([self.axes(ax, depth) for ax in self.list(value["__figure__"], depth, decode_items=False)])
        if "__object__" in value:
            return Unsupported(_text(value["__object__"], 100))
        if "__missing__" in value:
            return Missing(_text(value["__missing__"], 100))
        if "__error__" in value:
            error = value["__error__"]
            if not isinstance(error, dict):
                raise WireError("an error report is malformed")
            _only(error, {"type", "message", "frames"}, "an error report")
            frames = []
            for frame in self.list(error.get("frames", []), depth, decode_items=False)[:10]:
                if type(frame) is list and len(frame) == 2 and type(frame[1]) is int:
                    frames.append((_text(frame[0], 100), frame[1]))
            return StudentException(_text(error.get("type"), 100), _text(error.get("message", ""), 500), frames)
        raise WireError("an object of unknown kind")

    def list(self, value, depth: int, decode_items: bool = True) -> list:
        if type(value) is not list:
            raise WireError("a list was expected")
        self.items += len(value)
        if self.items > MAX_ITEMS:
            raise WireError("the value is too large")
        return [self.value(item, depth + 1) for item in value] if decode_items else value

    def model(self, value) -> ModelData:
        if not isinstance(value, dict) or not isinstance(value.get("__model__"), dict):
            raise WireError("a model description is malformed")
        _only(value, FIELDS["__model__"] if self.weights else {"__model__", "iterations"}, "a model")
        config = json.loads(json.dumps(value["__model__"]))  # plain dicts and lists, for Keras
        check_model_config(config)
        iterations = value.get("iterations", 0)
        if type(iterations) is not int or not 0 <= iterations < 2**62:
            raise WireError("a model's step count is malformed")
        weights = None
        if "weights" in value:
            weights = [decode_array(item.get("__ndarray__") if isinstance(item, dict) else None)
                       for item in self.list(value["weights"], 1, decode_items=False)]
        return ModelData(config, iterations, weights)

    def axes(self, value, depth: int) -> AxesData:
        if not isinstance(value, dict):
            raise WireError("a figure's axes are malformed")
        _only(value, {"lines", "scatter", "fills", "legend"}, "a figure")
        axes = AxesData(fills=min(int(_number(value.get("fills", 0))), 10_000), legend=value.get("legend") is True)
        for line in self.list(value.get("lines", []), depth, decode_items=False):
            if not isinstance(line, dict):
                raise WireError("a line is malformed")
            _only(line, {"label", "x", "y"}, "a line")
            x, y = (self.value(line.get(k), depth + 2) for k in ("x", "y"))
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.dtype.kind in "biuf" and y.dtype.kind in "biuf"):
                raise WireError("a line's data are not numbers")
            axes.lines[_text(line.get("label"), 200)] = (x.astype(np.float64).ravel(), y.astype(np.float64).ravel())
        points = [self.value(item, depth + 2) for item in self.list(value.get("scatter", []), depth, decode_items=False)]
        if points:
            if not all(isinstance(p, np.ndarray) and p.dtype.kind in "biuf" and p.size % 2 == 0 for p in points):
                raise WireError("scattered points are not numbers")
            axes.scatter = np.concatenate([p.astype(np.float64).reshape(-1, 2) for p in points])
        return axes


def decode_array(text) -> np.ndarray:
    """An array from base64 `.npy` bytes: numbers, booleans or strings only, never pickled objects."""
    if type(text) is not str or len(text) > MAX_ARRAY_BYTES * 4 // 3 + 4:
        raise WireError("an array is missing or larger than the limit")
    try:
        raw = base64.b64decode(text, validate=True)
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except (binascii.Error, ValueError, OSError, EOFError) as error:
        raise WireError(f"an array could not be read ({type(error).__name__})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufcUS":
        raise WireError("an array does not hold numbers")
    return array


def check_model_config(config) -> None:
    """Refuse any class outside the allowlist, and models too large to build."""
    stack, seen = [(config, 0)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_ITEMS or depth > 64:
            raise WireError("the model's config is too large")
        if type(node) is list:
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, dict):
            if "class_name" in node:
                _check_class(node)
                if node["class_name"] in ("AUC", "Precision", "Recall"):
                    _check_metric_state(node)
            stack.extend((item, depth + 1) for key, item in node.items() if type(key) is str)
        elif not (node is None or type(node) in (str, int, float, bool)):
            raise WireError("the model's config holds something that is not data")
    if config.get("class_name") not in ("Sequential", "Functional", "Model"):
        raise WireError("the value is not a Keras model")
    if model_weights(config) > MAX_PARAMETERS:
        raise WireError(f"the model has more than {MAX_PARAMETERS:,} weights")


def _check_class(node: dict) -> None:
    module, name = node.get("module"), node.get("class_name")
    if name == "__keras_tensor__":
        return
    if name == "function":
        if module not in ("builtins", "keras.losses", "keras.metrics") or node.get("config") not in ALLOWED_FUNCTIONS:
            raise WireError(f"the function {str(node.get('config'))[:60]!r} is not one of Keras's losses or metrics")
    elif name not in ALLOWED_CLASSES.get(module if type(module) is str else "", ()):
        shown = f"{module}.{name}" if type(module) is str and type(name) is str else "an unknown class"
        raise WireError(f"{shown[:80]} is not among the Keras classes this lab accepts (Sequential or functional "
                        "models of Input, Dense, Dropout, Flatten and Activation layers, Keras's optimizers, "
                        "losses, metrics and regularizers)")
    if node.get("registered_name") not in (None, name, "function"):
        raise WireError("the model's config names a custom registered object")


# A model without an Input (the textbook's, built by its first fit) is built by the grader with its
# lab's input shape: at most IMDB's 10,000 words per sample.
DEFAULT_INPUT_SHAPE = [None, 10_000]
MAX_LAYERS = 100  # the course's deepest model has 6
MAX_WIDTH = 20_000  # values per sample of any tensor: 2 × the widest honest one (IMDB's 10,000 inputs)
MAX_THRESHOLDS = 1_000  # AUC, Precision, Recall keep state per threshold (and per label: at most 100)
LAYERS = {"InputLayer", "Dense", "Dropout", "Flatten", "Activation"}


def model_weights(config: dict) -> int:
    """How many weights Keras creates when it rebuilds this config, worked out before anything is
    built: every layer's input, in graph order for a functional model, and every `build_config`
    (Keras builds a layer with its build_config's shape, whatever its input)."""
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if type(layers) is not list or len(layers) > MAX_LAYERS or not all(isinstance(layer, dict) for layer in layers):
        raise WireError(f"the model's layers are missing or more than {MAX_LAYERS}")
    for layer in layers:
        if layer.get("class_name") not in LAYERS or not isinstance(layer.get("config"), dict):
            raise WireError("the model holds a layer this lab does not accept (a model inside a model?)")
    if config.get("class_name") == "Sequential":
        declared = [s for s in (_shape(inner.get("build_input_shape")), _shape(_built_shape(config))) if s]
        first = max(declared, key=_width) if declared else DEFAULT_INPUT_SHAPE  # the widest it could be built for
        shapes, total = [first], 0
        for layer in layers:
            shape, weights = _layer_output(layer, [shapes[-1]])
            shapes.append(shape)
            total += weights
        return total
    return _functional_weights(layers)


def _functional_weights(layers: list[dict]) -> int:
    """Shapes resolved in graph order, whatever order the config lists the layers in."""
    named = {layer.get("name"): layer for layer in layers}
    if len(named) != len(layers) or not all(type(name) is str for name in named):
        raise WireError("the model's layers have missing or repeated names")
    shapes: dict[str, list] = {}
    total = 0
    for _ in range(len(layers)):
        progress = False
        for name, layer in named.items():
            if name in shapes:
                continue
            sources = _inbound_layers(layer)
            if any(source not in named for source in sources):
                raise WireError("a layer's input comes from a layer the model does not have")
            if all(source in shapes for source in sources):
                shapes[name], weights = _layer_output(layer, [shapes[source] for source in sources])
                total += weights
                progress = True
        if not progress:
            break
    if len(shapes) != len(layers):
        raise WireError("the model's layers form a cycle")
    return total


def _inbound_layers(layer: dict) -> list[str]:
    nodes = layer.get("inbound_nodes", [])
    if type(nodes) is not list:
        raise WireError("a layer's inputs are malformed")
    sources = []
    for node in nodes:
        stack = [node]
        while stack:  # find every tensor the node reads, wherever it sits in args/kwargs
            item = stack.pop()
            if isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
                history = item.get("config", {}).get("keras_history") if isinstance(item.get("config"), dict) else None
                if type(history) is not list or not history or type(history[0]) is not str:
                    raise WireError("a layer's input is malformed")
                sources.append(history[0])
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif type(item) is list:
                stack.extend(item)
    return sources


def _layer_output(layer: dict, inputs: list[list]) -> tuple[list, int]:
    """A layer's output shape and its weights, from its input shapes and its build_config."""
    kind, settings = layer["class_name"], layer["config"]
    if kind == "InputLayer":
        shape = next((s for s in (_shape(settings.get(k)) for k in ("batch_shape", "batch_input_shape")) if s), None)
        if shape is None and _shape([None, *settings["shape"]] if type(settings.get("shape")) is list else None):
            shape = [None, *settings["shape"]]
        if shape is None:
            raise WireError("an Input has no shape")
        return shape, 0
    if len(inputs) != 1:
        raise WireError(f"a {kind} layer must take exactly one input")
    shape = inputs[0]
    built = _shape(_built_shape(layer))
    if kind == "Flatten":
        return [None, _width(shape)], 0
    if kind != "Dense":
        return shape, 0
    units = settings.get("units")
    if type(units) is not int or not 0 < units <= MAX_WIDTH:
        raise WireError(f"a Dense layer's units are not a number from 1 to {MAX_WIDTH:,}")
    width = max(shape[-1], built[-1] if built else 0)  # the widest input Keras could build it for
    bias = settings.get("use_bias", True) is not False
    return [*shape[:-1], units], (width + bias) * units


def _built_shape(node: dict):
    build = node.get("build_config")
    return build.get("input_shape") if isinstance(build, dict) else None


def _shape(value) -> list | None:
    """A batch shape: None first, then sizes; refused if any tensor would be wider than MAX_WIDTH."""
    if value is None:
        return None
    if type(value) is not list or not 2 <= len(value) <= 5 or not all(type(d) is int and d > 0 for d in value[1:]):
        raise WireError("a shape in the model's config is malformed")
    _width(value)
    return [None, *value[1:]]


def _width(shape: list) -> int:
    width = math.prod(shape[1:])
    if width > MAX_WIDTH:
        raise WireError(f"a layer of the model would hold {width:,} values per sample (at most {MAX_WIDTH:,})")
    return width


def _check_metric_state(node: dict) -> None:
    """Metrics whose state grows with their thresholds and labels stay small."""
    settings = node.get("config") if isinstance(node.get("config"), dict) else {}
    thresholds = settings.get("thresholds")
    count = len(thresholds) if type(thresholds) is list else 1
    number = settings.get("num_thresholds", 1)
    labels = settings.get("num_labels") or 1
    if not all(type(v) is int for v in (number, labels)) or max(count, number) > MAX_THRESHOLDS or labels > 100:
        raise WireError(f"a {node.get('class_name')} metric keeps too much state (at most {MAX_THRESHOLDS} "
                        "thresholds and 100 labels)")


def _text(value, limit: int) -> str:
    if type(value) is not str:
        raise WireError("a text field is missing")
    return value[:limit]


def _number(value) -> float:
    if type(value) in (int, float):
        return float(value)
    if isinstance(value, dict) and "__float__" in value:
        return float(_text(value["__float__"], 10)) if value["__float__"] in ("nan", "inf", "-inf") else 0.0
    raise WireError("a number was expected")
