"""Sample submissions for the demo and the tests, made from the release and the source notebook.

- `reference`: the release with every solution cell filled from the source notebook;
- `blank`: the release as students receive it;
- `partial`: some functions right, one with a classic mistake, the rest left blank;
- `broken`: one function right, a cell with a syntax error, the rest left blank.
Which cells `partial` and `broken` fill, and their mistakes, each lab's module declares (SAMPLES).
They are generated (never committed), so they always match the current release.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

import course_config
from autograder.checks import load_lab

SOLUTION_BLOCK = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)

KINDS = ("reference", "partial", "broken", "blank")


def notebook_path(step_dir: str, assignment: str) -> Path:
    return course_config.ROOT / step_dir / assignment / f"{assignment}.ipynb"


def solution_sources(assignment: str) -> dict[str, str]:
    """grade_id -> the source notebook's solution cell, without the solution markers."""
    source = nbformat.read(notebook_path(course_config.SOURCE_DIR, assignment), as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: SOLUTION_BLOCK.sub("", cell.source)
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def make_sample(assignment: str, kind: str) -> nbformat.NotebookNode:
    release = nbformat.read(notebook_path(course_config.RELEASE_DIR, assignment), as_version=4)
    if kind == "blank":
        return release
    solutions = solution_sources(assignment)
    spec = load_lab(assignment).samples.get(kind, {"fill": list(solutions), "mistakes": {}})
    fill, mistakes = set(spec["fill"]), spec["mistakes"]
    sample = copy.deepcopy(release)
    for cell in sample.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in fill:
            cell.source = solutions[grade_id]
            for old, new in mistakes.get(grade_id, []):
                assert old in cell.source, f"sample mistake {old!r} not found in {grade_id}"
                cell.source = cell.source.replace(old, new)
    return sample


def write_samples(assignment: str, folder: Path, kinds=KINDS) -> dict[str, Path]:
    """Write sample submissions; return their paths by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in kinds:
        paths[kind] = folder / f"{kind}.ipynb"
        nbformat.write(make_sample(assignment, kind), paths[kind])
    return paths
