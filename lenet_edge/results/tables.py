"""Each result table built once, as rows of plain text; renderers only add the markup.

`verify_table` and `benchmark_table` hold every column a view of them shows;
`regression_table` is both commands' check against a baseline (`verify --baseline`,
`benchmark --compare`). The views pick columns by header (`Table.select`): `lenet-edge
verify` / `benchmark` print them with rich (cli/), `verify --markdown` and the bundle report
write Markdown and HTML (report/), and `deploy` prints the device's figures beside the local
ones (deploy/tables.py). A figure is formatted here, once, so the terminal, the page and the
CI summary show the same digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lenet_edge.results import regression
from lenet_edge.results.benchmark import OK, BenchmarkReport, BenchmarkResult
from lenet_edge.results.regression import RegressionReport, RegressionRow
from lenet_edge.results.verify import VerifyReport, VerifyResult, by_key

SKIPPED = "skipped"


@dataclass
class Table:
    """Rows of text under a header, with what a renderer needs to style them (a builder
    appends its rows; `select` makes a new Table for a view)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    right: set[int] = field(default_factory=set)  # columns of figures, right-aligned
    marks: list[str] = field(default_factory=list)  # per row: a status, "recommended" or ""
    values: list[list[float | None]] | None = None  # per cell, for colour scales (per-class)
    caption: str = ""  # what the columns mean
    notes: list[str] = field(default_factory=list)  # findings shown below the table

    def select(self, names: Sequence[str], keep: Callable[[str], bool] | None = None,
               distinct: bool = False) -> Table:
        """The columns `names` (in that order; absent ones are left out) of the rows whose
        mark passes `keep`; `distinct` drops rows equal to an earlier one."""
        columns = [self.header.index(name) for name in names if name in self.header]
        rows, marks, seen = [], [], set()
        for row, mark in zip(self.rows, self.marks, strict=True):
            cells = [row[i] for i in columns]
            if (keep is not None and not keep(mark)) or (distinct and tuple(cells) in seen):
                continue
            seen.add(tuple(cells))
            rows.append(cells)
            marks.append(mark)
        return replace(self, header=[self.header[i] for i in columns], rows=rows, marks=marks,
                       right={n for n, i in enumerate(columns) if i in self.right},
                       values=None)


def verify_table(report: VerifyReport, local: VerifyReport | None = None) -> Table:
    """One row per variant x runtime, then one per skipped variant; marks are statuses.

    `local`: a run on this machine to set beside `report` (a device's), matched on variant
    and runtime.
    """
    header = ["variant", "runtime", "version", "status", "accuracy", "vs float", "agree",
              "max|err|", "mean|err|", *(["local accuracy", "local status"] if local else [])]
    table = Table(header, right=set(range(4, 9)) | ({9} if local else set()),  # figures
                  caption=f"{report.images} reference images; gates: accuracy drop <= "
                          f"{report.max_drop:g} points, top-1 agreement >= "
                          f"{report.min_agreement:g}")
    mine = by_key(local.results) if local else {}
    for r in report.results:
        table.rows.append([r.variant, r.runtime, r.runtime_version, r.status, *_figures(r),
                           *(_local(mine.get((r.variant, r.runtime))) if local else [])])
        table.marks.append(r.status)
        if r.message:
            table.notes.append(f"{r.variant} on {r.runtime}: {r.message}")
        if r.worst:
            table.notes.append(f"{r.variant} on {r.runtime}: worst disagreements at reference "
                               f"images {', '.join(map(str, r.worst))}")
    for s in report.skipped:
        table.rows.append([s.variant, "-", "", SKIPPED, *[""] * (len(header) - 4)])
        table.marks.append(SKIPPED)
        table.notes.append(f"{s.variant} skipped: {s.reason}")
    return table


def _figures(r: VerifyResult) -> list[str]:
    if not r.loaded:
        return [""] * 5
    return [_percent(r.accuracy), f"{r.delta_points:+.2f}", _percent(r.agreement),
            _number(r.max_abs_logit_error, ".3g"), _number(r.mean_abs_logit_error, ".2g")]


def _local(r: VerifyResult | None) -> list[str]:
    return ["", ""] if r is None else [_percent(r.accuracy), r.status]


BENCHMARK_FIGURES = ("runs", "mean µs", "min µs", "p50 µs", "p90 µs", "p99 µs", "max µs",
                     "img/s", "load ms", "first ms", "peak RSS MB", "KB")


def benchmark_table(report: BenchmarkReport, local: BenchmarkReport | None = None) -> Table:
    """One row per variant x runtime x threads x batch; marks are "ok" or the status.

    A row that was not timed says its status under p50 (a column no view leaves out).
    `local`: a run on this machine beside `report`, matched on variant, runtime, threads
    and batch.
    """
    header = ["variant", "runtime", "version", "thr", "batch", *BENCHMARK_FIGURES,
              *(["local p50 µs", "local img/s"] if local else [])]
    table = Table(header, right=set(range(3, len(header))))
    mine = {_key(r): r for r in local.results} if local else {}
    for r in report.results:
        cells = [r.variant, r.runtime, r.runtime_version, str(r.threads), str(r.batch)]
        if r.status != OK:
            figures = {"p50 µs": r.status}
            table.notes.append(f"{r.variant} on {r.runtime}: {r.message}")
        else:
            figures = _timings(r)
        cells += [figures.get(name, "") for name in BENCHMARK_FIGURES]
        if local:
            other = mine.get(_key(r))
            cells += ["", ""] if other is None or not other.timed else [
                f"{other.p50_us:.1f}", f"{other.throughput_ips:,.0f}"]
        table.rows.append(cells)
        table.marks.append(r.status)
    table.notes.extend(f"{s.variant} skipped: {s.reason}" for s in report.skipped)
    table.notes.extend(report.notes)
    return table


def _timings(r: BenchmarkResult) -> dict[str, str]:
    cells = {"runs": str(r.runs), "img/s": f"{r.throughput_ips:,.0f}",
             "load ms": f"{r.load_ms:.1f}", "first ms": _number(r.first_ms, ".2f"),
             "peak RSS MB": _number(r.peak_rss_mb, ".0f"),
             "KB": "" if r.bytes is None else f"{r.bytes / 1024:.0f}"}
    for name, value in (("mean", r.mean_us), ("min", r.min_us), ("p50", r.p50_us),
                        ("p90", r.p90_us), ("p99", r.p99_us), ("max", r.max_us)):
        cells[f"{name} µs"] = _number(value, ".1f")
    return cells


def _key(r: BenchmarkResult) -> tuple[Any, ...]:
    return (r.variant, r.runtime, r.threads, r.batch)


REGRESSION_HEADER = ["variant", "runtime", "metric", "baseline", "new", "change", "allowed",
                     "status"]


def regression_table(report: RegressionReport, every_class: bool = False) -> Table:
    """One row per figure set beside the baseline's; marks are statuses (pass, fail, info).

    Without `every_class`, a model's per-class rows are cut to those that failed and its
    worst class when it lost any: ten rows per model would bury the one that matters. The
    notes hold one line per failure (naming the variant and the class), then what could not
    be compared.
    """
    gates = report.gates
    if "max_slowdown_pct" in gates:
        caption = f"median slowdown <= {gates['max_slowdown_pct']:g}%"
    else:
        caption = (f"accuracy loss <= {gates.get('max_regression', 0):g} points per model, "
                   f"<= {gates.get('max_class_regression', 0):g} on any one class")
    if report.images is not None:
        caption += (f"; {report.images} reference images "
                    + ("shared with the baseline" if report.reference == regression.SHARED
                       else "of this bundle, the baseline's models run on them"))
    table = Table(list(REGRESSION_HEADER), right={3, 4, 5, 6}, caption=caption)
    shown = report.rows if every_class else _worth_showing(report.rows)
    for row in shown:
        table.rows.append([row.variant, row.runtime or "-", _metric(row), *_changes(row),
                           row.status])
        table.marks.append(row.status)
    table.notes.extend(regression_failure(row) for row in report.failures())
    table.notes.extend(report.notes)
    return table


def regression_failure(row: RegressionRow) -> str:
    """The line that says which model got worse, on what, by how much, and what is allowed."""
    model = "float model" if row.variant == regression.FLOAT else f"{row.variant} on {row.runtime}"
    baseline, new, change, _ = _changes(row)
    what = _metric(row) + (" accuracy" if row.metric == regression.CLASS_ACCURACY else "")
    budget = (f"at most {row.allowed:g}% slower allowed" if row.metric in
              regression.LATENCY_METRICS else f"at most {row.allowed:g} may be lost")
    return f"{model}: {what} {baseline} -> {new} ({change}; {budget})"


def _worth_showing(rows: Sequence[RegressionRow]) -> list[RegressionRow]:
    worst: dict[tuple[str, str], RegressionRow] = {}
    for row in rows:
        if row.metric == regression.CLASS_ACCURACY and row.change is not None and row.change < 0:
            key = (row.variant, row.runtime)
            if key not in worst or row.change < worst[key].change:
                worst[key] = row
    keep = {id(row) for row in worst.values()}
    return [row for row in rows if row.metric != regression.CLASS_ACCURACY
            or row.failed or id(row) in keep]


def _metric(row: RegressionRow) -> str:
    if row.metric == regression.CLASS_ACCURACY:
        name = row.class_name
        return (f"class {row.class_index}" if name in (None, str(row.class_index))
                else f"class {row.class_index} ({name})")
    if row.metric == regression.AGREEMENT:
        return "agreement"  # the share of images where both models pick the same class
    if row.metric in regression.LATENCY_METRICS:
        return f"p50 µs, batch {row.batch}, {row.threads} thr"
    return row.metric


def _changes(row: RegressionRow) -> list[str]:
    """baseline, new, change and allowed as text: shares as percentages with the change in
    points, latencies in µs with the change in percent."""
    if row.metric in regression.LATENCY_METRICS:
        return [_number(row.baseline, ".1f"), f"{row.new:.1f}",
                "" if row.change is None else f"{row.change:+.1f}%",
                "" if row.allowed is None else f"+{row.allowed:g}%"]
    return [_percent(row.baseline), _percent(row.new),
            "" if row.change is None else f"{row.change:+.2f} points",
            "" if row.allowed is None else f"-{row.allowed:g} points"]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def _number(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)
