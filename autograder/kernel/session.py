"""The student's kernel: it runs the notebook once, then serves calls of its functions to the checks.

Student code runs here and nowhere else: a real Jupyter kernel (nbclient), started in its
sandbox (`autograder/sandbox/`: namespaces, an unprivileged user, cgroup limits), with a cap on each
message and on each cell's output, and time limits. After the last cell the kernel stays up, and
each check asks it to call a notebook function on inputs the check chose, in the notebook's own
namespace: the source of `server.py` answers there, and what comes back is data, validated by
`wire.py`. If the kernel died, or a function ignores interrupts, a fresh
kernel with the notebook's definitions (top-level defs, classes, imports, literal assignments)
takes over. A function that ran past a time limit is replaced in the kernel by one that fails at
once, so a hang costs its time once per function, not once per cell or check that calls it.

Time limits count the CPU seconds of the kernel's cgroup (every process student code started),
so a busy machine never stops an honest submission; a wall-clock backstop
(course_config.WALL_LIMIT_FACTOR × the CPU limit) ends what burns no CPU. A cell past its CPU
limit is interrupted, and killed with its kernel if it ignores that for INTERRUPT_GRACE_S.
Without a cgroup the limits are wall-clock seconds scaled by speed.speed_factor().
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import zmq
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import course_config
from autograder.kernel import safe_outputs, speed, wire
from autograder.kernel.wire import MIME, ArgumentWriter
from autograder.sandbox import namespaces
from autograder.sandbox.kernel_manager import SandboxedKernelManager
from autograder.sandbox.memory_watch import MemoryWatch, kill_tree

PROBE_TIMEOUT_S = 10
POLL_S = 0.25  # how often the kernel's CPU time is read while a cell runs
INTERRUPT_GRACE_S = 10  # a cell still running this long after its interrupt is killed with its kernel
MAX_FRESH_KERNELS = 3  # an interrupted kernel that cannot run `pass` within this is replaced
# TensorFlow's C++ start-up log is written to the process's stderr, not by Python: keep it out
# of the cell outputs (ipykernel would otherwise copy it there).
KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False", "--HistoryManager.hist_file=:memory:"]


def _server_source() -> str:
    """server.py as the kernel runs it: its one import of the grader's package (the protocol's
    limits) replaced by their values, since the kernel cannot import the grader."""
    source = (Path(__file__).parent / "server.py").read_text()
    line = "from autograder.kernel.wire import MAX_DEPTH, MAX_ITEMS, MIME\n"
    if source.count(line) != 1:
        raise RuntimeError("server.py must import the protocol's limits in exactly one line")
    return source.replace(line, f"MAX_DEPTH, MAX_ITEMS, MIME = {wire.MAX_DEPTH!r}, {wire.MAX_ITEMS!r}, {MIME!r}\n")


SERVER_SOURCE = _server_source()


def request_source(request: dict) -> str:
    """The cell that answers `request` in the kernel. The server runs in a fresh dict of its own:
    none of its names enter the notebook's namespace."""
    return (f"(lambda scope: (exec({SERVER_SOURCE!r}, scope), "
            f"scope['serve'](__import__('json').loads({json.dumps(request)!r}), globals())))({{}});")


class KernelUnavailable(RuntimeError):
    """No kernel could answer (it died and a fresh one could not start)."""


class CallTimedOut(RuntimeError):
    """A call ran past one of its limits: `Stop.describe` says which."""

    def __init__(self, stop: Stop):
        super().__init__(stop.kind)
        self.stop = stop


@dataclass
class Stop:
    """Why the grader stopped a cell or call: its CPU limit, its wall-clock backstop, or (no
    cgroup to count CPU here) its wall-clock limit."""

    kind: str  # "CPU" | "wall" | "time"
    limit: float  # CPU s (kind CPU or wall), wall s (kind time)
    wall_limit: float
    cpu: float | None
    wall: float

    def describe(self, what: str) -> str:
        if self.kind == "CPU":
            return (f"CPU limit: {what} ran past its {self.limit:.0f} CPU s and was stopped "
                    f"(after {self.wall:.0f} s of wall-clock time).")
        if self.kind == "wall":
            return (f"Wall-clock limit: {what} ran past its {self.wall_limit:.0f} s backstop "
                    f"({course_config.WALL_LIMIT_FACTOR:g} × its {self.limit:.0f} CPU s limit) using only "
                    f"{self.cpu:.0f} CPU s, so it was waiting or sleeping; it was stopped.")
        return (f"Time limit: {what} ran past its {self.wall_limit:.0f} s limit and was stopped "
                f"(wall-clock seconds: CPU time cannot be counted on this machine).")


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # "cell 7: NameError: ...", for the report
    limits: list[str] = field(default_factory=list)  # limits hit, for the report
    status: str = "completed"  # completed | timed out | kernel died | memory limit | process limit
    cpu_seconds: float | None = None  # the kernel's CPU time (None: not counted here)
    stops: list[str] = field(default_factory=list)  # "CPU limit, cell 7": each time limit that fired
    peak_memory_gb: float = 0.0
    truncated_cells: list[int] = field(default_factory=list)
    cell_seconds: dict[str, float] = field(default_factory=dict)  # wall s, by cell key (see cell_keys)
    cell_cpu_seconds: dict[str, float | None] = field(default_factory=dict)


def kernel_environment(workdir: Path) -> dict[str, str]:
    """Student code's environment: pinned threads, no grader settings or secrets, a home it may write to."""
    kept = ("PATH", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "COURSE_DATA_DIR", "COURSE_CACHE_DIR",
            "COURSE_IMDB_SOURCE", "COURSE_MNIST_SOURCE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: v for k, v in os.environ.items() if k in kept}
    threads = str(course_config.NUM_THREADS)
    env.update(
        OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads,
        TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0", HOME=str(workdir), MPLCONFIGDIR=str(workdir),
        COURSE_CACHE_DIR=str(course_config.CACHE_DIR), COURSE_DATA_DIR=str(course_config.DATA_DIR),
    )
    return env


class LimitedOutputClient(NotebookClient):
    """nbclient that keeps at most `output_limit` bytes of each cell's messages, of every type
    (stream, display data and its updates, results, errors, comm messages). A single message over
    MAX_MESSAGE_BYTES never reaches here: the client's sockets refuse it (see sandbox/kernel_manager.py)."""

    output_limit = course_config.MAX_OUTPUT_BYTES_PER_CELL

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output_bytes: dict[int, int] = {}
        self.truncated: set[int] = set()

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] not in ("status", "execute_input"):
            used = self.output_bytes.get(cell_index, 0) + len(json.dumps(msg.get("content", {}), default=str))
            self.output_bytes[cell_index] = used
            if used > self.output_limit:
                if cell_index not in self.truncated:
                    self.truncated.add(cell_index)
                    note = f"\n[output cut by the grader after {self.output_limit} bytes]\n"
                    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
                return None
        return super().process_message(msg, cell, cell_index)


class _EventLoop:
    """One asyncio loop in a thread, so that synchronous checks can drive the async kernel client
    (and so grading also works where a loop is already running, as in nbgrader's formgrader)."""

    _loop: asyncio.AbstractEventLoop | None = None
    _lock = threading.Lock()

    @classmethod
    def run(cls, coroutine):
        with cls._lock:
            if cls._loop is None:
                cls._loop = asyncio.new_event_loop()
                threading.Thread(target=cls._loop.run_forever, daemon=True, name="kernel-loop").start()
        return asyncio.run_coroutine_threadsafe(coroutine, cls._loop).result()


def cell_keys(notebook: nbformat.NotebookNode) -> list[str | None]:
    """A name for each cell that survives students adding cells elsewhere: its nbgrader grade id,
    or the nearest grade id above it and how far below it is ("imports+2"). None for markdown."""
    keys, anchor, offset = [], "start", 0
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            anchor, offset = grade_id, 0
        else:
            offset += 1
        keys.append((grade_id or f"{anchor}+{offset}") if cell.cell_type == "code" else None)
    return keys


class KernelSession:
    """A sandboxed kernel for one submission: run its notebook, then call its functions."""

    def __init__(self, notebook: nbformat.NotebookNode, folder: Path, label: str = "submission"):
        self.notebook = notebook
        self.box = namespaces.Box.create(folder, label)
        self.arguments = ArgumentWriter(self.box.inputs)
        # Seeds of student code come from a random key of this session's: the kernel sees every
        # seed, and nothing it sees can lead back to the course's check seed (issue 20).
        self._seed_key = secrets.token_bytes(32)
        self.hung: dict[str, str] = {}  # function -> why it is not called again
        self.fresh_kernel_problems: list[str] = []
        self.memory_exceeded = False
        self.peak_memory_bytes = 0
        self.client: LimitedOutputClient | None = None
        self.watch: MemoryWatch | None = None
        self.monitor = None  # zmq events of the output socket: a refused message disconnects it
        self.refused_messages = 0
        self.fresh_kernels = 0
        self.counts_cpu = self.box.cgroup is not None
        self.wall_factor = course_config.WALL_LIMIT_FACTOR if self.counts_cpu else speed.speed_factor()

    def usage(self) -> float:
        """The clock every limit counts: the kernel's CPU seconds, or (no cgroup here) wall seconds."""
        return self.box.cgroup.cpu_seconds if self.counts_cpu else time.monotonic()

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc) -> None:
        _EventLoop.run(self._shutdown())
        if self.box.cgroup:
            self.peak_memory_bytes = self.box.cgroup.peak_bytes
            self.memory_exceeded |= self.box.cgroup.oom_kills > 0
        self.box.close()

    async def _start(self) -> None:
        self.client = LimitedOutputClient(
            self.notebook, timeout=course_config.CALL_TIMEOUT_S, allow_errors=True, kernel_name="python3",
            interrupt_on_timeout=True, record_timing=False,
            store_widget_state=False,  # widget outputs are never kept (safe_outputs), nor their state
            kernel_manager_class=SandboxedKernelManager.in_box(self.box),
            error_on_timeout={"ename": "TimeoutError", "evalue": "ran past its time limit", "traceback": []},
            resources={"metadata": {"path": str(self.box.folder)}}, extra_arguments=KERNEL_ARGUMENTS,
        )
        self.client.km = self.client.create_kernel_manager()
        await self.client.async_start_new_kernel(env=kernel_environment(self.box.workdir), cwd=str(self.box.folder))
        await self.client.async_start_new_kernel_client()
        self.monitor = self.client.kc.iopub_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        if not self.box.cgroup:
            self.watch = MemoryWatch(self.client.km.provisioner.process.pid).__enter__()

    async def _count_refused_messages(self) -> int:
        """Messages refused since the last look (each one disconnects the output socket, which is
        then reopened)."""
        refused = 0
        while self.monitor is not None and await self.monitor.poll(0):
            await self.monitor.recv_multipart()
            refused += 1
        if refused:
            await self._reopen_output_socket()
        self.refused_messages += refused
        return refused

    async def _reopen_output_socket(self) -> None:
        """After a refusal zmq does not reconnect the output socket: open a fresh one."""
        channel = self.client.kc.iopub_channel
        channel.socket.disable_monitor()
        self.monitor.close(linger=0)
        channel.close()
        self.client.kc._iopub_channel = None
        self.monitor = self.client.kc.iopub_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        await asyncio.sleep(0.5)  # the new subscription reaches the kernel before its next output

    async def _shutdown(self) -> None:
        if self.watch:
            self.watch.__exit__()
            self.peak_memory_bytes = max(self.peak_memory_bytes, self.watch.peak_bytes)
            self.memory_exceeded |= self.watch.exceeded
            self.watch = None
        if self.client and self.client.km:
            pid = getattr(self.client.km.provisioner, "process", None)
            try:
                if self.client.kc:
                    self.client.kc.iopub_channel.socket.disable_monitor()
                    self.monitor.close(linger=0)
                    self.client.kc.stop_channels()
                    self.client.kc.context.destroy(linger=0)
                await self.client.km.shutdown_kernel(now=True)
            except Exception:  # already gone
                pass
            if pid is not None:
                kill_tree(pid.pid)
        self.monitor = None
        self.client = None

    # --- the notebook ----------------------------------------------------------------------------

    def run_notebook(self, cell_limits: dict[str, float], default_cell_limit: float, total_limit: float) -> ExecutionResult:
        """Execute every cell once (errors do not stop the run) within each cell's and the total limit."""
        return _EventLoop.run(self._run_notebook(cell_limits, default_cell_limit, total_limit))

    async def _run_notebook(self, cell_limits, default_cell_limit, total_limit) -> ExecutionResult:
        result = ExecutionResult(self.notebook)
        started = time.monotonic()
        index, counts, used = 0, (0, 0, 0), None
        wall_total = total_limit * self.wall_factor
        try:
            await self._start()
            used = self.usage()
            for index, (cell, key) in enumerate(zip(self.notebook.cells, cell_keys(self.notebook))):
                if key is None:
                    continue
                left, wall_left = total_limit - (self.usage() - used), wall_total - (time.monotonic() - started)
                if min(left, wall_left) <= 1:
                    kind = ("CPU" if left <= 1 else "wall") if self.counts_cpu else "time"
                    stop = Stop(kind, total_limit, wall_total, self.usage() - used, time.monotonic() - started)
                    result.status = "timed out"
                    result.stops.append(f"{kind} limit, notebook")
                    result.limits.append(f"{stop.describe('the notebook')} Cells from cell {index + 1} on did not run.")
                    break
                limit = min(cell_limits.get(key, default_cell_limit), left)
                counts, cell_used, cell_started = self._limit_counts(), self.usage(), time.monotonic()
                stop = await self._execute(cell, index, limit, min(limit * self.wall_factor, wall_left))
                result.cell_seconds[key] = time.monotonic() - cell_started
                result.cell_cpu_seconds[key] = self.usage() - cell_used if self.counts_cpu else None
                await self._note_limits(result, index, counts)
                if stop:
                    result.status = "timed out"
                    result.stops.append(f"{stop.kind} limit, cell {index + 1}")
                    result.limits.append(stop.describe(f"cell {index + 1}"))
                    await self._after_timeout(f"was running when cell {index + 1} was stopped", from_cell=True)
                    continue
                for output in cell.get("outputs", []):
                    if output.output_type == "error":
                        detail = f"{output.ename}: {output.evalue}".strip(": ")[:300]
                        result.errors.append(f"cell {index + 1}: {detail}")
        except DeadKernelError:
            await self._note_limits(result, index, counts)
            if result.status not in ("memory limit", "process limit") and not (self.watch and self.watch.exceeded):
                result.status = "kernel died"
                result.limits.append(f"The kernel died in cell {index + 1} (it crashed or exited); later cells did not run.")
        except Exception as error:  # the kernel could not even start
            result.status = "kernel died"
            result.limits.append(f"The kernel could not run the notebook ({type(error).__name__}).")
        if self.watch and self.watch.exceeded:
            result.status = "memory limit"
            result.limits.append(f"The kernel used more than {course_config.MEMORY_LIMIT_GB:g} GB and was stopped.")
        result.seconds = time.monotonic() - started
        if self.counts_cpu and used is not None:
            result.cpu_seconds = self.usage() - used
        result.truncated_cells = sorted(i + 1 for i in self.client.truncated) if self.client else []
        if result.truncated_cells:
            result.limits.append(f"Output of cell(s) {result.truncated_cells} was cut: more than "
                                 f"{LimitedOutputClient.output_limit} bytes.")
        if self.watch:
            self.peak_memory_bytes = max(self.peak_memory_bytes, self.watch.peak_bytes)
        dropped = safe_outputs.neutralize(result.notebook)
        if dropped:
            result.limits.append(f"Outputs of cell(s) {dropped} were not kept: the executed notebook passed its "
                                 f"{course_config.MAX_EXECUTED_NOTEBOOK_BYTES // 2**20} MB limit.")
        return result

    def _limit_counts(self) -> tuple[int, int, int]:
        cgroup = self.box.cgroup
        return (cgroup.oom_kills, cgroup.process_limit_hits, self.refused_messages) if cgroup else (0, 0, self.refused_messages)

    async def _note_limits(self, result: ExecutionResult, index: int, before: tuple[int, int, int]) -> None:
        """Name each limit the cell hit (the cgroup's counters, refused messages, a full tmpfs)."""
        await self._count_refused_messages()
        oom, processes, refused = (now - then for now, then in zip(self._limit_counts(), before))
        cell = f"cell {index + 1}"
        if oom:
            result.status = "memory limit"
            result.limits.append(f"Memory limit: the notebook's processes and files used more than "
                                 f"{course_config.MEMORY_LIMIT_GB:g} GB in {cell}; the largest process was stopped.")
        if processes:
            result.status = result.status if oom else "process limit"
            result.limits.append(f"Process limit: {cell} tried to run more than {course_config.MAX_PROCESSES} "
                                 "processes and threads at once; the extra ones were refused.")
        if refused:
            result.limits.append(f"Message limit: {cell} sent {refused} message(s) larger than "
                                 f"{course_config.MAX_MESSAGE_BYTES // 2**20} MB; they were refused unread.")
        outputs = self.notebook.cells[index].get("outputs", []) if index < len(self.notebook.cells) else []
        if any("No space left on device" in json.dumps(o) for o in outputs):
            result.limits.append(f"Disk limit: {cell} filled one of its folders ({namespaces.HOME}, /tmp or /dev/shm: "
                                 f"{course_config.SCRATCH_LIMIT_MB} MB each; its socket folder: "
                                 f"{namespaces.KERNEL_DIR_LIMIT_MB} MB).")

    # --- calls from the checks -------------------------------------------------------------------

    def call(self, name: str, args: tuple = (), kwargs: dict | None = None, *, timeout: float | None = None,
             wall_timeout: float | None = None, weights: bool = False, seed: int = 0, without: tuple[str, ...] = ()):
        """What the notebook's `name(*args, **kwargs)` returns, decoded (see wire.decode); with
        `without`, those libraries are unavailable to the call (a by-hand function). `timeout` is
        on the clock of `usage`; `wall_timeout`, the backstop, defaults to wall_factor × timeout."""
        if name in self.hung:
            return wire.StudentException("TimeoutError", self.hung[name], [])
        request = self.arguments.call_request(name, args, kwargs or {}, self.kernel_seed(seed), weights)
        if without:
            request["without"] = list(without)
        try:
            return _EventLoop.run(self._request(request, timeout or course_config.CALL_TIMEOUT_S, wall_timeout))
        except CallTimedOut as timed_out:
            self.hung[name] = f"{timed_out.stop.describe(f'`{name}`')} It is not called again."
            _EventLoop.run(self._after_timeout(f"was running when `{name}` was stopped"))
            return wire.StudentException("TimeoutError", self.hung[name], [])

    def variable(self, name: str, *, weights: bool = False, timeout: float | None = None,
                 wall_timeout: float | None = None):
        """The value of a variable the notebook left in its namespace, decoded."""
        request = {"op": "variable", "name": name, "weights": weights}
        try:
            return _EventLoop.run(self._request(request, timeout or course_config.CALL_TIMEOUT_S, wall_timeout))
        except CallTimedOut as timed_out:  # reading it ran student code (a property, say) that hangs
            _EventLoop.run(self._after_timeout(f"was running when reading `{name}` was stopped"))
            return wire.StudentException("TimeoutError", timed_out.stop.describe(f"reading `{name}`"), [])

    def kernel_seed(self, call: int) -> int:
        """The seed of the student's code for one call: a keyed hash of the call's number with this
        session's random key, so seeds seen in the kernel tell nothing about other seeds."""
        digest = hmac.new(self._seed_key, str(call).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:4], "big") % 2**31

    async def _request(self, request: dict, limit: float, wall_limit: float | None = None):
        if self.client is None or not await self._alive():
            await self._fresh_kernel()
        cell = nbformat.v4.new_code_cell(request_source(request))
        self.notebook.cells.append(cell)
        index = len(self.notebook.cells) - 1
        saved_limit = LimitedOutputClient.output_limit
        self.client.output_limit = course_config.MAX_MESSAGE_BYTES * 2
        try:
            stop = await self._execute(cell, index, limit, wall_limit)
        except DeadKernelError:
            await self._fresh_kernel()
            return wire.StudentException("KernelDied", "the kernel died during this call", [])
        finally:
            self.notebook.cells.pop()
            self.client.output_limit = saved_limit
            self.client.output_bytes.pop(index, None)
            self.client.truncated.discard(index)
        await self._count_refused_messages()
        if stop:
            raise CallTimedOut(stop)
        replies = [o.data[MIME] for o in cell.outputs if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
        if not replies:
            return wire.StudentException("NoResult", "the call sent nothing back (its output was too large, "
                                         "or the kernel's display was replaced)", [])
        try:
            return wire.decode(replies[-1], weights=request.get("weights") is True)
        except wire.WireError as error:
            return wire.StudentException("UnreadableResult", str(error), [])

    async def _alive(self) -> bool:
        try:
            return bool(self.client.kc) and await self.client.kc.is_alive()
        except Exception:
            return False

    async def _execute(self, cell, index: int, limit: float, wall_limit: float | None = None) -> Stop | None:
        """Run one cell within `limit` (on the clock of `usage`) and its wall-clock backstop;
        return what stopped it, or None. A dead kernel raises DeadKernelError, unless the grader
        killed it for ignoring its interrupt."""
        wall_limit = wall_limit or limit * self.wall_factor
        self.client.timeout = max(1, int(wall_limit))  # nbclient interrupts the cell after this
        used, started, interrupted = self.usage(), time.monotonic(), None
        task = asyncio.ensure_future(self.client.async_execute_cell(cell, index))
        while not (await asyncio.wait({task}, timeout=POLL_S))[0]:
            if not self.counts_cpu:
                continue
            if interrupted is None and self.usage() - used > limit:
                interrupted = time.monotonic()
                try:
                    await self.client.km.interrupt_kernel()
                except Exception:  # the kernel is going anyway
                    pass
            elif interrupted is not None and time.monotonic() - interrupted > INTERRUPT_GRACE_S:
                self.box.cgroup.kill()  # nbclient sees the kernel die within a second
        try:
            task.result()
        except DeadKernelError:
            if interrupted is None:
                raise
        wall = time.monotonic() - started
        cpu = self.usage() - used if self.counts_cpu else None
        if interrupted is not None:
            return Stop("CPU", limit, self.client.timeout, cpu, wall)
        if wall >= self.client.timeout:
            return Stop("wall" if self.counts_cpu else "time", limit, self.client.timeout, cpu, wall)
        return None

    async def _after_timeout(self, why: str, from_cell: bool = False) -> None:
        """The interrupted kernel: if it answers, mark the functions that were running as hung
        (they fail at once from now on); if it does not, replace it with a fresh one."""
        try:
            # Also proves the kernel answers: the grader's own few lines, so the wall clock is fair.
            names = await self._request({"op": "hung"}, PROBE_TIMEOUT_S, PROBE_TIMEOUT_S)
            for name in names if from_cell and isinstance(names, list) else []:
                if type(name) is str:
                    self.hung[name] = f"`{name}` {why}, so it is not called again."
            await self._poison()
        except CallTimedOut:
            await self._fresh_kernel()

    async def _poison(self) -> None:
        if self.hung:
            await self._request({"op": "poison", "names": self.hung}, PROBE_TIMEOUT_S)

    async def _fresh_kernel(self) -> None:
        """A new kernel with the notebook's definitions, when the first one died or hangs."""
        await self._shutdown()
        self.fresh_kernels += 1
        if self.fresh_kernels > MAX_FRESH_KERNELS:
            raise KernelUnavailable(f"The kernel died or hung {MAX_FRESH_KERNELS} times; no more calls were made.")
        try:
            await self._start()
        except Exception as error:
            raise KernelUnavailable(f"A fresh kernel could not start ({type(error).__name__}).") from None
        cells = [[i + 1, c.source] for i, c in enumerate(self.notebook.cells) if c.cell_type == "code"]
        try:
            problems = await self._request({"op": "define", "cells": cells}, course_config.CALL_TIMEOUT_S * 3)
        except CallTimedOut:
            await self._shutdown()
            await self._start()
            problems = ["Rebuilding the notebook's definitions in a fresh kernel ran past its limit."]
        if isinstance(problems, list):
            self.fresh_kernel_problems = [p for p in problems if type(p) is str][:20]
        await self._poison()
