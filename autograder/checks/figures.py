"""Reading a figure a student's function returned: the kernel sends its lines' and collections' data.

The kernel describes each axes of the figure (`kernel/server.py`): every line's label and x/y data,
every scatter plot's points, how many filled contours, meshes or images it holds, and whether it
has a legend. The checks read only that data (`wire.FigureData`), never a matplotlib object.
"""

from __future__ import annotations

import numpy as np

from autograder.checks.common import type_name
from autograder.kernel import wire


def figure_axes(figure, produced_by: str) -> list[wire.AxesData]:
    """The figure's axes; anything but a matplotlib Figure fails the check."""
    assert isinstance(figure, wire.FigureData), (
        f"{produced_by} returned {type_name(figure)}; return the matplotlib Figure (fig, ax = plt.subplots())."
    )
    return figure.axes


def labelled_lines(axes: list[wire.AxesData]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """label -> (x, y) of every line."""
    return {label: xy for ax in axes for label, xy in ax.lines.items()}


def has_legend(axes: list[wire.AxesData]) -> bool:
    return any(ax.legend for ax in axes)


def has_fill(axes: list[wire.AxesData]) -> bool:
    """A filled contour, mesh or image over the plane."""
    return any(ax.fills > 0 for ax in axes)


def scattered_points(axes: list[wire.AxesData]) -> np.ndarray:
    """Every point of every scatter plot, (n, 2)."""
    points = [ax.scatter for ax in axes if len(ax.scatter)]
    return np.concatenate(points) if points else np.empty((0, 2))
