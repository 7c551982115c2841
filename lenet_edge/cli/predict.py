"""`lenet-edge predict`: the top-k classes of pictures or .npy batches, on a converted model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import (
    INPUT_RANGE,
    INPUT_RANGE_HELP,
    RUNTIME,
    VARIANT,
    InputRangeName,
    RuntimeName,
    VariantName,
)
from lenet_edge.cli.runtime_options import stdout_console
from lenet_edge.schema import strict_json


def predict(
    model: Annotated[Path, typer.Argument(
        help="A model bundle folder, or a .tflite / .onnx file.", show_default=False,
        readable=False)],  # unreadable: the reader's exit 4 (or 3 for images), not typer's 2
    images: Annotated[list[Path], typer.Argument(
        help="PNG, JPEG or BMP pictures (any size, colour or grey, either polarity), or .npy "
             "batches: uint8 (N, 28, 28) / (28, 28), or float in [0, 1], taken as is.",
        show_default=False, readable=False)],
    top_k: Annotated[int, typer.Option(
        "--top-k", "-k", help="Classes to show per image, most probable first.")] = 3,
    variant: Annotated[VariantName | None, typer.Option(
        "--variant", "-v", parser=VARIANT.parse, metavar=VARIANT.metavar, help=VARIANT.help(
            "Bundle variant", "default: fp32 if present and runnable, else the first "
            "runnable one"), show_default=False)] = None,
    runtime: Annotated[RuntimeName, typer.Option(
        "--runtime", "-r", parser=RUNTIME.parse, metavar=RUNTIME.metavar, help=RUNTIME.help(
            "Runtime", "default: auto = the first installed interpreter for the model's "
            "format"), show_default=False)] = "auto",
    input_range: Annotated[InputRangeName, typer.Option(
        "--input-range", parser=INPUT_RANGE.parse, metavar=INPUT_RANGE.metavar,
        help=INPUT_RANGE_HELP, show_default=False)] = "auto",
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print [{image, predictions: [{class, label, probability}], warnings}] "
        "as JSON (what ran goes to stderr).")] = False,
) -> None:
    """Show the top-k classes of each image, with probabilities.

    A picture becomes MNIST-like: grey, inverted if its background is light, the paper's
    uneven light subtracted, cut to its largest piece of ink, framed in 28x28. A tiny digit
    or a top probability under 50% is warned about on stderr.

    One bad image (missing, empty, corrupt, not PNG/JPEG/BMP, over 50 MP) stops it: exit 3.

    Needs no TensorFlow: runs on the device with the runtime extra installed.
    """
    from lenet_edge.runtime.predict import predict as run_predict

    result = run_predict(model, images, top_k=top_k, variant=variant, runtime=runtime,
                         input_range=input_range)
    for p in result.predictions:  # on stderr in both modes: stdout stays the table or JSON
        for note in p.warnings:
            typer.echo(f"lenet-edge: warning: {p.image}: {note}", err=True)
    if as_json:
        from rich.console import Console

        Console(stderr=True, highlight=False).print(_what_ran(result), markup=False)
        typer.echo(strict_json(result.to_list(), "--json"))
        return
    stdout_console().print(_table(result, top_k))


def _what_ran(result) -> str:
    variant = f"variant {result.variant} ({result.variant_reason})" if result.variant else \
        "a model file"
    return (f"{result.model}: {variant} on {result.runtime} {result.runtime_version}"
            + (f", {result.dataset} classes" if result.dataset else "")
            + f"; input {result.input}; outputs: {result.outputs}")


def _table(result, top_k: int):
    """What ran on one line (a table title would wrap at the table's width), then the table."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    caption = ("probability = the model's own output (its outputs are probabilities)"
               if result.outputs == "probabilities" else
               "probability = softmax of the model's logits")
    table = Table(box=box.SIMPLE_HEAD, caption=caption)
    table.add_column("image")
    for rank in range(1, top_k + 1):
        table.add_column(f"#{rank}", no_wrap=True)
    for p in result.predictions:
        cells = [Text(p.image)]  # Text: brackets in file names are not markup
        cells += [Text(f"{c.label} {c.probability:.1%}", style="bold" if i == 0 else "")
                  for i, c in enumerate(p.top)]
        table.add_row(*cells)
    return Group(Text(_what_ran(result)), table)
