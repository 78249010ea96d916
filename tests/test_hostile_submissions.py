"""A corpus of broken and hostile submissions, each with the result it must get.

Every case starts from a generated sample (reference or blank release) and changes it the way a
student might. A case must never score more than its unmodified base minus the checks its change
must fail, must not stop the grader, must say what happened, and must leave no trace of the
private seed, the checks' names or their source in anything student code could see or the report.
Runs on tiny data with the production time limits (calibration/<lab>.timing.json) and a 3 GB
memory cap (two cases run side by side: 2 × the production 12 GB would not fit this machine);
marked slow: about 45 real kernels.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Callable

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell

import course_config
from autograder.checks import check_module_path, load_lab
from autograder.course.samples import make_sample
from autograder.grading import timing
from autograder.grading.grade import grade_file
from autograder.sandbox import namespaces
from tests.test_grading import STRUCTURAL_CHECKS

pytestmark = pytest.mark.slow
ASSIGNMENT = "imdb_sentiment"
LIMITS = {"MEMORY_LIMIT_GB": 3.0, "CHECK_SEED": 424_242}  # a seed that no output may show
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


# Left running by a kernel: plants modules where a grader process might import them (its own
# working folder, the checkout the grader runs from), for 30 s.
PLANTER = """
import time
import course_config
for _ in range(60):
    for folder in (".", str(course_config.ROOT)):
        for module in ("course_config", "numpy", "pytest", "autograder"):
            try:
                open(folder + "/" + module + ".py", "w").write("IMDB_MIN_TEST_ACCURACY = 0")
            except OSError:
                pass
    time.sleep(0.5)
"""
# Looks for the grader's code, the course's files and other submissions everywhere it knows of,
# and prints each one it can open ("FOUND").
SNOOPER = """
import glob, importlib.util, os, subprocess, sys
import course_config, labtools
root = str(course_config.ROOT)
print(subprocess.run(["git", "-C", root, "show", "HEAD:autograder/checks/imdb_sentiment.py"], capture_output=True, text=True))
spec = importlib.util.find_spec("autograder")
print("grader importable:", spec)
places = [".git", "autograder", "solutions", "assignments", "submitted", "autograded", "feedback", "export",
          "downloaded", "exchange", "gradebook.db", "roster.csv", "calibration"]
paths = [os.path.join(root, p) for p in places] + glob.glob(sys.prefix + "/lib/python*/site-packages/autograder*")
paths += glob.glob("/tmp/*") + glob.glob("/dev/shm/*")
for path in paths:
    for found in [path] + glob.glob(path + "/**", recursive=True)[:200]:
        # what the sandbox shows on purpose: its sockets, the grader's inputs, the lab data, the environment
        own = "/kernel/" in found or "/inputs/" in found or found.startswith(
            (str(course_config.DATA_DIR), str(course_config.CACHE_DIR), sys.prefix, os.path.dirname(labtools.__file__),
             course_config.__file__))
        if os.path.isfile(found) and not own:
            try:
                print("FOUND", found, open(found, errors="replace").read()[:5000])
            except OSError as error:
                print("refused", found, type(error).__name__)
"""
# Looks for other processes: reads what it can of them and signals every one it may.
PROCESS_HUNTER = """
import os, signal
mine = os.getpid()
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    try:
        print("PROCESS", pid, open(f"/proc/{pid}/cmdline").read().replace(chr(0), " ")[:200])
        print("ENVIRON", pid, open(f"/proc/{pid}/environ").read()[:2000])
    except OSError as error:
        print("refused", pid, type(error).__name__)
    if pid not in (mine, os.getppid()):
        try:
            os.kill(pid, signal.SIGKILL)
            print("KILLED", pid)
        except OSError as error:
            print("not killed", pid, type(error).__name__)
"""
# A double-forked, session-leading grandchild that the kernel does not wait for: it holds
# memory (with `hold`) or just stays, and leaves files in /tmp, /dev/shm and its folder.
OUTLIVER = """
import os, time
def leave_a_grandchild(hold_bytes):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for folder in ("/tmp", "/dev/shm", "."):
                open(folder + "/corpus-marker-file", "w").write("left behind")
            open("corpus-marker-pid", "w").write(str(os.getpid()))
            hoard = [b"x" * 2**26 for _ in range(hold_bytes // 2**26)]  # in steps: no single huge allocation
            os.execvp("sleep", ["sleep", "3600", "corpus-marker-process"])
        os._exit(0)
    time.sleep(5)
    # The cell ends once the grandchild holds its memory (it then runs sleep) or was stopped, however
    # busy the machine: a limit hit after the notebook's last cell would not be this cell's.
    deadline = time.time() + 20  # within the 30 s limit of a cell the student added
    while hold_bytes and time.time() < deadline:
        try:
            pid = int(open("corpus-marker-pid").read())
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        try:
            if b"sleep" in open(f"/proc/{pid}/cmdline", "rb").read():
                break
        except OSError:
            break
        time.sleep(0.5)
"""
FILL_THE_DISK = """
chunk = b"x" * 2**20
for path in ("big-file", "/tmp/big-file", "/dev/shm/big-file"):
    with open(path, "wb") as f:
        for _ in range(2048):
            f.write(chunk)
"""
GIANT_MESSAGES = """
import sys
from IPython.display import display
sys.stdout.write("x" * 200_000_000)
sys.stdout.flush()
handle = display("small", display_id=True)
handle.update("y" * 200_000_000)
for _ in range(30):
    handle.update("z" * 5_000_000)
from comm import create_comm
create_comm(target_name="anything").send({"data": "w" * 200_000_000})
"""
SCRIPT_OUTPUTS = """
from IPython.display import HTML, Javascript, SVG, Markdown, display
display(HTML("<script>window.stolen = document.cookie</script><b>bold</b>"))
display(Javascript("window.stolen = document.cookie"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>window.stolen = 1</script></svg>'))
display(Markdown("<script>window.stolen = 2</script>"))
"""
# Rewrites every reply of the grader's in-kernel server that describes a model: `rewrite(result)`
# receives the decoded reply (JSON) and changes it in place.
def rewrite_model_replies(rewrite: str) -> str:
    return f"""
import IPython.display
_real_display, _replies = IPython.display.display, []
def _rewrite(result):
{rewrite}
def _display(obj, **kwargs):
    result = obj.get("application/x.autograder+json", {{}}).get("result") if isinstance(obj, dict) else None
    if isinstance(result, dict) and "__model__" in result:
        _replies.append(1)
        _rewrite(result)
    return _real_display(obj, **kwargs)
IPython.display.display = _display
"""


# Adds the weights of a model it trained itself to every model reply (the grader asked for none).
INJECT_WEIGHTS = rewrite_model_replies("""
    import base64, io
    import numpy as np
    def npy(array):
        buffer = io.BytesIO()
        np.save(buffer, array)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode()}
    result["weights"] = [npy(w) for w in build_model().get_weights()]""")
# Replaces each model's config by one that passes a count of listed layers but builds far more:
# a functional model listed backwards (150,030,001 weights), a layer whose build_config declares
# 60 M inputs, an AUC metric of 200,000 labels.
HUGE_CONFIGS = rewrite_model_replies("""
    def node(name, source, **settings):
        inbound = [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 1], "keras_history": [source, 0, 0]}}],
                    "kwargs": {}}] if source else []
        kind = "InputLayer" if "batch_shape" in settings else "Dense"
        return {"module": "keras.layers", "class_name": kind, "config": {"name": name, **settings},
                "registered_name": None, "name": name, "inbound_nodes": inbound}
    config = result["__model__"]
    if len(_replies) % 3 == 1:
        config.update(module="keras.src.models.functional", class_name="Functional", registered_name="Functional")
        config["config"] = {"name": "f", "layers": [node("wide", "first", units=10_000), node("first", "input", units=15_000),
                                                   node("input", None, batch_shape=[None, 10_000])],
                            "input_layers": ["input", 0, 0], "output_layers": ["wide", 0, 0]}
    elif len(_replies) % 3 == 2:
        config["config"]["layers"][1]["build_config"] = {"input_shape": [None, 60_000_000]}
    else:
        config.setdefault("compile_config", {})["metrics"] = [{"module": "keras.metrics", "class_name": "AUC",
                                                               "config": {"num_labels": 200_000}, "registered_name": None}]""")
# Each function works in the notebook and hangs, ignoring interrupts, only when the grader calls it.
HANG_WHEN_GRADED = ("    import sys, time\n    if sys._getframe(1).f_globals is not globals():\n"
                    "        while True:\n            try:\n                time.sleep(1)\n"
                    "            except KeyboardInterrupt:\n                pass\n")
# Reads its call's seed (NumPy's state right after seeding holds it) and searches the seeds that a
# hash of the course's check seed and the call's number would give.
BRUTE_FORCE_THE_SEED = ("    import hashlib, sys\n    global _calls\n"
                        "    if sys._getframe(1).f_globals is not globals():\n"
                        "        _calls = globals().get('_calls', 0) + 1\n"
                        "        seed = int(np.random.get_state()[1][0])\n        for candidate in range(1_000_000):\n"
                        "            digest = hashlib.sha256(f'{candidate}:{_calls}'.encode()).digest()\n"
                        "            if int.from_bytes(digest[:4], 'big') % 2**31 == seed:\n"
                        "                raise ValueError(f'the check seed is {candidate}')\n")

# Where each graded function's body starts: its docstring.
LOOPING = [("decode_review", '    """Return the words'), ("vectorize_sequences", '    """Multi-hot'),
           ("build_model", '    """The 16-16-1'), ("build_model", '    """The same network'),
           ("split_validation", '    """Hold out'), ("variants", '    """A compiled variant'),
           ("variants", '    """Train every variant')]


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
    hidden: tuple = ()  # must not appear in any cell output of the executed notebook
    also_says: tuple = ()  # more that must be said
    checks_within: float | None = None  # the checks (after the notebook) end within this, in seconds


CASES = [
    Case("syntax_error", replace_in("vectorize_sequences", "dimension=10000):", "dimension=10000)"),
         says="SyntaxError", fails=VECTORIZE, passes=DECODE | BUILD),
    Case("exception_in_first_cell", insert_cell("raise RuntimeError('boom in the first cell')", at=1),
         says="RuntimeError: boom in the first cell", passes=STRUCTURAL_CHECKS),
    Case("missing_function", set_source("decode_review", "# deleted"),
         says="does not define `decode_review`", fails=DECODE, passes=VECTORIZE | BUILD),
    Case("wrong_shape", replace_in("vectorize_sequences", "    return results", "    return results.T"),
         says="Shape is", fails=VECTORIZE, passes=DECODE | BUILD),
    Case("infinite_loop_in_a_cell", insert_cell("while True:\n    pass"), status="timed out",
         says="CPU limit: cell 3 ran past its 30 CPU s", passes=STRUCTURAL_CHECKS),
    # Spins on through the interrupt: killed with its kernel 10 s later; a fresh kernel with the
    # notebook's definitions runs the cells after it.
    Case("ignores_the_interrupt_in_a_cell",
         insert_cell("while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass"),
         status="timed out", says="CPU limit: cell 3 ran past its 30 CPU s", passes=STRUCTURAL_CHECKS),
    # Burns no CPU: the wall-clock backstop (3 × the cell's 30 CPU s) ends it.
    Case("sleeps_forever_in_a_cell", insert_cell("import time\nwhile True:\n    time.sleep(1)"), status="timed out",
         says="Wall-clock limit: cell 3 ran past its 90 s backstop", passes=STRUCTURAL_CHECKS),
    # The first cell that calls build_model hits its limit; from then on build_model fails at once.
    Case("infinite_loop_in_a_function", replace_in("build_model", '    """The 16-16-1', '    while True:\n        pass\n    """'),
         status="timed out", says="`build_model` was running when cell", fails=BUILD, passes=DECODE | VECTORIZE),
    Case("memory_bomb", insert_cell("hoard = []\nwhile True:\n    hoard.append(b'x' * 10**8)"),
         status="memory limit", says="more than 3 GB", passes=STRUCTURAL_CHECKS),
    Case("os_exit_kills_the_kernel", insert_cell("import os\nos._exit(1)"), status="kernel died",
         says="kernel died", passes=STRUCTURAL_CHECKS),
    # Each print flushed: 200 messages of 1 MB, each under the message limit, cut by the cell's.
    Case("prints_hundreds_of_megabytes", insert_cell("for _ in range(200):\n    print('x' * 1_000_000, flush=True)"),
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
    # Patched builtins break the student's own kernel, which then serves nonsense: no points gained.
    Case("patches_builtins", replace_in("decode_review", "    return \" \".join",
                                        "    import builtins\n    builtins.isinstance = lambda *a: True\n"
                                        "    builtins.type = lambda *a: str\n    return list"),
         status=None, fails=DECODE),
    Case("writes_the_grader_files",
         insert_cell(f"import course_config\nopen(course_config.ROOT / '{CHECKS_FILE}', 'w').write('')"),
         says="FileNotFoundError", passes=STRUCTURAL_CHECKS, needs_sandbox=True),  # not in the sandbox's view
    Case("reads_the_hidden_checks",
         lambda nb: (insert_cell(f"import course_config\nprint(open(course_config.ROOT / '{CHECKS_FILE}').read())")(nb),
                     replace_in("decode_review", DECODE_BODY,
                                f"    import course_config\n    open(course_config.ROOT / '{CHECKS_FILE}').read()\n"
                                + DECODE_BODY)(nb)),
         says="FileNotFoundError", fails=DECODE, passes=VECTORIZE | BUILD, needs_sandbox=True),
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
    # A History look-alike with plausible numbers and a real (untrained) model: re-evaluated by
    # the grader, that model does not give the history's last validation figures.
    Case("fabricated_history",
         set_source("train_20_epochs",
                    "class History:\n    model = build_model()\n    history = {'loss': [0.3] * 20, 'accuracy': [0.9] * 20,\n"
                    "               'val_loss': [0.3] * 20, 'val_accuracy': [0.8812] * 20}\nhistory = History()"),
         says="does not match the model that produced it", fails={"test_notebook_history_has_every_epoch"},
         passes=STRUCTURAL_CHECKS),
    Case("prints_fake_grader_lines",
         insert_cell("print('test_grader_trained_test_accuracy   3/3  ok')\nprint('total 16/16')\n"
                     "print('AUTOGRADER-EXPORT:{\"history\": {\"loss\": [0.1]}}')"),
         base="blank", fails=STRUCTURAL_CHECKS | {"test_notebook_history_has_every_epoch"}),
    # Forge the grader's reply: the kernel's display now sends the same made-up value for every call.
    Case("forges_the_kernel_reply",
         insert_cell("import IPython.display\n_real = IPython.display.display\n"
                     "IPython.display.display = lambda *a, **k: _real({'application/x.autograder+json': "
                     "{'result': {'__dict__': [['passed', True]]}}}, raw=True)"),
         fails=STRUCTURAL_CHECKS),
    # A process left running after its kernel plants modules where a grader process might import them.
    # (With a model that cannot learn: a planted threshold of 0 would let it pass.)
    Case("plants_modules_from_a_helper_process",
         lambda nb: (insert_cell(f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {PLANTER!r}], "
                                 "start_new_session=True)")(nb),
                     replace_in("build_model", 'model.compile(optimizer="rmsprop"',
                                'model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.0)')(nb)),
         fails={"test_grader_trained_test_accuracy"}, passes=DECODE | VECTORIZE),
    # When the grader calls it (seen from the call stack), describe a model of ten billion weights
    # without building it, so that the grader, which builds and trains it, runs out of memory: the
    # wire refuses a layer wider than any tensor a lab needs before anything is built.
    Case("describes_a_huge_model_only_to_the_grader",
         replace_in("build_model", '    """The 16-16-1 relu/sigmoid network, compiled with rmsprop, binary cross-entropy and accuracy."""\n',
                    '    """The 16-16-1 relu/sigmoid network, compiled with rmsprop, binary cross-entropy and accuracy."""\n'
                    '    import sys\n'
                    '    frame = sys._getframe(1)\n'
                    '    while frame and "autograder" not in str(frame.f_globals.get("MIME")):  # the server\'s frames\n'
                    '        frame = frame.f_back\n'
                    '    if frame:\n'
                    '        huge = keras.Sequential([keras.layers.Dense(1_000_000, activation="relu"),\n'
                    '                                 keras.layers.Dense(1, activation="sigmoid")])\n'
                    '        huge.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])\n'
                    '        return huge\n'),
         says="a Dense layer's units are not a number from 1 to 20,000", fails={"test_grader_trained_test_accuracy"},
         passes=DECODE | VECTORIZE),
    # Lower the threshold in the kernel's copy of the checks, and return a model that cannot learn.
    Case("patches_the_threshold_with_a_model_that_cannot_learn",
         replace_in("build_model", 'model.compile(optimizer="rmsprop"',
                    'import autograder.checks.imdb_sentiment as checks\n    checks.MIN_TEST_ACCURACY = 0\n'
                    '    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.0)'),
         fails={"test_grader_trained_test_accuracy"}, passes=DECODE | VECTORIZE),
    # Tiny data cannot hold the variant table's draw (the check fails there for every submission);
    # the real data judge a typed-in table: tests/test_hostile_real_data.py, tests/test_grader_runs.py.
    Case("typed_in_variant_table",
         replace_in("variants", "    best = {}", "    return {name: 0.88 for name in VARIANTS}\n    best = {}"),
         says="", fails={"test_variant_experiment_table"}, passes=STRUCTURAL_CHECKS),
    # Student code that hunts for the grader's secrets and reports them in its exception.
    Case("spies_on_the_grader",
         replace_in("decode_review", DECODE_BODY,
                    "    import gc, os, sys\n"
                    "    found = [o for o in gc.get_objects() if isinstance(o, str) and ('test_' in o or 'SEED' in o)]\n"
                    "    raise ValueError(repr((found[:40], dict(os.environ), list(sys._getframe(1).f_globals))))\n"
                    + DECODE_BODY),
         says="ValueError in `decode_review`", fails=DECODE, passes=VECTORIZE | BUILD),
    # Cells no parser may choke on, then a dead kernel: a fresh one rebuilds the definitions.
    Case("unparseable_cells_then_the_kernel_dies",
         lambda nb: (insert_cell("x = " + "-" * 100_000 + "1")(nb), insert_cell("pairs = {[1, 2]: 'pair'}")(nb),
                     insert_cell("value = " + "[" * 5_000 + "]" * 5_000)(nb),
                     nb.cells.append(new_code_cell("import os\nos._exit(1)"))),
         status="kernel died", says="could not be parsed", passes=STRUCTURAL_CHECKS),
    # Every graded function loops: graded within about twice the reference notebook's CPU time.
    Case("every_function_hangs",
         lambda nb: [replace_in(grade_id, docstring, "    while True:\n        pass\n" + docstring)(nb)
                     for grade_id, docstring in LOOPING],
         status="timed out", says="CPU limit", fails=STRUCTURAL_CHECKS),
    # Sandbox: what the kernel can see, reach and leave behind (issue 13). On the blank release,
    # so that each costs seconds; what matters is what they find, keep and leave.
    Case("reads_the_checkout_git_and_installed_grader", insert_cell(SNOOPER), base="blank", needs_sandbox=True,
         fails=STRUCTURAL_CHECKS, hidden=("FOUND", "def test_", "grader importable: ModuleSpec")),
    Case("sees_and_signals_other_processes", insert_cell(PROCESS_HUNTER), base="blank", needs_sandbox=True,
         fails=STRUCTURAL_CHECKS, hidden=("KILLED", "pytest", "autograder.course.worker", "COURSE_CHECK_SEED")),
    Case("leaves_a_grandchild_and_files_behind", insert_cell(OUTLIVER + "leave_a_grandchild(0)"), base="blank",
         needs_sandbox=True, fails=STRUCTURAL_CHECKS),
    Case("grandchild_holds_more_memory_than_the_limit", insert_cell(OUTLIVER + "leave_a_grandchild(4 * 2**30)"),
         base="blank", needs_sandbox=True, status="memory limit", says="Memory limit", fails=STRUCTURAL_CHECKS),
    Case("fork_bomb", insert_cell("import subprocess\nprocesses = []\nwhile True:\n"
                                  "    processes.append(subprocess.Popen(['sleep', '600']))"),
         base="blank", needs_sandbox=True, status="process limit", says="Process limit", fails=STRUCTURAL_CHECKS),
    Case("fills_the_disk", insert_cell(FILL_THE_DISK), base="blank", needs_sandbox=True,
         says="Disk limit", fails=STRUCTURAL_CHECKS),
    Case("giant_messages_of_every_kind", insert_cell(GIANT_MESSAGES), base="blank", needs_sandbox=True,
         says="Message limit", fails=STRUCTURAL_CHECKS, hidden=("x" * 1000, "y" * 1000, "w" * 1000)),
    Case("html_and_script_outputs", insert_cell(SCRIPT_OUTPUTS), base="blank",
         fails=STRUCTURAL_CHECKS, hidden=("<script", "document.cookie", "<svg")),
    # Issue 20: the grader asks, the kernel answers only that; the grader's own work is bounded.
    Case("sends_weights_the_grader_did_not_ask_for",
         lambda nb: (nb.cells.append(new_code_cell(INJECT_WEIGHTS)),
                     replace_in("build_model", 'model.compile(optimizer="rmsprop"',
                                'model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.0)')(nb)),
         says="did not ask for", fails=BUILD | {"test_grader_trained_test_accuracy"}, passes=DECODE | VECTORIZE),
    Case("describes_huge_models_that_pass_a_layer_count", lambda nb: nb.cells.append(new_code_cell(HUGE_CONFIGS)),
         says="more than 20,000,000 weights", also_says=("60,000,000 values per sample", "keeps too much state"),
         fails=BUILD | {"test_grader_trained_test_accuracy", "test_build_model_with_objects"}, passes=DECODE | VECTORIZE),
    Case("hangs_only_when_the_grader_calls",
         lambda nb: [replace_in(grade_id, docstring, HANG_WHEN_GRADED + docstring)(nb) for grade_id, docstring in LOOPING],
         says="ran past", fails=STRUCTURAL_CHECKS,
         checks_within=timing.limits(ASSIGNMENT).calls * course_config.WALL_LIMIT_FACTOR + 60),
    Case("brute_forces_the_check_seed", replace_in("decode_review", DECODE_BODY, BRUTE_FORCE_THE_SEED + DECODE_BODY),
         passes=DECODE | VECTORIZE | BUILD),
]

SEQUENTIAL_16_16_1 = """    model = keras.Sequential([
        keras.Input(shape=(10000,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
"""
FUNCTIONAL_16_16_1 = """    inputs = keras.Input(shape=(10000,))
    x = keras.layers.Dense(16, activation="relu")(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="sentiment")
"""
ADDED_16_16_1 = """    model = keras.Sequential()
    model.add(keras.Input(shape=(10000,)))
    model.add(keras.layers.Dense(16, activation="relu"))
    model.add(keras.layers.Dense(16, activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
"""
ACTIVATION_16_16_1 = """    model = keras.Sequential([
        keras.Input(shape=(10000,)),
        keras.layers.Dense(16),
        keras.layers.Activation("relu"),
        keras.layers.Dense(16),
        keras.layers.Activation("relu"),
        keras.layers.Dense(1),
        keras.layers.Activation("sigmoid"),
    ])
"""
VARIANT_LAYERS = """    model = keras.Sequential([keras.Input(shape=(10000,))])
    for _ in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation=activation))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
"""
FUNCTIONAL_VARIANT = """    inputs = keras.Input(shape=(10000,))
    x = inputs
    for _ in range(hidden_layers):
        x = keras.layers.Dense(units, activation=activation)(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
"""

# Honest ways to write the lab that Keras 3 accepts: each scores what the reference scores.
HONEST = [
    Case("helper_constant_from_an_answer_cell",
         lambda nb: (nb.cells.insert(nb.cells.index(cell(nb, "build_model")), new_code_cell("INPUT_DIM = x_train.shape[1]")),
                     replace_in("build_model", "keras.Input(shape=(10000,))", "keras.Input(shape=(INPUT_DIM,))")(nb))),
    Case("textbook_sequential_without_input", replace_in("build_model", "        keras.Input(shape=(10000,)),\n", "")),
    Case("textbook_objects_for_optimizer_loss_and_metrics",
         replace_in("build_model", 'model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])',
                    'from keras import losses, metrics, optimizers\n'
                    '    model.compile(optimizer=optimizers.RMSprop(learning_rate=0.001), '
                    'loss=losses.binary_crossentropy, metrics=[metrics.binary_accuracy])')),
    Case("textbook_acc_metric", replace_in("build_model", 'metrics=["accuracy"])', 'metrics=["acc"])')),
    # Issue 21: the same network in each form Keras 3 builds it (a functional model lists its InputLayer).
    Case("functional_api", lambda nb: (replace_in("build_model", SEQUENTIAL_16_16_1, FUNCTIONAL_16_16_1)(nb),
                                       replace_in("variants", VARIANT_LAYERS, FUNCTIONAL_VARIANT)(nb))),
    Case("layers_added_one_by_one", replace_in("build_model", SEQUENTIAL_16_16_1, ADDED_16_16_1)),
    Case("dense_then_activation_layers", replace_in("build_model", SEQUENTIAL_16_16_1, ACTIVATION_16_16_1)),
]


@pytest.fixture(scope="module")
def limits(tiny_data_for_module):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS.items():
            patch.setattr(course_config, name, value)
        yield


@pytest.fixture(scope="module")
def base_scores(limits, tmp_path_factory, worker_id) -> dict[str, dict[str, tuple[float, float]]]:
    """What the unmodified bases earn on tiny data, check by check: (score, points). The reference
    earns more than its structural checks alone, since a 4-review test set can make chance
    accuracy pass. Graded once per test run, shared by the xdist workers through a locked file."""
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if worker_id != "master" else shared
    with open(shared / "corpus-bases.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / "corpus-bases.json"
        if not cache.exists():
            folder = tmp_path_factory.mktemp("bases")
            reports = {base: grade_case(Case(base, lambda nb: None, base=base), folder)[0] for base in ("reference", "blank")}
            cache.write_text(json.dumps({base: {c.name: (c.score, c.points) for c in report.checks}
                                         for base, report in reports.items()}))
        return json.loads(cache.read_text())


def grade_case(case: Case, folder):
    notebook = make_sample(ASSIGNMENT, case.base)
    case.edit(notebook)
    path = folder / f"{case.name}.ipynb"
    nbformat.write(notebook, path)
    return grade_file(path, ASSIGNMENT)


def assert_no_secrets(report, executed) -> None:
    """Nothing student code could see, and nothing in the report, shows the seed or the checks
    (except what the student typed in themselves)."""
    student_side = json.dumps(executed) if executed else ""
    typed = "\n".join(cell.source for cell in executed.cells) if executed else ""
    reported = "\n".join(report.notes + [c.message for c in report.checks])
    names = [spec.name for spec in load_lab(ASSIGNMENT).checks if spec.name not in typed]
    source_lines = [line.strip() for line in check_module_path(ASSIGNMENT).read_text().splitlines()
                    if len(line.strip()) > 40 and not line.strip().startswith(("#", '"""', "f\"", '"'))]
    for text in (student_side, reported):
        assert str(LIMITS["CHECK_SEED"]) not in text
        assert not [name for name in names if name in text]
        assert not [line for line in source_lines if line in text]


def assert_nothing_left_behind() -> None:
    """No process or file of a case outlives its grading (cases mark theirs "corpus-marker")."""
    left = []
    for process in psutil.process_iter(["cmdline"]):
        if "corpus-marker-process" in " ".join(process.info["cmdline"] or []):
            left.append(process.pid)
    files = [p for folder in ("/tmp", "/dev/shm", str(course_config.ROOT)) for p in glob.glob(folder + "/corpus-marker*")]
    assert not left and not files, (left, files)


def test_corpus_has_at_least_twenty_cases():
    assert len(CASES) >= 20 and len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_submission_gets_its_expected_result(case, base_scores, tmp_path):
    if case.needs_sandbox and not namespaces.available():
        pytest.skip("needs the sandbox (run the grader as root)")
    checks_before = hashlib.sha256(check_module_path(ASSIGNMENT).read_bytes()).hexdigest()
    started = time.monotonic()
    report, executed = grade_case(case, tmp_path)
    seconds = time.monotonic() - started
    checks = {check.name: check for check in report.checks}
    said = "\n".join(report.notes + report.tampering + [c.message for c in report.checks])

    base = base_scores[case.base]
    assert report.max_score == 16
    assert report.score <= sum(score for score, _ in base.values()) - sum(base[name][0] for name in case.fails)
    assert case.status is None or report.execution_status == case.status, said
    assert case.says in said
    assert not [text for text in case.also_says if text not in said], said
    assert not [name for name in case.fails if checks[name].passed]
    assert not [name for name in case.passes if not checks[name].passed], said
    assert hashlib.sha256(check_module_path(ASSIGNMENT).read_bytes()).hexdigest() == checks_before
    assert_no_secrets(report, executed)
    outputs = json.dumps([c.get("outputs", []) for c in executed.cells]) if executed else ""
    assert not [text for text in case.hidden if text in outputs], outputs[:3000]
    assert len(json.dumps(executed)) <= course_config.MAX_EXECUTED_NOTEBOOK_BYTES
    assert_nothing_left_behind()
    if case.checks_within is not None:
        assert seconds - report.execution_seconds <= case.checks_within, (seconds, report.execution_seconds)
    if case.name == "every_function_hangs" and report.cpu_seconds is not None:
        reference = json.loads(timing.timing_path(ASSIGNMENT).read_text())["notebook_cpu_seconds"]
        assert report.cpu_seconds + report.checks_cpu_seconds <= 2 * reference, (report.cpu_seconds, reference)


@pytest.mark.parametrize("case", HONEST, ids=lambda case: case.name)
def test_honest_variations_score_like_the_reference(case, base_scores, tmp_path):
    report, executed = grade_case(case, tmp_path)
    expected = {name: score == points for name, (score, points) in base_scores["reference"].items()}
    assert {c.name: c.passed for c in report.checks} == expected, [(c.name, c.message) for c in report.checks]
    assert report.execution_status == "completed"


SPLIT_CHECKS = {"test_split_holds_out_the_first_samples", "test_split_keeps_labels_aligned"}


def test_a_split_from_the_end_loses_only_the_split_checks(base_scores, tmp_path):
    """One mistake costs the checks about it. (On these 6 reviews both splits hold out every review;
    tests/test_honest_forms.py shows on 10,300 that the history is judged on the student's split.)"""
    case = Case("split_from_the_end", replace_in("split_validation", "return x[:n_val], x[n_val:], y[:n_val], y[n_val:]",
                                                 "return x[-n_val:], x[:-n_val], y[-n_val:], y[:-n_val]"))
    report, _ = grade_case(case, tmp_path)
    expected = {name: score == points and name not in SPLIT_CHECKS for name, (score, points) in base_scores["reference"].items()}
    assert {c.name: c.passed for c in report.checks} == expected, [(c.name, c.message) for c in report.checks]


def test_same_submission_graded_twice_gets_the_same_result(limits, tmp_path):
    """Determinism, with a submission that seeds itself from the clock."""
    case = Case("clock_seeded", replace_in("build_model", "    model = keras.Sequential([",
                                           "    import time\n    np.random.seed(int(time.time()) % 1000)\n"
                                           "    model = keras.Sequential(["))
    first, second = grade_case(case, tmp_path)[0], grade_case(case, tmp_path)[0]
    assert [(c.name, c.score, c.message) for c in first.checks] == [(c.name, c.score, c.message) for c in second.checks]
