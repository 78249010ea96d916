"""The grader rebuilds only definitions from a notebook, never its training runs."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.checkrun import Submission
from autograder.submission import extract_definitions


def notebook(*sources: str):
    return new_notebook(cells=[new_markdown_cell("# Lab")] + [new_code_cell(s) for s in sources])


def test_keeps_definitions_imports_and_literals_but_not_statements():
    nb = notebook(
        "import numpy as np\n%matplotlib inline\nSIZES = {'a': 1}\nmodel = train_forever()",
        "@staticmethod\ndef double(x):\n    return 2 * x\nprint('side effect')",
        "class Box:\n    pass\nfor i in range(10**12):\n    pass",
    )
    code = "\n".join(piece.source for piece in extract_definitions(nb).pieces)
    assert "import numpy as np" in code and "SIZES = {'a': 1}" in code
    assert "@staticmethod\ndef double" in code and "class Box" in code
    assert "train_forever" not in code and "print(" not in code and "range(10**12)" not in code


def test_later_definitions_win_like_in_the_notebook():
    nb = notebook("def f():\n    return 1", "def f():\n    return 2")
    submission = Submission([vars(p) for p in extract_definitions(nb).pieces])
    assert submission.function("f")() == 2


def test_syntax_error_cell_is_reported_and_other_cells_still_count():
    nb = notebook("def broken(:\n    pass", "def fine():\n    return 'ok'")
    extracted = extract_definitions(nb)
    assert extracted.problems == ["Cell 2 has a syntax error (line 1: invalid syntax); nothing in it could be graded."]
    assert Submission([vars(p) for p in extracted.pieces]).function("fine")() == "ok"


def test_failing_import_is_reported_not_fatal():
    nb = notebook("import module_that_does_not_exist", "def fine():\n    return 1")
    submission = Submission([vars(p) for p in extract_definitions(nb).pieces])
    assert submission.function("fine")() == 1
    assert "ModuleNotFoundError" in submission.problems[0] and "Cell 2" in submission.problems[0]


def test_tracebacks_point_at_the_notebook_cell_and_line():
    nb = notebook("x = 1", "\n\ndef fails():\n    return 1 / 0")
    submission = Submission([vars(p) for p in extract_definitions(nb).pieces])
    with pytest.raises(ZeroDivisionError) as raised:
        submission.function("fails")()
    student_frame = raised.traceback[-1]
    assert str(student_frame.path) == "<notebook cell 3>" and student_frame.lineno + 1 == 4


def test_what_student_code_patches_is_restored_after_each_call():
    import builtins

    import keras
    import numpy

    nb = notebook(
        "import builtins, numpy, keras\n"
        "def cheat():\n"
        "    numpy.array_equal = lambda *a, **k: True\n"
        "    builtins.len = lambda x: 0\n"
        "    keras.Model.predict = lambda self, x: 'perfect'\n"
        "    numpy.brand_new = 1\n"
        "    return 'done'"
    )
    originals = numpy.array_equal, builtins.len, keras.Model.predict
    submission = Submission([vars(p) for p in extract_definitions(nb).pieces])
    assert submission.function("cheat")() == "done"
    assert (numpy.array_equal, builtins.len, keras.Model.predict) == originals
    assert not hasattr(numpy, "brand_new")
