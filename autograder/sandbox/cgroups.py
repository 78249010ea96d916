"""cgroups: the one module that knows their file layouts (v1: a hierarchy per controller; v2: one
unified hierarchy), for what a submission may use and for what the grader itself may use.

- `Cgroup`: one per submission, below the grader's own cgroup (limits of a container apply to
  children), counting every process and tmpfs page of its kernel: memory, number of processes, CPU
  quota (`KERNEL_CPUS` cores) and the CPU time used (what the time limits count, see kernel/session.py).
- `memory_limit_bytes`, `usable_memory_gb`, `cpu_quota`, `cpu_count`: what this process may use.
  A container (Gradescope, Docker, CI) is limited through its cgroup, which psutil and
  os.cpu_count() do not see: they report the host's memory and cores. A limit may sit on any
  ancestor of the process's own cgroup, and inside a container the path in /proc/self/cgroup may not
  exist under the mount (Docker on v1 mounts the container's own cgroup as the hierarchy's root), so
  every folder from the own cgroup up to the mount's root is read and the smallest limit wins. They
  take `root`, the file system's root, so that tests can hand them fake cgroup files.
"""

from __future__ import annotations

import functools
import math
import os
import shlex
import signal
import time
import uuid
from pathlib import Path

import psutil

import course_config

MOUNT = Path("sys/fs/cgroup")  # below the file system's root
# (v1 controller, v1 file, v2 file) for each reading and limit
FILES = {
    "memory.limit": ("memory", "memory.limit_in_bytes", "memory.max"),
    "memory.swap": ("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"),
    "memory.peak": ("memory", "memory.max_usage_in_bytes", "memory.peak"),
    "memory.events": ("memory", "memory.oom_control", "memory.events"),
    "pids.max": ("pids", "pids.max", "pids.max"),
    "pids.events": ("pids", "pids.events", "pids.events"),
    "cpu.quota": ("cpu", "cpu.cfs_quota_us", "cpu.max"),  # v1: the period is in cpu.cfs_period_us
    "cpu.usage": ("cpuacct", "cpuacct.usage", "cpu.stat"),  # v1 nanoseconds, v2 usage_usec
}
# cgroup v1 writes "no limit" as 2**63 - 1 rounded down to a page; anything this large is none.
_V1_UNLIMITED = 2**62


def is_v2(root: Path = Path("/")) -> bool:
    return (root / MOUNT / "cgroup.controllers").exists()


def own_cgroups(root: Path, controller: str) -> list[tuple[Path, Path]]:
    """(the hierarchy's mount, this process's cgroup folder in it) for each hierarchy that holds
    `controller` (v1), or for the unified one (v2), as /proc/self/cgroup lists them."""
    mount, v2 = root / MOUNT, is_v2(root)
    try:
        lines = (root / "proc" / "self" / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    found = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if v2 and controllers == "":
            bases = [mount]
        elif not v2 and controller in controllers.split(","):
            bases = [mount / controller, mount / controllers]  # "cpu" or "cpu,cpuacct"
        else:
            continue
        base = next((b for b in bases if b.is_dir()), None)
        if base is not None:
            found.append((base, base / path.lstrip("/")))
    return found


# --- a submission's cgroup -----------------------------------------------------------------------


class Cgroup:
    """A cgroup for one submission: memory (tmpfs pages included), number of processes, CPU.
    v1 (a hierarchy per controller) or v2 (one unified hierarchy), below the grader's own cgroup."""

    def __init__(self, label: str):
        self.v2 = is_v2()
        name = f"autograder-{label}-{uuid.uuid4().hex[:8]}"
        controllers = ["unified"] if self.v2 else ["memory", "pids", "cpu", "cpuacct"]
        self.paths = {c: self._own(c) / name for c in controllers}  # cpu and cpuacct may share one
        try:
            for path in self.folders:
                path.mkdir()
            self._set_limits()
        except OSError:
            self.remove()
            raise

    def _set_limits(self) -> None:
        memory = int(course_config.MEMORY_LIMIT_GB * 2**30)
        self._write("memory.limit", memory)
        self._write("memory.swap", 0 if self.v2 else memory, required=False)  # no swapping past the limit
        self._write("pids.max", course_config.MAX_PROCESSES)
        period = 100_000
        quota = int(course_config.KERNEL_CPUS * period)
        self._write("cpu.quota", f"{quota} {period}" if self.v2 else quota)

    @classmethod
    @functools.lru_cache(maxsize=None)
    def problem(cls) -> str | None:
        """Why per-submission cgroups cannot be made here, or None."""
        if os.geteuid() != 0:
            return "creating cgroups needs root"
        try:
            Cgroup("probe").remove()
        except (OSError, ValueError) as error:
            return f"no writable cgroup for memory, pids, cpu and cpuacct ({error})"
        return None

    @property
    def folders(self) -> list[Path]:
        return list(dict.fromkeys(self.paths.values()))

    def _own(self, controller: str) -> Path:
        """The grader's own cgroup in that hierarchy (limits of a container apply to children)."""
        for _, folder in own_cgroups(Path("/"), controller):
            return folder
        raise ValueError(f"the grader is in no {controller} cgroup")

    def _file(self, key: str) -> Path:
        controller, v1, v2 = FILES[key]
        return self.paths["unified"] / v2 if self.v2 else self.paths[controller] / v1

    def _write(self, key: str, value, required: bool = True) -> None:
        try:
            self._file(key).write_text(str(value))
        except OSError:
            if required:
                raise

    def _read_number(self, key: str, field: str | None = None) -> int:
        try:
            text = self._file(key).read_text()
        except OSError:
            return 0
        if field is None:
            return int(text.strip()) if text.strip().isdigit() else 0
        for line in text.splitlines():
            if line.split()[:1] == [field]:
                return int(line.split()[1])
        return 0

    def enter_command(self) -> list[str]:
        """A prefix that moves the process into this cgroup, then execs the rest of the command."""
        joins = " && ".join(f"echo $$ > {shlex.quote(str(p / 'cgroup.procs'))}" for p in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh"]

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every process that ran in this cgroup, exited ones included."""
        if self.v2:
            return self._read_number("cpu.usage", "usage_usec") / 1e6
        return self._read_number("cpu.usage") / 1e9

    @property
    def peak_bytes(self) -> int:
        return self._read_number("memory.peak")

    @property
    def oom_kills(self) -> int:
        return self._read_number("memory.events", "oom_kill")

    @property
    def process_limit_hits(self) -> int:
        return self._read_number("pids.events", "max")

    def pids(self) -> set[int]:
        found = set()
        for path in self.folders:
            try:
                found |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def kill(self) -> None:
        """SIGKILL every process in it (once: some may be starting)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def remove(self) -> None:
        """Kill whatever is left in it, then remove it."""
        for _ in range(50):
            if not self.pids():
                break
            self.kill()
            time.sleep(0.1)
        for path in self.folders:
            try:
                path.rmdir()
            except OSError:
                pass


# --- what the grader may use ---------------------------------------------------------------------


def memory_limit_bytes(root: Path = Path("/")) -> int | None:
    """The cgroup memory limit of this process, or None when there is none."""
    limits = []
    for text in _read_up(root, "memory.limit"):
        if text.isdigit() and int(text) < _V1_UNLIMITED:
            limits.append(int(text))
    return min(limits, default=None)


def usable_memory_gb(root: Path = Path("/")) -> float:
    """Memory this process's tree may use: the cgroup limit, or the machine's memory if smaller."""
    limit = memory_limit_bytes(root)
    total = psutil.virtual_memory().total
    return min(total, limit if limit is not None else total) / 2**30


def cpu_quota(root: Path = Path("/")) -> float | None:
    """The cgroup CPU quota in cores (0.5 = half a core), or None when there is none."""
    quotas = []
    for text in _read_up(root, "cpu.quota"):
        fields = text.split()
        if len(fields) == 2:  # v2: "<quota> <period>" or "max <period>"
            quota, period = fields
        else:  # v1: the quota alone (-1: none); the period is in the file beside it
            quota, period = fields[0] if fields else "-1", "100000"
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            quotas.append(int(quota) / int(period))
    return min(quotas, default=None)


def cpu_count(root: Path = Path("/")) -> int:
    """Cores this process may use: its CPU affinity, capped by the cgroup quota (rounded up)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota(root)
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def _read_up(root: Path, key: str) -> list[str]:
    """The file `key` names (FILES) in the process's own cgroup and each ancestor that has it."""
    controller, v1_file, v2_file = FILES[key]
    v2 = is_v2(root)
    texts = []
    for base, folder in own_cgroups(root, controller):
        for candidate in [folder, *folder.parents]:
            if base in candidate.parents or candidate == base:
                texts += _contents(candidate, v2_file if v2 else v1_file, key == "cpu.quota" and not v2)
    return texts


def _contents(folder: Path, name: str, v1_cpu: bool) -> list[str]:
    try:
        text = (folder / name).read_text().strip()
    except OSError:
        return []
    if v1_cpu:  # join the v1 quota with its period, as v2 writes them
        try:
            text = f"{text} {(folder / 'cpu.cfs_period_us').read_text().strip()}"
        except OSError:
            pass
    return [text]
