"""The kernel serves calls: hangs cost their limit once, dead or deaf kernels are replaced; limits
count the kernel's CPU time, with a wall-clock backstop for what burns none."""

from __future__ import annotations

import time

import numpy as np
import pytest

import course_config
from autograder.checks.submission import StudentCodeError
from autograder.kernel import speed, wire
from autograder.sandbox import namespaces
from tests.conftest import kernel_serving

SOURCES = '''
import json, os, signal, numpy as np
from json import dumps

def loops():
    while True:
        pass

def deaf():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass

def dies():
    os._exit(3)

def double(x):
    return x * 2

def sleeps():
    import time
    while True:
        time.sleep(0.1)

def works(seconds):
    import time
    started = time.process_time()
    while time.process_time() - started < seconds:
        pass
    return "done"

def environment():
    return dict(os.environ)

def encoded(value):
    return json.dumps(value)

def encoded_by_name(value):
    return dumps(value)

def imports_json(value):
    import json as library
    return library.dumps(value)

def loaded(module):
    import sys
    return module in sys.modules

LIMIT = int("7") * 6  # computed, not a literal: not rebuilt in a fresh kernel
'''


@pytest.fixture
def short_calls(monkeypatch):
    monkeypatch.setattr(course_config, "CALL_TIMEOUT_S", 3)


def test_a_hanging_function_costs_its_limit_once(short_calls):
    with kernel_serving(SOURCES) as submission:
        started = time.monotonic()
        with pytest.raises(StudentCodeError, match="CPU limit: `loops` ran past its 3 CPU s"):
            submission.function("loops")()
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(StudentCodeError, match="not called again"):
            submission.function("loops")()
        assert time.monotonic() - started < 0.5 <= 3 <= first
        assert np.array_equal(submission.function("double")(np.arange(3)), [0, 2, 4])


def test_what_burns_no_cpu_is_ended_by_the_wall_clock_backstop(short_calls):
    with kernel_serving(SOURCES) as submission:
        submission.function("double")(1)  # the kernel is up: what follows is the call alone
        started = time.monotonic()
        with pytest.raises(StudentCodeError, match=r"Wall-clock limit: `sleeps` ran past its 9 s backstop \(3 × its 3 CPU s"):
            submission.function("sleeps")()
        assert 9 <= time.monotonic() - started < 30


def test_a_starved_call_is_not_stopped_for_the_cpu_it_did_not_get(short_calls, monkeypatch):
    """Held to a fifth of a core, 1 CPU s of work takes about 5 s of wall-clock time: past the
    3 s a wall-clock limit gave, within the CPU limit and its 9 s backstop."""
    monkeypatch.setattr(course_config, "KERNEL_CPUS", 0.2)
    with kernel_serving(SOURCES) as submission:
        submission.function("double")(1)
        started, used = time.monotonic(), submission.calls_used
        assert submission.function("works")(1.0) == "done"
        assert time.monotonic() - started > 3
        assert 1.0 <= submission.calls_used - used < 3


def test_without_a_cgroup_limits_are_wall_clock_seconds_scaled_by_the_machines_speed(short_calls, monkeypatch):
    on = namespaces.is_on
    monkeypatch.setattr(namespaces, "is_on", lambda name: name != "cgroup limits" and on(name))
    monkeypatch.setattr(speed, "speed_factor", lambda: 1.5)
    with kernel_serving(SOURCES) as submission:
        submission.function("double")(1)
        started = time.monotonic()
        with pytest.raises(StudentCodeError, match=r"Time limit: `loops` ran past its 4 s limit .*wall-clock seconds"):
            submission.function("loops")()
        assert 4 <= time.monotonic() - started < 20
        assert submission.kernel.counts_cpu is False


def test_a_call_does_not_import_keras_on_the_students_clock():
    """Seeding a call loads no library the notebook did not load: a TensorFlow import takes
    seconds, and under load all of a short limit (a flaky CI failure before this)."""
    with kernel_serving(SOURCES) as submission:
        assert submission.function("loaded")("keras") is False


def test_a_by_hand_call_cannot_use_the_libraries_it_must_do_without():
    """Multiclass lab: softmax and cross-entropy by hand run without TensorFlow and Keras. Here with
    json as the forbidden library: its module, its functions and its import refuse, then return."""
    with kernel_serving(SOURCES) as submission:
        for name in ("encoded", "encoded_by_name", "imports_json"):
            with pytest.raises(StudentCodeError, match=f"ImportError in `{name}`"):
                submission.function(name, without=("json",))([1])
        assert submission.function("double", without=("json",))(2) == 4
        assert [submission.function(name)([1]) for name in ("encoded", "encoded_by_name", "imports_json")] == ["[1]"] * 3


def test_a_kernel_that_ignores_interrupts_is_replaced_by_one_with_the_definitions(short_calls):
    with kernel_serving(SOURCES) as submission:
        with pytest.raises(StudentCodeError, match="ran past"):
            submission.function("deaf")()
        assert submission.function("double")(21) == 42
        assert isinstance(submission.variable("LIMIT"), wire.Missing)  # only literals are rebuilt


def test_a_function_that_kills_the_kernel_fails_alone():
    with kernel_serving(SOURCES) as submission:
        with pytest.raises(StudentCodeError, match="kernel died"):
            submission.function("dies")()
        assert submission.function("double")("ab") == "abab"


def test_the_kernel_never_sees_the_private_seed_or_grader_settings(monkeypatch):
    monkeypatch.setenv("COURSE_CHECK_SEED", "424242")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with kernel_serving(SOURCES) as submission:
        environment = submission.function("environment")()
    assert "COURSE_CHECK_SEED" not in environment and not [k for k in environment if "NBGRADER" in k]
    assert "424242" not in repr(environment)
