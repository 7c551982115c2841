"""Rich tables for deploy results: the device's figures beside the local ones, a fleet summary."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from lenet_edge.deploy.device_checks import local_report
from lenet_edge.deploy.release import DeployResult
from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.results.tables import benchmark_table as benchmark_table_rows
from lenet_edge.results.tables import verify_table as verify_table_rows
from lenet_edge.results.verify import VerifyReport


def _pct(value) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def _rich(table, title: str, columns: list[str]) -> Table:
    """Rich's rendering of result rows (results/tables.py), the columns named."""
    from rich.markup import escape

    shown = table.select(columns)
    rendered = Table(title=title)
    for i, column in enumerate(shown.header):
        rendered.add_column(column, justify="right" if i in shown.right else "left")
    for row in shown.rows:
        rendered.add_row(*map(escape, row))  # a device's text is not markup
    return rendered


def summary_table(result: DeployResult) -> Table:
    facts = result.facts
    verdict = {True: "[green]passed[/]", False: "[red]FAILED, rolled back[/]",
               None: "not verified"}[result.passed]
    table = Table(title=f"deploy to {result.host}: {verdict}", show_header=False)
    if result.rolled_back:
        table.add_row("failed release", f"{result.release} (kept as releases/"
                                        f"{result.release}.failed)")
        table.add_row("live release", f"{result.live or '(none)'} (restored)")
    else:
        table.add_row("live release", result.live or "(none)")
        if result.previous:
            table.add_row("previous (kept)", result.previous)
    if facts:
        table.add_row("device", f"{facts['machine']}, Python {facts['python']}, "
                                f"{', '.join(facts['interpreters']) or 'no interpreter'}")
    if result.health:
        from rich.markup import escape  # the summary quotes the device's stderr

        table.add_row("health check", ("passed: " if result.health["passed"] else "FAILED: ")
                      + escape(result.health["summary"]))
    for path in result.files:
        table.add_row("written", path)
    return table


def verify_table(model_dir: Path, result: DeployResult) -> Table:
    """The device's verify results, this machine's (MODEL_DIR/verify.json) beside them."""
    local = local_report(model_dir, "verify")
    table = verify_table_rows(VerifyReport.from_dict(result.verify), local)
    columns = ["variant", "runtime", "version", "status", "accuracy", "vs float", "agree",
               "max|err|", "local accuracy", "local status"]
    return _rich(table, f"verify on {result.host}" + (" (local beside)" if local else ""),
                 columns)


def benchmark_table(model_dir: Path, result: DeployResult) -> Table:
    """The device's timings, this machine's (MODEL_DIR/benchmark.json) beside them."""
    from rich.markup import escape

    report = BenchmarkReport.from_dict(result.benchmark)
    table = benchmark_table_rows(report, local_report(model_dir, "benchmark"))
    machine = report.machine
    rendered = _rich(table, escape(f"benchmark on {result.host}: {machine.get('cpu', '')} "
                                   f"({machine.get('arch', '')})"),
                     ["variant", "runtime", "thr", "batch", "p50 µs", "p99 µs", "img/s",
                      "peak RSS MB", "local p50 µs", "local img/s"])
    if machine.get("emulated"):
        rendered.caption = escape(f"EMULATED ({machine['emulated']}): latency figures are "
                                  "functional only")
    return rendered


def result_tables(model_dir: Path, result: DeployResult) -> list[Table]:
    tables = [summary_table(result)]
    if result.verify:
        tables.append(verify_table(model_dir, result))
    if result.benchmark:
        tables.append(benchmark_table(model_dir, result))
    return tables


def fleet_table(outcomes) -> Table:
    """One row per host: status, live release, worst device accuracy, error."""
    stopped = sum(bool(o.not_started) for o in outcomes)
    table = Table(title=f"deploy to {len(outcomes)} devices: "
                        f"{sum(o.ok for o in outcomes)} ok"
                        + (f", {stopped} not started" if stopped else ""))
    for column in ("host", "status", "live release", "min accuracy", "message"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        r = o.result
        verify = VerifyReport.from_dict(r.verify) if r and r.verify else None
        accuracies = [row.accuracy for row in (verify.results if verify else ())
                      if row.accuracy is not None]
        status = (f"[green]{o.status}[/]" if o.ok else f"[yellow]{o.status}[/]"
                  if o.not_started else f"[red]{o.status} (exit {o.exit_code})[/]")
        table.add_row(o.entry.name, status, (r.live if r else "") or "",
                      _pct(min(accuracies)) if accuracies else "", o.error)
    return table
