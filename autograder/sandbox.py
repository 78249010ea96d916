"""Fewer rights for student code: another user, no network, a memory cap, private grader files.

When the grader runs as root (CI, a grading server), the student's kernel, the only process that
runs student code, runs as the unprivileged `SANDBOX_USER` in a network namespace of its own
(`unshare --net`, so there is no network at all), and talks to the grader over Unix sockets. The
hidden checks, the sources, the solutions and the gradebook are made readable by their owner only.
Without root none of this is possible; the kernel then runs as the current user and each report
says so.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from jupyter_client.manager import AsyncKernelManager

import course_config


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """True when student code can run as the sandbox user without network: we are root, the tools
    and the user exist, and that user can start this Python with the course's packages (every
    folder above the checkout and the virtual environment must let others through)."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    try:
        pwd.getpwnam(course_config.SANDBOX_USER)
    except KeyError:
        return False
    probe = [*_prefix(), sys.executable, "-c", "import course_config, labtools, ipykernel"]
    try:
        return subprocess.run(probe, cwd="/", capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def sandbox_user() -> tuple[int, int]:
    entry = pwd.getpwnam(course_config.SANDBOX_USER)
    return entry.pw_uid, entry.pw_gid


def _prefix() -> list[str]:
    uid, gid = sandbox_user()
    return ["unshare", "--net", "--", "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def kernel_prefix() -> list[str]:
    return _prefix() if available() else []


def open_workdir(path: Path) -> Path:
    """A scratch folder the sandbox user can write to."""
    if available():
        os.chmod(path, 0o777)
    return path


def protect_course_files() -> None:
    """Make hidden checks, sources, solutions and the gradebook unreadable to the sandbox user."""
    if not available():
        return
    root = course_config.ROOT
    for folder in (root / "autograder" / "checks", root / course_config.SOURCE_DIR,
                   root / course_config.SOLUTION_DIR, root / course_config.SUBMITTED_DIR,
                   root / course_config.AUTOGRADED_DIR):
        if folder.is_dir():
            os.chmod(folder, 0o700)
    if (root / "gradebook.db").is_file():
        os.chmod(root / "gradebook.db", 0o600)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel started as the sandbox user, without network, over Unix sockets in `socket_dir`."""

    socket_dir = "."

    def __init__(self, **kwargs):
        if available():
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(self.socket_dir, "kernel-ipc"))
        super().__init__(**kwargs)

    @classmethod
    def in_folder(cls, folder: Path) -> type[SandboxedKernelManager]:
        """This class with its sockets in `folder` (nbclient takes a class, not an instance)."""
        return type(cls.__name__, (cls,), {"socket_dir": str(folder)})

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        if available():
            os.chmod(self.connection_file, 0o644)  # the sandbox user must read its connection file
        return await super()._async_launch_kernel(kernel_prefix() + kernel_cmd, **kw)


class MemoryWatch:
    """Kill a process tree whose resident memory passes a limit; remember that it did."""

    def __init__(self, pid: int, limit_gb: float | None = None, interval_s: float = 0.2):
        limit_gb = course_config.MEMORY_LIMIT_GB if limit_gb is None else limit_gb
        self.pid, self.limit_bytes, self.interval_s = pid, limit_gb * 2**30, interval_s
        self.peak_bytes = 0
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tree_rss(self) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            rss = self.tree_rss()
            self.peak_bytes = max(self.peak_bytes, rss)
            if rss > self.limit_bytes:
                self.exceeded = True
                kill_tree(self.pid)
                return
            time.sleep(self.interval_s)


def kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        processes = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for process in processes:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
