"""Reading a figure that a student's function returned, through matplotlib's own classes only.

The function could return look-alike objects, or give its artists methods of their own
(`line.get_ydata = lambda: expected` on a line that shows something else). So every object read
must be of matplotlib's exact class, and every method is called through that class; the check
process puts these classes and their modules back after each call into student code.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection, PolyQuadMesh, QuadMesh  # noqa: E402
from matplotlib.contour import QuadContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.tri import TriContourSet  # noqa: E402

FILL_TYPES = (QuadContourSet, TriContourSet, QuadMesh, PolyQuadMesh, AxesImage)  # contourf, pcolor(mesh), imshow
READ_TYPES = (Figure, Axes, Axes.ArtistList, Line2D, Legend, PathCollection, *FILL_TYPES)


def protected_namespaces() -> list:
    """The classes a figure is read through, their matplotlib bases, and the modules defining them."""
    classes = {base for cls in READ_TYPES for base in cls.__mro__ if base.__module__.startswith("matplotlib")}
    modules = {sys.modules[cls.__module__] for cls in classes}
    return [*sorted(classes, key=lambda c: (c.__module__, c.__qualname__)), *sorted(modules, key=lambda m: m.__name__)]


def figure_axes(figure, produced_by: str) -> list[Axes]:
    """The figure's plain Axes; anything but a matplotlib Figure fails the check."""
    assert type(figure) is Figure, (
        f"{produced_by} returned {type(figure).__name__}; return the matplotlib Figure (fig, ax = plt.subplots())."
    )
    return [ax for ax in figure.axes if type(ax) is Axes]  # `axes`: a property, not shadowed per instance


def labelled_lines(axes: list[Axes]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """label -> (x, y) of every line, as float arrays matplotlib itself converted."""
    lines = {}
    for ax in axes:
        for line in ax.lines:
            if type(line) is Line2D:
                xy = (Line2D.get_xdata(line, orig=False), Line2D.get_ydata(line, orig=False))
                lines[str(Line2D.get_label(line))] = tuple(np.asarray(v, dtype=np.float64) for v in xy)
    return lines


def has_legend(axes: list[Axes]) -> bool:
    return any(type(Axes.get_legend(ax)) is Legend for ax in axes)


def has_fill(axes: list[Axes]) -> bool:
    """A filled contour, mesh or image over the plane."""
    return any(type(artist) in FILL_TYPES for ax in axes for artist in (*ax.collections, *ax.images))


def scattered_points(axes: list[Axes]) -> np.ndarray:
    """Every point of every scatter plot, (n, 2)."""
    points = [np.asarray(PathCollection.get_offsets(c), dtype=np.float64).reshape(-1, 2)
              for ax in axes for c in ax.collections if type(c) is PathCollection]
    return np.concatenate(points) if points else np.empty((0, 2))


def close_figures() -> None:
    plt.close("all")
