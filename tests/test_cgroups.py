"""Container limits read from fake cgroup files (v1 and v2), as Docker and Gradescope lay them out."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from autograder.sandbox import cgroups

GB = 2**30
CORES = len(os.sched_getaffinity(0))


def fake_root(tmp_path: Path, proc_cgroup: str, files: dict[str, str], v2: bool) -> Path:
    cgroup = tmp_path / "sys" / "fs" / "cgroup"
    cgroup.mkdir(parents=True)
    if v2:
        (cgroup / "cgroup.controllers").write_text("cpu memory pids\n")
    for name, text in files.items():
        (cgroup / name).parent.mkdir(parents=True, exist_ok=True)
        (cgroup / name).write_text(text + "\n")
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "self" / "cgroup").write_text(proc_cgroup)
    return tmp_path


def test_v2_container_with_its_own_namespace(tmp_path):
    root = fake_root(tmp_path, "0::/\n", {"memory.max": str(6 * GB), "cpu.max": "200000 100000"}, v2=True)
    assert cgroups.memory_limit_bytes(root) == 6 * GB
    assert cgroups.usable_memory_gb(root) == pytest.approx(min(6.0, psutil.virtual_memory().total / GB))
    assert cgroups.cpu_quota(root) == 2.0
    assert cgroups.cpu_count(root) == min(2, CORES)


def test_v2_limit_on_an_ancestor_and_none_below(tmp_path):
    files = {"grading/memory.max": str(3 * GB), "grading/job/memory.max": "max",
             "grading/cpu.max": "max 100000", "grading/job/cpu.max": "50000 100000"}
    root = fake_root(tmp_path, "0::/grading/job\n", files, v2=True)
    assert cgroups.memory_limit_bytes(root) == 3 * GB
    assert cgroups.cpu_quota(root) == 0.5
    assert cgroups.cpu_count(root) == 1  # half a core still runs one thread


def test_v2_unlimited(tmp_path):
    root = fake_root(tmp_path, "0::/\n", {"memory.max": "max", "cpu.max": "max 100000"}, v2=True)
    assert cgroups.memory_limit_bytes(root) is None
    assert cgroups.usable_memory_gb(root) == pytest.approx(psutil.virtual_memory().total / GB)
    assert cgroups.cpu_quota(root) is None and cgroups.cpu_count(root) == CORES


def test_v1_docker_mounts_its_own_cgroup_as_the_root(tmp_path):
    # /proc/self/cgroup names /docker/<id>, which does not exist under the container's mount.
    proc = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n"
    files = {"memory/memory.limit_in_bytes": str(4 * GB),
             "cpu,cpuacct/cpu.cfs_quota_us": "150000", "cpu,cpuacct/cpu.cfs_period_us": "100000"}
    root = fake_root(tmp_path, proc, files, v2=False)
    assert cgroups.memory_limit_bytes(root) == 4 * GB
    assert cgroups.cpu_quota(root) == 1.5
    assert cgroups.cpu_count(root) == min(2, CORES)


def test_v1_unlimited_as_this_machine_writes_it(tmp_path):
    proc = "4:memory:/process_api/4b7c\n1:cpu:/\n"
    files = {"memory/memory.limit_in_bytes": "9223372036854771712",
             "memory/process_api/4b7c/memory.limit_in_bytes": "9223372036854771712",
             "cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}
    root = fake_root(tmp_path, proc, files, v2=False)
    assert cgroups.memory_limit_bytes(root) is None
    assert cgroups.cpu_quota(root) is None


def test_no_cgroup_files_at_all(tmp_path):
    assert cgroups.memory_limit_bytes(tmp_path) is None
    assert cgroups.cpu_quota(tmp_path) is None
    assert cgroups.cpu_count(tmp_path) == CORES


def test_this_machine_answers():
    assert 0 < cgroups.usable_memory_gb() <= psutil.virtual_memory().total / GB
    assert 1 <= cgroups.cpu_count() <= CORES
