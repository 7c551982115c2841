"""Options and output handling shared by the runtime commands (verify, benchmark, inspect)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.errors import OutputError

BundleDir = Annotated[
    Path, typer.Argument(help="A converted model bundle (a folder with manifest.json).")
]
Variants = Annotated[list[str] | None, typer.Option(
    "--variant", "-v", help="Variant to use (repeatable) (default: every variant in the bundle)."
)]
Runtimes = Annotated[list[str] | None, typer.Option(
    "--runtime", "-r", help="auto, litert, tflite-runtime or onnxruntime (repeatable) "
    "(default: auto = the first installed TFLite interpreter, litert then tflite-runtime, "
    "and onnxruntime for ONNX)."
)]
JsonFile = Annotated[Path | None, typer.Option(
    "--json", help="Write the full report as JSON to FILE ('-' for stdout instead of a table)."
)]


def write_output(path: Path, content: str | bytes) -> None:
    """Write a report file atomically; OutputError if its folder does not exist."""
    from lenet_edge import bundle

    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    bundle.write_bytes(path, content.encode() if isinstance(content, str) else content)


def stdout_console():
    """A rich Console for tables; 140 columns when stdout is a log, not a terminal.

    Rich assumes 80 columns without a terminal, which folds every result table in a CI log.
    """
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=140)
    return console
