"""The student's notebook as the hidden checks see it: functions to call and variables to read.

`Submission.function(name)` gives a check a stand-in that asks the kernel to call the notebook's
function and returns the decoded data (`kernel/wire.py`), never student code; `Submission.fit`
trains a student's model in the grader under the submission's budget. The checks receive it as
pytest's `submission` fixture (grading/checkrun.py).
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Callable

import course_config
from autograder.kernel import wire
from autograder.kernel.session import KernelSession, KernelUnavailable


class StudentCodeError(Exception):
    """The student's function raised, is missing, hung, or returned something unreadable."""

    def __init__(self, function: str, failure):
        self.function, self.failure = function, failure
        super().__init__(describe_student_failure(function, failure))


def describe_student_failure(function: str, failure) -> str:
    """One line a student can act on: their own exception's type and text, and where."""
    if isinstance(failure, wire.Missing):
        return f"Your notebook does not define `{function}`."
    if isinstance(failure, str):
        return failure
    if failure.type_name == "NotImplementedError":
        return f"`{function}` is not implemented yet (it raises NotImplementedError)."
    if failure.type_name in ("TimeoutError", "KernelDied", "NoResult", "UnreadableResult") and not failure.frames:
        return f"`{function}`: {failure.message}"
    where = f" in `{failure.frames[-1][0]}` (line {failure.frames[-1][1]})" if failure.frames else f" in `{function}`"
    return f"{failure.type_name}{where}: {failure.message}".rstrip(": ")[:400]


class Submission:
    """The student's notebook as the checks see it: functions to call and variables to read.

    Two budgets bound what one submission costs after its notebook ran: `call_seconds`, the
    kernel's CPU time in all calls of its code together (a function that hangs only when the grader
    calls it spends it once; see KernelSession.usage), and `training_cpu_seconds`, the grader's own
    CPU time training the student's models (`fit`). Both come from the reference's (timing.py)."""

    def __init__(self, kernel: KernelSession, call_seconds: float = math.inf, training_cpu_seconds: float = math.inf):
        self.kernel = kernel
        self.calls = 0
        self.call_seconds_left = call_seconds
        self.training_cpu_left = training_cpu_seconds
        self.calls_used = self.training_used = 0.0  # what the budgets were charged (for timing.py)
        # The wall-clock backstop of all calls, for code that burns no CPU (no kernel: the checks' tests).
        self.call_wall_left = call_seconds * kernel.wall_factor if kernel else math.inf
        self.hung_variables: set[str] = set()
        self.input_seed = secrets.randbits(128)  # the checks' random inputs: nothing to brute-force

    def function(self, name: str, *, timeout: float | None = None, weights: bool = False,
                 without: tuple[str, ...] = ()) -> Callable:
        """A stand-in for the notebook's function: each call runs in the kernel, with its own seed
        (and without the libraries named in `without`)."""

        def call(*args, **kwargs):
            self.calls += 1
            limit = min(timeout or course_config.CALL_TIMEOUT_S, self.call_seconds_left)
            if min(limit, self.call_wall_left) < 1:
                raise StudentCodeError(name, "Your functions used up the time the checks may spend calling them "
                                             f"({course_config.CHECKS_LIMIT_FACTOR:g} times the reference's CPU time, "
                                             f"or {course_config.WALL_LIMIT_FACTOR:g} times that in wall-clock time); "
                                             "this call was not made.")
            started = self.kernel.usage()
            wall_started = time.monotonic()
            try:
                value = self.kernel.call(name, args, kwargs, timeout=limit, weights=weights, seed=self.calls,
                                         without=without, wall_timeout=self._wall_limit(limit))
            except KernelUnavailable as error:
                raise StudentCodeError(name, str(error)) from None
            finally:
                self._charge_calls(self.kernel.usage() - started, time.monotonic() - wall_started)
            if isinstance(value, (wire.StudentException, wire.Missing)):
                raise StudentCodeError(name, value)
            return value

        call.__name__ = name
        return call

    def fit(self, model, *args, **kwargs):
        """The grader's own `model.fit(...)` of a student's model, stopped when the submission's
        training budget (CPU seconds of this process, all threads) is spent: an AssertionError then
        says so."""
        import keras

        budget = self.training_cpu_left

        class Budget(keras.callbacks.Callback):
            started, stopped = time.process_time(), False

            def on_train_batch_end(self, batch, logs=None):
                if time.process_time() - self.started > budget:
                    self.stopped = self.model.stop_training = True

        callback = Budget()
        try:
            return model.fit(*args, callbacks=[callback], **kwargs)
        finally:
            used = time.process_time() - callback.started
            self.training_cpu_left -= used
            self.training_used += used
            assert not callback.stopped, (
                "The grader stopped training your model: it used up this submission's budget of the grader's "
                f"CPU time ({course_config.CHECKS_LIMIT_FACTOR:g} times the reference's). Compare your model's "
                "size with the lab's.")

    def _wall_limit(self, limit: float) -> float:
        return max(1.0, min(limit * self.kernel.wall_factor, self.call_wall_left))

    def _charge_calls(self, used: float, wall: float) -> None:
        self.call_seconds_left -= used
        self.calls_used += used
        self.call_wall_left -= wall

    def variable(self, name: str, *, weights: bool = False):
        """A variable the notebook left behind, or wire.Missing. A read that hung (student code in a
        property, say) is not tried again, and reads count against the calls' budget."""
        if name in self.hung_variables or min(self.call_seconds_left, self.call_wall_left) < 1:
            return wire.StudentException("TimeoutError", f"reading `{name}` was stopped: it ran out of time", [])
        started, wall_started = self.kernel.usage(), time.monotonic()
        limit = min(course_config.CALL_TIMEOUT_S, self.call_seconds_left)
        try:
            value = self.kernel.variable(name, weights=weights, timeout=limit, wall_timeout=self._wall_limit(limit))
        except KernelUnavailable as error:
            raise StudentCodeError(name, str(error)) from None
        finally:
            self._charge_calls(self.kernel.usage() - started, time.monotonic() - wall_started)
        if isinstance(value, wire.StudentException) and value.type_name == "TimeoutError":
            self.hung_variables.add(name)
        return value
