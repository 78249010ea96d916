"""The reference under 4× oversubscription: two graders side by side plus two busy loops per core.

Each grader's kernel trains with NUM_THREADS threads, so two of them and the loops ask for four
times the machine's cores. The grade must be the reference's full marks, as on a quiet machine:
limits count the kernel's CPU time (autograder/kernel/session.py), and its wall-clock time only stretches.

    python -m bench.busy_machine [--assignment imdb_sentiment]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import course_config
from autograder.course.samples import write_samples

GRADERS = 2
HOGS_PER_CORE = 2


@contextlib.contextmanager
def cpu_hogs(per_core: int = HOGS_PER_CORE):
    """Busy loops, `per_core` for each core, for as long as the block runs."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(per_core * (os.cpu_count() or 1))]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def run_oversubscribed(assignment: str) -> list[dict]:
    """Grade the reference GRADERS times at once beside the busy loops; each run's figures."""
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as folder:
        notebook = write_samples(assignment, Path(folder), kinds=["reference"])["reference"]
        with cpu_hogs():
            started = time.monotonic()
            results = [Path(folder) / f"results-{n}.json" for n in range(GRADERS)]
            graders = [subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(notebook), "--assignment",
                                         assignment, "--json", str(out)], stdout=subprocess.DEVNULL,
                                        cwd=course_config.ROOT) for out in results]
            exits = [grader.wait() for grader in graders]
            wall = time.monotonic() - started
        figures = []
        for out, exit_status in zip(results, exits):
            report = json.loads(out.read_text())
            figures.append({"score": report["score"], "max_score": report["max_score"], "exit_status": exit_status,
                            "notebook_cpu_s": report["extra_data"]["cpu_seconds"],
                            "notebook_wall_s": report["execution_time"], "grading_wall_s": round(wall, 1),
                            "stopped_by": report["extra_data"]["stopped_by"],
                            "failed": {test["number"]: test["output"] for test in report["tests"]
                                       if test["score"] < test["max_score"]}})
        return figures


def line(figures: list[dict]) -> str:
    runs = "; ".join(f"{f['score']:g}/{f['max_score']:g}, notebook {f['notebook_cpu_s']} CPU s, "
                     f"{f['notebook_wall_s']} s wall" for f in figures)
    return f"reference under 4× oversubscription ({GRADERS} graders + {HOGS_PER_CORE} busy loops per core): {runs}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="imdb_sentiment", choices=course_config.ASSIGNMENTS)
    args = parser.parse_args(argv)
    figures = run_oversubscribed(args.assignment)
    print(json.dumps(figures, indent=2))
    print(line(figures))
    return 0 if all(f["score"] == f["max_score"] for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
