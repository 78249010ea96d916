"""The course's grader: hidden checks per lab and the code that grades submissions (instructors only)."""
