"""`lenet-edge convert`: quantise and convert a trained model into a model bundle."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import VARIANT, VariantName
from lenet_edge.schema import strict_json
from lenet_edge.variants import VARIANT_NAMES

# Mirrors lenet_edge.toolchain.convert's default (a test holds them equal); importing the
# toolchain here would slow down `--help`.
DEFAULT_CALIBRATION_SAMPLES = 500


def convert(
    model_dir: Annotated[Path, typer.Argument(
        help="Directory written by 'lenet-edge train'.", readable=False)],  # checked below
    variant: Annotated[list[VariantName] | None, typer.Option(
        "--variant", parser=VARIANT.parse, metavar=VARIANT.metavar,
        help=VARIANT.help("Variant to convert, repeatable", "default: all of them"))] = None,
    calibration_samples: Annotated[int, typer.Option(
        "--calibration-samples", help="Training images that calibrate int8, int16x8, onnx-int8.",
    )] = DEFAULT_CALIBRATION_SAMPLES,
    opset: Annotated[int | None, typer.Option(
        "--opset", help="ONNX opset, 13 to 18; default 17.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the manifest's artifacts as JSON.")] = False,
) -> None:
    """Convert to TFLite and ONNX variants; write the bundle (manifest, reference) in MODEL_DIR."""
    _check_model_dir(model_dir)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lenet_edge.cli.runtime_options import stdout_console
    from lenet_edge.toolchain.convert import convert as run_convert

    err = Console(stderr=True)
    # markup=False: a path like 'runs[/b]' is a name, not rich markup (MarkupError, exit 70)
    err.print(f"converting {model_dir}", markup=False, highlight=False)

    def show(name: str, seconds: float) -> None:
        err.print(f"  {name:<10} {seconds:6.2f} s")

    manifest = run_convert(model_dir, variant, calibration_samples, opset, progress=show)
    artifacts = manifest["artifacts"]
    if as_json:
        typer.echo(strict_json(artifacts, "--json"))
        return
    this_run = set(variant or VARIANT_NAMES)
    fp32_bytes = artifacts.get("fp32", {}).get("bytes")
    table = Table(title=f"model bundle {escape(str(model_dir))} (float test accuracy "
                        f"{manifest['float_test_accuracy'] * 100:.2f}%)")
    for column in ("variant", "format", "size", "% of fp32", "sha256", "seconds"):
        table.add_column(column, justify="left" if column in ("variant", "format") else "right")
    for name, entry in artifacts.items():
        share = f"{entry['bytes'] / fp32_bytes * 100:.0f}%" if fp32_bytes else "-"
        seconds = entry.get("converter", {}).get("seconds")
        shown = f"{seconds:.2f}" if seconds is not None else "-"
        table.add_row(name, entry["format"], f"{entry['bytes'] / 1024:.1f} KiB", share,
                      entry["sha256"][:12], shown if name in this_run else f"kept ({shown})")
    stdout_console().print(table)


def _check_model_dir(path: Path) -> None:
    """Name a wrong kind of path for what it is; a missing directory is the toolchain's error.

    Raises:
        ModelError: a file (or anything not a directory), or a directory it cannot read.
    """
    from lenet_edge.bundle import TRAIN_JSON
    from lenet_edge.errors import ModelError

    if os.path.lexists(path) and not os.path.isdir(path):
        hint = ""
        if os.path.isfile(path.parent / TRAIN_JSON):
            hint = f"; its folder is one: lenet-edge convert {shlex.quote(str(path.parent))}"
        raise ModelError(f"{path}: expected a model directory written by 'lenet-edge train', "
                         f"got a file{hint}")
    if os.path.isdir(path) and not os.access(path, os.R_OK | os.X_OK):
        raise ModelError(f"{path}: cannot read the model directory (permission denied)")
