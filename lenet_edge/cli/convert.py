"""`lenet-edge convert`: quantise and convert a trained model into a model bundle."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import (
    CALIBRATION_METHOD,
    VARIANT,
    CalibrationMethod,
    VariantName,
)
from lenet_edge.cli.runtime_options import field_help
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.gates import DEFAULT_GATES, Gates
from lenet_edge.schema import strict_json
from lenet_edge.variants import DEFAULT_VARIANTS, VARIANTS

# Mirrors lenet_edge.toolchain.convert's default (a test holds them equal); importing the
# toolchain here would slow down `--help`.
DEFAULT_CALIBRATION_SAMPLES = 500


def _gate_help(name: str) -> str:
    return (f"{field_help(Gates, name)[:-1]}: what the -mixed variants must pass on held-out "
            f"training images (default {getattr(DEFAULT_GATES, name):g}).")


def convert(
    model_dir: Annotated[Path, typer.Argument(
        help="Directory written by 'lenet-edge train'.", readable=False)],  # checked below
    variant: Annotated[list[VariantName] | None, typer.Option(
        "--variant", parser=VARIANT.parse, metavar=VARIANT.metavar,
        help=VARIANT.help("Variant to convert, repeatable",
                          "default: all but the -mixed ones, built when named"))] = None,
    calibration_samples: Annotated[int, typer.Option(
        "--calibration-samples",
        help="Training images that calibrate int8, int16x8, onnx-int8 and the -mixed ones.",
    )] = DEFAULT_CALIBRATION_SAMPLES,
    calibration_method: Annotated[CalibrationMethod, typer.Option(
        "--calibration-method", parser=CALIBRATION_METHOD.parse,
        metavar=CALIBRATION_METHOD.metavar, help=CALIBRATION_METHOD.help(
            "How onnx-int8 turns calibration ranges into scales",
            "onnxruntime's methods: its entropy gives minmax's ranges at its default 128 "
            "bins; TFLite calibrates by min/max only"))] = "minmax",
    per_channel: Annotated[bool, typer.Option(
        "--per-channel/--per-tensor",
        help="Weight scales per output channel, or one per tensor, in the calibrated "
             "variants.")] = True,
    max_drop: Annotated[float | None, typer.Option(
        "--max-drop", help=_gate_help("max_drop"))] = None,
    min_agreement: Annotated[float | None, typer.Option(
        "--min-agreement", help=_gate_help("min_agreement"))] = None,
    opset: Annotated[int | None, typer.Option(
        "--opset", help="ONNX opset, 13 to 18; default 17.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the manifest's artifacts as JSON.")] = False,
) -> None:
    """Convert to TFLite and ONNX variants; write the bundle (manifest, reference) in MODEL_DIR."""
    given = {k: v for k, v in (("max_drop", max_drop), ("min_agreement", min_agreement))
             if v is not None}
    gates = Gates(**given)  # range errors before anything loads
    if given and not any(v.gated for v in VARIANTS if v.name in (variant or ())):
        raise UsageError(f"--{next(iter(given)).replace('_', '-')} sets the gates the -mixed "
                         "variants are built against; add --variant int8-mixed or "
                         "onnx-int8-mixed (verify takes the gates for the others)")
    _check_model_dir(model_dir)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lenet_edge.cli.runtime_options import stdout_console
    from lenet_edge.toolchain.convert import convert as run_convert

    err = Console(stderr=True)
    # markup=False: a path like 'runs[/b]' is a name, not rich markup (MarkupError, exit 70)
    err.print(f"converting {model_dir}", markup=False, highlight=False)

    width = max(len(v.name) for v in VARIANTS)

    def show(name: str, seconds: float) -> None:
        err.print(f"  {name:<{width}} {seconds:6.2f} s")

    manifest = run_convert(model_dir, variant, calibration_samples, opset, progress=show,
                           calibration_method=str(calibration_method), per_channel=per_channel,
                           gates=gates)
    artifacts = manifest["artifacts"]
    if as_json:
        typer.echo(strict_json(artifacts, "--json"))
        return
    this_run = set(variant or (v.name for v in DEFAULT_VARIANTS))
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
    for name in (v.name for v in VARIANTS if v.gated and v.name in this_run):
        stdout_console().print(mixed_summary(name, artifacts[name]), markup=False,
                               highlight=False, soft_wrap=True)


def mixed_summary(name: str, entry: dict) -> str:
    """One line: which layers a gated variant keeps in float and what that bought."""
    record = entry["mixed_precision"]
    int8, result = record["int8"], record["result"]
    kept = ", ".join(f"{f['layer']} (+{f['agreement_gain'] * 100:.2f} points alone)"
                     for f in record["float_layers"])
    kept = f"kept in float: {kept}" if kept else "no layer kept in float (int8 passes)"
    return (f"{name}: {kept}; agreement on {record['held_out']['images']} held-out "
            f"training images {int8['agreement'] * 100:.2f}% -> {result['agreement'] * 100:.2f}%"
            f" (gate {record['gates']['min_agreement']:g}, max drop "
            f"{record['gates']['max_drop']:g} points)")


def _check_model_dir(path: Path) -> None:
    """Name a wrong kind of path for what it is; a missing directory is the toolchain's error.

    Raises:
        ModelError: a file (or anything not a directory), or a directory it cannot read.
    """
    from lenet_edge.bundle import TRAIN_JSON

    if os.path.lexists(path) and not os.path.isdir(path):
        hint = ""
        if os.path.isfile(path.parent / TRAIN_JSON):
            hint = f"; its folder is one: lenet-edge convert {shlex.quote(str(path.parent))}"
        raise ModelError(f"{path}: expected a model directory written by 'lenet-edge train', "
                         f"got a file{hint}")
    if os.path.isdir(path) and not os.access(path, os.R_OK | os.X_OK):
        raise ModelError(f"{path}: cannot read the model directory (permission denied)")
