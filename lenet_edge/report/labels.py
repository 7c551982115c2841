"""Scatter-plot labels that overlap neither each other, the points nor the axes' edges.

Points that nearly touch share one label (their names stacked, top point first,
each name once): seven variants often sit at two or three sizes with equal accuracy, and a
variant timed on several runtimes is one name (the marker's shape tells the runtimes apart).
Each label then takes the first free place around its points (right, left, above, below, the
diagonals); when all are taken it slides further out in rings, with a thin leader line back
to its points. Free means: inside the axes, clear of every marker and every label placed.

Works in display pixels, so the figure's layout must be final first (draw_without_rendering).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
_RINGS = 12  # how far out a label may slide, in steps of its clearance


def place_labels(ax, xy: Sequence[tuple[float, float]], names: Sequence[str],
                 clearance_pt: float = 9.0, fontsize: float = 8) -> list:
    """Annotate data points `xy` with `names` without collisions; return the Annotations.

    Args:
        ax: a matplotlib Axes whose limits and layout are final.
        xy: data coordinates, one per name.
        names: the labels.
        clearance_pt: a marker's radius plus a gap, in points (the largest marker drawn).
    """
    fig = ax.figure
    fig.draw_without_rendering()  # constrained layout: axes positions are final after this
    renderer = fig.canvas.get_renderer()
    pixels = ax.transData.transform(np.asarray(xy, dtype=float))
    clear = clearance_pt * fig.dpi / 72
    frame = ax.get_window_extent(renderer)
    obstacles = [(x - clear, y - clear, x + clear, y + clear) for x, y in pixels]
    labels = []
    to_data = ax.transData.inverted().transform
    for group in sorted(_groups(pixels, 1.5 * clear), key=len, reverse=True):  # big ones first
        group = sorted(group, key=lambda i: -pixels[i][1])
        label = "\n".join(dict.fromkeys(names[i] for i in group))  # each name once
        centre = pixels[group].mean(axis=0)
        probe = ax.text(0, 0, label, fontsize=fontsize)  # measured, then replaced
        box = probe.get_window_extent(renderer)
        probe.remove()
        dx, dy, ring = _free_offset(centre, box.width, box.height, clear, frame, obstacles)
        # Moved away from its points: a leader line says whose label it is.
        leader = ({"arrowstyle": "-", "color": "grey", "lw": 0.6, "shrinkA": 1,
                   "shrinkB": clearance_pt} if ring > 0 else None)
        labels.append(ax.annotate(label, to_data(centre), xytext=(dx, dy),
                                  textcoords="offset pixels", fontsize=fontsize, ha="center",
                                  va="center", arrowprops=leader, annotation_clip=False))
        x, y = centre[0] + dx, centre[1] + dy
        obstacles.append((x - box.width / 2, y - box.height / 2,
                          x + box.width / 2, y + box.height / 2))
    return labels


def _groups(pixels: np.ndarray, distance: float) -> list[list[int]]:
    """Indices of points chained closer than `distance` (single linkage), in input order."""
    parent = list(range(len(pixels)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(pixels)):
        for j in range(i):
            if np.all(np.abs(pixels[i] - pixels[j]) < distance):
                parent[root(i)] = root(j)
    found: dict[int, list[int]] = {}
    for i in range(len(pixels)):
        found.setdefault(root(i), []).append(i)
    return list(found.values())


def _free_offset(centre, width, height, clear, frame, obstacles) -> tuple[float, float, int]:
    """The first free offset (pixels) of a width x height label from `centre`, and its ring."""
    half_w, half_h = width / 2, height / 2
    for ring in range(_RINGS):
        reach = clear * (1 + ring) + 2  # 2 px: no label touches a marker's clearance
        for ux, uy in _DIRECTIONS:
            dx = ux * (reach + half_w)
            dy = uy * (reach + half_h)
            box = (centre[0] + dx - half_w, centre[1] + dy - half_h,
                   centre[0] + dx + half_w, centre[1] + dy + half_h)
            inside = (box[0] >= frame.x0 + 2 and box[2] <= frame.x1 - 2
                      and box[1] >= frame.y0 + 2 and box[3] <= frame.y1 - 2)
            if inside and not any(_overlap(box, o) for o in obstacles):
                return dx, dy, ring
    return clear + half_w, 0.0, 0  # nowhere free: beside the points, as before


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
