"""nbgrader's configuration, derived from course_config.py (loaded by nbgrader_config.py)."""

from __future__ import annotations

import course_config
from autograder.kernel.session import KERNEL_ARGUMENTS


def configure(c) -> None:
    """Fill an nbgrader traitlets config from the course settings."""
    c.CourseDirectory.course_id = course_config.COURSE_ID
    c.CourseDirectory.root = str(course_config.ROOT)
    c.CourseDirectory.source_directory = course_config.SOURCE_DIR
    c.CourseDirectory.release_directory = course_config.RELEASE_DIR
    c.CourseDirectory.solution_directory = course_config.SOLUTION_DIR
    c.CourseDirectory.submitted_directory = course_config.SUBMITTED_DIR
    c.CourseDirectory.autograded_directory = course_config.AUTOGRADED_DIR
    c.CourseDirectory.feedback_directory = course_config.FEEDBACK_DIR
    c.CourseDirectory.db_url = course_config.GRADEBOOK_URL
    c.Exchange.root = str(course_config.EXCHANGE_DIR)
    c.FileNameCollectorPlugin.named_regexp = course_config.LMS_FILENAME_REGEXP
    c.LateSubmissionPlugin.penalty_method = course_config.LATE_PENALTY
    # Solution notebooks are executed by nbgrader's own Execute step: give training cells time.
    c.Execute.timeout = course_config.CELL_TIMEOUT_S
    c.Execute.extra_arguments = KERNEL_ARGUMENTS
    # Autograding runs the course grader (one execution, hidden checks in a separate process)
    # in place of nbgrader's in-kernel Execute step, and saves grades keeping the hand grades of
    # unchanged answers (hand_grades.py) in place of SaveAutoGrades: every autograde (course
    # autograde, nbgrader autograde, the formgrader, the GitHub gather) passes through both.
    # The other steps are nbgrader's defaults.
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput

    from autograder.course.hand_grades import SaveAutoGradesKeepingHandGrades
    from autograder.course.nbgrader_grading import GradeWithHiddenChecks

    c.Autograde.autograde_preprocessors = [
        GradeWithHiddenChecks, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGradesKeepingHandGrades, AssignLatePenalties, CheckCellMetadata,
    ]
