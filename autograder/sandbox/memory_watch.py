"""Memory without cgroups: `MemoryWatch` samples a process tree's resident memory and kills the tree
(`kill_tree`) past the limit; `kill_tree` also ends what is left of a kernel the grader let go."""

from __future__ import annotations

import signal
import threading
import time

import psutil

import course_config


class MemoryWatch:
    """Without cgroups: kill a process tree whose resident memory passes a limit (sampled)."""

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
