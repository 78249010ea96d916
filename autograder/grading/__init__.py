"""Grading one submission: run its notebook in its kernel (grade.py), run the lab's hidden checks
against that kernel (checkrun.py), within time limits from the reference's own time (timing.py),
noting locked cells the student changed (tamper.py)."""
