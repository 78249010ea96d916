"""What is stored of a student's outputs: nothing that runs in a browser, within a size limit.

The executed notebook becomes nbgrader's autograded notebook, its feedback page and the
formgrader's view, opened by students and instructors in their browser. So only text and raster
images of outputs are kept: HTML, JavaScript, SVG (which can hold script), Markdown and widget
views are replaced by a note; outputs past MAX_EXECUTED_NOTEBOOK_BYTES are dropped, with a note;
and markdown cells (a student's written answers) are cleaned by nbconvert's SanitizeHTML, since
nbgrader's feedback and formgrader templates render markdown as it is.
"""

from __future__ import annotations

import json

import nbformat
from nbconvert.preprocessors.sanitize import SanitizeHTML

import course_config

SAFE_MIME_TYPES = ("text/plain", "image/png", "image/jpeg", "image/gif")
REMOVED = "[output removed by the grader: HTML, script or other markup is not kept]"


def neutralize(notebook: nbformat.NotebookNode) -> list[int]:
    """Clean the notebook in place; return the numbers of cells whose outputs were dropped for size."""
    budget = course_config.MAX_EXECUTED_NOTEBOOK_BYTES - len(json.dumps(_without_outputs(notebook)))
    dropped = []
    notebook.metadata.pop("widgets", None)  # widget state, from comm messages
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                # A display update can land on an output replaced by a note (nbclient keeps its index).
                output.pop("data", None)
                output.pop("metadata", None)
            if "data" in output:
                kept = {mime: value for mime, value in output.data.items() if mime in SAFE_MIME_TYPES}
                if len(kept) < len(output.data):
                    kept.setdefault("text/plain", REMOVED)
                output.data = kept
                output.metadata = {mime: value for mime, value in output.get("metadata", {}).items() if mime in kept}
        size = len(json.dumps(cell.get("outputs", [])))
        if size > budget:
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=(
                f"[outputs removed by the grader: the notebook passed its "
                f"{course_config.MAX_EXECUTED_NOTEBOOK_BYTES // 2**20} MB limit]\n"))]
            dropped.append(number)
            size = len(json.dumps(cell.outputs))
        budget -= size
    SanitizeHTML(enabled=True).preprocess(notebook, {})
    return dropped


def _without_outputs(notebook: nbformat.NotebookNode) -> dict:
    return {**notebook, "cells": [{k: v for k, v in cell.items() if k != "outputs"} for cell in notebook.cells]}
