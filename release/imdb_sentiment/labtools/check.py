"""Where you stand: run the lab's notebook with its visible tests and list every graded part.

In the lab's folder, in a terminal (or in a notebook cell, with `!` in front):

    python -m labtools.check                      # the one notebook in this folder
    python -m labtools.check imdb_sentiment.ipynb

Every cell runs in order in a fresh kernel, and a failing cell does not stop the ones after it
(Run All stops at the first error). The table lists each graded part, what it is worth, and
whether its visible test passed. Visible tests are quick sanity checks, not the grade: the grade
comes from the course's hidden checks, which this command never sees. Exit status: 0 when every
visible test passed, 1 when one did not, 2 when there is no notebook to run.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

PASSED, FAILED, NOT_RUN, BY_HAND = "passed", "FAILED", "did not run", "graded by hand"
NO_TEST = "ran (no visible test)"  # a graded cell without an assert: only the hidden checks judge it
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Part:
    section: str  # the notebook's heading above the part
    cell: str  # nbgrader's grade id of the test cell (or of the written answer)
    points: float
    status: str = NOT_RUN
    message: str = ""


def section_of(cells: list, index: int) -> str:
    """The nearest heading above cell `index` (markdown `#` lines), without its #s."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            headings = [line for line in cell.source.splitlines() if line.startswith("#")]
            if headings:
                return headings[-1].lstrip("#").strip()
    return ""


def graded_parts(notebook: nbformat.NotebookNode) -> list[Part]:
    """Every graded cell of the notebook (nbgrader's metadata), as run so far."""
    parts = []
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        part = Part(section_of(notebook.cells, index), meta.get("grade_id", f"cell {index}"), float(meta.get("points", 0)))
        if cell.cell_type == "markdown":
            part.status = BY_HAND
        elif cell.get("execution_count") is not None or cell.get("outputs"):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if errors:
                part.status, part.message = FAILED, error_message(errors[0])
            else:
                part.status = PASSED if "assert" in cell.source else NO_TEST
        parts.append(part)
    return parts


def error_message(error: dict) -> str:
    """`Name: value`; for a bare `assert`, the line that failed (from the traceback)."""
    if error.get("evalue"):
        return f"{error['ename']}: {error['evalue']}"
    arrows = [line for frame in error.get("traceback", []) for line in ANSI.sub("", frame).splitlines()
              if line.lstrip().startswith("---->") or line.lstrip().startswith("->")]
    where = re.sub(r"^\s*-+>\s*\d*\s*", "", arrows[-1]).strip() if arrows else ""
    return f"{error['ename']}" + (f" at `{where}`" if where else "")


def first_error_elsewhere(notebook: nbformat.NotebookNode) -> str:
    """The first error in a cell that is not a visible test (often why later tests fail)."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    name = cell.metadata.get("nbgrader", {}).get("grade_id")
                    return f"cell {index + 1}{f' ({name})' if name else ''}: {error_message(output)}"
    return ""


def run(path: Path, timeout: int | None = None) -> tuple[nbformat.NotebookNode, str]:
    """The notebook executed top to bottom in a fresh kernel, errors and all; and why it stopped
    early, if it did (a cell past `timeout` seconds, a kernel that died)."""
    from nbclient import NotebookClient  # comes with Jupyter

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except Exception as error:  # noqa: BLE001 - a timeout or a dead kernel ends the run, not the report
        return notebook, f"The run stopped early: {type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
    return notebook, ""


def text_table(parts: list[Part]) -> str:
    rows = [("Part", "Cell", "Points", "Visible test", "Message")]
    rows += [(p.section, p.cell, f"{p.points:g}", p.status, p.message) for p in parts]
    widths = [min(max(len(row[i]) for row in rows), 40) for i in range(4)]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths)) + "  " + row[4]
                     for row in rows)


def markdown_table(parts: list[Part]) -> str:
    rows = ["| Part | Cell | Points | Visible test | Message |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| {p.section} | `{p.cell}` | {p.points:g} | {p.status} | {p.message.replace('|', '/')} |" for p in parts]
    return "\n".join(rows)


def summary(parts: list[Part], stopped: str, first_error: str) -> str:
    automatic = [p for p in parts if p.status != BY_HAND]
    tests = [p for p in automatic if p.status != NO_TEST]
    passed = [p for p in tests if p.status == PASSED]
    lines = [f"Visible tests passed: {len(passed)} of {len(tests)}. "
             f"Points: {sum(p.points for p in automatic):g} checked automatically by hidden checks, "
             f"{sum(p.points for p in parts if p.status == BY_HAND):g} graded by hand. "
             "A visible test that passes is a sanity check, not the grade."]
    if first_error:
        lines.append(f"First error outside the tests: {first_error}")
    if stopped:
        lines.append(stopped)
    return "\n".join(lines)


def find_notebook(folder: Path) -> Path:
    notebooks = [p for p in sorted(folder.glob("*.ipynb")) if p.name != "practice-run.ipynb"]
    if len(notebooks) != 1:
        found = ", ".join(p.name for p in notebooks) or "none"
        raise SystemExit(f"Name the notebook to check: `python -m labtools.check LAB.ipynb` "
                         f"(notebooks in {folder}: {found}).")
    return notebooks[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labtools.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", type=Path, help="default: the one .ipynb in this folder")
    parser.add_argument("--timeout", type=int, default=None, help="seconds a cell may run (default: no limit)")
    parser.add_argument("--summary", type=Path, help="also append the table in Markdown to this file "
                        "(the practice workflow passes $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--output", type=Path, help="also save the executed notebook here")
    args = parser.parse_args(argv)
    try:
        path = args.notebook or find_notebook(Path.cwd())
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"No notebook at {path}.", file=sys.stderr)
        return 2
    print(f"Running {path.name} top to bottom in a fresh kernel (every cell, even after an error)...", flush=True)
    notebook, stopped = run(path.resolve(), args.timeout)
    parts = graded_parts(notebook)
    if args.output:
        nbformat.write(notebook, args.output)
    text = summary(parts, stopped, first_error_elsewhere(notebook))
    print(text_table(parts), text, sep="\n\n")
    if args.summary:
        with args.summary.open("a") as out:
            out.write(f"## {path.stem}: visible tests (practice, not the grade)\n\n{markdown_table(parts)}\n\n{text}\n")
    return 0 if all(p.status in (PASSED, NO_TEST, BY_HAND) for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
