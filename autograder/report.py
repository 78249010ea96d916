"""A submission's grade: per-check results, a printed table, and Gradescope's results.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import course_config


@dataclass
class CheckResult:
    name: str
    cell: str  # the nbgrader test cell this check counts towards
    description: str
    points: float
    score: float
    message: str = ""
    visibility: str = course_config.GRADESCOPE_VISIBILITY  # when Gradescope shows it (CheckSpec.visibility)

    @property
    def passed(self) -> bool:
        return self.score >= self.points


@dataclass
class GradeReport:
    assignment: str
    notebook: str
    checks: list[CheckResult] = field(default_factory=list)
    execution_status: str = "completed"
    execution_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # notebook errors, code that could not be rebuilt
    tampering: list[str] = field(default_factory=list)  # locked cells or metadata changed by the student
    peak_memory_gb: float = 0.0  # the kernel's process tree
    cpu_seconds: float | None = None  # the kernel's CPU time in the notebook (None: not counted here)
    checks_cpu_seconds: float | None = None  # ... in the checks' calls of its code
    stopped_by: list[str] = field(default_factory=list)  # time limits that fired: "CPU limit, cell 7"

    @property
    def score(self) -> float:
        return sum(check.score for check in self.checks)

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    def cell_scores(self) -> dict[str, float]:
        """Points per nbgrader test cell, as the gradebook records them."""
        scores: dict[str, float] = {}
        for check in self.checks:
            scores[check.cell] = scores.get(check.cell, 0.0) + check.score
        return scores

    def to_gradescope(self) -> dict:
        """Gradescope's autograder results format."""
        notes = "\n".join(self.notes + [f"Changed by the student: {t}" for t in self.tampering])
        return {
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.execution_seconds, 1),
            "output": f"Notebook execution: {self.execution_status}.\n{notes}".strip(),
            "visibility": course_config.GRADESCOPE_VISIBILITY,
            "stdout_visibility": "hidden",  # the grader's log, for instructors
            "extra_data": {"execution_status": self.execution_status, "peak_memory_gb": self.peak_memory_gb,
                           "cpu_seconds": self.cpu_seconds, "checks_cpu_seconds": self.checks_cpu_seconds,
                           "stopped_by": self.stopped_by},
            "tests": [
                {
                    "name": check.description,
                    "number": check.name,
                    "score": check.score,
                    "max_score": check.points,
                    "status": "passed" if check.passed else "failed",
                    "output": check.message,
                    "tags": [check.cell],
                    "visibility": check.visibility,
                }
                for check in self.checks
            ],
        }

    @property
    def ran_whole(self) -> bool:
        """The notebook ran to its end within every limit (else `execution_status` says what stopped it)."""
        return self.execution_status == "completed"

    def to_dict(self) -> dict:
        return {**asdict(self), "score": self.score, "max_score": self.max_score}

    @classmethod
    def from_dict(cls, data: dict) -> GradeReport:
        """The report `to_dict` wrote (score and max_score are recomputed from the checks)."""
        fields = {name: value for name, value in data.items() if name not in ("score", "max_score", "checks")}
        return cls(**fields, checks=[CheckResult(**check) for check in data.get("checks", [])])

    def format_table(self) -> str:
        rows = [f"{'check':<44} {'points':>9}  result"]
        for check in self.checks:
            verdict = "ok" if check.passed else f"FAILED  {check.message}"
            rows.append(f"{check.name[:44]:<44} {check.score:>4g}/{check.points:<4g}  {verdict}")
        rows.append(f"{'total':<44} {self.score:>4g}/{self.max_score:<4g}")
        cpu = "" if self.cpu_seconds is None else f", {self.cpu_seconds:.0f} CPU s"
        stopped = f"; stopped by: {'; '.join(self.stopped_by)}" if self.stopped_by else ""
        header = [f"{self.assignment}: {self.notebook} (execution {self.execution_status}, "
                  f"{self.execution_seconds:.0f} s wall{cpu}{stopped})"]
        notes = [f"  note: {note}" for note in self.notes] + [f"  changed: {t}" for t in self.tampering]
        return "\n".join(header + notes + rows)
