"""Command line of the course grader.

    python -m autograder grade SUBMISSION.ipynb --assignment NAME [--json OUT.json] [--executed OUT.ipynb]
    python -m autograder course setup|generate|release|collect|autograde|feedback|release-feedback|export
                                [--assignment NAME] [--root DIR]    (`course STEP --help`: its options)
    python -m autograder course workflow         (the instructor's GitHub Actions grading workflow)
    python -m autograder course gather --assignment NAME --results DIR   (its last job)
    (installed, `course ...` is `python -m autograder course ...`)
    python -m autograder gradescope --assignment NAME --out autograder.zip [--timeout-minutes 40]
    python -m autograder calibrate --assignment NAME --seeds 30 --out FILE.json
    python -m autograder calibrate-timing --assignment NAME
    python -m autograder demo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

import course_config
from autograder.grading.grade import grade_file

EXIT_GRADED, EXIT_CANNOT_GRADE = 0, 2
# grade: the notebook did not run whole (a time, memory or process limit, a dead kernel, an
# unreadable file); course autograde: some submission did not, or could not be graded at all.
EXIT_SUBMISSIONS_FAILED = 3
COURSE_STEPS = {
    "setup": "add the labs and the roster's students to the gradebook; make the exchange",
    "generate": "the student version of each lab (nbgrader generate_assignment) and its student files",
    "release": "release the labs to the exchange, and an LMS zip per lab",
    "collect": "collect the submissions (nbgrader collect; zip_collect for an LMS download)",
    "autograde": "grade the submissions not graded since they were submitted, side by side",
    "feedback": "HTML feedback per student (nbgrader generate_feedback)",
    "release-feedback": "release the feedback to the students (nbgrader release_feedback)",
    "export": "grades.csv and a Gradescope-format results.json per student (nbgrader export)",
    "workflow": "write the instructor's GitHub Actions grading workflow",
    "gather": "the GitHub workflow's last job: every grading job's results into the gradebook",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser(
        "grade", help="grade one submitted notebook",
        epilog=f"Exit status: 0 graded, the notebook ran whole; {EXIT_CANNOT_GRADE} no such file; "
               f"{EXIT_SUBMISSIONS_FAILED} graded, but the notebook hit a limit (CPU or wall-clock time, memory, "
               "processes), its kernel died, or it could not be read (the report says which, and where).")
    grade.add_argument("notebook", type=Path)
    grade.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    grade.add_argument("--json", type=Path, help="write Gradescope-format results here")
    grade.add_argument("--executed", type=Path, help="write the executed notebook (what feedback is made from) here")

    course = commands.add_parser(
        "course", help="one step of the nbgrader cycle on this course",
        description="One step of the nbgrader cycle; `course STEP --help` lists that step's options.",
        epilog=f"Exit status: 0 done; 1 the step stopped with an error; {EXIT_SUBMISSIONS_FAILED} autograde ran "
               "but some submission could not be graded, or its notebook hit a limit (CPU or wall-clock time, "
               "memory, processes) or its kernel died: its table lists them, with the limit and the cell; one that "
               "could not be graded has 0 in the gradebook, with the reason as a comment.")
    steps = course.add_subparsers(dest="step", required=True, metavar="STEP")
    for step, summary in COURSE_STEPS.items():
        sub = steps.add_parser(step, help=summary, description=summary)
        sub.add_argument("--root", type=Path, default=course_config.ROOT, help="the course directory (default: this checkout)")
        if step != "workflow":
            sub.add_argument("--assignment", choices=course_config.ASSIGNMENTS, required=step == "gather",
                             help="the lab" + ("" if step == "gather" else "; default: every lab"))
        if step in ("setup", "gather"):
            sub.add_argument("--roster", type=Path, default=course_config.ROSTER_CSV,
                             help="roster CSV: id,first_name,last_name,email (gather: and github, due_<lab>)")
        if step in ("export", "gather"):
            sub.add_argument("--out", type=Path, help="folder for grades.csv and the reports (default: export/ in the course)")
        if step == "gather":
            sub.add_argument("--results", type=Path, required=True, help="the matrix jobs' results (one folder per student)")
        if step == "autograde":
            sub.add_argument("--student", action="append", help="regrade this student (repeatable)")
            sub.add_argument("--force", action="store_true", help="regrade every submission")
            sub.add_argument("--workers", type=int, default=course_config.BATCH_WORKERS,
                             help="submissions graded side by side (0: from free memory and cores)")

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder zip")
    gradescope.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    gradescope.add_argument("--out", type=Path, required=True)
    gradescope.add_argument("--timeout-minutes", type=int, default=40,
                            help="the assignment's timeout in Gradescope's settings (at most 40)")
    gradescope.add_argument("--cpus", type=float, default=0.5,
                            help="the CPUs in Gradescope's autograder settings (its default: 0.5)")

    calibrate = commands.add_parser("calibrate", help="train the reference over many seeds")
    calibrate.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)
    calibrate.add_argument("--seeds", type=int, default=30)
    calibrate.add_argument("--out", type=Path, required=True, help="JSON file for the figures")

    calibrate_timing = commands.add_parser("calibrate-timing", help="time the reference's cells and checks")
    calibrate_timing.add_argument("--assignment", required=True, choices=course_config.ASSIGNMENTS)

    demo = commands.add_parser("demo", help="the whole cycle on three fake students")
    demo.add_argument("--root", type=Path, default=course_config.ROOT / "build" / "demo_course")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        return grade_command(args.notebook, args.assignment, args.json, args.executed)
    if args.command == "course":
        return course_command(args)
    if args.command == "gradescope":
        from autograder.platforms.gradescope import build_autograder_zip

        try:
            print(build_autograder_zip(args.assignment, args.out, args.timeout_minutes, args.cpus))
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "calibrate":
        from autograder.course.calibrate import write_calibration

        write_calibration(args.assignment, args.seeds, args.out)
        return 0
    if args.command == "calibrate-timing":
        from autograder.course.calibrate import write_timing

        course_config.TRAINING_CACHE_DIR = ""  # measure the grader's training, never a cache hit
        print(write_timing(args.assignment).read_text())
        return 0
    from autograder.course.demo import run_demo

    return run_demo(args.root)


def course_main(argv: list[str] | None = None) -> int:
    """The `course` console script: `course STEP ...` is `python -m autograder course STEP ...`."""
    return main(["course", *(sys.argv[1:] if argv is None else argv)])


def grade_command(notebook: Path, assignment: str, json_out: Path | None, executed_out: Path | None = None) -> int:
    if not notebook.is_file():
        print(f"error: no notebook at {notebook}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    report, executed = grade_file(notebook, assignment)
    print(report.format_table())
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_gradescope(), indent=2) + "\n")
    if executed_out and executed is not None:
        executed_out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, executed_out)
    return EXIT_GRADED if report.execution_status == "completed" else EXIT_SUBMISSIONS_FAILED


def course_command(args: argparse.Namespace) -> int:
    from autograder.course.batch import autograde_all
    from autograder.course.nbgrader_course import Course, NbgraderError

    course = Course(args.root)
    assignment = getattr(args, "assignment", None)
    assignments = [assignment] if assignment else course_config.ASSIGNMENTS
    not_graded = False
    try:
        if args.step == "setup":
            course.setup(args.roster, assignments)
        elif args.step == "generate":
            course.generate(assignments)
        elif args.step == "release":
            for path in course.release(assignments):
                print(f"LMS zip: {path}")
        elif args.step == "export":
            print(course.export(args.out or course.root / "export", assignments).read_text())
        elif args.step == "workflow":
            from autograder.platforms import github

            print(github.write_grading_workflow(course.root))
        elif args.step == "gather":
            from autograder.platforms import github_gather

            print(github_gather.gather(course, args.assignment, args.results, args.roster, args.out or course.root / "export").read_text())
        else:
            for assignment in assignments:
                if args.step == "collect":
                    course.collect(assignment)
                elif args.step == "autograde":
                    results = autograde_all(course, assignment, args.workers, args.student, args.force)
                    not_graded |= not all(result.ran_whole for result in results)
                elif args.step == "feedback":
                    course.feedback(assignment)
                else:
                    course.release_feedback(assignment)
    except (NbgraderError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return EXIT_SUBMISSIONS_FAILED if not_graded else 0
