# Two entry points: `make demo` and `make test` (see README.md). Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
ASSIGNMENTS := $(shell $(PYTHON) -c "import course_config; print(' '.join(course_config.ASSIGNMENTS))")

.PHONY: venv demo test test-slow lab bench release solutions clean

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

# Everything generated for one lab, LAB=name (the README's "Adding a lab"): its student release
# and files, its executed solution, the GitHub grading workflow, the reference's figures over
# SEEDS seeds (set the lab's thresholds from them) and its time (the lab's time limits).
SEEDS ?= 10
lab: venv
	@test -n "$(LAB)" || { echo "usage: make lab LAB=name [SEEDS=10]"; exit 2; }
	$(BIN)/python -m autograder course generate --assignment $(LAB)
	nbgrader generate_solution $(LAB) --force --log-level=WARN
	$(BIN)/python -m autograder course workflow
	$(BIN)/python -m autograder calibrate --assignment $(LAB) --seeds $(SEEDS) --out calibration/$(LAB).json
	$(BIN)/python -m autograder calibrate-timing --assignment $(LAB)

# Build the release, then run the whole nbgrader cycle on three fake students and print the grades.
# Two workers, as measured in the README (each kernel's memory limit is then lowered to fit).
demo: release
	COURSE_BATCH_WORKERS=2 $(BIN)/python -m autograder demo

# The fast tests, two at a time (tiny data made by the tests; about 9 minutes, see the README).
REAL_DATA := tests/test_end_to_end_slow.py tests/test_labs_slow.py tests/test_hostile_real_data.py tests/test_busy_machine.py \
	tests/test_self_check_real_data.py
test: venv
	$(BIN)/python -m pytest -n 2 -m "not slow" $(foreach f,$(REAL_DATA),--ignore=$(f))

# The slow tests (CI runs both): the hostile-submission corpus and the hang cases, then the
# real-data runs, one test file per worker (their graded samples are module fixtures).
test-slow: venv
	$(BIN)/python -m pytest -n 2 -m slow $(foreach f,$(REAL_DATA),--ignore=$(f))
	$(BIN)/python -m pytest -n 2 --dist loadfile $(REAL_DATA)

# Stock `nbgrader autograde` against the course's batch grader on 8 IMDB submissions, and bare
# execution of the same notebooks: times, peak memory, grades (about 19 minutes on 2 cores).
bench: venv
	COURSE_BATCH_WORKERS=2 $(BIN)/python -m bench.grading_benchmark --out build/bench/results.json

clean:
	rm -rf build submitted autograded feedback gradebook.db
