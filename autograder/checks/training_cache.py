"""The grader's own training of a student's model, done once per distinct model.

A check that trains a model itself (the IMDB and MNIST accuracy runs, the overfitting lab's runs,
the history replay) asks `cached_run` for its result. The result is keyed by everything that
decides it:

- the model's canonical config: the grader's rebuilt model (after wire.py's allowlist), serialized
  by Keras, with the names Keras makes up (`dense_3`, `sequential_2`, `rm_sprop_1`) replaced by
  their order of appearance, as sorted-key JSON: two students' identical networks match;
- the training protocol (epochs, batch size, seed, options), as the check states it;
- a digest of the data (each array's bytes hashed once per process; a slice by its parent's digest
  and its place in it);
- the lab module's source, the shared check code and this file, and the versions of Keras,
  TensorFlow and NumPy.

Results are plain JSON (histories, accuracies, predictions), never pickles or Keras objects, in
`course_config.TRAINING_CACHE_DIR`: a folder only the grader writes (mode 0700) and that the
sandboxed kernel cannot see (checked against the sandbox's own mounts; a folder it would see is
not used). Entries are written to a temporary file and renamed into place, so parallel batch
workers never see half an entry; an entry that does not parse, belongs to another key or has the
wrong shape is ignored and recomputed. A hit trains nothing, so it charges nothing to the
submission's training budget (checks/submission.py: Submission.fit), and identical models get identical
verdicts by construction. Clear it by deleting the folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any, Callable

import numpy as np

import course_config

FORMAT = 1  # bump when an entry's meaning changes
MAX_ENTRY_BYTES = 16 * 2**20
STATS = {"hits": 0, "misses": 0, "stored": 0}  # this process's counts (bench, tests)
_OBJECT_KINDS = ("keras.layers", "keras.src.layers", "keras.optimizers", "keras.src.optimizers", "keras.src.models",
                 "keras.models")


def folder() -> Path | None:
    """The cache folder, or None when it is switched off (empty setting) or the kernel could see it."""
    setting = course_config.TRAINING_CACHE_DIR
    if not str(setting):
        return None
    path = Path(setting).resolve()
    if _visible_to_kernel(path):
        return None
    return path


def _visible_to_kernel(path: Path) -> bool:
    """Whether the kernel's sandbox (autograder/sandbox/namespaces.py's bubblewrap mounts) would show `path`."""
    from autograder.sandbox import namespaces

    try:
        args = namespaces._bwrap(Path("/nonexistent/kernel"), Path("/nonexistent/inputs"))
        shown = [Path(args[i + 1]).resolve() for i, arg in enumerate(args[:-1]) if arg in ("--ro-bind", "--bind")]
    except Exception:  # the sandbox's mounts could not be listed: the folders it is known to show
        shown = [Path(p).resolve() for p in ("/usr", "/etc", sys.prefix, sys.base_prefix, course_config.DATA_DIR,
                                             course_config.CACHE_DIR, course_config.ROOT / "labtools")]
    # The data folders are mounted once they exist, which may be after this look.
    shown += [Path(course_config.DATA_DIR).resolve(), Path(course_config.CACHE_DIR).resolve()]
    exposed = [p for p in shown if path.is_relative_to(p) or p.is_relative_to(path)]
    if exposed and path not in _warned:
        _warned.add(path)
        print(f"training cache off: {path} lies where the sandboxed kernel can see it ({exposed[0]})", file=sys.stderr)
    return bool(exposed)


_warned: set[Path] = set()


# --- the key ---------------------------------------------------------------------------------------


def canonical_config(model) -> str:
    """The model as sorted-key JSON, its layers', models' and optimizer's names replaced by their
    order of appearance (names never change what training computes; references between layers
    follow the same renaming, and Keras forbids "/" in names, so the new ones cannot clash)."""
    import keras

    config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    names: dict[str, str] = {}

    def collect(value):
        if isinstance(value, dict):
            if isinstance(value.get("config"), dict) and _named_object(value):
                for holder in (value["config"], value):
                    if isinstance(holder.get("name"), str):
                        names.setdefault(holder["name"], f"/{len(names)}")
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    def rename(value):
        if isinstance(value, dict):
            renamed = {k: rename(v) for k, v in value.items()}
            if isinstance(value.get("config"), dict) and _named_object(value):
                for holder in (renamed["config"], renamed):
                    if isinstance(holder.get("name"), str):
                        holder["name"] = names[holder["name"]]
            return renamed
        if isinstance(value, list):
            if len(value) == 3 and isinstance(value[0], str) and value[0] in names and all(type(v) is int for v in value[1:]):
                return [names[value[0]], *value[1:]]  # a reference to a layer: keras_history, input/output layers
            return [rename(v) for v in value]
        return value

    collect(config)
    return json.dumps(rename(config), sort_keys=True, separators=(",", ":"), allow_nan=True)


def _named_object(value: dict) -> bool:
    module = str(value.get("module") or "")
    return module.startswith(_OBJECT_KINDS) or value.get("class_name") in ("Sequential", "Functional", "Model")


_digests: dict[int, tuple[weakref.ref, str]] = {}


def array_digest(array: np.ndarray) -> str:
    """A digest of an array's values. The array that owns the memory is hashed once per process
    (the grader's data are not changed in place); a view is its owner's digest plus where it lies."""
    array = np.asarray(array)
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    remembered = _digests.get(id(owner))
    if remembered is not None and remembered[0]() is owner:
        digest = remembered[1]
    else:
        contiguous = np.ascontiguousarray(owner)
        digest = hashlib.blake2b(contiguous.view(np.uint8).reshape(-1).data, digest_size=20).hexdigest()
        digest = f"{owner.dtype.str}{owner.shape}:{digest}"
        try:
            _digests[id(owner)] = (weakref.ref(owner, lambda _, k=id(owner): _digests.pop(k, None)), digest)
        except TypeError:  # an array type without weak references: hashed each time
            pass
    if array is owner:
        return digest
    offset = array.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
    return f"{digest}@{offset}:{array.dtype.str}{array.shape}{array.strides}"


@functools.lru_cache(maxsize=16)
def source_digest(lab: str) -> str:
    """The lab module's source (or common.py's, for the runs it makes itself), the checks' shared
    code and this file."""
    from autograder.checks import CHECKS_DIR

    digest = hashlib.sha256()
    for path in (CHECKS_DIR / f"{lab}.py", CHECKS_DIR / "common.py", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__,
            "python": sys.version.split()[0]}


def cache_key(lab: str, config: str, protocol: dict, data: dict[str, np.ndarray]) -> str:
    """The entry's name: a digest of every input of the training run."""
    described = {"format": FORMAT, "lab": lab, "config": config, "protocol": protocol,
                 "data": {name: array_digest(array) for name, array in sorted(data.items())},
                 "source": source_digest(lab), "versions": library_versions()}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


# --- entries ---------------------------------------------------------------------------------------


def cached_run(lab: str, model, protocol: dict, data: dict[str, np.ndarray], train: Callable[[], Any],
               valid: Callable[[Any], bool]) -> Any:
    """`train()`'s result (plain JSON) for this model, protocol and data: from the cache when a valid
    entry is there, else computed (an exception is not stored) and stored."""
    place = folder()
    try:
        key = cache_key(lab, canonical_config(model), protocol, data) if place else None
    except Exception:  # a config Keras cannot serialize: trained, not cached
        key = None
    path = place / lab / f"{key}.json" if key else None
    if path is not None:
        found = read_entry(path, key, valid)
        if found is not None:
            STATS["hits"] += 1
            return found
    STATS["misses"] += 1
    result = train()
    if path is not None:
        write_entry(path, key, result)
    return result


def read_entry(path: Path, key: str, valid: Callable[[Any], bool]) -> Any | None:
    """The stored result, or None: missing, unreadable, too large, another key's, or of the wrong shape."""
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        entry = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(entry, dict) and entry.get("key") == key and plain(entry.get("result"))):
            return None
        return entry["result"] if valid(entry["result"]) else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def write_entry(path: Path, key: str, result: Any) -> None:
    """Write atomically (a temporary file renamed into place); a failure only loses the entry."""
    try:
        path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.parent.chmod(0o700)  # the grader's alone, however the folder was made
        path.parent.mkdir(mode=0o700, exist_ok=True)
        text = json.dumps({"key": key, "result": result}, allow_nan=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".partial-", suffix=".json", delete=False,
                                         encoding="utf-8") as partial:
            partial.write(text)
        os.replace(partial.name, path)
        STATS["stored"] += 1
    except (OSError, TypeError, ValueError) as error:
        print(f"training cache: could not store {path.name}: {error}", file=sys.stderr)
        if "partial" in locals():
            Path(partial.name).unlink(missing_ok=True)


def plain(value, depth: int = 0) -> bool:
    """JSON of numbers, strings, lists and string-keyed dicts only, a few levels deep."""
    if depth > 6:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v, depth + 1) for v in value)
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def numbers(value, length: int | None = None) -> bool:
    """A list of numbers (of `length`, if given)."""
    return (isinstance(value, list) and (length is None or len(value) == length)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))


def history_shape(value, epochs: int | None = None) -> bool:
    """A Keras history as plain_history gives it: series name -> one number per epoch."""
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) and numbers(v, epochs) and bool(v)
                                                           for k, v in value.items())


def run_shape(value, figures: tuple[str, ...] = (), series: dict[str, int] | None = None,
              histories: dict[str, int] | None = None) -> bool:
    """A dict of exactly these named numbers, lists of numbers (name -> length) and histories (name -> epochs)."""
    series, histories = series or {}, histories or {}
    return (isinstance(value, dict) and set(value) == {*figures, *series, *histories}
            and numbers([value[name] for name in figures])
            and all(numbers(value[name], length) for name, length in series.items())
            and all(history_shape(value[name], epochs) for name, epochs in histories.items()))
