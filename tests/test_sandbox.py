"""The kernel's sandbox: what it sees, what it may use, and what a report says when it is off."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import course_config
from autograder.kernel.session import KernelSession
from autograder.sandbox import namespaces
from autograder.sandbox.cgroups import Cgroup
from tests.conftest import kernel_serving

needs_sandbox = pytest.mark.skipif(not namespaces.available(), reason="needs root, bubblewrap and cgroups")

VIEW = '''
import os, course_config
def view():
    return {"root": sorted(os.listdir("/")), "checkout": sorted(os.listdir(course_config.ROOT)),
            "uid": os.getuid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "cwd": os.getcwd()}
'''


@pytest.fixture
def protections_as(monkeypatch):
    """Recompute the protections with this process pretending to be another user or machine."""
    def pretend(uid: int, has_bwrap: bool):
        monkeypatch.setattr(os, "geteuid", lambda: uid)
        real_which = namespaces.shutil.which
        monkeypatch.setattr(namespaces.shutil, "which", lambda name: None if name == "bwrap" and not has_bwrap else real_which(name))
        for cached in (namespaces.protections, namespaces._namespace_problem, Cgroup.problem):
            cached.cache_clear()
        return namespaces.off_notes()
    yield pretend
    monkeypatch.undo()
    for cached in (namespaces.protections, namespaces._namespace_problem, Cgroup.problem):
        cached.cache_clear()


def test_a_report_names_each_protection_that_is_off_and_why(protections_as):
    notes = "\n".join(protections_as(uid=1000, has_bwrap=False))
    assert "separate user (the grader runs as uid 1000, not root" in notes
    assert "namespaces (bubblewrap (bwrap) is not installed)" in notes
    assert "cgroup limits (creating cgroups needs root)" in notes


@needs_sandbox
def test_without_bubblewrap_only_the_namespaces_are_off(protections_as):
    notes = protections_as(uid=0, has_bwrap=False)
    assert len(notes) == 1 and "namespaces (bubblewrap (bwrap) is not installed)" in notes[0]


@needs_sandbox
def test_the_kernel_sees_only_what_it_needs():
    with kernel_serving(VIEW) as submission:
        view = submission.function("view")()
    assert view["uid"] == namespaces.sandbox_user()[0] and view["cwd"] == namespaces.HOME
    assert set(view["root"]) <= {"bin", "dev", "etc", "home", "lib", "lib32", "lib64", "proc", "root", "sbin",
                                 "tmp", "usr", "work", *Path(course_config.ROOT).parts[1:2]}
    assert set(view["checkout"]) <= {".venv", "labtools", "course_config.py", "build"}  # no .git, no grader
    assert max(view["pids"]) < 10  # its own pid namespace: bwrap, the kernel, its threads' helpers


@needs_sandbox
def test_a_giant_message_is_refused_before_the_grader_holds_it():
    notebook = new_notebook(cells=[new_code_cell("import sys\nsys.stdout.write('x' * 300_000_000)\nsys.stdout.flush()"),
                                   new_code_cell("print('still here')")])
    grader = psutil.Process()
    baseline, peak, done = grader.memory_info().rss, [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], grader.memory_info().rss)
            time.sleep(0.01)

    with tempfile.TemporaryDirectory() as folder, KernelSession(notebook, Path(folder)) as kernel:
        watcher = threading.Thread(target=sample)
        watcher.start()
        result = kernel.run_notebook({}, 60, 120)
        done.set()
        watcher.join()
    assert any("Message limit: cell 1" in line for line in result.limits), result.limits
    assert "still here" in str(result.notebook.cells[1].outputs)
    assert peak[0] - baseline < 100 * 2**20, (peak[0] - baseline) / 2**20  # 300 MB were sent


@needs_sandbox
def test_cpu_is_limited_to_the_kernels_quota(monkeypatch):
    """Three busy processes against a fifth of a core: throttled however busy the machine is."""
    monkeypatch.setattr(course_config, "KERNEL_CPUS", 0.2)
    spin = ("import multiprocessing, time\n"
            "def spin():\n    end = time.time() + 3\n    while time.time() < end: pass\n"
            "workers = [multiprocessing.Process(target=spin) for _ in range(3)]\n"
            "[w.start() for w in workers]; [w.join() for w in workers]")
    with tempfile.TemporaryDirectory() as folder:
        with KernelSession(new_notebook(cells=[new_code_cell(spin)]), Path(folder)) as kernel:
            kernel.run_notebook({}, 60, 120)
            stat = dict(line.split() for line in (kernel.box.cgroup.paths.get("cpu", kernel.box.cgroup.paths.get("unified"))
                                                  / "cpu.stat").read_text().splitlines())
    assert int(stat.get("nr_throttled", 0)) > 0, stat


def test_a_pip_installed_grader_is_masked_in_the_kernels_view(monkeypatch):
    """Installed into the environment the kernel sees (Gradescope), the grader's package is
    covered by an empty tmpfs."""
    import autograder

    installed = Path(sys.prefix) / "lib" / "python3.11" / "site-packages" / "autograder"
    monkeypatch.setattr(autograder, "__file__", str(installed / "__init__.py"))
    args = namespaces._bwrap(Path("/tmp/box/kernel"), Path("/tmp/box/inputs"))
    assert args[args.index(str(installed)) - 1] == "--tmpfs"
    assert args.index(str(installed)) > args.index(sys.prefix)  # mounted over the environment
