"""`verify FILE` and `benchmark FILE`: the options only a single model file takes, the
bundle options it refuses, and the rendering of `verify FILE`'s table.

`lenet-edge verify` and `benchmark` take a bundle folder or one .tflite / .onnx file in the
same argument; this module keeps the file side out of their bundle code. An option that
does not apply to what was given is one line, exit 2: silently ignoring it would let a CI
job believe it gated on something it did not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import (
    DATASET,
    INPUT_RANGE,
    INPUT_RANGE_HELP,
    DatasetName,
    InputRangeName,
)
from lenet_edge.errors import UsageError

ModelPath = Annotated[Path, typer.Argument(
    help="A converted model bundle (a folder with manifest.json), or a single .tflite / "
         ".onnx file.", show_default=False)]
Dataset = Annotated[DatasetName | None, typer.Option(
    "--dataset", "-d", parser=DATASET.parse, metavar=DATASET.metavar, help=DATASET.help(
        "With a model FILE: the labelled set whose test split it is verified on"),
    show_default=False)]
DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="With --dataset: a folder with the four IDX files (or a Keras .npz).")]
Reference = Annotated[Path | None, typer.Option(
    "--reference", help="With a model FILE and --dataset: another model file to compare it "
    "with on the same images (e.g. your fp32 for your int8), held to --max-drop and "
    "--min-agreement.")]
MinAccuracy = Annotated[float | None, typer.Option(
    "--min-accuracy", help="With a model FILE: exit 1 if its accuracy is below this, in "
    "[0, 1] (default: report it, no gate).")]
InputRange = Annotated[InputRangeName, typer.Option(
    "--input-range", parser=INPUT_RANGE.parse, metavar=INPUT_RANGE.metavar,
    help=INPUT_RANGE_HELP, show_default=False)]


def given(ctx: typer.Context, *names: str) -> list[str]:
    """The options among `names` (parameter names) the user typed, as spelled on the command
    line (`--junit` for junit_out); their defaults do not count."""
    spelled = {p.name: max(p.opts, key=len) for p in ctx.command.params}
    # By name: typer may bring its own copy of click, whose ParameterSource is another enum.
    return [spelled.get(name, name) for name in names
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"]


def check_report_path(json_out: Path | None, models: list[Path]) -> None:
    """Refuse a --json that would overwrite one of the model files it reports on."""
    if json_out is None or str(json_out) == "-":
        return
    from lenet_edge.cli.runtime_options import check_outputs

    for model in models:
        if model is not None and json_out.resolve() == model.resolve():
            raise UsageError(f"--json {json_out}: that is the model file {model}; choose a "
                             "report file name (e.g. verify.json)")
    check_outputs(models[0].parent, {"--json": json_out})


def refuse(options: list[str], why: str) -> None:
    """UsageError naming the first option of `options` that does not apply, and why."""
    if options:
        raise UsageError(f"{options[0]} {why}")


def single_runtime(runtimes: list[str] | None, model: Path) -> str:
    """The one runtime a model file runs on ("auto" when none was named)."""
    if runtimes and len(runtimes) > 1:
        raise UsageError(f"{model} is one model file: give one --runtime, got "
                         f"{', '.join(runtimes)}")
    return runtimes[0] if runtimes else "auto"


def print_file_verify(report, console) -> None:
    """`verify FILE`'s table (results/file_verify.py) and its notes below it."""
    from rich import box
    from rich.markup import escape
    from rich.text import Text

    from lenet_edge.cli.fitted_table import fitted_table
    from lenet_edge.results.file_verify import file_verify_table

    table = file_verify_table(report)
    verdict = "[green]passed[/]" if report.passed else "[red]FAILED[/]"
    rows = [[escape(cell) for cell in row] for row in table.rows]
    console.print(fitted_table(
        console, table.header, rows, right={table.header[i] for i in table.right},
        drop_order=("version", "runtime", "role"), box=box.SIMPLE_HEAD,
        title=f"verify {escape(report.model.path)}: {verdict}", caption=escape(table.caption)))
    for note in table.notes:
        console.print(Text(note), soft_wrap=True)  # one line each, for grep in CI logs
