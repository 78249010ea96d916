"""The grader's folders are layers: a module imports only from its own layer or lower ones, and
no modules import each other in a circle (the README's table "The grader's layers")."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import course_config

PACKAGE = course_config.ROOT / "autograder"
# Lowest first. `report` is the record every layer passes on; `cli` sits on top of everything.
LAYERS = ["report", "sandbox", "kernel", "checks", "grading", "course", "platforms", "cli", "__main__"]
PACKAGES = {"autograder", *(f"autograder.{name}" for name in LAYERS)}


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules a file imports (`from autograder.x import y` counts `autograder.x.y`
    where that is a module), wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name in modules}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(path, package): path for path in package.rglob("*.py")}
    return {name: imports(path, set(paths)) - {name} for name, path in paths.items()}


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return LAYERS.index(top) if top in LAYERS else -1


def test_every_module_belongs_to_a_layer():
    assert [name for name in graph() if name != "autograder" and layer(name) < 0] == []


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [f"{module} -> {target}" for module, targets in graph().items() for target in targets
              if layer(target) > layer(module)]
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    """A package's __init__ is left out: importing a submodule runs it, but it imports none here."""
    edges = {name: {t for t in targets if t not in PACKAGES} for name, targets in graph().items()}
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"modules import each other in a circle: {error.args[1]}") from None


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path):
    """The tests above can fail: a sandbox module importing the grading layer, and back."""
    fake = tmp_path / "autograder"
    for name, text in {"sandbox/low.py": "from autograder.grading import high\n",
                       "grading/high.py": "import autograder.sandbox.low\n",
                       "sandbox/__init__.py": "", "grading/__init__.py": "", "__init__.py": ""}.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    edges = graph(fake)
    assert "autograder.grading.high" in edges["autograder.sandbox.low"]
    assert layer("autograder.grading.high") > layer("autograder.sandbox.low")
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError:
        return
    raise AssertionError("the circle between low and high was not found")
