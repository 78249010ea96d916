"""Gradescope: the autograder zip, and the steps its setup.sh and run_autograder run.

Gradescope unpacks the zip into /autograder/source and runs setup.sh once, as root, when it builds
the image (with internet); then, for each submission (in /autograder/submission), run_autograder,
which must leave /autograder/results/results.json before the assignment's timeout.

Settings to choose on the assignment's pages (README, *Gradescope*):
- **Base image**: Ubuntu 22.04, variant *Base* (Gradescope's default). Its python3 is 3.10 and
  requirements.txt is pinned for 3.11, so setup.sh installs python3.11 (apt where the image has it,
  else the deadsnakes PPA, else a standalone build through uv); any image works that way.
- **Timeout**: the `--timeout-minutes` the zip was built with (default 40, Gradescope's maximum).
  run_autograder fits the notebook's limit into it and stops grading `END_MARGIN_S` before it, so
  every submission gets a result per check.
- **CPU and memory**: at least 1 CPU and 6 GB (the IMDB reference: 2.35 GB for the grader and
  1.95 GB for the kernel). The kernel's memory limit is the container's memory less the grader's
  share, its threads the container's CPUs (`sandbox/cgroups.py`).

The lab's data travel in the zip (`data/`) and setup.sh builds their caches, so no submission
waits for them; both scripts force the archive source (COURSE_*_SOURCE=archive) so that grader and
sandboxed kernel, which has no network, read the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import course_config
from autograder.checks import load_lab
from autograder.grading import timing

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# The grader and what it needs (the lab's release: tamper detection compares with it); tests,
# sources and solutions stay behind.
PACKAGE_DIRS = ["autograder", "labtools"]
PACKAGE_FILES = ["course_config.py", "pyproject.toml", "requirements.txt"]
DEFAULT_TIMEOUT_MINUTES = 40  # Gradescope's maximum; its default is 10
DEFAULT_CPUS = 0.5  # Gradescope's default container

# Measured grading the real IMDB reference with run_autograder as root at /autograder on a 2-core
# machine (sandbox on), twice: wall 197 and 177 s = notebook 163 and 144 s + checks 28 and 26 s
# (the calibration's 24 s) + 6-7 s outside both (Python start, the check table, results.json;
# the `limits` and `fallback` steps take 0.1 s each).
# Seconds of a run outside the notebook and the checks: the 7 s measured, with room for a slower CPU.
STARTUP_S = 60
# Grading is stopped this long before Gradescope's timeout: `timeout` kills the grader 10 s after
# asking it to stop, the fallback results.json takes 0.1 s, and Gradescope's own start and upload,
# which we cannot see, get the rest.
END_MARGIN_S = 60
# The grader's own process next to the kernel, which the kernel's limit must leave room for: peak
# RSS 2.35 GB in both runs (1.5 GB anonymous; the rest TensorFlow's libraries and the lab's
# memory-mapped arrays). The kernel's tree peaked at 1.95 GB RSS (1.62 GB in its cgroup).
GRADER_MEMORY_GB = 2.5
# Never below this, whatever the container: a kernel that imports TensorFlow holds 0.57 GB.
MIN_KERNEL_MEMORY_GB = 1.0


def build_autograder_zip(assignment: str, out: Path, timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES,
                         cpus: float = DEFAULT_CPUS) -> Path:
    """The zip for one lab; refuses a timeout Gradescope does not offer or the lab's calibrated
    limits do not fit in."""
    if not 1 <= timeout_minutes <= DEFAULT_TIMEOUT_MINUTES:
        raise ValueError(f"Gradescope's timeout is 1 to {DEFAULT_TIMEOUT_MINUTES} minutes, not {timeout_minutes}.")
    if not cpus > 0:
        raise ValueError(f"the container's CPUs must be more than 0, not {cpus:g}.")
    needed = minimum_timeout_minutes(assignment, cpus)
    if timeout_minutes < needed:
        raise ValueError(f"{assignment} needs a Gradescope timeout of at least {needed} minutes at {cpus:g} CPU, "
                         f"not {timeout_minutes}" + (" (give it 1 CPU)" if cpus < 1 else ""))
    data = lab_data_files(assignment)
    out.parent.mkdir(parents=True, exist_ok=True)
    fill = {"{assignment}": assignment, "{notebook}": f"{assignment}.ipynb", "{timeout_minutes}": str(timeout_minutes),
            "{release}": course_config.RELEASE_DIR}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for script in ("setup.sh", "run_autograder"):
            text = (TEMPLATES / f"gradescope_{script}").read_text()
            for key, value in fill.items():
                text = text.replace(key, value)
            _add(archive, script, text)
        for name in PACKAGE_FILES:
            archive.write(course_config.ROOT / name, name)
        if timing.timing_path(assignment).is_file():  # the lab's calibrated time limits
            archive.write(timing.timing_path(assignment), timing.timing_path(assignment).relative_to(course_config.ROOT))
        for folder in [*PACKAGE_DIRS, f"{course_config.RELEASE_DIR}/{assignment}"]:
            for path in sorted((course_config.ROOT / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(course_config.ROOT))
        for path in data:  # already compressed
            archive.write(path, Path("data") / path.relative_to(course_config.DATA_DIR), zipfile.ZIP_STORED)
    return out


def lab_data_files(assignment: str) -> list[Path]:
    """The data files the lab reads (from course_config.DATA_DIR), which the zip carries."""
    from autograder.checks.grader_data import DATASETS

    name = load_lab(assignment).data
    if name is None:
        return []
    dataset = DATASETS[name]
    path = dataset.files()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"{assignment}'s data is not at {path}: set COURSE_DATA_DIR to the folder that holds it")
    return files


def check_budget_s(assignment: str) -> float:
    """CPU seconds the checks may take: the grader's own budgets for the calls of the student's code
    and for its training of the student's models (timing.py)."""
    limits = timing.limits(assignment)
    return limits.calls + limits.training_cpu


def slowdown_of(cpu_quota: float | None) -> float:
    """How much longer a CPU second takes in wall-clock time under a quota under one CPU."""
    return 1 / cpu_quota if cpu_quota and cpu_quota < 1 else 1.0


def minimum_timeout_minutes(assignment: str, cpu_quota: float | None = DEFAULT_CPUS) -> int:
    """The shortest Gradescope timeout in which the lab's limits fit, at this CPU quota (Gradescope's
    default: half a CPU)."""
    cpu_seconds = STARTUP_S + timing.limits(assignment).notebook + check_budget_s(assignment)
    return int(-(-(cpu_seconds * slowdown_of(cpu_quota) + END_MARGIN_S) // 60))


def run_limits(assignment: str, timeout_s: float, usable_memory_gb: float, cpu_quota: float | None,
               cpus: int) -> dict[str, float | int]:
    """The settings run_autograder exports (course_config reads them) for this container and timeout.

    The limits are CPU seconds, the same as everywhere (timing.py). A quota under one CPU
    (Gradescope's default is half) makes each CPU second take 1/quota wall-clock seconds: the
    notebook's ceiling is what the checks, start and margin leave of the timeout at that pace, at
    most the course's own. Where the container has no cgroups to count CPU time, the grader's
    speed probe (kernel/speed.py) stretches the wall-clock limits by the same slowdown.
    """
    slowdown = slowdown_of(cpu_quota)
    notebook = min(course_config.NOTEBOOK_TIMEOUT_S,
                   (timeout_s - END_MARGIN_S) / slowdown - STARTUP_S - check_budget_s(assignment))
    memory = min(course_config.MEMORY_LIMIT_GB, usable_memory_gb - GRADER_MEMORY_GB)
    return {
        "COURSE_NOTEBOOK_TIMEOUT_S": int(max(60, notebook)),
        "COURSE_CELL_TIMEOUT_S": int(max(60, min(course_config.CELL_TIMEOUT_S, notebook))),
        "COURSE_MEMORY_LIMIT_GB": round(max(MIN_KERNEL_MEMORY_GB, memory), 2),
        "COURSE_NUM_THREADS": cpus,
        "GRADE_DEADLINE_S": int(timeout_s - END_MARGIN_S),
    }


def write_fallback(assignment: str, out: Path, status: str, message: str) -> None:
    """Every check at zero with `message`, unless grading already wrote its results."""
    from autograder.report import GradeReport

    try:
        json.loads(out.read_text())["tests"]
        return
    except (OSError, ValueError, KeyError, TypeError):
        pass
    report = GradeReport(assignment, f"{assignment}.ipynb", load_lab(assignment).zeros(message),
                         execution_status=status, notes=[message])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_gradescope(), indent=2) + "\n")


def _add(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o755 << 16  # executable
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def main(argv: list[str] | None = None) -> int:
    """The scripts' steps: prepare (setup.sh), limits and fallback (run_autograder)."""
    parser = argparse.ArgumentParser(prog="python -m autograder.platforms.gradescope")
    parser.add_argument("step", choices=["prepare", "limits", "fallback"])
    parser.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    parser.add_argument("--timeout-minutes", type=float, default=DEFAULT_TIMEOUT_MINUTES)
    parser.add_argument("--out", type=Path, help="fallback: results.json")
    parser.add_argument("--status", default="not finished", help="fallback: the notebook's execution status")
    parser.add_argument("--message", default="", help="fallback: why no check ran")
    args = parser.parse_args(argv)
    if args.step == "prepare":
        from autograder.checks import grader_data

        problem = grader_data.prepare(load_lab(args.assignment).data)
        print(problem or f"{args.assignment}: data and caches ready in {course_config.CACHE_DIR}", file=sys.stderr)
        return 1 if problem else 0
    if args.step == "fallback":
        write_fallback(args.assignment, args.out, args.status, args.message)
        return 0
    from autograder.sandbox import cgroups

    usable = cgroups.usable_memory_gb()
    limits = run_limits(args.assignment, args.timeout_minutes * 60, usable, cgroups.cpu_quota(), cgroups.cpu_count())
    if usable - GRADER_MEMORY_GB < course_config.MEMORY_PER_SUBMISSION_GB:
        print(f"warning: this container has {usable:.1f} GB; grading the reference needs "
              f"{course_config.MEMORY_PER_SUBMISSION_GB + GRADER_MEMORY_GB:g} GB (Autograder Settings)", file=sys.stderr)
    print("\n".join(f"export {name}={value}" for name, value in limits.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
