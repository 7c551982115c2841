"""`lenet-edge pipeline`: train -> convert -> verify -> benchmark -> report, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import (
    PREFERENCE,
    VARIANT,
    Preference,
    VariantName,
)
from lenet_edge.cli.runtime_options import MaxDrop, MinAgreement, Runtimes
from lenet_edge.cli.train import DEFAULT_OUT, Dataset
from lenet_edge.gates import DEFAULT_GATES
from lenet_edge.schema import strict_json

# Not the runtime commands' --variant: the pipeline converts the bundle it then evaluates.
Variants = Annotated[list[VariantName] | None, typer.Option(
    "--variant", "-v", parser=VARIANT.parse, metavar=VARIANT.metavar, help=VARIANT.help(
        "Variant to convert, verify and benchmark, repeatable",
        "default: all but the -mixed ones, built when named"))]


def pipeline(
    dataset: Dataset = "mnist",
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Folder with the four IDX files (or a Keras .npz).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model bundle to write.")] = DEFAULT_OUT,
    variant: Variants = None,
    runtime: Runtimes = None,
    max_drop: MaxDrop = DEFAULT_GATES.max_drop,
    min_agreement: MinAgreement = DEFAULT_GATES.min_agreement,
    prefer: Annotated[Preference, typer.Option(
        "--prefer", parser=PREFERENCE.parse, metavar=PREFERENCE.metavar,
        help="Recommend the smallest ('size') or the fastest ('latency', median at batch 1) "
             "variant that passes the gates.")] = "size",
    epochs: Annotated[int | None, typer.Option(
        "--epochs", min=1, help="Training epochs (default: per dataset, as 'train').")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="Training batch size (default: per dataset).")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Training seed.")] = 0,
    bench_time: Annotated[float, typer.Option(
        "--bench-time", help="Seconds of timed calls per variant and batch size, at least "
                             "('lenet-edge benchmark' defaults to 2).")] = 0.25,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the results, recommendation and stage timings as JSON.")] = False,
) -> None:
    """Train, convert, verify, benchmark and report; exit 1 if a variant fails a gate.

    Verify and benchmark run in a child process that never imports TensorFlow.

    Everything lands in the bundle (verify.json, benchmark.json, pipeline.json, report.html,
    report.md): 'lenet-edge report' redraws the report later from the bundle alone.
    """
    from dataclasses import replace

    from lenet_edge.gates import Gates
    from lenet_edge.pipeline.parent import BenchmarkSettings, PipelineConfig, run_pipeline
    from lenet_edge.train_config import TrainConfig

    config = PipelineConfig(
        train=TrainConfig(dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                          epochs=epochs, batch_size=batch_size, seed=seed),
        out=str(out), variants=tuple(variant or ()), runtimes=tuple(runtime or ("auto",)),
        gates=Gates(max_drop, min_agreement), prefer=prefer,
        bench=replace(BenchmarkSettings(), min_time=bench_time),
    )
    display = _StageDisplay()
    with display:
        result = run_pipeline(config, progress=display.update)
    if as_json:
        typer.echo(strict_json(result.to_dict(), "--json"))
    else:
        _print_summary(result)
    if not result.passed:
        raise typer.Exit(1)


class _StageDisplay:
    """One progress display for all stages on stderr: live bars on a terminal, else lines."""

    def __init__(self):
        from rich.console import Console

        from lenet_edge.pipeline.parent import STAGES

        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self.progress = None
        self.tasks: dict[str, int] = {}
        self.started: set[str] = set()
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description:<10}"), BarColumn(bar_width=30),
                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[detail]}"),
                console=self.console)
            for stage in STAGES:
                self.tasks[stage] = self.progress.add_task(stage, total=None, start=False,
                                                           detail="")

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def update(self, u) -> None:
        from rich.markup import escape

        if self.progress is None:
            if u.finished:
                self.console.print(f"{u.stage:<10} done in {u.seconds:.1f} s")
            elif u.stage not in self.started:
                self.console.print(f"{u.stage:<10} started {escape(u.detail)}".rstrip())
            self.started.add(u.stage)
            return
        task = self.tasks[u.stage]
        if u.stage not in self.started:
            self.progress.start_task(task)
            self.started.add(u.stage)
        detail = f"done in {u.seconds:.1f} s" if u.finished else u.detail
        self.progress.update(task, total=u.total, completed=u.done, detail=escape(detail))
        if u.finished:
            self.progress.stop_task(task)


def _print_summary(result) -> None:
    from rich import box
    from rich.markup import escape

    from lenet_edge import bundle
    from lenet_edge.cli.fitted_table import fitted_table
    from lenet_edge.cli.runtime_options import stdout_console
    from lenet_edge.report import tables

    console = stdout_console()
    rows = tables.summary(result.outcomes, None, result.recommendation)
    verdict = "[green]all gates passed[/]" if result.verify.passed else "[red]a gate FAILED[/]"
    colour = {"recommended": "bold yellow", "fail": "red", "": ""}
    # Narrow terminal: throughput goes first (p50 is the latency a choice is made on), then
    # the two gate figures beside accuracy; the verdict column says pass or fail anyway.
    table = fitted_table(
        console, rows.header, [list(map(escape, row)) for row in rows.rows],
        right={rows.header[i] for i in rows.right},
        drop_order=("img/s", "vs float", "agreement", "p50 µs"),
        row_styles=[colour[mark] for mark in rows.marks],
        title=f"pipeline {escape(str(result.bundle))}: {verdict}", box=box.SIMPLE_HEAD,
        pad_edge=False, collapse_padding=True,
        caption=f"{result.verify.images} reference images; gates: drop <= "
                f"{result.verify.max_drop:g} points, agreement >= {result.verify.min_agreement:g}"
                f"\n{rows.caption}")
    console.print(table)
    rec = result.recommendation
    name = f"{rec.variant} on {rec.runtime}" if rec.variant else "none"
    console.print(f"[bold]recommended[/] ({rec.prefer}): [bold]{escape(name)}[/]",
                  highlight=False)
    console.print(f"  {escape(rec.reason)}", highlight=False)
    entry = bundle.read_manifest(result.bundle)["artifacts"].get(rec.variant or "", {})
    if entry.get("min_runtime_version"):
        console.print(f"  {escape(rec.variant)} needs a TFLite runtime >= "
                      f"{escape(entry['min_runtime_version'])} on the device", highlight=False)
    for r in rec.rejected:
        console.print(f"  not {escape(r.variant)} on {escape(r.runtime)}: {escape(r.why)} "
                      f"({escape(r.detail)})", highlight=False)
    wall = sum(s.seconds for s in result.stages)
    cpu = sum(s.cpu_seconds for s in result.stages)
    timings = ", ".join(f"{s.stage} {s.seconds:.1f} s" for s in result.stages)
    console.print(f"report: {escape(str(result.report_html))} (Markdown: "
                  f"{escape(str(result.report_markdown))})", highlight=False)
    console.print(f"stages: {timings}; total {wall:.1f} s wall, {cpu:.1f} s CPU",
                  highlight=False)
