"""`lenet-edge convert`: quantise and convert a trained model into a model bundle."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import (
    CALIBRATION_METHOD,
    DATASET,
    VARIANT,
    CalibrationMethod,
    Catalogue,
    DatasetName,
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
# A model lenet-edge did not train (toolchain/foreign_model.py): Keras files, SavedModel folders.
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
INPUT_RANGE = Catalogue("input range", ("auto", "0-1", "0-255"))
_FOREIGN_ONLY = ("--dataset", "--data-dir", "--out", "--input-range")


def _gate_help(name: str) -> str:
    return (f"{field_help(Gates, name)[:-1]}: what the -mixed variants must pass on held-out "
            f"training images (default {getattr(DEFAULT_GATES, name):g}).")


def convert(
    model_dir: Annotated[Path, typer.Argument(
        metavar="MODEL", readable=False,  # checked below
        help="Directory written by 'lenet-edge train' (the bundle is written there), or a "
             "Keras model lenet-edge did not train: .keras, .h5 (with its model config) or "
             "a SavedModel folder (needs --dataset).")],
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
    dataset: Annotated[DatasetName | None, typer.Option(
        "--dataset", "-d", parser=DATASET.parse, metavar=DATASET.metavar, help=DATASET.help(
            "A Keras model's dataset: calibration and held-out images from its train split, "
            "reference.npz from its test split"))] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="With --dataset: folder with the four IDX files (or a Keras .npz).",
    )] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="With a Keras model: the bundle folder (default: MODEL's name + "
        "'_bundle', beside it).")] = None,
    input_range: Annotated[str, typer.Option(
        "--input-range", parser=INPUT_RANGE.parse, metavar=INPUT_RANGE.metavar,
        help=INPUT_RANGE.help("With a Keras model: what it takes", "default: auto = 0-255 when "
                              "it starts with Rescaling(1/255), else 0-1"))] = "auto",
) -> None:
    """Convert to TFLite and ONNX variants; write the bundle (manifest, reference) in MODEL_DIR,
    or, for a Keras model lenet-edge did not train, in --out."""
    given = {k: v for k, v in (("max_drop", max_drop), ("min_agreement", min_agreement))
             if v is not None}
    gates = Gates(**given)  # range errors before anything loads
    if given and not any(v.gated for v in VARIANTS if v.name in (variant or ())):
        raise UsageError(f"--{next(iter(given)).replace('_', '-')} sets the gates the -mixed "
                         "variants are built against; add --variant int8-mixed or "
                         "onnx-int8-mixed (verify takes the gates for the others)")
    given_foreign = [name for name, value in zip(
        _FOREIGN_ONLY, (dataset, data_dir, out, None if input_range == "auto" else input_range),
        strict=True) if value is not None]
    foreign = None
    if _is_foreign_model(model_dir):
        if dataset is None:
            raise UsageError(f"{model_dir} is a Keras model lenet-edge did not train: name the "
                             f"dataset to calibrate and verify it on with --dataset "
                             f"{'|'.join(DATASET.names)}")
        from lenet_edge.toolchain.foreign_source import ForeignSource

        foreign = ForeignSource(model_dir, str(dataset), str(data_dir) if data_dir else None,
                                out, None if input_range == "auto" else input_range)
    elif given_foreign:
        raise UsageError(f"{given_foreign[0]} applies to a Keras model lenet-edge did not train "
                         "(.keras, .h5, SavedModel folder); a 'lenet-edge train' folder's "
                         "train.json names its dataset")
    else:
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
                           gates=gates, foreign=foreign)
    artifacts = manifest["artifacts"]
    if as_json:
        typer.echo(strict_json(artifacts, "--json"))
        return
    this_run = set(variant or (v.name for v in DEFAULT_VARIANTS))
    fp32_bytes = artifacts.get("fp32", {}).get("bytes")
    written = foreign.out if foreign is not None else model_dir
    table = Table(title=f"model bundle {escape(str(written))} (float test accuracy "
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
    if foreign is not None:  # what was read from the model, and what the variants take
        source = manifest["source_model"]
        why = "requested" if source["input_range_given"] else source["input_range_reason"]
        stdout_console().print(
            f"input {manifest['input_range']} ({why}); "
            f"outputs {manifest['output_kind']} ({source['output_kind_reason']})",
            markup=False, highlight=False, soft_wrap=True)
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


def _is_foreign_model(path: Path) -> bool:
    """A Keras file or a SavedModel folder: what toolchain/foreign_model.py loads."""
    if path.is_dir():
        return (path / "saved_model.pb").is_file()
    return path.suffix.lower() in KERAS_SUFFIXES


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
        raise ModelError(f"{path}: expected a model directory written by 'lenet-edge train' "
                         f"or a Keras model (.keras, .h5, SavedModel folder), got a file{hint}")
    if os.path.isdir(path) and not os.access(path, os.R_OK | os.X_OK):
        raise ModelError(f"{path}: cannot read the model directory (permission denied)")
    if os.path.isdir(path) and not os.path.lexists(path / TRAIN_JSON):
        keras_files = sorted(p for p in path.iterdir() if p.suffix.lower() in KERAS_SUFFIXES)
        if keras_files:  # a folder holding someone's model file: convert the file itself
            raise ModelError(f"{path}: no train.json, so not a folder 'lenet-edge train' wrote; "
                             "for a Keras model: lenet-edge convert "
                             f"{shlex.quote(str(keras_files[0]))} --dataset NAME")
