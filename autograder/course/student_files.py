"""What a release folder needs beside the notebook to run on a student's laptop.

The course's distribution holds the hidden checks, so students never install it: each release
gets its own copy of `labtools` (nothing else of this repository: data loaders and the self-check),
a requirements.txt with the course's pins of what the notebooks and labtools need at run time (no
test tools), and a README.md for the student.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import course_config

LABTOOLS = course_config.ROOT / "labtools"
REQUIREMENTS = course_config.ROOT / "requirements.txt"
# What the notebooks and labtools import (TensorFlow is Keras's backend), Jupyter to run them and
# nbclient and nbformat for the self-check (labtools/check.py).
STUDENT_PACKAGES = ["keras", "numpy", "matplotlib", "scikit-learn", "jupyterlab", "nbclient", "nbformat"]
# The Pythons that the pinned TensorFlow has wheels for; elsewhere pip says "No matching distribution".
PYTHONS = ("3.11", "3.13")
# tensorflow-cpu has wheels for x86-64 Linux and Windows only; elsewhere (Apple silicon, ARM Linux)
# the full tensorflow of the same version.
CPU_ONLY = '(sys_platform == "linux" and platform_machine == "x86_64") or platform_machine == "AMD64"'
NOT_CPU_ONLY = '(sys_platform != "linux" or platform_machine != "x86_64") and platform_machine != "AMD64"'


def write_student_files(release_dir: Path, assignment: str) -> list[Path]:
    """Copy labtools into `release_dir`, write its requirements.txt and README.md; return the files written."""
    target = Path(release_dir) / "labtools"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(LABTOOLS, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    requirements = Path(release_dir) / "requirements.txt"
    requirements.write_text(student_requirements(assignment))
    readme = Path(release_dir) / "README.md"
    readme.write_text(student_readme(assignment))
    return sorted(p for p in target.rglob("*") if p.is_file()) + [requirements, readme]


def student_requirements(assignment: str) -> str:
    pins = course_pins()
    tensorflow = pins["tensorflow-cpu"]
    lines = [
        f"# To run {assignment}.ipynb on your own computer (Python {PYTHONS[0]} to {PYTHONS[1]}), in this folder:",
        "#   python -m pip install -r requirements.txt",
        "#   jupyter lab",
        "# The data sets download through Keras. Offline, labtools reads the course's data files",
        "# (aclImdb_v1_labeled.tar.gz, mnist/) from ~/dl-course-data, or from $COURSE_DATA_DIR.",
        f"tensorflow-cpu=={tensorflow}; {CPU_ONLY}",
        f"tensorflow=={tensorflow}; {NOT_CPU_ONLY}",
        *(f"{name}=={pins[name]}" for name in STUDENT_PACKAGES),
    ]
    return "\n".join(lines) + "\n"


def student_readme(assignment: str) -> str:
    low, high = PYTHONS
    return f"""# {assignment}

Your copy of the lab: `{assignment}.ipynb`, `labtools/` (data loaders and the self-check) and
`requirements.txt`. The course's hidden checks are not here; they grade your notebook after you
submit it.

## Install (on your own computer)

Python {low} to {high} (the course's TensorFlow has no packages for other versions: if pip says
"No matching distribution found for tensorflow", install Python {high} and make the environment
with it). In this folder:

    python -m venv .venv
    . .venv/bin/activate          # Windows: .venv\\Scripts\\activate
    python -m pip install -r requirements.txt
    jupyter lab

The data sets download through Keras the first time. Offline, `labtools` reads the course's
data files (`aclImdb_v1_labeled.tar.gz`, `mnist/`) from `~/dl-course-data`, or from the folder
in `$COURSE_DATA_DIR`. On the course's JupyterHub everything is installed already.

## Where you stand

    python -m labtools.check

runs the whole notebook in a fresh kernel, every cell even after an error, and prints each graded
part: its points, whether its visible test passed, and the error message when it did not (in a
notebook cell: `!python -m labtools.check`). The first cell of the notebook lists the same parts.
A visible test that passes is a sanity check, not the grade: the hidden checks call your functions
on their own inputs and train your models themselves, and a number your notebook prints never
counts.

## Submit

- **JupyterHub**: the Assignments tab, Submit (submit again as often as you like before the
  deadline: the last submission counts).
- **GitHub**: commit and push `{assignment}.ipynb` to your repository's default branch. Your last
  push before the deadline is graded (GitHub's push time, not the commit's date). Each push runs
  the practice workflow (the Actions tab: the same table as the self-check); the grade comes later,
  as an issue in your repository when your instructor sends it.
- **Gradescope**: upload `{assignment}.ipynb`.

Keep the function names and arguments as given, do not edit the locked cells, and do not delete
cells: the grader looks for them.
"""


def course_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """name -> version of every `name==version` line, names normalized as pip compares them."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;#]+)\s*(?:[;#].*)?", line.strip())
        if match:
            pins[normalize(match[1])] = match[2]
    return pins


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
