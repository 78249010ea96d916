"""The GitHub Actions workflow shipped with each lab's release (grading in student repositories)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "templates" / "github-workflow.yml"
WORKFLOW_PATH = Path(".github") / "workflows" / "autograde.yml"


def render_workflow(assignment: str) -> str:
    text = TEMPLATE.read_text()
    return text.replace("{assignment}", assignment).replace("{notebook}", f"{assignment}.ipynb")


def write_workflow(release_dir: Path, assignment: str) -> Path:
    target = release_dir / WORKFLOW_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_workflow(assignment))
    return target


def grading_command(assignment: str) -> str:
    """The workflow's grading step, as a shell command (tests run it locally)."""
    import yaml

    workflow = yaml.safe_load(render_workflow(assignment))
    (step,) = [s for s in workflow["jobs"]["grade"]["steps"] if s.get("name") == "Grade"]
    return step["run"]
