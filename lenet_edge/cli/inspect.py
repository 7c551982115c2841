"""`lenet-edge inspect`: what a .tflite or .onnx file holds, and which runtimes here run it."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.runtime_options import stdout_console
from lenet_edge.schema import strict_json


def inspect(
    model_file: Annotated[Path, typer.Argument(
        help="A .tflite or .onnx file (any origin).", readable=False)],  # the reader says why
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show format, size, inputs and outputs with quantisation, ops and versions, and runtimes.

    The file is checked by a pure-Python reader first; each installed runtime then tries it in
    a child process, so a file that crashes an interpreter cannot take this command down.
    """
    _check_not_a_folder(model_file)
    from lenet_edge.runtime.inspect import inspect_model

    report = inspect_model(model_file).to_dict()
    if as_json:
        typer.echo(strict_json(report, "--json"))
        return
    stdout_console().print(_render(report))


def _check_not_a_folder(path: Path) -> None:
    """A folder (say a bundle) gets the files to inspect in it, not 'Is a directory'.

    Raises:
        ModelError: `path` is a directory.
    """
    from lenet_edge.errors import ModelError
    from lenet_edge.formats import SUFFIXES

    if not os.path.isdir(path):
        return
    try:
        models = sorted(p.name for p in path.iterdir() if p.suffix in SUFFIXES)
    except OSError:
        models = []
    if not models:
        raise ModelError(f"{path}: is a directory with no .tflite or .onnx file; inspect takes "
                         "one model file")
    example = "lenet5_int8.tflite" if "lenet5_int8.tflite" in models else models[0]
    shown = ", ".join(models[:8]) + (", ..." if len(models) > 8 else "")
    raise ModelError(f"{path}: is a directory; inspect takes one .tflite or .onnx file, e.g. "
                     f"lenet-edge inspect {shlex.quote(str(path / example))} (it holds {shown})")


def _render(r: dict):
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    summary = Table(box=box.SIMPLE, show_header=False, title=f"inspect {escape(r['path'])}")
    summary.add_row("format", r["format"])
    summary.add_row("size", f"{r['bytes']:,} bytes")
    summary.add_row("sha256", r["sha256"])
    if r["min_runtime_version"]:
        summary.add_row("min runtime", r["min_runtime_version"])
    for key, value in r["details"].items():
        if value not in (None, "", {}):
            summary.add_row(key.replace("_", " "), str(value))
    tensors = Table(box=box.SIMPLE_HEAD, title="inputs and outputs")
    for column in ("", "name", "shape", "dtype", "scale", "zero point"):
        tensors.add_column(column)
    for kind in ("inputs", "outputs"):
        for t in r[kind]:
            tensors.add_row(kind[:-1], Text(t["name"]), str(t["shape"]), t["dtype"],
                            "" if t["scale"] is None else f"{t['scale']:.6g}",
                            "" if t["zero_point"] is None else str(t["zero_point"]))
    ops = Table(box=box.SIMPLE_HEAD, title="ops")
    ops.add_column("op")
    ops.add_column("version", justify="right")
    for op, version in r["ops"]:
        ops.add_row(op, str(version))
    runtimes = Table(box=box.SIMPLE_HEAD, title="runtimes on this machine")
    for column in ("runtime", "version", "loads", "note"):
        runtimes.add_column(column)
    colour = {"ok": "green", "incompatible": "yellow", "not installed": "dim"}
    for c in r["runtimes"]:
        runtimes.add_row(c["runtime"], c["version"] or "", f"[{colour.get(c['status'], 'red')}]"
                         f"{c['status']}[/]", Text(c["message"]))
    return Group(summary, tensors, ops, runtimes)
