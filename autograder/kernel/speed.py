"""How much slower this machine runs now than the one that measured the time limits.

Only where a kernel's CPU time cannot be counted (no cgroup) do the limits become wall-clock
seconds, stretched by this factor, so a busy machine does not fail an honest notebook.
"""

from __future__ import annotations

import functools
import time

# speed_probe() on the machine that measured calibration/*.timing.json (2-core Debian 12, quiet):
# 0.16-0.26 s over 5 runs, the best of three 0.16-0.18.
PROBE_REFERENCE_S = 0.17
MAX_SPEED_FACTOR = 10.0


def speed_probe() -> float:
    """Seconds of a fixed single-threaded workload (pure Python: no BLAS threads to vary)."""
    started = time.perf_counter()
    sum(i * i % 7 for i in range(2_000_000))
    return time.perf_counter() - started


@functools.lru_cache(maxsize=None)
def speed_factor() -> float:
    """How much slower this machine runs now than the calibration machine did (at least 1): the
    factor of wall-clock limits where CPU time cannot be counted. Measured once per process, when
    its first submission is graded (the best of three runs)."""
    return min(max(1.0, min(speed_probe() for _ in range(3)) / PROBE_REFERENCE_S), MAX_SPEED_FACTOR)
