"""The trade-offs figure: which points are on the Pareto front, and labels that collide with
nothing even when seven variants on three runtimes crowd into three clumps."""

from __future__ import annotations

from lenet_edge.report.pareto import pareto_front
from lenet_edge.report.recommend import Outcome


def crowded_outcomes() -> list[Outcome]:
    """Seven variants on three runtimes, equal accuracy, sizes in three clumps."""
    sizes = {"fp32": 244, "fp16": 125, "dynamic": 67, "int8": 70, "int16x8": 73,
             "onnx-fp32": 243, "onnx-int8": 74}
    rows = []
    for k, runtime in enumerate(("litert", "tflite-runtime", "onnxruntime")):
        for i, (variant, kib) in enumerate(sizes.items()):
            rows.append(Outcome(variant, runtime, "pass" if i != 3 else "fail",
                                bytes=kib * 1024 + k, accuracy=0.9916,
                                p50_us=10.0 + i + 0.2 * k))
    return rows


def marker_box(ax, collection):
    """A scatter marker's square in pixels (its size is an area in points squared)."""
    from matplotlib.transforms import Bbox

    (x, y), = ax.transData.transform(collection.get_offsets())
    r = collection.get_sizes()[0] ** 0.5 / 2 * ax.figure.dpi / 72
    return Bbox([[x - r, y - r], [x + r, y + r]])


def test_scatter_labels_overlap_neither_each_other_nor_the_points():
    from lenet_edge.report.figures import tradeoffs_figure

    rows = crowded_outcomes()
    fig = tradeoffs_figure(rows, [i % 4 == 0 for i in range(len(rows))], ("dynamic", "litert"))
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = [t.get_window_extent(renderer) for t in ax.texts]
        points = [marker_box(ax, c) for c in ax.collections]
        frame = ax.get_window_extent(renderer)
        named = "\n".join(t.get_text() for t in ax.texts)
        assert {o.variant for o in rows} <= set(named.split("\n"))
        for i, label in enumerate(labels):
            assert frame.x0 <= label.x0 and label.x1 <= frame.x1, "label outside the axes"
            assert not any(label.overlaps(other) for other in labels[i + 1:])
            hit = [ax.collections[k].get_offsets() for k, p in enumerate(points)
                   if label.overlaps(p)]
            assert not hit, f"{ax.texts[i].get_text()!r} covers points at {hit}"


# --- the Pareto front -----------------------------------------------------------------------


def test_pareto_front_keeps_points_nothing_beats_on_every_objective():
    # (size, latency): c is beaten by a on both; d ties a exactly and stays with it.
    points = {"a": (1, 5), "b": (5, 1), "c": (6, 6), "d": (1, 5), "e": (2, 2)}
    flags = pareto_front(list(points.values()), [lambda p: p[0], lambda p: p[1]])
    assert dict(zip(points, flags, strict=True)) == {
        "a": True, "b": True, "c": False, "d": True, "e": True}


def test_pareto_front_of_one_point_is_that_point():
    assert pareto_front([(3, 3)], [lambda p: p[0]]) == [True]
