# Two entry points: `make demo` and `make test` (see README.md). Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
ASSIGNMENTS := $(shell $(PYTHON) -c "import course_config; print(' '.join(course_config.ASSIGNMENTS))")

.PHONY: demo test test-fast bench release solutions samples check-generated clean

# The runtime (requirements.txt) and the test tools (requirements-dev.txt), all pinned.
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(BIN)/.installed

# The student release, made by nbgrader from assignments/ plus each lab's CI workflow
# (never edit release/ by hand).
release: venv
	$(BIN)/python -m autograder course generate

# The executed reference solutions, made by nbgrader from assignments/.
solutions: venv
	for a in $(ASSIGNMENTS); do nbgrader generate_solution $$a --force --log-level=WARN || exit 1; done

# Build the release, then run the whole nbgrader cycle on three fake students and print the grades.
# Two workers, as measured in the README (each kernel's memory limit is then lowered to fit).
demo: release
	COURSE_BATCH_WORKERS=2 $(BIN)/python -m autograder demo

# All tests, two at a time: the fast ones with the corpus of hostile submissions, then the
# real-data runs, one test file per worker (their graded samples are module fixtures).
REAL_DATA := tests/test_end_to_end_slow.py tests/test_labs_slow.py tests/test_hostile_real_data.py tests/test_busy_machine.py \
	tests/test_self_check_real_data.py
test: venv
	$(BIN)/python -m pytest -n 2 $(foreach f,$(REAL_DATA),--ignore=$(f))
	$(BIN)/python -m pytest -n 2 --dist loadfile $(REAL_DATA)

# Stock `nbgrader autograde` against the course's batch grader on 8 IMDB submissions, and bare
# execution of the same notebooks: times, peak memory, grades (about 19 minutes on 2 cores).
bench: venv
	COURSE_BATCH_WORKERS=2 $(BIN)/python -m bench.grading_benchmark --out build/bench/results.json

test-fast: venv
	$(BIN)/python -m pytest -m "not slow" -n 2

clean:
	rm -rf build submitted autograded feedback gradebook.db
