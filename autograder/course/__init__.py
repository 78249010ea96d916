"""The nbgrader course around the grader: its steps and folders (nbgrader_course.py), the
grading plugged into nbgrader's autograde (nbgrader_grading.py, nbgrader_settings.py, hand_grades.py),
a class graded side by side (batch.py, worker.py), the student release's extra files
(student_files.py, graded_parts.py, ci_templates.py), sample submissions (samples.py), the demo and
calibration (demo.py, calibrate.py)."""
