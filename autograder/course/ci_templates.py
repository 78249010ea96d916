"""The practice workflow shipped with each lab's release (runs in students' repositories).

It has no secrets and never sees the hidden checks: official grades come from the instructor's
own workflow (github.py).
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "student-practice.yml"
WORKFLOW_PATH = Path(".github") / "workflows" / "practice-run.yml"


def render_workflow(assignment: str) -> str:
    text = TEMPLATE.read_text()
    return text.replace("{assignment}", assignment).replace("{notebook}", f"{assignment}.ipynb")


def write_workflow(release_dir: Path, assignment: str) -> Path:
    target = release_dir / WORKFLOW_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_workflow(assignment))
    return target
