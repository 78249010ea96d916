"""Sample submissions for the demo and the tests, made from the release and the source notebook.

- `reference`: the release with every solution cell filled from the source notebook;
- `blank`: the release as students receive it;
- `partial`: some functions right, one with a classic mistake, the rest left blank;
- `broken`: one function right, a cell with a syntax error, the rest left blank.
They are generated (never committed), so they always match the current release.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

import course_config

SOLUTION_BLOCK = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)

# Per lab and kind: the solution cells the sample fills, and text replaced in them (mistakes).
SAMPLES = {
    "imdb_sentiment": {
        "partial": {
            "fill": ["decode_review", "vectorize_sequences", "build_model", "split_validation"],
            # The metric trap: Accuracy() compares exact values, so it reports 0 on sigmoid outputs.
            "mistakes": {"build_model": [('metrics=["accuracy"]', "metrics=[keras.metrics.Accuracy()]")]},
        },
        "broken": {
            "fill": ["decode_review", "vectorize_sequences"],
            "mistakes": {"vectorize_sequences": [("dimension=10000):", "dimension=10000)")]},  # SyntaxError
        },
    },
    "overfitting_regularization": {
        "partial": {
            "fill": ["build_sized_model", "plot_val_losses", "build_l2_model"],
            # The regularizer trap: the string "l2" means a factor of 0.01, not the chapter's 0.001.
            "mistakes": {"build_l2_model": [("kernel_regularizer=keras.regularizers.L2(l2)", 'kernel_regularizer="l2"')]},
        },
        "broken": {
            "fill": ["build_sized_model", "plot_val_losses"],
            "mistakes": {"plot_val_losses": [("def plot_val_losses(histories):", "def plot_val_losses(histories)")]},
        },
    },
    "multiclass_softmax": {
        "partial": {
            "fill": ["build_small_model", "train_small_model", "softmax_by_hand"],
            # The overflow trap: exp of large logits without subtracting the maximum first.
            "mistakes": {"softmax_by_hand": [("logits - logits.max(axis=-1, keepdims=True)", "logits")]},
        },
        "broken": {
            "fill": ["build_small_model", "softmax_by_hand"],
            "mistakes": {"softmax_by_hand": [("def one_hot(labels, depth):", "def one_hot(labels, depth)")]},
        },
    },
}
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
    spec = SAMPLES[assignment].get(kind, {"fill": list(solutions), "mistakes": {}})
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
