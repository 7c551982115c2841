"""Where `verify` and `benchmark` keep a run's results: in the bundle, for `report`.

By default each run is saved as MODEL_DIR/verify.json or MODEL_DIR/benchmark.json, the names
the pipeline uses and `report` reads, and stderr says so. `--json FILE` elsewhere takes the
place of that copy (the device runs of `deploy` write theirs under results/ that way, leaving
the release untouched); `--save` keeps both; `--no-save` keeps none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from lenet_edge.errors import UsageError

SaveResults = Annotated[bool | None, typer.Option(
    "--save/--no-save",
    help="Keep the results in the bundle (MODEL_DIR/verify.json or benchmark.json), where "
         "'lenet-edge report' reads them (default: yes, unless --json names another file).")]


def destination(model_dir: Path, name: str, save: bool | None, json_out: Path | None,
                baseline: Path | None = None) -> Path | None:
    """The bundle file this run's results go to, or None; decided before the run.

    Args:
        model_dir: the bundle.
        name: VERIFY_JSON or BENCHMARK_JSON.
        save: --save (True), --no-save (False) or neither (None).
        json_out: --json FILE, '-' or None.
        baseline: benchmark's --compare file, which the run must not replace.

    Raises:
        UsageError: --save would replace the --compare baseline.
    """
    path = Path(model_dir) / name
    chosen = json_out is not None and str(json_out) != "-"
    if save is False or (save is None and chosen) or not Path(model_dir).is_dir():
        return None  # not a folder: the run itself says what is wrong with MODEL_DIR
    if chosen and json_out.resolve() == path.resolve():
        return None  # --json writes that very file
    if save is None and not os.access(model_dir, os.W_OK | os.X_OK):
        _say(f"not saving the results to {path}: {model_dir} is not writable "
             "(--json FILE keeps them elsewhere)")
        return None
    if baseline is not None and baseline.resolve() == path.resolve():
        if save:
            raise UsageError(f"--save would replace the --compare baseline {baseline}; "
                             "give --json FILE for this run")
        _say(f"not saving this run to {path}: it is the --compare baseline "
             "(--json FILE keeps it elsewhere)")
        return None
    return path


def save(path: Path | None, data: dict[str, Any]) -> None:
    """Write the results to `path` atomically (None: nothing) and say where on stderr."""
    from lenet_edge.cli.runtime_options import write_output
    from lenet_edge.schema import strict_json

    if path is None:
        return
    write_output(path, strict_json(data, str(path)) + "\n")  # as --json writes it
    _say(f"results saved to {path} (read by 'lenet-edge report'; --no-save skips this)")


def _say(line: str) -> None:
    typer.echo(line, err=True)
