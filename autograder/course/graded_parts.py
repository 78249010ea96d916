"""The table of graded parts in each lab's first cell, written from the lab's table of hidden checks.

`course generate` rewrites the block between BEGIN and END in the source notebook's first cell
before nbgrader makes the student version, so the points a student reads are the points the
grader gives (a test checks that the committed source is up to date). Parts and their headings
are named as `python -m labtools.check` names them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from autograder.checks import load_lab
from labtools.check import section_of

BEGIN = "<!-- graded parts: written by `course generate` from the lab's hidden checks; do not edit -->"
END = "<!-- end of graded parts -->"


def render(assignment: str, notebook: nbformat.NotebookNode) -> str:
    specs = load_lab(assignment).checks
    rows, automatic, by_hand = [], 0.0, 0.0
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        section = section_of(notebook.cells, index)
        if cell.cell_type == "markdown":
            points = float(meta.get("points", 0))
            by_hand += points
            rows.append(f"| {section} | `{meta['grade_id']}` (your answer) | {points:g} | by hand |")
            continue
        checks = [s for s in specs if s.cell == meta["grade_id"]]
        points = sum(s.points for s in checks)
        automatic += points
        rows.append(f"| {section} | `{meta['grade_id']}` | {points:g} | {len(checks)} hidden "
                    f"check{'s' if len(checks) != 1 else ''} |")
    return "\n".join([
        BEGIN,
        f"**Graded parts** ({automatic + by_hand:g} points: {automatic:g} from hidden checks, {by_hand:g} by hand)",
        "",
        "| Part | Cell | Points | Graded by |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        "See where you stand at any time: `python -m labtools.check` in this folder (or",
        "`!python -m labtools.check` in a cell) runs every cell, even after an error, and prints this",
        "table with each part's visible test passed or failed. Visible tests are sanity checks; the",
        "hidden checks give the grade.",
        END,
    ])


def with_graded_parts(notebook: nbformat.NotebookNode, assignment: str) -> nbformat.NotebookNode:
    """The notebook with its first cell's block of graded parts (re)written."""
    first = notebook.cells[0]
    if first.cell_type != "markdown":
        raise ValueError(f"{assignment}: the first cell must be the lab's markdown introduction.")
    block = render(assignment, notebook)
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), flags=re.DOTALL)
    if pattern.search(first.source):
        first.source = pattern.sub(lambda _: block, first.source)
    else:
        first.source = first.source.rstrip("\n") + "\n\n" + block
    return notebook


def write_graded_parts(path: Path, assignment: str) -> bool:
    """Rewrite the source notebook's block; True when it changed."""
    notebook = nbformat.read(path, as_version=4)
    before = notebook.cells[0].source
    if with_graded_parts(notebook, assignment).cells[0].source == before:
        return False
    nbformat.write(notebook, path)
    return True
