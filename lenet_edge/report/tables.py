"""The report's tables as plain rows of text: html.py and markdown.py only add the markup.

The verify and benchmark rows come from results/tables.py, as the CLI's and deploy's do.
"""

from __future__ import annotations

from collections.abc import Sequence

from lenet_edge.report.recommend import Outcome, Recommendation, kib
from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.results.pipeline import PipelineRecord
from lenet_edge.results.tables import Table, benchmark_table
from lenet_edge.results.verify import VerifyReport
from lenet_edge.train_record import TrainRecord


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


def per_class(verify: VerifyReport, class_names: Sequence[str]) -> Table:
    """Accuracy change per class versus float, in points, one row per variant x runtime."""
    table = Table(["variant", "runtime", *class_names], right=set(range(2, 2 + len(class_names))),
                  values=[])
    for r in verify.results:
        if r.per_class_delta is None:
            continue
        table.rows.append([r.variant, r.runtime,
                           *(_or_dash(d, lambda v: f"{v:+.1f}") for d in r.per_class_delta)])
        table.values.append([None, None, *r.per_class_delta])
        table.marks.append("")
    return table


def latency(benchmark: BenchmarkReport) -> Table:
    """The benchmark's rows (results/tables.py): percentiles, throughput, load and memory."""
    several = len({r.threads for r in benchmark.results}) > 1
    table = benchmark_table(benchmark).select(
        ("variant", "runtime", *(["thr"] if several else []), "batch", "runs", "min µs",
         "p50 µs", "p90 µs", "p99 µs", "max µs", "img/s", "load ms", "peak RSS MB"))
    table.marks[:] = ["" if mark == "ok" else "fail" for mark in table.marks]
    return table


def stages(pipeline: PipelineRecord) -> Table:
    table = Table(["stage", "wall s", "CPU s", "process"], right={1, 2})
    for s in pipeline.stages:
        table.rows.append([s.stage, f"{s.seconds:.1f}", f"{s.cpu_seconds:.1f}", s.process])
        table.marks.append("")
    return table


def training(train: TrainRecord) -> Table:
    config, dataset = train.config, train.dataset
    table = Table(["", "value"])  # a header row: Markdown has no table without one
    rows = [
        ("float test accuracy", _or_dash(train.test_accuracy, _percent)),
        ("epochs", str(config.get("epochs"))),
        ("batch size", str(config.get("batch_size"))),
        ("augmentation", "on" if config.get("augment") else "off"),
        ("train time", _or_dash(train.train_seconds, lambda s: f"{s:.1f} s")),
        ("parameters", _or_dash(train.parameters, lambda n: f"{n:,}")),
        ("dataset", f"{dataset.source} ({dataset.num_train} train / {dataset.num_test} test)"),
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
