"""Run a submission in a real Jupyter kernel (nbclient), once, and read values out of it as data."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import course_config

EXPORT_MARKER = "AUTOGRADER-EXPORT:"
MAX_EXPORT_CHARS = 1_000_000
# Runs in the student's kernel after the last cell. What it prints is parsed as plain JSON data
# and validated by the checks; it is never trusted as a result.
EXPORT_CODE = f"""
def __autograder_export():
    import json
    history = globals().get("history")
    values = getattr(history, "history", None)
    exported = {{}}
    if isinstance(values, dict):
        exported["history"] = {{str(k): [float(x) for x in v] for k, v in values.items()}}
    print({EXPORT_MARKER!r} + json.dumps(exported))
__autograder_export()
"""


# TensorFlow's C++ start-up log is written to the process's stderr, not by Python: keep it out
# of the cell outputs (ipykernel would otherwise copy it there).
KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False", "--HistoryManager.hist_file=:memory:"]


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    seconds: float
    errors: list[str] = field(default_factory=list)  # "cell 7: NameError: ...", for the report
    status: str = "completed"  # completed | timed out | kernel died
    exports: dict = field(default_factory=dict)


def kernel_environment() -> dict[str, str]:
    """The grading kernel's environment: pinned threads, no grader flags (plots stay inline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBGRADER") and k != "MPLBACKEND"}
    threads = str(course_config.NUM_THREADS)
    env.update(
        OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads,
        TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0",
    )
    return env


def execute_notebook(notebook: nbformat.NotebookNode, workdir: Path) -> ExecutionResult:
    """Execute every cell (errors do not stop the run), then export values, within the time limits."""
    client = NotebookClient(
        notebook, timeout=course_config.CELL_TIMEOUT_S, allow_errors=True, kernel_name="python3",
        interrupt_on_timeout=True, record_timing=False,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"cell ran past {course_config.CELL_TIMEOUT_S} s",
                          "traceback": []},
        resources={"metadata": {"path": str(workdir)}},
        extra_arguments=KERNEL_ARGUMENTS,
    )
    result = ExecutionResult(notebook, 0.0)
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(_run_cells(client, result), course_config.NOTEBOOK_TIMEOUT_S))
    except asyncio.TimeoutError:
        result.status = "timed out"
        result.errors.append(f"The notebook ran past its {course_config.NOTEBOOK_TIMEOUT_S} s limit and was stopped.")
    except DeadKernelError:
        result.status = "kernel died"
        result.errors.append("The kernel died (crashed, ran out of memory or exited); later cells did not run.")
    result.seconds = time.monotonic() - started
    return result


async def _run_cells(client: NotebookClient, result: ExecutionResult) -> None:
    async with client.async_setup_kernel(env=kernel_environment(), stderr=subprocess.DEVNULL):
        for index, cell in enumerate(result.notebook.cells):
            if cell.cell_type != "code":
                continue
            await client.async_execute_cell(cell, index)
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    detail = f"{output.ename}: {output.evalue}".strip(": ")[:300]
                    result.errors.append(f"cell {index + 1}: {detail}")
                    if output.ename == "CellTimeoutError":
                        result.status = "timed out"
        export_cell = nbformat.v4.new_code_cell(EXPORT_CODE)
        result.notebook.cells.append(export_cell)
        try:
            await client.async_execute_cell(export_cell, len(result.notebook.cells) - 1)
        finally:
            result.notebook.cells.pop()
        result.exports = parse_exports(export_cell.outputs)


def parse_exports(outputs: list) -> dict:
    """The exported JSON, or {} if the export printed nothing usable."""
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    lines = [line for line in text.splitlines() if line.startswith(EXPORT_MARKER)]
    if not lines or len(lines[-1]) > MAX_EXPORT_CHARS:
        return {}
    try:
        exported = json.loads(lines[-1][len(EXPORT_MARKER):])
    except json.JSONDecodeError:
        return {}
    return exported if isinstance(exported, dict) else {}
