"""Same notebook, same grade on a busy machine (issue 21): the limits count the kernel's CPU time,
so neither CPU hogs beside the grader nor a kernel held to half a core cost the reference a
point. The multiclass lab on the real data (its reference runs in about a minute); marked slow."""

from __future__ import annotations

import pytest

import course_config
from autograder.course.samples import write_samples
from autograder.grading.grade import grade_file
from autograder.sandbox import namespaces
from bench.busy_machine import cpu_hogs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not namespaces.is_on("cgroup limits"),
                                                   reason="CPU time is counted by the kernel's cgroup (root)")]
ASSIGNMENT = "multiclass_softmax"


def grade_reference(folder):
    report, _ = grade_file(write_samples(ASSIGNMENT, folder, kinds=["reference"])["reference"], ASSIGNMENT)
    print(f"\n{report.format_table().splitlines()[0]}")  # CPU and wall seconds, for the log
    return report


def assert_full_marks(report) -> None:
    assert report.execution_status == "completed" and not report.stopped_by, report.notes
    assert not [(c.name, c.message) for c in report.checks if not c.passed]
    assert report.cpu_seconds > 0 and report.execution_seconds > 0


def test_reference_keeps_full_marks_beside_cpu_hogs(tmp_path):
    with cpu_hogs(per_core=2):
        report = grade_reference(tmp_path)
    assert_full_marks(report)


def test_reference_keeps_full_marks_on_half_a_core(monkeypatch, tmp_path):
    monkeypatch.setattr(course_config, "KERNEL_CPUS", 0.5)
    report = grade_reference(tmp_path)
    assert_full_marks(report)
    # At half a core, wall-clock time is at least twice the CPU time: what a wall-clock limit cut.
    assert report.execution_seconds >= 1.8 * report.cpu_seconds
