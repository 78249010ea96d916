"""Detect changes a student made to the parts of a lab they must not change.

Compared with the released notebook, by nbgrader grade id: locked and test cells whose source
no longer matches nbgrader's checksum, cells deleted, nbgrader metadata changed (points, cell type
flags), and graded cells moved out of order. Nothing here changes a score (points come from the
grader's own table and checks never read these cells); it is reported so an instructor can see it.
"""

from __future__ import annotations

import nbformat
from nbgrader.utils import compute_checksum

import course_config

METADATA_KEYS = ("grade", "solution", "locked", "points", "task")


def find_tampering(notebook: nbformat.NotebookNode, assignment: str) -> list[str]:
    release_path = course_config.ROOT / course_config.RELEASE_DIR / assignment / f"{assignment}.ipynb"
    if not release_path.is_file():
        return [f"not checked: no released notebook at {release_path}"]
    released = _by_grade_id(nbformat.read(release_path, as_version=4))
    submitted = _by_grade_id(notebook)
    findings = []
    for grade_id, original in released.items():
        cell = submitted.get(grade_id)
        if cell is None:
            findings.append(f"cell '{grade_id}' was deleted")
            continue
        meta, original_meta = cell.metadata.get("nbgrader", {}), original.metadata["nbgrader"]
        changed = [key for key in METADATA_KEYS if meta.get(key) != original_meta.get(key)]
        if changed:
            findings.append(f"cell '{grade_id}': nbgrader metadata changed ({', '.join(changed)})")
        if original_meta.get("locked") or original_meta.get("grade") and not original_meta.get("solution"):
            if compute_checksum(_as_released(cell, original)) != original_meta.get("checksum"):
                findings.append(f"cell '{grade_id}' is locked but was edited")
    order = [grade_id for grade_id in submitted if grade_id in released]
    if order != [grade_id for grade_id in released if grade_id in submitted]:
        findings.append("graded cells were reordered")
    return findings


def _by_grade_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    cells = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id not in cells:
            cells[grade_id] = cell
    return cells


def _as_released(cell: nbformat.NotebookNode, original: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The submitted cell's source with the released metadata: the checksum covers both."""
    copy = nbformat.from_dict(dict(original))
    copy.source = cell.source
    copy.cell_type = cell.cell_type
    return copy
