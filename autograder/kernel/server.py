"""Code the grader runs inside the student's kernel, where nothing is trusted.

The grader sends this file's text with each request (`session.SERVER_SOURCE`), exec'd into a fresh
dict of its own, so its names never enter the notebook's namespace; `serve` then calls a notebook
function on inputs the grader chose (or reads a notebook variable) and sends back what came out as
plain data: JSON, numpy arrays as `.npy` bytes, a Keras model as its config, a figure as its lines'
data. Student code can change anything here, so the grader validates every byte it gets back
(`wire.decode`) and decides nothing from it that it cannot check itself.

The kernel cannot import the grader: the one import below is replaced by its values in the source
the grader sends. Tests import this module in-process (tests/test_kernel_server.py).
"""

import ast
import base64
import contextlib
import io
import sys
import types

import numpy as np

from autograder.kernel.wire import MAX_DEPTH, MAX_ITEMS, MIME


def serve(request, namespace):
    """Answer one request of the grader in the notebook's `namespace`, as a display message."""
    from IPython.display import display

    display({MIME: answer(request, namespace)}, raw=True)


def answer(request, namespace):
    """The reply to one request: {"result": ...}, what `wire.decode` reads."""
    operation = request["op"]
    try:
        if operation == "call":
            result = call(request, namespace)
        elif operation == "variable":
            name = request["name"]
            result = encode(namespace[name], request.get("weights", False)) if name in namespace else {"__missing__": name}
        elif operation == "define":
            result = define(request["cells"], namespace)
        elif operation == "hung":
            result = hung_functions(namespace)
        elif operation == "poison":
            result = poison(request["names"], namespace)
        else:
            result = {"__object__": "unknown operation"}
    except BaseException as error:  # whatever the student's function raised is data for the grader
        result = error_payload(error, namespace)
    return {"result": result}


def call(request, namespace):
    function = namespace.get(request["name"])
    if not callable(function):
        return {"__missing__": request["name"]}
    if "seed" in request:
        # Keras only if the notebook loaded it: importing it here would spend
        # seconds of the student's call limit (and under load, all of it).
        if "keras" in sys.modules:
            sys.modules["keras"].utils.set_random_seed(request["seed"])
        else:
            import random

            random.seed(request["seed"])
            np.random.seed(request["seed"])
    args = decode_arguments(request.get("args", []), request.get("inputs"))
    kwargs = decode_arguments(request.get("kwargs", {}), request.get("inputs"))
    with without_libraries(request.get("without") or [], namespace):
        value = function(*args, **kwargs)
    return encode(value, request.get("weights", False))


# --- what goes back to the grader -----------------------------------------------------------------


class Budget:
    """The items and depth a reply may use (wire.MAX_ITEMS, wire.MAX_DEPTH), counted in the units
    of wire.decode: one item per JSON value plus one per element of each list it reads, one level
    per list around a value and one for a history's wrapper."""

    def __init__(self):
        self.items = 0

    def spend(self, items, depth):
        self.items += items
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise ValueError("the value is too large or too deeply nested")


def encode(value, weights=False, budget=None, depth=0):
    """`value` as wire data: JSON, with tagged objects for what JSON cannot say."""
    budget = Budget() if budget is None else budget
    budget.spend(1, depth)
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
    if isinstance(value, (np.ndarray, np.generic)) or type(value).__module__.startswith("tensorflow"):
        return array_payload(value)
    if type(value) is list:
        return [encode(item, weights, budget, depth + 1) for item in value]
    if type(value) is tuple:
        budget.spend(len(value), depth)
        return {"__tuple__": [encode(item, weights, budget, depth + 1) for item in value]}
    if type(value) is dict:
        budget.spend(2 * len(value), depth + 1 if value else depth)  # the list of pairs, and each [key, value] pair
        return {"__dict__": [[encode(k, weights, budget, depth + 2), encode(v, weights, budget, depth + 2)]
                             for k, v in value.items()]}
    kind = type(value).__name__
    if kind in ("Sequential", "Functional", "Model") and hasattr(value, "get_config"):
        return model_payload(value, weights, budget, depth)
    if kind == "Figure" and hasattr(value, "axes"):
        return figure_payload(value, budget, depth)
    if kind == "History" and isinstance(getattr(value, "history", None), dict):
        history = {str(k): [float(x) for x in v] for k, v in value.history.items()}
        model = getattr(value, "model", None)
        return {"__history__": encode(history, weights, budget, depth + 1),
                "model": model_payload(model, weights, budget, depth) if model is not None else None}
    return {"__object__": kind[:100]}


def array_payload(value):
    array = np.asarray(value)
    if array.dtype.kind not in "biufcUS":
        raise TypeError(f"an array of {array.dtype} (numbers expected)")
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}


def model_payload(model, weights, budget=None, depth=0):
    """A Keras model as its config (checked by the grader, never rebuilt here), its optimizer's
    step count, and its weights if the grader asked for them."""
    import keras

    payload = {"__model__": keras.saving.serialize_keras_object(model)}
    try:
        payload["iterations"] = int(model.optimizer.iterations.numpy())
    except Exception:
        payload["iterations"] = 0
    if weights:
        payload["weights"] = [array_payload(w) for w in model.get_weights()]
        if budget is not None:
            budget.spend(len(payload["weights"]), depth)
    return payload


def figure_payload(figure, budget=None, depth=0):
    """Each axes of a Matplotlib figure: its lines' data, its scattered points, how many filled
    contours, meshes and images, whether it has a legend."""
    budget = Budget() if budget is None else budget
    # Read each artist's own stored data (what it draws), not what its methods say: a method
    # can be replaced on the instance or the class, the stored data is what appears on screen.
    axes = []
    for ax in list(vars(figure).get("_localaxes", [])):
        children = list(vars(ax).get("_children", []))
        kinds = [type(child).__name__ for child in children]
        lines = [{"label": str(vars(line).get("_label")),
                  "x": array_payload(np.asarray(vars(line).get("_xorig"), dtype=float)),
                  "y": array_payload(np.asarray(vars(line).get("_yorig"), dtype=float))}
                 for line, kind in zip(children, kinds) if kind == "Line2D"]
        scatter = [array_payload(np.asarray(vars(c).get("_offsets"), dtype=float).reshape(-1, 2))
                   for c, kind in zip(children, kinds) if kind == "PathCollection"]
        fills = sum(kind in ("QuadContourSet", "TriContourSet", "QuadMesh", "PolyQuadMesh", "AxesImage")
                    for kind in kinds)
        # The axes, its lines (each with x and y) and its scattered points, two lists below the figure.
        budget.spend(1 + 3 * len(lines) + 2 * len(scatter), depth + 2 if lines or scatter else depth)
        axes.append({"lines": lines, "scatter": scatter, "fills": fills,
                     "legend": vars(ax).get("legend_") is not None})
    import matplotlib.pyplot as plt

    plt.close(figure)
    return {"__figure__": axes}


def student_frames(traceback, namespace):
    """The notebook's functions a traceback went through (its last five): name and line."""
    frames = []
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if traceback.tb_frame.f_globals is namespace and code.co_name != "<module>":
            frames.append([code.co_name, traceback.tb_lineno])
        traceback = traceback.tb_next
    return frames[-5:]


def error_payload(error, namespace):
    return {"__error__": {"type": type(error).__name__[:100], "message": str(error)[:500],
                          "frames": student_frames(error.__traceback__, namespace)}}


# --- what the grader sent ------------------------------------------------------------------------


def decode_arguments(value, inputs):
    """The call's arguments, as `wire.ArgumentWriter` wrote them (arrays as .npy files in `inputs`)."""
    if type(value) is list:
        return [decode_arguments(item, inputs) for item in value]
    if type(value) is not dict:
        return value
    if "__ndarray__" in value:
        return load_array(inputs, value["__ndarray__"])
    if "__tuple__" in value:
        return tuple(decode_arguments(item, inputs) for item in value["__tuple__"])
    if "__history__" in value:
        return types.SimpleNamespace(history=decode_arguments(value["__history__"], inputs))
    if "__model__" in value:
        import keras

        model = keras.saving.deserialize_keras_object(value["__model__"])
        model.set_weights([load_array(inputs, name) for name in value["weights"]])
        return model
    return {key: decode_arguments(item, inputs) for key, item in value.items()}


def load_array(inputs, name):
    return np.load(f"{inputs}/{name}", allow_pickle=False)


# --- the kernel's state --------------------------------------------------------------------------


def define(cells, namespace):
    """A fresh kernel's definitions: every top-level def, class, import and literal assignment."""
    problems = []
    for number, source in cells:
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except BaseException as error:  # SyntaxError, or MemoryError/RecursionError on absurd input
            problems.append(f"Cell {number} could not be parsed ({type(error).__name__}); nothing in it was graded.")
            continue
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                try:
                    ast.literal_eval(node.value)
                except Exception:
                    continue
            elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                continue
            try:
                exec(compile(ast.Module([node], []), f"<notebook cell {number}>", "exec"), namespace)
            except BaseException as error:
                problems.append(f"Cell {number}, line {node.lineno}: {type(error).__name__}: {str(error)[:200]}")
    return problems


def hung_functions(namespace):
    """Notebook functions that were running when the last cell was interrupted."""
    frames = student_frames(getattr(sys, "last_traceback", None), namespace)
    return sorted({name for name, _ in frames if callable(namespace.get(name))})


def poison(messages, namespace):
    """Replace each hung function with one that fails at once with its message."""
    for name, message in messages.items():
        def ran_too_long(*args, _message=message, **kwargs):
            raise TimeoutError(_message)
        namespace[name] = ran_too_long


class Unavailable:
    """Stands in for a library a by-hand function may not use."""

    def __init__(self, name):
        self._name = name

    def _refuse(self, *args, **kwargs):
        raise ImportError(f"`{self._name}` comes from a library this function must do without: write it by hand with NumPy")

    __call__ = _refuse

    def __getattr__(self, attribute):
        self._refuse()


@contextlib.contextmanager
def without_libraries(names, namespace):
    """While the call runs, the libraries `names` cannot be imported and the notebook's names
    for them (modules, functions, classes) refuse to work; everything is restored after."""
    saved_modules, saved_names = {}, {}
    try:
        for key in list(sys.modules) + list(names):
            if key.split(".")[0] in names and key not in saved_modules:
                saved_modules[key] = sys.modules.get(key)
                sys.modules[key] = Unavailable(key)  # what `import` gives while the call runs
        for key, value in list(namespace.items()):
            try:
                origin = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", "")
            except Exception:
                continue
            if isinstance(origin, str) and origin.split(".")[0] in names:
                saved_names[key] = value
                namespace[key] = Unavailable(key)
        yield
    finally:
        for key, module in saved_modules.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module
        namespace.update(saved_names)
