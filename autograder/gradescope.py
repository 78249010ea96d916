"""Build the autograder zip Gradescope expects: setup.sh, run_autograder and the course grader.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once, then run_autograder for
each submission (found in /autograder/submission); the results go to /autograder/results/results.json.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import course_config
from autograder.timing import timing_path

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The grader and what it needs (the release: tamper detection compares with it); tests, sources
# and solutions stay behind.
PACKAGE_DIRS = ["autograder", "labtools", course_config.RELEASE_DIR]
PACKAGE_FILES = ["course_config.py", "pyproject.toml", "requirements.txt"]


def build_autograder_zip(assignment: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    run_autograder = (TEMPLATES / "gradescope_run_autograder").read_text()
    run_autograder = run_autograder.replace("{assignment}", assignment).replace("{notebook}", f"{assignment}.ipynb")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "setup.sh", (TEMPLATES / "gradescope_setup.sh").read_text())
        _add(archive, "run_autograder", run_autograder)
        for name in PACKAGE_FILES:
            archive.write(course_config.ROOT / name, name)
        timing = timing_path(assignment)  # the lab's calibrated time limits
        if timing.is_file():
            archive.write(timing, timing.relative_to(course_config.ROOT))
        for folder in PACKAGE_DIRS:
            for path in sorted((course_config.ROOT / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(course_config.ROOT))
    return out


def _add(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o755 << 16  # executable
    archive.writestr(info, text)
