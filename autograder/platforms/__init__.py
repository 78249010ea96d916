"""The same grader on each platform: Gradescope's autograder zip (gradescope.py), and GitHub
organisations run from a roster (github.py: plan, fetch and deliver; github_gather.py: the
grading jobs' results into the gradebook)."""
