"""Code the grader runs inside the student's kernel, where nothing is trusted.

The grader sends this file's text with each request; it calls a notebook function on inputs the
grader chose (or reads a notebook variable) and sends back what came out as plain data: JSON, numpy
arrays as `.npy` bytes, a Keras model as its config, a figure as its lines' data. Student code can
change anything here, so the grader validates every byte it gets back (`autograder/wire.py`) and
decides nothing from it that it cannot check itself. This module is never imported by the grader.
"""

MIME = "application/x.autograder+json"
MAX_ITEMS = 100_000
MAX_DEPTH = 20


def _autograder_serve(request, namespace):
    import ast
    import base64
    import contextlib
    import io
    import sys
    import types

    import numpy as np
    from IPython.display import display

    counted = [0]

    def array_payload(value):
        array = np.asarray(value)
        if array.dtype.kind not in "biufcUS":
            raise TypeError(f"an array of {array.dtype} (numbers expected)")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}

    def load_array(name):
        return np.load(f"{request['inputs']}/{name}", allow_pickle=False)

    def model_payload(model, weights):
        import keras

        payload = {"__model__": keras.saving.serialize_keras_object(model)}
        try:
            payload["iterations"] = int(model.optimizer.iterations.numpy())
        except Exception:
            payload["iterations"] = 0
        if weights:
            payload["weights"] = [array_payload(w) for w in model.get_weights()]
        return payload

    def figure_payload(figure):
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
            axes.append({"lines": lines, "scatter": scatter, "fills": fills,
                         "legend": vars(ax).get("legend_") is not None})
        import matplotlib.pyplot as plt

        plt.close(figure)
        return {"__figure__": axes}

    def encode(value, depth=0):
        counted[0] += 1
        if counted[0] > MAX_ITEMS or depth > MAX_DEPTH:
            raise ValueError("the value is too large or too deeply nested")
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
        if isinstance(value, (np.ndarray, np.generic)) or type(value).__module__.startswith("tensorflow"):
            return array_payload(value)
        if type(value) in (list, tuple):
            items = [encode(item, depth + 1) for item in value]
            return items if type(value) is list else {"__tuple__": items}
        if type(value) is dict:
            return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
        kind = type(value).__name__
        if kind in ("Sequential", "Functional", "Model") and hasattr(value, "get_config"):
            return model_payload(value, request.get("weights", False))
        if kind == "Figure" and hasattr(value, "axes"):
            return figure_payload(value)
        if kind == "History" and isinstance(getattr(value, "history", None), dict):
            history = {str(k): [float(x) for x in v] for k, v in value.history.items()}
            model = getattr(value, "model", None)
            return {"__history__": encode(history, depth + 1),
                    "model": model_payload(model, request.get("weights", False)) if model is not None else None}
        return {"__object__": kind[:100]}

    def decode(value):
        if type(value) is list:
            return [decode(item) for item in value]
        if type(value) is not dict:
            return value
        if "__ndarray__" in value:
            return load_array(value["__ndarray__"])
        if "__tuple__" in value:
            return tuple(decode(item) for item in value["__tuple__"])
        if "__history__" in value:
            return types.SimpleNamespace(history=decode(value["__history__"]))
        if "__model__" in value:
            import keras

            model = keras.saving.deserialize_keras_object(value["__model__"])
            model.set_weights([load_array(name) for name in value["weights"]])
            return model
        return {key: decode(item) for key, item in value.items()}

    def student_frames(traceback):
        frames = []
        while traceback is not None:
            code = traceback.tb_frame.f_code
            if traceback.tb_frame.f_globals is namespace and code.co_name != "<module>":
                frames.append([code.co_name, traceback.tb_lineno])
            traceback = traceback.tb_next
        return frames[-5:]

    def error_payload(error):
        return {"__error__": {"type": type(error).__name__[:100], "message": str(error)[:500],
                              "frames": student_frames(error.__traceback__)}}

    def define(cells):
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

    def hung_functions():
        """Notebook functions that were running when the last cell was interrupted."""
        frames = student_frames(getattr(sys, "last_traceback", None))
        return sorted({name for name, _ in frames if callable(namespace.get(name))})

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
    def without_libraries(names):
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

    def poison(messages):
        for name, message in messages.items():
            def ran_too_long(*args, _message=message, **kwargs):
                raise TimeoutError(_message)
            namespace[name] = ran_too_long

    operation = request["op"]
    try:
        if operation == "call":
            function = namespace.get(request["name"])
            if not callable(function):
                result = {"__missing__": request["name"]}
            else:
                if "seed" in request:
                    # Keras only if the notebook loaded it: importing it here would spend
                    # seconds of the student's call limit (and under load, all of it).
                    if "keras" in sys.modules:
                        sys.modules["keras"].utils.set_random_seed(request["seed"])
                    else:
                        import random

                        random.seed(request["seed"])
                        np.random.seed(request["seed"])
                args = decode(request.get("args", []))
                kwargs = decode(request.get("kwargs", {}))
                with without_libraries(request.get("without") or []):
                    value = function(*args, **kwargs)
                result = encode(value)
        elif operation == "variable":
            name = request["name"]
            result = encode(namespace[name]) if name in namespace else {"__missing__": name}
        elif operation == "define":
            result = define(request["cells"])
        elif operation == "hung":
            result = hung_functions()
        elif operation == "poison":
            result = poison(request["names"])
        else:
            result = {"__object__": "unknown operation"}
    except BaseException as error:  # whatever the student's function raised is data for the grader
        result = error_payload(error)
    display({MIME: {"result": result}}, raw=True)
