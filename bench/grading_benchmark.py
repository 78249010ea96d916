"""Benchmark: stock `nbgrader autograde` against the course's batch grader, on one batch of IMDB labs.

    make bench    (python -m bench.grading_benchmark --out build/bench/results.json)

The same eight submissions (reference solutions with seeds 1 and 2, and six that earn part of the
points: complete with the metric mistake, the variants left undone, a syntax error in
`build_model`, only the first two functions done, the broken sample, the blank release) are graded three ways, one after the other:

1. **stock**: nbgrader's own `autograde`, one submission at a time, notebook and hidden tests in
   the student's kernel (its `Execute` step). Its hidden tests are the course's checks, run in the
   kernel (`bench/in_kernel.py`), so both runs grade the same things. nbgrader's default settings
   except the cell timeout, which is the course's (600 s): nbgrader's default, 30 s, interrupts the
   variants cell of every complete submission (`--stock-cell-timeout 30` shows it).
2. **course**: `autograder.course.batch.autograde_all`, the command instructors run.
3. **bare**: the same notebooks executed by nbclient alone (`jupyter execute`), as many side by
   side and with as many threads each as the course's workers: the cost of running the notebooks
   at all, against which the grader's overhead is measured.

4. **course, repeated**: the course's batch grader on the same batch again. The grader's own
   training runs (autograder/checks/training_cache.py) use a cache of the benchmark's own, emptied before
   step 1, so step 1 shows a batch in which several submissions share a model (the references and
   `variants_undone` build the same network) and step 4 the same batch graded again: the grader's
   seconds per submission, first and repeated. `--cache-only` runs steps 1 and 4 alone, and
   `--only NAME,...` grades part of the batch (a small run: `--cache-only --only
   reference_seed1,reference_seed2`).
5. **busy machine**: the reference graded by two graders at once beside two busy loops per core
   (4× oversubscription, `bench/busy_machine.py`): its score and CPU and wall seconds, which must
   be the full marks it gets on a quiet machine.

The sample `partial` is left out: it leaves the retraining cell undone, so the visible line
`print(results[1])` in the accuracy test cell fails, and stock nbgrader gives that cell no points
while the course's grader trains `build_model()` itself and gives them.

For each submission it prints the wall time and the peak memory of the processes that grade it
(stock: nbgrader and its kernel; course: the warm worker plus that submission's kernel; sampled
every 0.2 s), the totals and the ratios, and writes them to a JSON file. Figures depend on the machine; this prints them and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil

import course_config
from autograder.checks import grader_data, load_lab
from autograder.course.batch import autograde_all, choose_workers
from autograder.course.nbgrader_course import Course
from autograder.course.nbgrader_grading import HIDDEN_TESTS
from autograder.course.samples import make_sample, notebook_path, solution_sources
from bench import busy_machine

ASSIGNMENT = "imdb_sentiment"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SAMPLE_INTERVAL_S = 0.2
STOCK_DEFAULT_CELL_TIMEOUT_S = 30  # nbgrader's Execute.timeout
IN_KERNEL_TESTS = """### BEGIN HIDDEN TESTS
from bench.in_kernel import cell_points
cell_points({assignment!r}, {cell!r}, globals())
### END HIDDEN TESTS"""


def submissions(references: int) -> dict[str, nbformat.NotebookNode]:
    """name -> notebook: reference solutions with seeds 1..n, then six that earn fewer points."""
    batch = {}
    for seed in range(1, references + 1):
        batch[f"reference_seed{seed}"] = _edited("reference", "train_20_epochs", "", f"keras.utils.set_random_seed({seed})\n")
    batch["accuracy_metric"] = _edited("reference", "build_model", 'metrics=["accuracy"]', "metrics=[keras.metrics.Accuracy()]")
    batch["variants_undone"] = _edited("reference", "variants", None, None)
    batch["build_model_typo"] = _edited("reference", "build_model", "def build_model():", "def build_model()")
    batch["first_two_done"] = _edited("blank", "", None, None, fill=("decode_review", "vectorize_sequences"))
    batch["broken"] = make_sample(ASSIGNMENT, "broken")
    batch["blank"] = make_sample(ASSIGNMENT, "blank")
    return batch


def _edited(kind: str, grade_id: str, old: str | None, new: str | None, fill=()) -> nbformat.NotebookNode:
    """A sample with one cell edited: `old` replaced by `new` ("" prepends), or None: the released stub;
    the cells in `fill` get the reference solution."""
    notebook = make_sample(ASSIGNMENT, kind)
    release = make_sample(ASSIGNMENT, "blank")
    solutions = solution_sources(ASSIGNMENT)
    for cell, released in zip(notebook.cells, release.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") in fill:
            cell.source = solutions[cell.metadata["nbgrader"]["grade_id"]]
        elif cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            if old is None:
                cell.source = released.source
            elif old == "":
                cell.source = new + cell.source
            else:
                assert old in cell.source, f"{old!r} not in {grade_id}"
                cell.source = cell.source.replace(old, new, 1)
    return notebook


class PeakMemory:
    """Peak RSS of each submission's processes, sampled; `trees` yields (submission, bytes) pairs."""

    def __init__(self, trees):
        self.trees = trees  # this process -> (submission, RSS of its processes) for each one running
        self.peaks: dict[str, int] = defaultdict(int)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()

    def _sample(self):
        me = psutil.Process()
        while not self.stopped.wait(SAMPLE_INTERVAL_S):
            for key, rss in list(self.trees(me)):
                self.peaks[key] = max(self.peaks[key], rss)

    def gib(self, key: str) -> float:
        return round(self.peaks.get(key, 0) / 2**30, 2)


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _tree_rss(process: psutil.Process) -> int:
    try:
        return sum(_rss(p) for p in [process, *process.children(recursive=True)])
    except psutil.Error:
        return 0


def child_trees(key_of):
    """(submission, tree RSS) for each child process whose command line names a submission."""

    def trees(me: psutil.Process):
        for child in me.children():
            try:
                key = key_of(child.cmdline())
            except psutil.Error:
                continue
            if key is not None:
                yield key, _tree_rss(child)

    return trees


def worker_trees(me: psutil.Process):
    """A warm worker serves one submission at a time: its own memory plus that submission's kernel
    (found by the kernel's working folder, autograder-<student>-*/work)."""
    for worker in me.children():
        try:
            if "autograder.course.worker" not in worker.cmdline():
                continue
            own = _rss(worker)
            for kernel in worker.children():
                student = _student_of_folder(kernel.cwd())
                if student:
                    yield student, own + _tree_rss(kernel)
        except psutil.Error:
            continue


def _student_of_folder(cwd: str) -> str | None:
    folder = Path(cwd).parent.name
    return folder.split("-")[1] if folder.startswith("autograder-") and folder.count("-") >= 2 else None


def _student_of(cmdline: list[str]) -> str | None:
    return cmdline[cmdline.index("--student") + 1] if "--student" in cmdline[:-1] else None


def _notebook_folder_of(cmdline: list[str]) -> str | None:
    notebooks = [arg for arg in cmdline if arg.endswith(".ipynb")]
    return Path(notebooks[0]).parent.parent.name if notebooks else None  # <student>/<lab>/<lab>.ipynb


def write_submissions(batch: dict, submitted: Path) -> None:
    for name, notebook in batch.items():
        folder = submitted / name / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / NOTEBOOK)


def gradebook_scores(db_url: str, students) -> dict[str, float | None]:
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(db_url) as gradebook:
        for student in students:
            try:
                scores[student] = gradebook.find_submission(ASSIGNMENT, student).score
            except MissingEntry:
                scores[student] = None
    return scores


# --- stock nbgrader ------------------------------------------------------------------------------


def stock_source() -> nbformat.NotebookNode:
    """The lab's source notebook with the course's checks as in-kernel hidden tests."""
    source = nbformat.read(notebook_path(course_config.SOURCE_DIR, ASSIGNMENT), as_version=4)
    for cell in source.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade") and cell.cell_type == "code":
            block = IN_KERNEL_TESTS.format(assignment=ASSIGNMENT, cell=grading["grade_id"])
            cell.source = HIDDEN_TESTS.sub("", cell.source).rstrip() + "\n" + block
    return source


def run_stock(batch: dict, root: Path, cell_timeout: int) -> dict:
    root = root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "stock-benchmark"\n')
    nbformat.write(stock_source(), root / "source" / ASSIGNMENT / NOTEBOOK)
    # The in-kernel tests import the course's code; TensorFlow's C++ log lines on stderr would
    # zero a test cell (nbgrader gives no points to a cell that wrote to stderr).
    # No training cache: stock nbgrader trains every model again (and its kernel is not sandboxed).
    env = {**os.environ, "PYTHONPATH": str(course_config.ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "COURSE_TRAINING_CACHE_DIR": ""}

    def nbgrader(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                              capture_output=True, text=True)

    generated = nbgrader("generate_assignment", ASSIGNMENT, "--force")
    if generated.returncode != 0:
        raise RuntimeError(f"stock generate_assignment failed:\n{generated.stderr[-2000:]}")
    write_submissions(batch, root / "submitted")
    extra = [f"--Execute.timeout={cell_timeout}"] if cell_timeout != STOCK_DEFAULT_CELL_TIMEOUT_S else []
    seconds, failed = {}, {}
    started = time.monotonic()
    with PeakMemory(child_trees(_student_of)) as memory:
        for student in batch:
            print(f"  stock: {student} ...", flush=True)
            began = time.monotonic()
            result = nbgrader("autograde", ASSIGNMENT, "--student", student, "--force", *extra)
            seconds[student] = round(time.monotonic() - began, 1)
            if result.returncode != 0:
                failed[student] = result.stderr.strip().splitlines()[-1][:200] if result.stderr.strip() else "failed"
    total = time.monotonic() - started
    scores = gradebook_scores(f"sqlite:///{root / 'gradebook.db'}", batch)
    return _run_figures(total, batch, scores, seconds, memory, failed, settings=extra or ["nbgrader defaults"])


# --- the course's batch grader -------------------------------------------------------------------


def run_course(batch: dict, root: Path) -> dict:
    root = root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR / ASSIGNMENT,
                    root / course_config.SOURCE_DIR / ASSIGNMENT)
    course = Course(root, exchange=root / "exchange")
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    write_submissions(batch, root / course_config.SUBMITTED_DIR)
    started = time.monotonic()
    with PeakMemory(worker_trees) as memory:
        results = autograde_all(course, ASSIGNMENT)
    total = time.monotonic() - started
    seconds = {r.student: round(r.seconds, 1) for r in results}
    failed = {r.student: r.detail for r in results if r.status != "graded"}
    scores = gradebook_scores(course.db_url, batch)
    figures = _run_figures(total, batch, scores, seconds, memory, failed, settings=["course settings"])
    for r in results:
        figures["submissions"][r.student]["grader_cpu_seconds"] = round(r.grader_cpu_seconds or 0, 1)
    return figures


def cache_figures(first: dict, repeated: dict) -> dict:
    """Each submission's grader seconds (CPU of its worker, and wall) with the training cache cold
    (first) and warm (repeated)."""
    rows = {name: {"grader_cpu_seconds": [first["submissions"][name]["grader_cpu_seconds"],
                                          repeated["submissions"][name]["grader_cpu_seconds"]],
                   "seconds": [first["submissions"][name]["seconds"], repeated["submissions"][name]["seconds"]],
                   "same_score": first["submissions"][name]["score"] == repeated["submissions"][name]["score"]}
            for name in first["submissions"]}
    cpu = [row["grader_cpu_seconds"] for row in rows.values()]
    return {"submissions": rows, "mean_grader_cpu_seconds": [round(sum(c[i] for c in cpu) / len(cpu), 1) for i in (0, 1)]}


def cache_report(figures: dict) -> list[str]:
    cache = figures["training_cache"]
    rows = ", ".join(f"{name} {row['grader_cpu_seconds'][0]} → {row['grader_cpu_seconds'][1]}"
                     for name, row in cache["submissions"].items())
    first, repeated = cache["mean_grader_cpu_seconds"]
    return [f"training cache: the grader's CPU seconds per submission, first (cache emptied) → repeated: {rows}; "
            f"mean {first} → {repeated}; same scores: {all(r['same_score'] for r in cache['submissions'].values())}"]


# --- bare execution ------------------------------------------------------------------------------


def run_bare(batch: dict, root: Path, workers: int, threads: int) -> dict:
    root = root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    write_submissions(batch, root)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
           "TF_NUM_INTEROP_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2"}
    seconds = {}

    def execute(student: str) -> None:
        began = time.monotonic()
        notebook = root / student / ASSIGNMENT / NOTEBOOK
        subprocess.run([sys.executable, "-m", "jupyter", "execute", "--allow-errors",
                        f"--timeout={course_config.CELL_TIMEOUT_S}", str(notebook)],
                       cwd=notebook.parent, env=env, capture_output=True)
        seconds[student] = round(time.monotonic() - began, 1)

    started = time.monotonic()
    with PeakMemory(child_trees(_notebook_folder_of)) as memory, ThreadPoolExecutor(workers) as pool:
        list(pool.map(execute, batch))
    total = time.monotonic() - started
    return _run_figures(total, batch, {}, seconds, memory, {}, settings=[f"{workers} side by side × {threads} threads"])


def _run_figures(total, batch, scores, seconds, memory: PeakMemory, failed, settings) -> dict:
    return {
        "settings": settings,
        "total_seconds": round(total, 1),
        "peak_memory_gib_max": max((memory.gib(s) for s in batch), default=0.0),
        "submissions": {s: {"score": scores.get(s), "seconds": seconds.get(s), "peak_memory_gib": memory.gib(s),
                            **({"failed": failed[s]} if s in failed else {})} for s in batch},
    }


# --- report --------------------------------------------------------------------------------------


def report(figures: dict) -> str:
    stock, course, bare = figures["stock"], figures["course"], figures["bare"]
    lines = [f"{'submission':<18} {'stock: score':>12} {'s':>6} {'GiB':>5}   {'course: score':>13} {'s':>6} "
             f"{'GiB':>5}   {'bare: s':>7} {'GiB':>5}  same points"]
    for name in stock["submissions"]:
        a, b, c = (run["submissions"][name] for run in (stock, course, bare))
        lines.append(f"{name:<18} {_score(a['score']):>12} {a['seconds']:>6} {a['peak_memory_gib']:>5}   "
                     f"{_score(b['score']):>13} {b['seconds']:>6} {b['peak_memory_gib']:>5}   "
                     f"{c['seconds']:>7} {c['peak_memory_gib']:>5}  {'yes' if a['score'] == b['score'] else 'NO'}")
    ratios = figures["ratios"]
    cpu = {name: run["grader_cpu_seconds"] for name, run in course["submissions"].items()}
    lines += [
        "",
        "the course grader's own CPU seconds per submission (its worker process, kernel not counted): "
        + ", ".join(f"{name} {seconds}" for name, seconds in cpu.items()),
        "",
        f"total wall time: stock {stock['total_seconds']} s ({', '.join(stock['settings'])}), "
        f"course {course['total_seconds']} s, bare execution {bare['total_seconds']} s ({bare['settings'][0]})",
        f"stock / course: {ratios['stock_over_course']}× (target ≥ 2.0)",
        f"course / bare execution: {ratios['course_over_bare']}× (target ≤ 1.10)",
        f"peak memory of one submission: stock {stock['peak_memory_gib_max']} GiB, course "
        f"{course['peak_memory_gib_max']} GiB (target ≤ 2.5 GB = 2.33 GiB), bare {bare['peak_memory_gib_max']} GiB",
        f"grades identical: {figures['grades_identical']}",
        *cache_report(figures),
        *([busy_machine.line(figures["oversubscribed"])] if "oversubscribed" in figures else []),
    ]
    return "\n".join(lines)


def _score(score) -> str:
    return "-" if score is None else f"{score:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--references", type=int, default=2, help="reference submissions (seeds 1..n)")
    parser.add_argument("--stock-cell-timeout", type=int, default=course_config.CELL_TIMEOUT_S,
                        help=f"seconds per cell for stock nbgrader (the course's: {course_config.CELL_TIMEOUT_S}; "
                             f"nbgrader's default: {STOCK_DEFAULT_CELL_TIMEOUT_S})")
    parser.add_argument("--root", type=Path, default=course_config.ROOT / "build" / "bench")
    parser.add_argument("--out", type=Path, default=course_config.ROOT / "build" / "bench" / "results.json")
    parser.add_argument("--cache-only", action="store_true",
                        help="only the course's grader, twice: the training cache's effect")
    parser.add_argument("--only", default="", help="grade only these submissions (comma-separated names)")
    args = parser.parse_args(argv)

    problem = grader_data.prepare(load_lab(ASSIGNMENT).data)  # the data caches all three runs read
    if problem:
        print(problem)
        return 1
    batch = submissions(args.references)
    if args.only:
        batch = {name: batch[name] for name in args.only.split(",")}
    # The grader's training cache: the benchmark's own, empty at the start (its workers inherit it).
    cache = args.root.resolve() / "training_cache"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["COURSE_TRAINING_CACHE_DIR"] = course_config.TRAINING_CACHE_DIR = str(cache)
    workers = choose_workers(course_config.BATCH_WORKERS, len(batch))
    threads = max(1, (os.cpu_count() or 1) // workers)
    print(f"{len(batch)} submissions of {ASSIGNMENT}; {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB memory")
    figures = {"machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)}}
    print("\n1/5 course batch grader (training cache empty)")
    figures["course"] = run_course(batch, args.root / "course")
    if args.cache_only:
        print("\n2/2 course batch grader again (training cache warm)")
        figures["training_cache"] = cache_figures(figures["course"], run_course(batch, args.root / "course_repeated"))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
        print("\n" + "\n".join(cache_report(figures)) + f"\n\nFigures: {args.out}")
        return 0
    print("\n2/5 bare execution")
    figures["bare"] = run_bare(batch, args.root / "bare", workers, threads)
    print("\n3/5 stock nbgrader autograde")
    figures["stock"] = run_stock(batch, args.root / "stock", args.stock_cell_timeout)
    print("\n4/5 course batch grader again (training cache warm)")
    figures["training_cache"] = cache_figures(figures["course"], run_course(batch, args.root / "course_repeated"))
    print("\n5/5 the reference under 4× oversubscription (bench/busy_machine.py)")
    figures["oversubscribed"] = busy_machine.run_oversubscribed(ASSIGNMENT)
    figures["ratios"] = {
        "stock_over_course": round(figures["stock"]["total_seconds"] / figures["course"]["total_seconds"], 2),
        "course_over_bare": round(figures["course"]["total_seconds"] / figures["bare"]["total_seconds"], 2),
    }
    figures["grades_identical"] = all(
        figures["stock"]["submissions"][s]["score"] == figures["course"]["submissions"][s]["score"] for s in batch
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print("\n" + report(figures))
    print(f"\nFigures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
