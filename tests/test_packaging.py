"""The grader as a package: its wheel carries the templates and the console scripts, and the
runtime requirements hold no test tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import course_config
from autograder.course.student_files import course_pins

TEST_TOOLS = {"pytest-xdist", "hypothesis", "check-jsonschema"}


def test_the_wheel_carries_the_templates_and_the_console_scripts(tmp_path):
    source = tmp_path / "source"  # setuptools writes build/ beside the sources: not in this checkout
    for name in ("autograder", "labtools"):
        shutil.copytree(course_config.ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "course_config.py"):
        shutil.copy(course_config.ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("dl_course-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    templates = {p.name for p in (course_config.ROOT / "autograder" / "templates").iterdir()}
    assert templates <= {Path(n).name for n in names if n.startswith("autograder/templates/")}
    assert "autograder/kernel/server.py" in names  # its source is what the session sends into the kernel
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "course = autograder.cli:course_main" in scripts and "autograder = autograder.cli:main" in scripts


def test_the_course_script_runs_the_course_steps():
    script = Path(sys.executable).parent / "course"
    done = subprocess.run([str(script), "export", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--out" in done.stdout, done.stderr


def test_runtime_requirements_hold_no_test_tools_and_dev_adds_them():
    runtime = set(course_pins(course_config.ROOT / "requirements.txt"))
    dev = (course_config.ROOT / "requirements-dev.txt").read_text()
    assert not runtime & TEST_TOOLS and "pytest" in runtime  # the checks run as a pytest plugin
    assert "-r requirements.txt" in dev and TEST_TOOLS <= set(course_pins(course_config.ROOT / "requirements-dev.txt"))
