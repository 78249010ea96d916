"""Take the graded definitions out of a submitted notebook, as source text.

The hidden checks never look at the student's kernel. They run in a process the grader owns, on
functions rebuilt there from the notebook's code: every top-level `def`, `class` and `import`,
and assignments of plain literals (a dict of variant settings, say), in notebook order. Anything
else at top level (training runs, prints, loops) stays in the notebook, so rebuilding the
functions costs nothing and cannot train a model or hang.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import nbformat

from autograder.checks import parse_python

_KEPT = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


@dataclass
class CodePiece:
    cell: int  # 1-based cell number, as a student counts cells
    line: int  # first line of the piece in that cell
    source: str


@dataclass
class ExtractedCode:
    pieces: list[CodePiece] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cells that could not be read, for the report


def extract_definitions(notebook: nbformat.NotebookNode) -> ExtractedCode:
    """Top-level definitions, imports and literal assignments of every code cell."""
    extracted = ExtractedCode()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        source = _without_ipython_syntax(cell.source)
        try:
            tree = parse_python(source)
        except SyntaxError as error:
            extracted.problems.append(
                f"Cell {index + 1} has a syntax error (line {error.lineno}: {error.msg}); "
                "nothing in it could be graded."
            )
            continue
        lines = source.splitlines()
        for node in tree.body:
            if isinstance(node, _KEPT) or _is_literal_assignment(node):
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                segment = "\n".join(lines[first - 1 : node.end_lineno])
                extracted.pieces.append(CodePiece(index + 1, first, segment))
    return extracted


def _without_ipython_syntax(source: str) -> str:
    """Blank out magics and shell escapes (`%matplotlib`, `!pip`), which are not Python."""
    lines = source.splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _is_literal_assignment(node: ast.stmt) -> bool:
    if not (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)):
        return False
    try:
        ast.literal_eval(node.value)
    except ValueError:
        return False
    return True
