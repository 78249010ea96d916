"""A corpus of broken and hostile submissions, each with the result it must get.

Every case starts from a generated sample (reference or blank release) and changes it the way a
student might. A case must never score more than its unmodified base minus the checks its change
must fail, must not stop the grader, and must say what happened. Runs on tiny data with small
limits; marked slow: about 30 real kernels and check processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import nbformat
import pytest
from nbformat.v4 import new_code_cell

import course_config
from autograder import sandbox
from autograder.checks import check_module_path
from autograder.grade import grade_file
from autograder.samples import make_sample
from tests.test_grading import STRUCTURAL_CHECKS

pytestmark = pytest.mark.slow
ASSIGNMENT = "imdb_sentiment"
# The cell limit leaves room for the tiny variants cell (about 10 s) on a loaded 2-core machine.
LIMITS = {"CELL_TIMEOUT_S": 30, "NOTEBOOK_TIMEOUT_S": 180, "CHECK_TIMEOUT_S": 10,
          "CHECKS_TIMEOUT_S": 240, "MEMORY_LIMIT_GB": 3.0, "MAX_OUTPUT_BYTES_PER_CELL": 100_000}
VECTORIZE = {"test_vectorize_shape_and_dtype", "test_vectorize_exact_multi_hot"}
BUILD = {"test_build_model_architecture", "test_build_model_compiled"}
DECODE = {"test_decode_review_matches_word_index"}


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def replace_in(grade_id: str, old: str, new: str) -> Callable:
    def edit(nb):
        assert old in cell(nb, grade_id).source, (grade_id, old)
        cell(nb, grade_id).source = cell(nb, grade_id).source.replace(old, new)
    return edit


def insert_cell(source: str, at: int = 2) -> Callable:
    return lambda nb: nb.cells.insert(at, new_code_cell(source))


def set_source(grade_id: str, source: str) -> Callable:
    def edit(nb):
        cell(nb, grade_id).source = source
    return edit


def set_points(grade_id: str, points: float) -> Callable:
    def edit(nb):
        cell(nb, grade_id).metadata["nbgrader"]["points"] = points
    return edit


def delete_cell(grade_id: str) -> Callable:
    return lambda nb: nb.cells.remove(cell(nb, grade_id))


CHECKS_FILE = "autograder/checks/imdb_sentiment.py"
# Anchors in the samples' solution code (the samples carry no ### SOLUTION markers).
BUILD_MODEL_RETURN = 'metrics=["accuracy"])\n    return model'
DECODE_BODY = "    reverse_word_index = "


@dataclass
class Case:
    name: str
    edit: Callable
    base: str = "reference"
    status: str | None = "completed"  # None: any
    says: str = ""  # found in the notes, the tampering list or a failed check's message
    fails: set = field(default_factory=set)
    passes: set = field(default_factory=set)
    needs_sandbox: bool = False


CASES = [
    Case("syntax_error", replace_in("vectorize_sequences", "dimension=10000):", "dimension=10000)"),
         says="syntax error", fails=VECTORIZE, passes=DECODE | BUILD),
    Case("exception_in_first_cell", insert_cell("raise RuntimeError('boom in the first cell')", at=1),
         says="RuntimeError: boom in the first cell", passes=STRUCTURAL_CHECKS),
    Case("missing_function", set_source("decode_review", "# deleted"),
         says="does not define `decode_review`", fails=DECODE, passes=VECTORIZE | BUILD),
    Case("wrong_shape", replace_in("vectorize_sequences", "    return results", "    return results.T"),
         says="Shape is", fails=VECTORIZE, passes=DECODE | BUILD),
    Case("infinite_loop_in_a_cell", insert_cell("while True:\n    pass"), status="timed out",
         says=f"Timed out after {LIMITS['CELL_TIMEOUT_S']} s in cell 3", passes=STRUCTURAL_CHECKS),
    Case("infinite_loop_in_a_function", replace_in("build_model", '    """The 16-16-1', '    while True:\n        pass\n    """'),
         status="timed out", says="ran past its 10 s limit", fails=BUILD, passes=DECODE | VECTORIZE),
    Case("memory_bomb", insert_cell("hoard = []\nwhile True:\n    hoard.append(b'x' * 10**8)"),
         status="memory limit", says="more than 3 GB", passes=STRUCTURAL_CHECKS),
    Case("os_exit_kills_the_kernel", insert_cell("import os\nos._exit(1)"), status="kernel died",
         says="kernel died", passes=STRUCTURAL_CHECKS),
    Case("prints_hundreds_of_megabytes", insert_cell("for _ in range(200):\n    print('x' * 1_000_000)"),
         says="was cut", passes=STRUCTURAL_CHECKS),
    Case("deleted_test_cell", delete_cell("test_vectorize_sequences"),
         says="'test_vectorize_sequences' was deleted", passes=STRUCTURAL_CHECKS),
    Case("edited_test_cell", replace_in("test_decode_review", "assert decode_review", "assert True or decode_review"),
         says="'test_decode_review' is locked but was edited", passes=STRUCTURAL_CHECKS),
    Case("raised_points_in_metadata", set_points("test_build_model", 300),
         says="metadata changed (points)", passes=STRUCTURAL_CHECKS),
    Case("hard_coded_accuracy_and_constant_model",
         lambda nb: (set_source("retrain_and_evaluate", "results = [0.1, 0.99]\nprint('test accuracy: 0.99')")(nb),
                     replace_in("build_model", 'keras.layers.Dense(1, activation="sigmoid"),',
                                'keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros", trainable=False),')(nb)),
         says="", fails={"test_grader_trained_test_accuracy"}, passes=DECODE | VECTORIZE),
    Case("pre_trained_model", replace_in("build_model", BUILD_MODEL_RETURN,
                                         BUILD_MODEL_RETURN.replace("    return", "    model.fit(np.zeros((8, 10000)), np.zeros(8), verbose=0)\n    return")),
         says="already trained", fails=BUILD | {"test_grader_trained_test_accuracy"}, passes=DECODE),
    Case("trained_on_the_test_set", replace_in("build_model", BUILD_MODEL_RETURN,
                                               BUILD_MODEL_RETURN.replace("    return", "    (_, _), (xt, yt) = load_imdb()\n"
                                                                          "    model.fit(vectorize_sequences(xt), yt, verbose=0)\n    return")),
         says="already trained", fails=BUILD | {"test_grader_trained_test_accuracy"}, passes=DECODE),
    Case("patches_numpy_inside_a_function",
         replace_in("vectorize_sequences", "    return results",
                    "    np.array_equal = lambda *a, **k: True\n    np.issubdtype = lambda *a: True\n    return results * 2"),
         fails={"test_vectorize_exact_multi_hot"}, passes=DECODE | BUILD),
    # Restoring Keras is proven in tests/test_submission_extract.py; here: no crash, no lost points.
    Case("patches_keras_predict",
         replace_in("build_model", '    model.compile(optimizer="rmsprop"',
                    '    keras.Model.predict = lambda self, x, **k: np.ones((len(x), 1))\n'
                    '    model.compile(optimizer="rmsprop"'),
         passes=STRUCTURAL_CHECKS),
    # Patched builtins can also break the student's own kernel: its status is not the point here.
    Case("patches_builtins", replace_in("decode_review", "    return \" \".join",
                                        "    import builtins\n    builtins.isinstance = lambda *a: True\n"
                                        "    builtins.type = lambda *a: str\n    return list"),
         status=None, fails=DECODE, passes=VECTORIZE | BUILD),
    Case("writes_the_grader_files",
         insert_cell(f"import course_config\nopen(course_config.ROOT / '{CHECKS_FILE}', 'w').write('')"),
         says="PermissionError", passes=STRUCTURAL_CHECKS, needs_sandbox=True),
    Case("reads_the_hidden_checks",
         lambda nb: (insert_cell(f"import course_config\nprint(open(course_config.ROOT / '{CHECKS_FILE}').read())")(nb),
                     replace_in("decode_review", DECODE_BODY,
                                f"    import course_config\n    open(course_config.ROOT / '{CHECKS_FILE}').read()\n"
                                + DECODE_BODY)(nb)),
         says="PermissionError", fails=DECODE, passes=VECTORIZE | BUILD, needs_sandbox=True),
    Case("network_call", insert_cell("import urllib.request\nurllib.request.urlopen('http://1.1.1.1', timeout=5)"),
         says="URLError", passes=STRUCTURAL_CHECKS, needs_sandbox=True),
    Case("eq_always_true",
         lambda nb: (replace_in("decode_review", "    return \" \".join",
                                "    class Anything(str):\n        def __eq__(self, other):\n            return True\n"
                                "    return Anything('nonsense')\n    \" \".join")(nb),
                     replace_in("vectorize_sequences", "    return results",
                                "    class Agreeable(np.ndarray):\n        def __eq__(self, other):\n            return True\n"
                                "    return np.zeros_like(results).view(Agreeable)")(nb)),
         fails=DECODE | {"test_vectorize_exact_multi_hot"}, passes=BUILD),
    Case("silences_tracebacks", insert_cell("get_ipython().showtraceback = lambda *a, **k: None", at=1),
         base="blank", says="not implemented yet", fails=STRUCTURAL_CHECKS),
    Case("behaves_differently_when_graded",
         replace_in("decode_review", DECODE_BODY,
                    "    import os\n    if any('NBGRADER' in k or 'AUTOGRADER' in k for k in os.environ):\n"
                    "        return 'graded!'\n" + DECODE_BODY),
         passes=STRUCTURAL_CHECKS),
    Case("fabricated_history",
         set_source("train_20_epochs",
                    "class Fabricated:\n    history = {'loss': [0.3] * 20, 'accuracy': [0.9] * 20,\n"
                    "               'val_loss': [0.3] * 20, 'val_accuracy': [0.8812] * 20}\nhistory = Fabricated()"),
         says="does not match the model that produced it", fails={"test_notebook_history_has_every_epoch"},
         passes=STRUCTURAL_CHECKS),
    Case("prints_fake_grader_lines",
         insert_cell("print('test_grader_trained_test_accuracy   3/3  ok')\nprint('total 16/16')\n"
                     "print('AUTOGRADER-EXPORT:{\"history\": {\"loss\": [0.1]}}')"),
         base="blank", fails=STRUCTURAL_CHECKS | {"test_notebook_history_has_every_epoch"}),
]


@pytest.fixture(scope="module")
def limits(tiny_data_for_module):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS.items():
            patch.setattr(course_config, name, value)
        patch.setenv("COURSE_CHECK_TIMEOUT_S", str(LIMITS["CHECK_TIMEOUT_S"]))
        yield


@pytest.fixture(scope="module")
def base_scores(limits, tmp_path_factory):
    """What the unmodified bases earn on tiny data (the reference: more than its structural checks
    alone, since a 4-review test set can make chance accuracy pass)."""
    folder = tmp_path_factory.mktemp("bases")
    return {base: grade_case(Case(base, lambda nb: None, base=base), folder) for base in ("reference", "blank")}


def grade_case(case: Case, folder):
    notebook = make_sample(ASSIGNMENT, case.base)
    case.edit(notebook)
    path = folder / f"{case.name}.ipynb"
    nbformat.write(notebook, path)
    return grade_file(path, ASSIGNMENT)[0]


def test_corpus_has_at_least_twenty_cases():
    assert len(CASES) >= 20 and len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_submission_gets_its_expected_result(case, base_scores, tmp_path):
    if case.needs_sandbox and not sandbox.available():
        pytest.skip("needs the sandbox (run the grader as root)")
    checks_before = hashlib.sha256(check_module_path(ASSIGNMENT).read_bytes()).hexdigest()
    report = grade_case(case, tmp_path)
    checks = {check.name: check for check in report.checks}
    said = "\n".join(report.notes + report.tampering + [c.message for c in report.checks])

    base = {check.name: check for check in base_scores[case.base].checks}
    assert report.max_score == 16
    assert report.score <= base_scores[case.base].score - sum(base[name].score for name in case.fails)
    assert case.status is None or report.execution_status == case.status, said
    assert case.says in said
    assert not [name for name in case.fails if checks[name].passed]
    assert not [name for name in case.passes if not checks[name].passed], said
    assert hashlib.sha256(check_module_path(ASSIGNMENT).read_bytes()).hexdigest() == checks_before


def test_same_submission_graded_twice_gets_the_same_result(limits, tmp_path):
    """Determinism, with a submission that seeds itself from the clock."""
    case = Case("clock_seeded", replace_in("build_model", "    model = keras.Sequential([",
                                           "    import time\n    np.random.seed(int(time.time()) % 1000)\n"
                                           "    model = keras.Sequential(["))
    first, second = grade_case(case, tmp_path), grade_case(case, tmp_path)
    assert [(c.name, c.score, c.message) for c in first.checks] == [(c.name, c.score, c.message) for c in second.checks]
