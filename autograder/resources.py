"""What this process may use: memory and CPUs granted by its cgroup (v1 or v2) and its CPU affinity.

A container (Gradescope, Docker, CI) is limited through its cgroup, which psutil and os.cpu_count()
do not see: they report the host's memory and cores. A limit may sit on any ancestor of the
process's own cgroup, and inside a container the path in /proc/self/cgroup may not exist under the
mount (Docker on v1 mounts the container's own cgroup as the hierarchy's root), so every folder
from the own cgroup up to the mount's root is read and the smallest limit wins.

Every function takes `root`, the file system's root, so that tests can hand it fake cgroup files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import psutil

# cgroup v1 writes "no limit" as 2**63 - 1 rounded down to a page; anything this large is none.
_V1_UNLIMITED = 2**62


def memory_limit_bytes(root: Path = Path("/")) -> int | None:
    """The cgroup memory limit of this process, or None when there is none."""
    limits = []
    for text in _read_up(root, "memory", "memory.limit_in_bytes", "memory.max"):
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
    for text in _read_up(root, "cpu", "cpu.cfs_quota_us", "cpu.max"):
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


def _read_up(root: Path, controller: str, v1_file: str, v2_file: str) -> list[str]:
    """The file's contents in the process's own cgroup and each ancestor that has it (v1 or v2)."""
    mount = root / "sys" / "fs" / "cgroup"
    v2 = (mount / "cgroup.controllers").exists()
    try:
        lines = (root / "proc" / "self" / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    texts = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if v2 and controllers == "":
            bases, name = [mount], v2_file
        elif not v2 and controller in controllers.split(","):
            bases, name = [mount / controller, mount / controllers], v1_file  # "cpu" or "cpu,cpuacct"
        else:
            continue
        base = next((b for b in bases if b.is_dir()), None)
        if base is None:
            continue
        folder = base / path.lstrip("/")
        for candidate in [folder, *folder.parents]:
            if base in candidate.parents or candidate == base:
                texts += _contents(candidate, name, v1_file == "cpu.cfs_quota_us" and not v2)
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
