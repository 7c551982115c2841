"""`lenet-edge verify FILE --dataset NAME [--reference OTHER]`: one model file, no bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from lenet_edge.cli.file_options import check_report_path, print_file_verify, single_runtime
from lenet_edge.cli.runtime_options import stdout_console, write_output
from lenet_edge.schema import strict_json


def verify_model_file(model: Path, dataset: str | None, data_dir: Path | None,
                      reference: Path | None, limit: int | None, min_accuracy: float | None,
                      gates, runtimes: list[str] | None, input_range: str,
                      json_out: Path | None) -> None:
    """Run runtime/verify_file.py's verify_file and render it; exit 1 when a gate failed."""
    from rich.console import Console

    from lenet_edge.runtime.verify_file import verify_file

    runtime = single_runtime(runtimes, model)
    check_report_path(json_out, [model, *([reference] if reference else [])])
    err = Console(stderr=True)
    report = verify_file(model, dataset, data_dir, reference, limit, min_accuracy, gates,
                         runtime, input_range=input_range)
    err.print(f"verified {model} on {report.images} {report.dataset} test images",
              markup=False, highlight=False)
    data = report.to_dict()
    if json_out is not None and str(json_out) != "-":
        write_output(json_out, strict_json(data, "--json") + "\n")
    if json_out is not None and str(json_out) == "-":
        typer.echo(strict_json(data, "--json"))
    else:
        print_file_verify(report, stdout_console())
    if not report.passed:
        raise typer.Exit(1)
