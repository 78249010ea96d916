"""A release folder runs on its own: its copy of labtools works without the course's code, and its
requirements.txt names the course's pins of everything the notebooks and labtools import."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from packaging.requirements import Requirement

import course_config
from autograder.course.samples import notebook_path
from autograder.course.student_files import (LABTOOLS, PYTHONS, course_pins, normalize, student_readme,
                                      student_requirements, write_student_files)
from labtools import imdb, mnist, settings
from tests.test_mnist_data import tiny_arrays, write_idx

# Import names whose distribution is named otherwise.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "tensorflow": "tensorflow-cpu"}

# Runs in the release folder as on a laptop: no course_config or autograder (installed here or not),
# the checkout off sys.path (-I), the release folder first on it.
LAPTOP = """
import importlib.machinery, json, sys
release = sys.argv[1]
sys.modules["course_config"] = sys.modules["autograder"] = None
sys.path.insert(0, release)
import labtools
from labtools import load_imdb, load_mnist, settings
out = {
    "file": labtools.__file__,
    "path": sys.path,
    "found": [n for n in ("autograder", "course_config") if importlib.machinery.PathFinder.find_spec(n, [release])],
    "config": {k: str(v) for k, v in vars(settings.config).items()},
}
if sys.argv[2] == "load":
    out["mnist"] = [a.tolist() for split in load_mnist() for a in split]
    out["imdb"] = [a.tolist() for split in load_imdb(num_words=None) for a in split]
print(json.dumps(out))
"""


def run_on_laptop(release: Path, action: str, env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-I", "-c", LAPTOP, str(release), action], cwd=release.parent,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_vendored_labtools_loads_the_data_without_the_course(tiny_data, tmp_path):
    release = tmp_path / "multiclass_softmax"
    written = write_student_files(release, "multiclass_softmax")
    assert sorted({p.relative_to(release).parts[0] for p in written}) == ["README.md", "labtools", "requirements.txt"]
    (tiny_data / "mnist").mkdir()
    arrays = tiny_arrays()
    for name, file_name in mnist.FILES.items():
        write_idx(tiny_data / "mnist" / file_name, arrays[name])

    out = run_on_laptop(release, "load", {**os.environ, "COURSE_MNIST_SOURCE": "archive"})

    assert Path(out["file"]).parent == release / "labtools"
    assert out["path"][0] == str(release)
    assert str(course_config.ROOT) not in out["path"] and "" not in out["path"]
    assert out["found"] == []
    assert out["config"]["DATA_DIR"] == str(tiny_data)
    for loaded, name in zip(out["mnist"], mnist.FILES):
        np.testing.assert_array_equal(np.array(loaded, dtype=np.uint8), arrays[name], err_msg=name)
    # The course's own labtools, reading the same archive, gives the same reviews.
    (x_train, y_train), (x_test, y_test) = imdb.load_imdb(num_words=None)
    assert out["imdb"] == [x_train.tolist(), y_train.tolist(), x_test.tolist(), y_test.tolist()]


def test_laptop_defaults_are_in_the_home_folder(tmp_path):
    release = tmp_path / "lab"
    write_student_files(release, "imdb_sentiment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    config = run_on_laptop(release, "settings", {**env, "HOME": str(tmp_path)})["config"]
    assert config == {
        "DATA_DIR": str(tmp_path / "dl-course-data"), "CACHE_DIR": str(tmp_path / ".cache" / "dl-course"),
        "IMDB_SOURCE": "auto", "MNIST_SOURCE": "auto",
        "IMDB_ARCHIVE": course_config.IMDB_ARCHIVE,
        "KERAS_DOWNLOAD_TIMEOUT_S": str(course_config.KERAS_DOWNLOAD_TIMEOUT_S),
    }


def test_course_machine_uses_course_config():
    assert settings.config is course_config


@pytest.mark.parametrize("assignment", course_config.ASSIGNMENTS)
def test_release_holds_the_current_student_files(assignment):
    release = notebook_path(course_config.RELEASE_DIR, assignment).parent
    stale = "is stale: run `make release` and commit the result"
    assert files(release / "labtools") == files(LABTOOLS), f"release/{assignment}/labtools {stale}"
    assert (release / "requirements.txt").read_text() == student_requirements(assignment), (
        f"release/{assignment}/requirements.txt {stale}")
    assert (release / "README.md").read_text() == student_readme(assignment), f"release/{assignment}/README.md {stale}"


def test_student_readme_says_which_pythons_how_to_check_and_how_to_submit():
    readme = student_readme("multiclass_softmax")
    low, high = PYTHONS
    assert f"Python {low} to {high}" in readme and "No matching distribution" in readme
    assert "python -m pip install -r requirements.txt" in readme and "python -m labtools.check" in readme
    assert all(platform in readme for platform in ("JupyterHub", "GitHub", "Gradescope"))
    assert f"Python {low} to {high}" in student_requirements("multiclass_softmax")


def test_requirements_pin_the_course_versions():
    pins = course_pins()
    requirements = [Requirement(line) for line in student_requirements("lab").splitlines()
                    if line and not line.startswith("#")]
    for requirement in requirements:
        name = "tensorflow-cpu" if requirement.name == "tensorflow" else normalize(requirement.name)
        assert str(requirement.specifier) == f"=={pins[name]}", requirement
    names = {normalize(r.name) for r in requirements}
    assert "jupyterlab" in names and "nbclient" in names  # nbclient: the self-check
    assert not names & {"pytest", "nbgrader", "hypothesis", "check-jsonschema", "pytest-xdist", "psutil"}, (
        "students install what the labs need at run time, never the grader's test tools")
    assert imported_distributions() <= names


def imported_distributions() -> set[str]:
    """Distributions of the third-party modules the labs' notebooks and labtools import."""
    modules = set()
    for assignment in course_config.ASSIGNMENTS:
        notebook = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), 4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                modules |= set(re.findall(r"^\s*(?:from|import)\s+(\w+)", cell.source, flags=re.MULTILINE))
    for path in LABTOOLS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"labtools", "course_config"}
    return {normalize(DISTRIBUTIONS.get(module, module)) for module in third_party}

