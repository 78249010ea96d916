"""Channels between the student's kernel and the grader (issue 20): the kernel's stdio is its own,
its socket folder has a size cap, and output cleaning sees what the checks' calls changed."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import nbgrader
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook

import course_config
from autograder.course.samples import make_sample
from autograder.grading.grade import grade_notebook
from autograder.kernel import safe_outputs
from autograder.kernel.session import KernelSession
from autograder.sandbox import namespaces
from tests.conftest import REPO
from tests.test_sandbox import protections_as  # noqa: F401 (a fixture)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting the kernel folder's tmpfs needs root")

FORGE = r"""
import os, subprocess, sys
os.write(1, b"FORGED-LINE\n")
os.write(2, b"FORGED-ERR\n")
sys.__stdout__.write("FORGED-DUNDER\n"); sys.__stdout__.flush()
sys.__stderr__.write("FORGED-DUNDER-ERR\n"); sys.__stderr__.flush()
subprocess.run("echo FORGED-CHILD; echo FORGED-CHILD-ERR >&2", shell=True)
chunk = b"z" * 2**20
for _ in range(64):
    os.write(1, chunk)
null = os.stat("/dev/null").st_rdev
print("stdio-is-null", all(os.fstat(fd).st_rdev == null for fd in (0, 1, 2)))
"""

# Grades a notebook read from stdin in a process of its own, whose output the test reads.
GRADER = """
import os, sys, tempfile
from pathlib import Path
import nbformat
from autograder.kernel.session import KernelSession
notebook = nbformat.reads(sys.stdin.read(), as_version=4)
with tempfile.TemporaryDirectory() as folder:
    os.chmod(folder, 0o711)
    with KernelSession(notebook, Path(folder)) as kernel:
        result = kernel.run_notebook({}, 120, 240)
print("GRADER-DONE", result.status, "".join(o.get("text", "") for o in result.notebook.cells[0].outputs))
"""


def test_student_code_cannot_write_into_the_graders_output():
    notebook = new_notebook(cells=[new_code_cell(FORGE)])
    run = subprocess.run([sys.executable, "-c", GRADER], input=nbformat.writes(notebook).encode(), cwd=REPO,
                         capture_output=True, timeout=300)
    out, err = run.stdout.decode(errors="replace"), run.stderr.decode(errors="replace")
    assert "GRADER-DONE completed" in out, (out[-2000:], err[-2000:])
    assert "stdio-is-null True" in out
    assert "FORGED" not in out + err
    assert len(run.stdout) + len(run.stderr) < 64 * 2**10, (len(run.stdout), len(run.stderr))


FILL_KERNEL_FOLDER = r"""
import os
args = open("/proc/self/cmdline").read().split("\0")
folder = os.path.dirname(args[args.index("-f") + 1])
written = 0
try:
    with open(os.path.join(folder, "fill"), "wb") as file:
        for _ in range(100):
            file.write(b"x" * 2**20)
            file.flush()
            written += 2**20
except OSError as error:
    print("refused after", written, error)
print("folder", folder, "written", written)
"""


@needs_root
def test_the_kernel_folder_holds_a_few_megabytes_and_is_unmounted_after():
    assert not any("kernel folder" in note for note in namespaces.off_notes())
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o711)
        with KernelSession(new_notebook(cells=[new_code_cell(FILL_KERNEL_FOLDER)]), Path(folder)) as kernel:
            result = kernel.run_notebook({}, 60, 120)
            kernel_dir = kernel.box.kernel_dir
            held = sum(p.stat().st_size for p in kernel_dir.rglob("*") if p.is_file())
            mounted = str(kernel_dir) in Path("/proc/mounts").read_text()
        text = "".join(o.get("text", "") for o in result.notebook.cells[0].outputs)
        assert f"folder {kernel_dir} " in text, text
        assert "No space left on device" in text, text
        assert mounted and held <= namespaces.KERNEL_DIR_LIMIT_MB * 2**20, held
        assert str(kernel_dir) not in Path("/proc/mounts").read_text()


def test_without_root_the_report_says_the_kernel_folder_has_no_cap(protections_as):
    notes = protections_as(uid=1000, has_bwrap=True)
    expected = "Sandbox protection off: kernel folder cap (mounting a tmpfs needs root)"
    assert any(note.startswith(expected) for note in notes), notes


# A handle made while the notebook runs, updated by a function the checks call afterwards.
HANDLES = ("from IPython.display import display\n"
           "handles = [display({'text/plain': 'start'}, raw=True, display_id=True) for _ in range(3)]")
DECODE_UPDATES_HANDLES = '''
def decode_review(sequence, word_index):
    for handle in handles:
        handle.update({"text/html": "<scr" + "ipt>ale" + "rt(1)</scr" + "ipt>", "text/plain": "u" * 5_000_000}, raw=True)
    return "?"
'''


def feedback_html(notebook: nbformat.NotebookNode) -> str:
    """The page nbgrader's generate_feedback makes of an autograded notebook (its exporter and template)."""
    formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    exporter = HTMLExporter(template_name="feedback", extra_template_basedirs=[str(formgrader / "templates")],
                            extra_template_paths=[str(formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css")])
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:  # what nbgrader's GetGrades adds from the gradebook
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader.update(score=0, points=cell.metadata.nbgrader.get("points", 0), comment="")
    html, _ = exporter.from_notebook_node(notebook, resources={"nbgrader": {"score": 0, "max_score": 16, "late_penalty": 0}})
    return html


def test_display_updates_sent_during_the_checks_are_cleaned(tiny_data):
    notebook = make_sample("imdb_sentiment", "blank")
    decode = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "decode_review")
    decode.source = DECODE_UPDATES_HANDLES
    notebook.cells.insert(notebook.cells.index(decode), new_code_cell(HANDLES))
    report, executed = grade_notebook(notebook, "imdb_sentiment", "imdb_sentiment.ipynb")
    text = nbformat.writes(executed)
    outputs = json.dumps([cell.get("outputs", []) for cell in executed.cells])
    assert "text/html" not in outputs and "<script" not in text and "alert(1)" not in text
    assert len(text.encode()) <= course_config.MAX_EXECUTED_NOTEBOOK_BYTES, len(text)
    assert report.score == 0
    page = feedback_html(executed)
    assert "alert(1)" not in page
    assert page.count("<script") == feedback_html(new_notebook()).count("<script")  # the template's own (MathJax)
    assert json.dumps(report.to_gradescope()).count("u" * 1000) == 0


def test_a_display_update_landing_on_a_note_leaves_a_valid_output():
    note = nbformat.v4.new_output("stream", name="stderr", text="[outputs removed]\n")
    note["data"], note["metadata"] = {"text/html": "<b>x</b>", "text/plain": "x"}, {}  # as nbclient's update writes it
    notebook = new_notebook(cells=[new_code_cell("x")])
    notebook.cells[0].outputs = [note]
    safe_outputs.neutralize(notebook)
    nbformat.validate(notebook)
    assert "text/html" not in nbformat.writes(notebook)
