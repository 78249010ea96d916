"""Two submissions graded side by side in one batch, one attacking the other (issue 13).

The attacker's notebook spends its cells hunting for the victim's: her processes (to read, signal, kill), her
kernel's connection file and sockets, her notebook and grades anywhere it can look; it also
leaves processes and files behind and shows script to whoever opens its feedback. The victim
submits the reference with a private note in it: it must get exactly the grade it gets alone, and
nothing of it may appear in what the attacker's grading kept. Kernels run as a uid of their own
and the two students have names no other test uses, so that the grading of tests running beside
this one (other pytest workers) is not counted.
"""

from __future__ import annotations

import glob
import re
import subprocess

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

import course_config
from autograder.course.batch import autograde_all
from autograder.course.demo import new_demo_course, student_submits
from autograder.course.samples import make_sample
from autograder.grading.grade import grade_notebook
from autograder.sandbox import namespaces

pytestmark = pytest.mark.slow
ASSIGNMENT = "imdb_sentiment"
SANDBOX_UID = 64_123
VICTIM, ATTACKER = "batch-victim", "batch-attacker"
SECRET = "victim-private-note-5d1c9e"

HUNT = """
import glob, os, signal, socket, time
mine = {os.getpid(), os.getppid(), 1}
deadline = time.time() + 25
while time.time() < deadline:
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        if pid not in mine:
            try:
                command = open(f"/proc/{pid}/cmdline").read()
                os.kill(pid, signal.SIGKILL)
                if "ipykernel" in command or "autograder" in command:  # another kernel, or the grader
                    print("KILLED", pid, command)
            except OSError:
                pass
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    for path in glob.glob("/tmp/**", recursive=True) + glob.glob("/dev/shm/**", recursive=True):
        if "/kernel/" in path or not os.path.exists(path):
            continue
        if path.endswith(".json") or "ipc" in path:
            try:
                text = open(path, errors="replace").read()
                if "victim" in path or "victim-private" in text or "signature_scheme" in text:
                    print("STOLEN", path, text[:500])
            except OSError:
                pass
    time.sleep(1)
"""
LEAVE_BEHIND = """
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for folder in ("/tmp", "/dev/shm", "."):
            open(folder + "/corpus-marker-file", "w").write("left behind")
        os.execvp("sleep", ["sleep", "3600", "corpus-marker-process"])
    os._exit(0)
"""
SHOW_SCRIPT = "from IPython.display import HTML, display\ndisplay(HTML('<script>window.stolen = document.cookie</script>'))"


def attacker() -> nbformat.NotebookNode:
    notebook = make_sample(ASSIGNMENT, "blank")
    for at in (1, len(notebook.cells) // 2, len(notebook.cells)):  # three cells of 25 s, spread out
        notebook.cells.insert(at, new_code_cell(HUNT))
    notebook.cells.insert(2, new_code_cell(LEAVE_BEHIND))
    notebook.cells.insert(3, new_code_cell(SHOW_SCRIPT))
    notebook.cells.insert(4, new_markdown_cell("My answer <script>window.stolen = document.cookie</script>"))
    return notebook


def victim() -> nbformat.NotebookNode:
    notebook = make_sample(ASSIGNMENT, "reference")
    notebook.cells.insert(1, new_code_cell(f"# {SECRET}\nprint({SECRET!r})"))
    return notebook


def sandbox_processes() -> list[int]:
    return [p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == SANDBOX_UID]


def leftovers() -> set[str]:
    """Files, folders and cgroups of this batch's grading."""
    mine = ("corpus-marker", f"autograder-{VICTIM}", f"autograder-{ATTACKER}")
    found = {p for folder in ("/tmp", "/dev/shm") for p in glob.glob(folder + "/*") if any(m in p for m in mine)}
    return found | {p for p in glob.glob("/sys/fs/cgroup/**/autograder-*", recursive=True) if any(m in p for m in mine)}


@pytest.fixture(scope="module")
def batch(tiny_data_for_module, tmp_path_factory):
    if not namespaces.available():
        pytest.skip("needs the sandbox (run the grader as root with bubblewrap)")
    checkout_before = subprocess.run(["git", "status", "--porcelain"], cwd=course_config.ROOT,
                                     capture_output=True, text=True).stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_SANDBOX_USER", str(SANDBOX_UID))
        patch.setenv("COURSE_MEMORY_LIMIT_GB", "3")
        patch.setattr(course_config, "MEMORY_LIMIT_GB", 3.0)
        course = new_demo_course(tmp_path_factory.mktemp("course"))
        roster = tmp_path_factory.mktemp("roster") / "roster.csv"
        roster.write_text(f"id,first_name,last_name,email\n{VICTIM},V,Ictim,v@example.edu\n{ATTACKER},A,Ttacker,a@example.edu\n")
        course.setup(roster)
        course.generate()
        course.release()
        student_submits(course, ASSIGNMENT, VICTIM, victim())
        student_submits(course, ASSIGNMENT, ATTACKER, attacker())
        course.collect(ASSIGNMENT)
        alone, _ = grade_notebook(victim(), ASSIGNMENT, f"{ASSIGNMENT}.ipynb", VICTIM)
        # The workers send each report typed: the batch reads no autograded notebook back.
        autograded_reads, read = [], nbformat.read

        def counting_read(path, *args, **kwargs):
            if course_config.AUTOGRADED_DIR in str(path):
                autograded_reads.append(path)
            return read(path, *args, **kwargs)

        patch.setattr(nbformat, "read", counting_read)
        patch.setattr(type(course), "grade_reports", lambda *args: pytest.fail("the batch re-read the reports"))
        results = autograde_all(course, ASSIGNMENT, workers=2)
        assert autograded_reads == []
        course.feedback(ASSIGNMENT)
    checkout_after = subprocess.run(["git", "status", "--porcelain"], cwd=course_config.ROOT,
                                    capture_output=True, text=True).stdout
    return course, alone, results, checkout_before, checkout_after


def test_the_reports_arrive_typed_from_the_workers(batch):
    _, alone, results, _, _ = batch
    by_student = {result.student: result for result in results}
    assert (by_student[VICTIM].score, by_student[VICTIM].max_score) == (alone.score, alone.max_score)


def kept(course, step: str, student: str) -> str:
    """Everything kept of a student's grading at one step (autograded notebook, feedback page)."""
    folder = course.path(step, ASSIGNMENT, student)
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_the_attacked_submission_gets_its_honest_grade(batch):
    course, alone, results, _, _ = batch
    by_student = {result.student: result for result in results}
    assert by_student[VICTIM].status == by_student[ATTACKER].status == "graded", results
    assert by_student[VICTIM].score == alone.score > 0 and by_student[ATTACKER].score == 0
    report = course.grade_reports(ASSIGNMENT)[VICTIM]
    assert {t["number"]: t["status"] for t in report["tests"]} == {
        c.name: "passed" if c.passed else "failed" for c in alone.checks}


def test_nothing_of_the_other_submission_reaches_the_attacker(batch):
    course, _, _, _, _ = batch
    for step in (course_config.AUTOGRADED_DIR, course_config.FEEDBACK_DIR):
        text = kept(course, step, ATTACKER)
        assert text and SECRET not in text
        assert not re.search(r"STOLEN /|KILLED \d", text)


def test_feedback_runs_no_student_script(batch):
    course, _, _, _, _ = batch
    page = kept(course, course_config.FEEDBACK_DIR, ATTACKER)
    assert "My answer" in page and "<script>window.stolen" not in page


def test_nothing_outlives_the_batch(batch):
    _, _, _, checkout_before, checkout_after = batch
    assert sandbox_processes() == []
    assert leftovers() == set()
    assert checkout_after == checkout_before
