"""Rich tables for deploy results: the device's figures beside the local ones, a fleet summary."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from lenet_edge.deploy.device_checks import local_report
from lenet_edge.deploy.release import DeployResult


def _by_key(report: dict | None, *keys: str) -> dict:
    rows = (report or {}).get("results", [])
    return {tuple(r.get(k) for k in keys): r for r in rows}


def _pct(value) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def _num(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


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
    for path in result.files:
        table.add_row("written", path)
    return table


def verify_table(model_dir: Path, result: DeployResult) -> Table:
    local = _by_key(local_report(model_dir, "verify"), "variant", "runtime")
    table = Table(title=f"verify on {result.host}" + (" (local beside)" if local else ""))
    columns = ["variant", "runtime", "status", "accuracy", "vs float", "agreement", "max |err|"]
    if local:
        columns += ["local accuracy", "local status"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("variant", "runtime") else "right")
    for r in result.verify.get("results", []):
        row = [r["variant"], f"{r['runtime']} {r.get('runtime_version', '')}".strip(),
               r["status"], _pct(r.get("accuracy")), _num(r.get("delta_points"), "+.2f"),
               _pct(r.get("agreement")), _num(r.get("max_abs_logit_error"), ".3g")]
        if local:
            mine = local.get((r["variant"], r["runtime"]), {})
            row += [_pct(mine.get("accuracy")), mine.get("status", "")]
        table.add_row(*row)
    return table


def benchmark_table(model_dir: Path, result: DeployResult) -> Table:
    keys = ("variant", "runtime", "threads", "batch")
    local = _by_key(local_report(model_dir, "benchmark"), *keys)
    machine = result.benchmark.get("machine", {})
    table = Table(title=f"benchmark on {result.host}: {machine.get('cpu', '')} "
                        f"({machine.get('arch', '')})")
    if machine.get("emulated"):
        table.caption = f"EMULATED ({machine['emulated']}): latency figures are functional only"
    columns = ["variant", "runtime", "thr", "batch", "p50 µs", "p99 µs", "img/s", "RSS MB"]
    if local:
        columns += ["local p50 µs", "local img/s"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("variant", "runtime") else "right")
    for r in result.benchmark.get("results", []):
        row = [r["variant"], r["runtime"], str(r.get("threads", "")), str(r.get("batch", "")),
               _num(r.get("p50_us"), ".1f"), _num(r.get("p99_us"), ".1f"),
               _num(r.get("throughput_ips"), ",.0f"), _num(r.get("peak_rss_mb"), ".0f")]
        if local:
            mine = local.get(tuple(r.get(k) for k in keys), {})
            row += [_num(mine.get("p50_us"), ".1f"), _num(mine.get("throughput_ips"), ",.0f")]
        table.add_row(*row)
    return table


def result_tables(model_dir: Path, result: DeployResult) -> list[Table]:
    tables = [summary_table(result)]
    if result.verify:
        tables.append(verify_table(model_dir, result))
    if result.benchmark:
        tables.append(benchmark_table(model_dir, result))
    return tables


def fleet_table(outcomes) -> Table:
    """One row per host: status, live release, worst device accuracy, error."""
    table = Table(title=f"deploy to {len(outcomes)} devices: "
                        f"{sum(o.ok for o in outcomes)} ok")
    for column in ("host", "status", "live release", "min accuracy", "message"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        r = o.result
        accuracies = [row["accuracy"] for row in ((r.verify or {}).get("results", []) if r else [])
                      if row.get("accuracy") is not None]
        status = "[green]ok[/]" if o.ok else f"[red]failed (exit {o.exit_code})[/]"
        table.add_row(o.entry.name, status, (r.live if r else "") or "",
                      _pct(min(accuracies)) if accuracies else "", o.error)
    return table
