"""The report's figures as PNG bytes (matplotlib's Agg canvas: no display, no pyplot state)."""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from lenet_edge.report.recommend import Outcome
from lenet_edge.results.benchmark import BenchmarkResult

DPI = 110
_RUNTIME_MARKERS = {"litert": "o", "tflite-runtime": "s", "onnxruntime": "^"}
_PASS, _FAIL = "#1f77b4", "#d62728"


_F = TypeVar("_F", bound=Callable[..., Any])


def _quiet(draw: _F) -> _F:
    """Draw with matplotlib's warnings silenced.

    A label from a results file may hold a glyph the font lacks (CJK, an escape character):
    matplotlib warns on stderr, once per glyph, quoting the character, so a bundle's text
    reached the terminal and the figure had a box where the glyph was anyway.
    """
    @functools.wraps(draw)
    def quietly(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return draw(*args, **kwargs)
    return quietly  # type: ignore[return-value]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # a renderer to measure text with (labels.py)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


@_quiet
def tradeoffs(rows: Sequence[Outcome], on_front: Sequence[bool],
              recommended: tuple[str | None, str | None]) -> bytes | None:
    """Latency vs size and accuracy vs size, one point per variant x runtime.

    Pareto-optimal points get a black ring, the recommendation a star, gate failures red.
    """
    fig = tradeoffs_figure(rows, on_front, recommended)
    return None if fig is None else _png(fig)


@_quiet
def tradeoffs_figure(rows: Sequence[Outcome], on_front: Sequence[bool],
                     recommended: tuple[str | None, str | None]):
    """The trade-offs Figure (None: nothing measured on all three axes), labels placed."""
    points = [(o, front) for o, front in zip(rows, on_front, strict=True)
              if None not in (o.bytes, o.p50_us, o.accuracy)]
    if not points:
        return None
    from lenet_edge.report.labels import place_labels

    fig = _figure(10, 4.6)
    ax_lat, ax_acc = fig.subplots(1, 2)
    panels = ((ax_lat, lambda o: o.p50_us, "median latency at batch 1 (µs)"),
              (ax_acc, lambda o: o.accuracy * 100, "accuracy (%)"))
    for ax, value, label in panels:
        for o, front in points:
            x, y = o.bytes / 1024, value(o)
            colour = _PASS if o.status == "pass" else _FAIL
            ax.scatter(x, y, marker=_RUNTIME_MARKERS.get(o.runtime, "D"), s=46, color=colour,
                       zorder=3)
            if front:
                ax.scatter(x, y, s=190, facecolors="none", edgecolors="black", linewidths=1.3,
                           zorder=2)
            if (o.variant, o.runtime) == recommended:
                ax.scatter(x, y, marker="*", s=320, color="#ffbf00", edgecolors="black",
                           linewidths=0.8, zorder=4)
        ax.margins(x=0.12, y=0.12)  # room for labels beside the outermost points
        ax.set_xlabel("file size (KiB)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    accuracies = [o.accuracy * 100 for o, _ in points]
    # Autoscale around equal accuracies spans +-5 points (past 100%); keep to the data.
    pad = max(0.25, (max(accuracies) - min(accuracies)) * 0.25)
    ax_acc.set_ylim(min(accuracies) - pad, min(100.0 + pad / 4, max(accuracies) + pad))
    ax_lat.set_yscale("log")
    ax_lat.set_title("latency vs size (lower left is better)", fontsize=10)
    ax_acc.set_title("accuracy vs size (upper left is better)", fontsize=10)
    _legend(fig, {o.runtime for o, _ in points})  # below the panels: it covers no point
    names = [o.variant for o, _ in points]  # the marker's shape shows the runtime
    for ax, value, _ in panels:  # last: labels are placed on the final layout
        place_labels(ax, [(o.bytes / 1024, value(o)) for o, _ in points], names,
                     clearance_pt=12)  # the star's radius (s=320: 9 pt) and a gap
    return fig


def _legend(fig, runtimes: set[str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=_RUNTIME_MARKERS.get(r, "D"), ls="", color="grey", label=r)
               for r in sorted(runtimes)]
    handles += [
        Line2D([], [], marker="o", ls="", mfc="none", mec="black", ms=11, label="Pareto front"),
        Line2D([], [], marker="*", ls="", color="#ffbf00", mec="black", ms=13,
               label="recommended"),
        Line2D([], [], marker="o", ls="", color=_FAIL, label="failed a gate"),
    ]
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=len(handles))


@_quiet
def confusion(matrices: Sequence[tuple[str, np.ndarray]], class_names: Sequence[str]) -> bytes:
    """One heat map per (title, matrix); counts written in every non-empty cell."""
    fig = _figure(4.6 * len(matrices), 4.4)
    axes = np.atleast_1d(fig.subplots(1, len(matrices)))
    for ax, (title, matrix) in zip(axes, matrices, strict=True):
        ax.imshow(matrix, cmap="Blues")
        top = matrix.max() or 1
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                        color="white" if count > top / 2 else "black")
        ticks = range(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=45 if len(class_names[0]) > 2 else 0,
                      fontsize=8)
        ax.set_yticks(ticks, class_names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true label")
        ax.set_title(title, fontsize=10)
    return _png(fig)


@_quiet
def latency(rows: Sequence[BenchmarkResult]) -> bytes | None:
    """Latency percentiles per variant x runtime, one panel per batch size, log scale.

    A line spans min to p99, the dot is the median, the bar p90 and the cross the maximum:
    what benchmark records (it keeps percentiles, not every sample).
    """
    timed = [r for r in rows if r.timed and r.p50_us]
    batches = sorted({r.batch for r in timed})
    if not timed:
        return None
    several = len({r.threads for r in timed}) > 1  # benchmark --threads 1,2,4

    def label(r: BenchmarkResult) -> str:
        return f"{r.variant} · {r.runtime}" + (f" · {r.threads} thr" if several else "")

    labels = list(dict.fromkeys(map(label, timed)))
    fig = _figure(5 * len(batches), 0.9 + 0.36 * len(labels))
    axes = np.atleast_1d(fig.subplots(1, len(batches), sharey=True))
    for ax, batch in zip(axes, batches, strict=True):
        for r in (r for r in timed if r.batch == batch):
            y = labels.index(label(r))
            ax.plot([r.min_us, r.p99_us], [y, y], color="grey", lw=1.5)
            ax.plot([r.p90_us], [y], marker="|", ms=12, color="black")
            ax.plot([r.p50_us], [y], marker="o", color=_PASS)
            ax.plot([r.max_us], [y], marker="x", color="grey", ms=5)
        ax.set_xscale("log")
        ax.set_xlabel("µs per call")
        ax.set_title(f"batch {batch}", fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(range(len(labels)), labels, fontsize=8)
    axes[0].invert_yaxis()
    return _png(fig)


@_quiet
def training(history: Sequence[dict[str, float]], title: str) -> bytes | None:
    """Loss and accuracy per epoch, training and validation."""
    if not history:
        return None
    epochs = [row["epoch"] for row in history]
    fig = _figure(9, 3.3)
    for ax, key in zip(fig.subplots(1, 2), ("loss", "accuracy"), strict=True):
        ax.plot(epochs, [row[key] for row in history], label="train")
        if f"val_{key}" in history[0]:
            ax.plot(epochs, [row[f"val_{key}"] for row in history], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


@_quiet
def digit(image: np.ndarray, scale: int = 3) -> bytes:
    """A 28x28 uint8 image as a PNG, upscaled by whole pixels so edges stay sharp."""
    from matplotlib.image import imsave

    big = np.kron(np.asarray(image, dtype=np.uint8), np.ones((scale, scale), dtype=np.uint8))
    buf = io.BytesIO()
    imsave(buf, big, cmap="gray", vmin=0, vmax=255, format="png")
    return buf.getvalue()
