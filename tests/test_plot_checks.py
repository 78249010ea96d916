"""The plot checks read what each artist draws (its stored data): look-alikes and patched methods fail."""

from __future__ import annotations

import numpy as np
import pytest

import autograder.checks.overfitting_regularization as checks
from autograder.course.samples import make_sample
from tests.conftest import kernel_serving

HONEST = '''
import matplotlib.pyplot as plt

def plot_val_losses(histories):
    fig, ax = plt.subplots()
    for name, history in histories.items():
        values = history.history["val_loss"]
        ax.plot(range(1, len(values) + 1), values, label=name)
    ax.legend()
    return fig
'''
# Draws zeros, then makes each line report the expected values through its own method.
INSTANCE_METHOD = HONEST.replace(
    "ax.plot(range(1, len(values) + 1), values, label=name)",
    "line, = ax.plot(range(1, len(values) + 1), [0.0] * len(values), label=name)\n"
    "        line.get_ydata = lambda *args, values=values, **kwargs: np.asarray(values)",
).replace("import matplotlib.pyplot as plt", "import matplotlib.pyplot as plt\nimport numpy as np")
# Patches the class while it runs, so that every line reports the values it was meant to show.
PATCHED_CLASS = INSTANCE_METHOD.replace(
    "line.get_ydata = lambda *args, values=values, **kwargs: np.asarray(values)",
    "line.meant = values\n        type(line).get_ydata = lambda self, *args, **kwargs: np.asarray(self.meant)",
)
# A Figure look-alike whose lines say whatever the check wants to hear.
LOOK_ALIKE = '''
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

def plot_val_losses(histories):
    class Agreeable(Figure):
        pass
    fig = plt.figure(FigureClass=Agreeable)
    fig.add_subplot().plot([1], [0.0], label="nothing")
    return fig
'''
BOUNDARY = '''
import matplotlib.pyplot as plt
import numpy as np

def plot_decision_boundary(model, X, y):
    fig, ax = plt.subplots()
    xx, yy = np.meshgrid(np.linspace(-3, 3, 20), np.linspace(-3, 3, 20))
    probabilities = model.predict(np.c_[xx.ravel(), yy.ravel()], verbose=0).reshape(xx.shape)
    ax.contourf(xx, yy, probabilities)
    points = ax.scatter(X[:, 0], X[:, 1], c=y)
    HIDE
    return fig
'''


def run(check, source: str | None) -> str | None:
    """None when the check passes, else its message; source None: the lab's reference solution."""
    notebook = make_sample("overfitting_regularization", "reference") if source is None else None
    with kernel_serving(source or "", notebook=notebook) as submission:
        try:
            check(submission, np.random.default_rng(0))
        except AssertionError as error:
            return str(error)
    return None


def test_honest_plots_and_the_reference_pass():
    assert run(checks.test_plot_val_losses_draws_each_history, HONEST) is None
    assert run(checks.test_plot_val_losses_draws_each_history, None) is None
    assert run(checks.test_plot_decision_boundary, None) is None


@pytest.mark.parametrize("source", [INSTANCE_METHOD, PATCHED_CLASS], ids=["instance_method", "patched_class"])
def test_lines_that_report_other_values_fail(source):
    assert "does not show that history's validation loss" in run(checks.test_plot_val_losses_draws_each_history, source)


def test_figure_look_alike_fails():
    assert "returned Agreeable" in run(checks.test_plot_val_losses_draws_each_history, LOOK_ALIKE)


def test_decision_boundary_reads_the_scattered_points():
    assert run(checks.test_plot_decision_boundary, BOUNDARY.replace("HIDE", "")) is None
    hidden = BOUNDARY.replace("HIDE", "points.get_offsets = lambda: X")
    hidden = hidden.replace("ax.scatter(X[:, 0], X[:, 1], c=y)", "ax.scatter(X[:3, 0], X[:3, 1], c=y[:3])")
    assert "Scatter every point of X once" in run(checks.test_plot_decision_boundary, hidden)
