"""`lenet-edge explain`: where a quantised variant loses accuracy, layer by layer."""

from __future__ import annotations

from typing import Annotated

import typer

from lenet_edge.cli import saved_results
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

# runtime.explain.QUANTISED_VARIANTS, spelled out here: that module imports numpy, --help may not.
_QUANTISED = ", ".join(v.name for v in VARIANTS if v.quantised)


SaveExplain = Annotated[bool | None, typer.Option(
    "--save/--no-save",
    help="Keep the results in the bundle (MODEL_DIR/explain.json), where 'lenet-edge "
         "report' draws them (default: yes, unless --json names another file).")]


def explain(
    model_dir: BundleDir,
    variant: Annotated[list[VariantName] | None, typer.Option(
        "--variant", "-v", parser=VARIANT.parse, metavar=VARIANT.metavar,
        help=f"Quantised variant to look into, repeatable: {_QUANTISED} (default: every "
             "one in the bundle).")] = None,
    runtime: Annotated[RuntimeName, typer.Option(
        "--runtime", "-r", parser=RUNTIME.parse, metavar=RUNTIME.metavar, help=RUNTIME.help(
            "Runtime to run both models on", "default: auto = the first installed for each "
            "variant's format"))] = "auto",
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Use only the first N reference images (default: all).")] = None,
    json_out: JsonFile = None,
    save: SaveExplain = None,
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
    from rich.console import Console

    from lenet_edge.bundle import EXPLAIN_JSON
    from lenet_edge.runtime.explain import explain_bundle
    from lenet_edge.runtime.verify import check_limit

    check_limit(limit)
    saved = saved_results.destination(model_dir, EXPLAIN_JSON, save, json_out)
    check_outputs(model_dir, {"--json": json_out, "--save": saved})  # before any work
    err = Console(stderr=True)
    found = explain_bundle(
        model_dir, variant or None, runtime, limit,
        progress=lambda name, done, total: err.print(f"[{done}/{total}] explained {name}"))
    data = found.to_dict()
    if json_out is not None and str(json_out) != "-":
        write_output(json_out, strict_json(data, "--json") + "\n")
    saved_results.save(saved, data)
    if json_out is not None and str(json_out) == "-":
        typer.echo(strict_json(data, "--json"))
        return
    console = stdout_console()
    for report in found.reports:
        console.print(_render(report, console))
    for skipped in found.skipped:
        console.print(f"skipped {skipped.variant}: {skipped.reason}", markup=False,
                      highlight=False)


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
