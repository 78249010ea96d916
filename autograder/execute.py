"""Run a submission in a real Jupyter kernel (nbclient), once, under limits, and read values out of it.

Limits: a timeout per cell and for the whole notebook, a memory cap on the kernel's process tree,
a cap on each cell's output, and (as root) another user and no network (`sandbox.py`). Hitting a
limit stops the notebook and is reported with the cell; the hidden checks still run afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import course_config
from autograder import sandbox

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
    try:  # the training steps of the model that produced the history
        exported["iterations"] = int(history.model.optimizer.iterations.numpy())
    except Exception:
        pass
    print({EXPORT_MARKER!r} + json.dumps(exported))
__autograder_export()
"""
# TensorFlow's C++ start-up log is written to the process's stderr, not by Python: keep it out
# of the cell outputs (ipykernel would otherwise copy it there).
KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False", "--HistoryManager.hist_file=:memory:"]


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # "cell 7: NameError: ...", for the report
    status: str = "completed"  # completed | timed out | kernel died | memory limit
    exports: dict = field(default_factory=dict)
    peak_memory_gb: float = 0.0
    truncated_cells: list[int] = field(default_factory=list)
    current_cell: int = 0


def kernel_environment(workdir: Path) -> dict[str, str]:
    """Student code's environment: pinned threads, no grader flags or secrets, a home it may write to."""
    hidden = ("MPLBACKEND", "COURSE_CHECK_SEED")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBGRADER") and k not in hidden}
    threads = str(course_config.NUM_THREADS)
    env.update(
        OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads,
        TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0", HOME=str(workdir), MPLCONFIGDIR=str(workdir),
        COURSE_CACHE_DIR=str(course_config.CACHE_DIR), COURSE_DATA_DIR=str(course_config.DATA_DIR),
    )
    return env


class LimitedOutputClient(NotebookClient):
    """nbclient that keeps at most MAX_OUTPUT_BYTES_PER_CELL of each cell's output."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output_bytes: dict[int, int] = {}
        self.truncated: set[int] = set()

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self.output_bytes.get(cell_index, 0) + size
        self.output_bytes[cell_index] = used
        if used > course_config.MAX_OUTPUT_BYTES_PER_CELL:
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                note = f"\n[output cut by the grader after {course_config.MAX_OUTPUT_BYTES_PER_CELL} bytes]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None
        return super().output(outs, msg, display_id, cell_index)


def execute_notebook(notebook: nbformat.NotebookNode, workdir: Path) -> ExecutionResult:
    """Execute every cell (errors do not stop the run), then export values, within the limits."""
    sandbox.open_workdir(workdir)
    client = LimitedOutputClient(
        notebook, timeout=course_config.CELL_TIMEOUT_S, allow_errors=True, kernel_name="python3",
        interrupt_on_timeout=True, record_timing=False, kernel_manager_class=sandbox.SandboxedKernelManager.in_folder(workdir),
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"ran past {course_config.CELL_TIMEOUT_S} s",
                          "traceback": []},
        resources={"metadata": {"path": str(workdir)}}, extra_arguments=KERNEL_ARGUMENTS,
    )
    result = ExecutionResult(notebook)
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(_run_cells(client, result, workdir), course_config.NOTEBOOK_TIMEOUT_S))
    except asyncio.TimeoutError:
        result.status = "timed out"
        result.errors.append(f"The notebook ran past its {course_config.NOTEBOOK_TIMEOUT_S} s limit and was stopped.")
    except DeadKernelError:
        if result.status != "memory limit":
            result.status = "kernel died"
            result.errors.append("The kernel died (it crashed or exited); later cells did not run.")
    result.seconds = time.monotonic() - started
    result.truncated_cells = sorted(i + 1 for i in client.truncated)
    if result.truncated_cells:
        result.errors.append(f"Output of cell(s) {result.truncated_cells} was cut: more than "
                             f"{course_config.MAX_OUTPUT_BYTES_PER_CELL} bytes.")
    return result


async def _run_cells(client: NotebookClient, result: ExecutionResult, workdir: Path) -> None:
    async with client.async_setup_kernel(env=kernel_environment(workdir), cwd=str(workdir)):
        with sandbox.MemoryWatch(client.km.provisioner.process.pid) as memory:
            try:
                await _execute_all(client, result)
            finally:
                result.peak_memory_gb = memory.peak_bytes / 2**30
                if memory.exceeded:
                    result.status = "memory limit"
                    result.errors.append(
                        f"The kernel used more than {course_config.MEMORY_LIMIT_GB:g} GB and was stopped "
                        f"in cell {result.current_cell}."
                    )


async def _execute_all(client: NotebookClient, result: ExecutionResult) -> None:
    for index, cell in enumerate(result.notebook.cells):
        if cell.cell_type != "code":
            continue
        result.current_cell = index + 1
        started = time.monotonic()
        await client.async_execute_cell(cell, index)
        if time.monotonic() - started >= course_config.CELL_TIMEOUT_S:  # nbclient interrupted it
            result.status = "timed out"
            result.errors.append(f"Timed out after {course_config.CELL_TIMEOUT_S} s in cell {index + 1}.")
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                detail = f"{output.ename}: {output.evalue}".strip(": ")[:300]
                result.errors.append(f"cell {index + 1}: {detail}")
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
