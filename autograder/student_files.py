"""What a release folder needs beside the notebook to run on a student's laptop.

The course's distribution holds the hidden checks, so students never install it: each release
gets its own copy of `labtools` (nothing else of this repository) and a requirements.txt with the
course's pins of what the notebooks and labtools import.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import course_config

LABTOOLS = course_config.ROOT / "labtools"
REQUIREMENTS = course_config.ROOT / "requirements.txt"
# What the notebooks and labtools import (TensorFlow is Keras's backend), and Jupyter to run them.
STUDENT_PACKAGES = ["keras", "numpy", "matplotlib", "scikit-learn", "jupyterlab"]
# tensorflow-cpu has wheels for x86-64 Linux and Windows only; elsewhere (Apple silicon, ARM Linux)
# the full tensorflow of the same version.
CPU_ONLY = '(sys_platform == "linux" and platform_machine == "x86_64") or platform_machine == "AMD64"'
NOT_CPU_ONLY = '(sys_platform != "linux" or platform_machine != "x86_64") and platform_machine != "AMD64"'


def write_student_files(release_dir: Path, assignment: str) -> list[Path]:
    """Copy labtools into `release_dir` and write its requirements.txt; return the files written."""
    target = Path(release_dir) / "labtools"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(LABTOOLS, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    requirements = Path(release_dir) / "requirements.txt"
    requirements.write_text(student_requirements(assignment))
    return sorted(p for p in target.rglob("*") if p.is_file()) + [requirements]


def student_requirements(assignment: str) -> str:
    pins = course_pins()
    tensorflow = pins["tensorflow-cpu"]
    lines = [
        f"# To run {assignment}.ipynb on your own computer (Python 3.11 to 3.13), in this folder:",
        "#   python -m pip install -r requirements.txt",
        "#   jupyter lab",
        "# The data sets download through Keras. Offline, labtools reads the course's data files",
        "# (aclImdb_v1_labeled.tar.gz, mnist/) from ~/dl-course-data, or from $COURSE_DATA_DIR.",
        f"tensorflow-cpu=={tensorflow}; {CPU_ONLY}",
        f"tensorflow=={tensorflow}; {NOT_CPU_ONLY}",
        *(f"{name}=={pins[name]}" for name in STUDENT_PACKAGES),
    ]
    return "\n".join(lines) + "\n"


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
