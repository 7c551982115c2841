"""Options and output handling shared by the runtime commands (verify, benchmark, inspect)."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import RUNTIME, VARIANT, RuntimeName, VariantName
from lenet_edge.errors import ModelError, OutputError, UsageError
from lenet_edge.gates import Gates


def field_help(config: type, name: str) -> str:
    """The help a config dataclass writes for its field `name`, for the option that sets it."""
    return next(f.metadata["help"] for f in dataclasses.fields(config) if f.name == name)


BundleDir = Annotated[
    Path, typer.Argument(help="A converted model bundle (a folder with manifest.json).")
]
Variants = Annotated[list[VariantName] | None, typer.Option(
    "--variant", "-v", parser=VARIANT.parse, metavar=VARIANT.metavar, help=VARIANT.help(
        "Variant to use, repeatable", "default: every variant in the bundle"))]
Runtimes = Annotated[list[RuntimeName] | None, typer.Option(
    "--runtime", "-r", parser=RUNTIME.parse, metavar=RUNTIME.metavar, help=RUNTIME.help(
        "Runtime to use, repeatable", "default: auto = the first installed TFLite "
        "interpreter, litert then tflite-runtime, and onnxruntime for ONNX"))]
# The accuracy gates of `verify`, `pipeline` and `deploy`: default and help from Gates.
MaxDrop = Annotated[float, typer.Option("--max-drop", help=field_help(Gates, "max_drop"))]
MinAgreement = Annotated[float, typer.Option(
    "--min-agreement", help=field_help(Gates, "min_agreement"))]
JsonFile = Annotated[Path | None, typer.Option(
    "--json", help="Write the full report as JSON to FILE ('-' for stdout instead of a table)."
)]


def check_outputs(model_dir: Path, outputs: dict[str, Path | None]) -> None:
    """Refuse report paths that would be lost or would destroy the bundle, before any run.

    Args:
        model_dir: the bundle the command reads.
        outputs: option name -> path given (None: not given; '-': stdout).

    Raises:
        UsageError: a path is one of the bundle's own files (manifest, reference set, training
            record, weights, an artifact), or two options name the same file.
        OutputError: a path's folder does not exist or is not writable, or the path is a folder.
    """
    chosen = {option: path for option, path in outputs.items()
              if path is not None and str(path) != "-"}
    if not chosen:
        return
    protected = _bundle_files(model_dir)
    seen: dict[Path, str] = {}
    for option, path in chosen.items():
        resolved = _real(path)  # follows symlinks: a link to the manifest is the manifest
        if resolved in protected:
            raise UsageError(f"{option} {path}: that is the bundle's own {resolved.name}; "
                             "choose a report file name (e.g. verify.json)")
        if resolved in seen and not _is_char_device(resolved):  # /dev/null takes any number
            raise UsageError(f"{seen[resolved]} and {option} both write {path}; give each its own")
        seen[resolved] = option
        if resolved.is_dir():
            raise OutputError(f"cannot write {path}: it is a folder")
        _check_folder(path)


def _bundle_files(model_dir: Path) -> set[Path]:
    """Resolved paths of every file the bundle is made of (reports like verify.json are not)."""
    from lenet_edge import bundle

    names = {bundle.MANIFEST, bundle.REFERENCE, bundle.TRAIN_JSON, bundle.WEIGHTS,
             bundle.KERAS_MODEL, bundle.CURVES_PNG}
    try:
        manifest = bundle.read_manifest(model_dir)
    except ModelError:
        pass  # the run itself reports an unreadable bundle, with its own message
    else:
        names |= {entry["file"] for entry in manifest["artifacts"].values()}
        if isinstance(manifest.get("reference"), dict) and "file" in manifest["reference"]:
            names.add(str(manifest["reference"]["file"]))
    return {_real(Path(model_dir) / name) for name in names}


def _real(path: Path) -> Path:
    """The path with symlinks followed; a link loop stays as it is (Path.resolve raises
    RuntimeError on one in Python 3.11; the read or write then names the loop)."""
    return Path(os.path.realpath(path))


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _check_folder(path: Path) -> None:
    """The folder a temporary file goes into: the target's, for a symlink (output_files.py).

    A stream (/dev/stdout, a device, a FIFO) is written through: no folder needed.
    """
    from lenet_edge.files import output_files

    if output_files.writes_through(path):
        return
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")


def write_output(path: Path, content: str | bytes) -> None:
    """Write a report file: atomically, a symlink's target (the link kept), or through a
    stream (`/dev/stdout`, a FIFO). OutputError if its folder does not exist."""
    from lenet_edge.files import output_files

    _check_folder(path)
    output_files.write_bytes(path, content.encode() if isinstance(content, str) else content)


def stdout_console():
    """A rich Console for tables; 140 columns when stdout is a log, not a terminal.

    Rich assumes 80 columns without a terminal, which folds every result table in a CI log.
    """
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=140)
    return console
