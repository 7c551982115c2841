"""`lenet-edge explain`: where a quantised variant loses accuracy, layer by layer."""

from __future__ import annotations

from typing import Annotated

import typer

from lenet_edge.cli.choice_options import RUNTIME, VARIANT, RuntimeName, VariantName
from lenet_edge.cli.runtime_options import (
    BundleDir,
    JsonFile,
    check_outputs,
    stdout_console,
    write_output,
)
from lenet_edge.schema import strict_json
from lenet_edge.variants import VARIANTS

_QUANTISED = ", ".join(v.name for v in VARIANTS if v.quantised)


def explain(
    model_dir: BundleDir,
    variant: Annotated[VariantName, typer.Option(
        "--variant", "-v", parser=VARIANT.parse, metavar=VARIANT.metavar,
        help=f"The quantised variant to look into: {_QUANTISED}.")] = "int8",
    runtime: Annotated[RuntimeName, typer.Option(
        "--runtime", "-r", parser=RUNTIME.parse, metavar=RUNTIME.metavar, help=RUNTIME.help(
            "Runtime to run both models on", "default: auto = the first installed for the "
            "variant's format"))] = "auto",
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Use only the first N reference images (default: all).")] = None,
    json_out: JsonFile = None,
) -> None:
    """Compare each layer of a quantised variant with the float model, on the reference images.

    Per layer, in graph order, with its op and Keras layer: MSE; RMSE in
    quantisation steps (0.29 = rounding alone; more comes from earlier layers,
    weights or clipping); SNR in dB; cosine; scale and zero point; and the
    sensitivity convert measured, when the bundle has it. Lowest SNR: marked.

    TFLite variants are compared with fp32, ONNX ones with onnx-fp32, on the
    same runtime. ONNX runs unoptimised (every Quantize/DequantizeLinear as
    written); a note says how far its output is from what verify measures.

    Needs no TensorFlow. Exit 2: unknown variant, or a float one (nothing is
    quantised); 4: the variant, its float model or reference.npz missing;
    6: runtime not installed.
    """
    from lenet_edge.runtime.explain import explain as run_explain
    from lenet_edge.runtime.verify import check_limit

    check_limit(limit)
    check_outputs(model_dir, {"--json": json_out})  # before any work
    report = run_explain(model_dir, variant, runtime, limit)
    if json_out is not None and str(json_out) == "-":
        typer.echo(strict_json(report.to_dict(), "--json"))
        return
    if json_out is not None:
        write_output(json_out, strict_json(report.to_dict(), "--json") + "\n")
    console = stdout_console()
    console.print(_render(report, console))


def _render(report, console):
    """The layer table, fitted to the terminal; the worst layer in bold red."""
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    from lenet_edge.cli.fitted_table import fitted_table
    from lenet_edge.results.explain import explain_table

    table = explain_table(report)
    rows = [[escape(cell) for cell in row] for row in table.rows]
    rendered = fitted_table(
        console, table.header, rows, right={table.header[i] for i in table.right},
        drop_order=("max|err|", "zp", "dtype", "scale", "MSE", "cosine"),
        row_styles=["bold red" if mark == "worst" else "" for mark in table.marks],
        title=escape(f"explain {report.bundle}: {report.variant} on {report.runtime} "
                     f"{report.runtime_version}"),
        box=box.SIMPLE_HEAD, caption=escape(table.caption))
    return Group(rendered, *map(Text, table.notes))
