"""The report's tables as plain rows of text: html.py and markdown.py only add the markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lenet_edge.report.recommend import Outcome, Recommendation, kib


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    right: set[int] = field(default_factory=set)  # columns of figures, right-aligned
    marks: list[str] = field(default_factory=list)  # per row: "", "recommended" or "fail"
    values: list[list[float | None]] | None = None  # per cell, for colour scales (per-class)
    caption: str = ""  # what the columns mean


def summary(rows: Sequence[Outcome], on_front: Sequence[bool] | None,
            recommendation: Recommendation | None) -> Table:
    """One row per variant x runtime: the figures a choice is made on.

    `on_front` (parallel to `rows`) adds a Pareto column; None leaves it out.
    """
    batch = next((o.throughput_batch for o in rows if o.throughput_batch), None)
    pareto = ["Pareto"] if on_front is not None else []
    caption = ("vs float: accuracy change in points; agreement: share of images with the float "
               "model's top-1 class; p50: median µs per call at batch 1")
    table = Table(["variant", "runtime", "size", "accuracy", "vs float", "agreement", "p50 µs",
                   "img/s", *pareto, "verdict"], right={2, 3, 4, 5, 6, 7},
                  caption=caption + (f"; img/s: images per second at batch {batch}."
                                     if batch else "."))
    chosen = (recommendation.variant, recommendation.runtime) if recommendation else None
    for i, o in enumerate(rows):
        recommended = (o.variant, o.runtime) == chosen
        front = ["yes" if on_front[i] else ""] if on_front is not None else []
        table.rows.append([
            o.variant, o.runtime, _or_dash(o.bytes, kib), _or_dash(o.accuracy, _percent),
            _or_dash(o.delta_points, lambda d: f"{d:+.2f}"),
            _or_dash(o.agreement, _percent), _or_dash(o.p50_us, lambda v: f"{v:.1f}"),
            _or_dash(o.throughput_ips, lambda v: f"{v:,.0f}"), *front,
            "recommended" if recommended else o.status,
        ])
        table.marks.append("recommended" if recommended else
                           "" if o.status == "pass" else "fail")
    return table


def rejected(recommendation: Recommendation) -> Table:
    table = Table(["variant", "runtime", "why not", "detail"])
    for r in recommendation.rejected:
        table.rows.append([r.variant, r.runtime, r.why, r.detail])
        table.marks.append("fail" if r.why in ("failed gate", "incompatible") else "")
    return table


def per_class(verify: dict[str, Any], class_names: Sequence[str]) -> Table:
    """Accuracy change per class versus float, in points, one row per variant x runtime."""
    table = Table(["variant", "runtime", *class_names], right=set(range(2, 2 + len(class_names))))
    table.values = []
    for r in verify["results"]:
        deltas = r.get("per_class_delta")
        if deltas is None:
            continue
        table.rows.append([r["variant"], r["runtime"],
                           *(_or_dash(d, lambda v: f"{v:+.1f}") for d in deltas)])
        table.values.append([None, None, *deltas])
        table.marks.append("")
    return table


def latency(benchmark: dict[str, Any]) -> Table:
    table = Table(["variant", "runtime", "batch", "runs", "min µs", "p50 µs", "p90 µs",
                   "p99 µs", "max µs", "img/s", "load ms", "peak RSS MB"],
                  right=set(range(2, 12)))
    several = len({r.get("threads") for r in benchmark["results"]}) > 1
    for r in benchmark["results"]:
        runtime = f"{r['runtime']}, {r['threads']} thr" if several else r["runtime"]
        if r["status"] != "ok":
            table.rows.append([r["variant"], runtime, "-", r["status"], *[""] * 8])
            table.marks.append("fail")
            continue
        table.rows.append([
            r["variant"], runtime, str(r["batch"]), str(r["runs"]),
            *(f"{r[k]:.1f}" for k in ("min_us", "p50_us", "p90_us", "p99_us", "max_us")),
            f"{r['throughput_ips']:,.0f}", f"{r['load_ms']:.1f}", f"{r['peak_rss_mb']:.0f}",
        ])
        table.marks.append("")
    return table


def stages(pipeline: dict[str, Any]) -> Table:
    table = Table(["stage", "wall s", "CPU s", "process"], right={1, 2})
    for s in pipeline.get("stages", []):
        table.rows.append([s["stage"], f"{s['seconds']:.1f}", f"{s['cpu_seconds']:.1f}",
                           s["process"]])
        table.marks.append("")
    return table


def training(train: dict[str, Any]) -> Table:
    config, dataset = train.get("config", {}), train.get("dataset", {})
    table = Table(["", "value"])  # a header row: Markdown has no table without one
    rows = [
        ("float test accuracy", _or_dash(train.get("test_accuracy"), _percent)),
        ("epochs", str(config.get("epochs"))),
        ("batch size", str(config.get("batch_size"))),
        ("augmentation", "on" if config.get("augment") else "off"),
        ("train time", _or_dash(train.get("train_seconds"), lambda s: f"{s:.1f} s")),
        ("parameters", _or_dash(train.get("parameters"), lambda n: f"{n:,}")),
        ("dataset", f"{dataset.get('source')} ({dataset.get('num_train')} train / "
                    f"{dataset.get('num_test')} test)"),
    ]
    for key, value in rows:
        table.rows.append([key, value])
        table.marks.append("")
    return table


def versions(groups: dict[str, dict[str, str]]) -> Table:
    """One row per place versions were recorded: `tool version` pairs."""
    table = Table(["recorded", "versions"])
    for group, tools in groups.items():
        table.rows.append([group, " · ".join(f"{tool} {version}"
                                             for tool, version in tools.items())])
        table.marks.append("")
    return table


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _or_dash(value, fmt) -> str:
    return "-" if value is None else fmt(value)
