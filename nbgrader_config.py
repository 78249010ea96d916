"""nbgrader reads its settings from course_config.py; see autograder/course/nbgrader_settings.py."""
from autograder.course.nbgrader_settings import configure

configure(get_config())  # noqa: F821 - nbgrader provides get_config()
