"""Command line of the course grader.

    python -m autograder grade SUBMISSION.ipynb --assignment NAME [--json OUT.json]
    python -m autograder calibrate --assignment NAME --seeds 30 --out FILE.json
    python -m autograder demo   # grade the sample submissions of every lab, print a grade table
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import course_config
from autograder.grade import grade_file

EXIT_GRADED, EXIT_CANNOT_GRADE = 0, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one submitted notebook")
    grade.add_argument("notebook", type=Path)
    grade.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    grade.add_argument("--json", type=Path, help="write Gradescope-format results here")
    calibrate = commands.add_parser("calibrate", help="train the reference over many seeds")
    calibrate.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    calibrate.add_argument("--seeds", type=int, default=30)
    calibrate.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    demo = commands.add_parser("demo", help="grade the sample submissions of every lab")
    demo.add_argument("--out", type=Path, default=course_config.ROOT / "build" / "demo")
    args = parser.parse_args(argv)

    if args.command == "demo":
        return run_demo(args.out)
    if args.command == "calibrate":
        from autograder.calibrate import write_calibration

        write_calibration(args.assignment, args.seeds, args.out)
        return 0

    if not args.notebook.is_file():
        print(f"error: no notebook at {args.notebook}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    report, _ = grade_file(args.notebook, args.assignment)
    print(report.format_table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_gradescope(), indent=2) + "\n")
    return EXIT_GRADED


def run_demo(folder: Path) -> int:
    """Grade reference, partial and blank samples of every lab; print each report and a summary."""
    from autograder.samples import write_samples

    summary = []
    for assignment in course_config.ASSIGNMENTS:
        for kind, path in write_samples(assignment, folder / assignment).items():
            started = time.monotonic()
            report, _ = grade_file(path, assignment)
            path.with_suffix(".json").write_text(json.dumps(report.to_gradescope(), indent=2) + "\n")
            print(report.format_table() + "\n", flush=True)
            summary.append((assignment, kind, report.score, report.max_score, time.monotonic() - started))
    print(f"{'assignment':<20} {'submission':<10} {'score':>11} {'seconds':>8}")
    for assignment, kind, score, max_score, seconds in summary:
        print(f"{assignment:<20} {kind:<10} {score:>5g} / {max_score:<3g} {seconds:>8.0f}")
    print(f"Results (Gradescope JSON) in {folder}")
    return EXIT_GRADED
