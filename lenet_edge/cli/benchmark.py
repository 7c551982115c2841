"""`lenet-edge benchmark`: latency, throughput and memory of each variant on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli import saved_results
from lenet_edge.cli.file_options import InputRange, ModelPath, given, refuse, single_runtime
from lenet_edge.cli.runtime_options import (
    JsonFile,
    Runtimes,
    Variants,
    check_outputs,
    field_help,
    stdout_console,
    write_output,
)
from lenet_edge.runtime.timing import DEFAULT_TIMING, TimingPolicy
from lenet_edge.schema import strict_json


def benchmark(
    ctx: typer.Context,
    model_dir: ModelPath,
    variant: Variants = None,
    runtime: Runtimes = None,
    threads: Annotated[str, typer.Option(
        "--threads", help="Interpreter threads: one count, or several to compare (e.g. 1,2,4): "
        "timed interleaved, with a recommended count per variant.")] = "1",
    runs: Annotated[int, typer.Option(
        "--runs", help=field_help(TimingPolicy, "runs"))] = DEFAULT_TIMING.runs,
    min_time: Annotated[float, typer.Option(
        "--min-time", help=field_help(TimingPolicy, "min_time"))] = DEFAULT_TIMING.min_time,
    warmup: Annotated[int, typer.Option(
        "--warmup", help=field_help(TimingPolicy, "warmup"))] = DEFAULT_TIMING.warmup,
    warmup_time: Annotated[float, typer.Option(
        "--warmup-time", help=field_help(TimingPolicy, "warmup_time"))
    ] = DEFAULT_TIMING.warmup_time,
    batch: Annotated[int, typer.Option(
        "--batch", help="The larger batch size, for throughput (1 to 4096).")] = 64,
    json_out: JsonFile = None,
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="An earlier 'benchmark --json' file to check latencies against.")] = None,
    max_slowdown: Annotated[float | None, typer.Option(
        "--max-slowdown",
        help="With --compare: largest allowed median slowdown, in percent (default: 10).")] = None,
    cold_start: Annotated[bool, typer.Option(
        "--cold-start/--no-cold-start",
        help="Also time a fresh Python process per variant x runtime from start to first "
             "result, with its peak memory.")] = True,
    save: saved_results.SaveResults = None,
    input_range: InputRange = "auto",
) -> None:
    """Time every variant: load, first call, then batch 1 and --batch after a warm-up.

    Run counts at --batch are scaled to the same number of images as at batch 1.

    With several --threads: recommends the fewest threads whose p90 at batch 1 is within 5%
    of the best count's.

    With --compare: exit 1 when a median latency exceeds the baseline's by --max-slowdown %.

    The results are kept in the bundle as MODEL_DIR/benchmark.json for 'lenet-edge report',
    unless --json FILE names another file or --no-save is given (or --compare reads that file).

    A single .tflite / .onnx FILE instead: timed the same way on inputs generated to its own
    shape and dtype (seeded noise in its --input-range); no cold start, nothing saved.
    """
    from rich.console import Console

    from lenet_edge import bundle
    from lenet_edge.errors import UsageError
    from lenet_edge.runtime.bench import benchmark as run_benchmark

    if max_slowdown is not None and compare is None:
        raise UsageError("--max-slowdown needs --compare BASELINE.json")
    err = Console(stderr=True)
    timing = {"threads": threads, "runs": runs, "warmup": warmup, "batch": batch,
              "min_time": min_time, "warmup_time": warmup_time, "baseline": compare,
              "max_slowdown": 10.0 if max_slowdown is None else max_slowdown,
              "progress": lambda label, done, total: err.print(f"[{done}/{total}] timed {label}")}
    if model_dir.is_file():
        from lenet_edge.cli.file_options import check_report_path
        from lenet_edge.runtime.bench_file import benchmark_file

        # --no-save and --no-cold-start are what a file gets anyway: let scripts pass them.
        refuse(given(ctx, "variant", *(["save"] if save else []),
                     *(["cold_start"] if cold_start else [])),
               f"applies to a bundle; {model_dir} is a model file")
        check_report_path(json_out, [model_dir])
        saved, cold_start = None, False
        report = benchmark_file(model_dir, single_runtime(runtime, model_dir),
                                input_range=input_range, **timing)
    else:
        refuse(given(ctx, "input_range"), "applies to a single model file; a bundle's "
               "manifest records what its models take")
        saved = saved_results.destination(model_dir, bundle.BENCHMARK_JSON, save, json_out,
                                          baseline=compare)
        check_outputs(model_dir, {"--json": json_out, "--save": saved})  # not after minutes
        report = run_benchmark(model_dir, variants=variant or None,
                               runtimes=runtime or ("auto",), cold_start=cold_start, **timing)
    data = report.to_dict()
    if json_out is not None and str(json_out) != "-":
        write_output(json_out, strict_json(data, "--json") + "\n")
    saved_results.save(saved, data)
    if json_out is not None and str(json_out) == "-":
        typer.echo(strict_json(data, "--json"))
    else:
        console = stdout_console()
        console.print(_table(report, console))
        if report.cold_start:
            console.print(_cold_start_table(data["cold_start"], console))
        if len(report.thread_counts) > 1:
            console.print(_recommendations(report.recommendations))
        if report.comparison:
            from lenet_edge.cli.regression_table import regression_view

            # soft_wrap: each failure stays one line at any width, for grep in CI logs
            console.print(regression_view(report.comparison, console), soft_wrap=True)
    if not report.passed:
        raise typer.Exit(1)


def _table(report, console):
    """Timings per row (results/tables.py); load, memory and size are per variant x runtime,
    in a second table. On a narrow terminal the mean goes first (p50 is the robust figure),
    then the tail."""
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    from lenet_edge.cli.fitted_table import fitted_table
    from lenet_edge.results.benchmark import OK
    from lenet_edge.results.tables import benchmark_table

    m = report.machine
    caption = (f"{m.get('cpu')} ({m.get('arch')}, {m.get('usable_cores')} cores), Python "
               f"{m.get('python')}; µs per call: set input, invoke, read output")
    if m.get("emulated"):
        caption += f"\nEMULATED ({m['emulated']}): latency figures are functional only"
    several = len(report.thread_counts) > 1  # then load and first call per count
    table = benchmark_table(report)

    def rich(shown, **options):
        rows = [[escape(cell) for cell in row] for row in shown.rows]
        for row, mark in zip(rows, shown.marks, strict=True):
            if mark != OK:  # its status stands under p50
                row[:] = [f"[yellow]{cell}[/]" if cell == mark else cell for cell in row]
        return fitted_table(console, shown.header, rows,
                            right={shown.header[i] for i in shown.right},
                            box=box.SIMPLE_HEAD, **options)

    timing = rich(table.select(("variant", "runtime", "thr", "batch", "mean µs", "p50 µs",
                                "p90 µs", "p99 µs", "img/s")),
                  drop_order=("mean µs", "p90 µs"), title=f"benchmark {escape(report.bundle)}",
                  caption=escape(caption))
    setup = rich(table.select(("variant", "runtime", "version", *(["thr"] if several else []),
                               "load ms", "first ms", "peak RSS MB", "KB"),
                              keep=lambda mark: mark == OK, distinct=True),
                 drop_order=("first ms", "KB"))
    return Group(timing, setup, *map(Text, table.notes))  # Text: brackets are not markup


def _cold_start_table(rows: list[dict], console):
    """A fresh process per variant x runtime: from spawn to first result, and its memory.

    On a narrow terminal the parts that explain the total go first; 'to result' stays.
    """
    from rich import box
    from rich.console import Group
    from rich.text import Text

    from lenet_edge.cli.fitted_table import fitted_table

    cells, notes = [], []
    for c in rows:
        if c["status"] != "ok":
            cells.append([c["variant"], c["runtime"], str(c["threads"]),
                          f"[yellow]{c['status']}[/]"])
            notes.append(f"cold start of {c['variant']} on {c['runtime']}: {c['message']}")
            continue
        cells.append([c["variant"], c["runtime"], str(c["threads"]),
                      f"{c['first_result_ms']:.0f}", f"{c['python_start_ms']:.0f}",
                      f"{c['import_ms']:.0f}", f"{c['load_ms']:.1f}", f"{c['first_ms']:.1f}",
                      f"{c['wall_ms']:.0f}", f"{c['peak_rss_mb']:.0f}"])
    header = ("variant", "runtime", "thr", "to result", "python", "import", "load", "first",
              "to exit", "peak RSS MB")
    table = fitted_table(
        console, header, cells, right=set(header[2:]),
        drop_order=("to exit", "python", "first", "peak RSS MB"), box=box.SIMPLE_HEAD,
        title="cold start: a fresh Python process to its first result (ms from spawn)")
    return Group(table, *map(Text, notes))


def _recommendations(rows):
    from rich.text import Text

    from lenet_edge.runtime.threads import RULE

    lines = ["recommended threads:"]
    lines += [f"  {r.describe()}" for r in rows]
    lines.append(f"  rule: {RULE}")
    return Text("\n".join(lines))

