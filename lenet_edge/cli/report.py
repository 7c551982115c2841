"""`lenet-edge report`: a self-contained HTML report (and Markdown) for a model bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import PREFERENCE, Preference
from lenet_edge.cli.runtime_options import BundleDir
from lenet_edge.schema import strict_json

Prefer = Annotated[Preference | None, typer.Option(
    "--prefer", parser=PREFERENCE.parse, metavar=PREFERENCE.metavar,
    help="Recommend the smallest ('size') or fastest ('latency') variant that passes the "
         "gates (default: the pipeline's choice, else size).")]


def report(
    model_dir: BundleDir,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="HTML file to write (default: MODEL_DIR/report.html); the "
                            "Markdown goes beside it (.md).")] = None,
    prefer: Prefer = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the paths and the recommendation as JSON.")] = False,
) -> None:
    """Write an HTML report (no network needed to view it) and a Markdown twin.

    Reads only the bundle: verify.json and benchmark.json (which 'lenet-edge verify' and
    'lenet-edge benchmark' save there, as the pipeline does), train.json, reference.npz and
    any device-*.json that 'lenet-edge deploy' brought back. Says on stderr which of them is
    missing and what to run; exit 4 and no report when none of the results is there.
    """
    from rich.markup import escape

    from lenet_edge.cli.runtime_options import stdout_console
    from lenet_edge.report import write_report

    written = write_report(model_dir, out, prefer)
    for missing in written.missing:  # stderr: --json output on stdout stays parseable
        typer.echo(f"lenet-edge: note: {_shown(missing)}", err=True)
    rec = written.recommendation
    if as_json:
        typer.echo(strict_json({
            "html": str(written.html), "markdown": str(written.markdown),
            "recommendation": rec.to_dict() if rec else None}, "--json"))
        return
    console = stdout_console()
    if rec is not None:
        name = f"{rec.variant} on {rec.runtime}" if rec.variant else "none"
        console.print(f"[bold]recommended[/]: {escape(_shown(name))}: "
                      f"{escape(_shown(rec.reason))}")
    console.print(f"report: {escape(_shown(str(written.html)))} (Markdown: "
                  f"{escape(_shown(str(written.markdown)))})")


def _shown(text: str) -> str:
    """Text from the bundle's files for the terminal: control characters escaped as repr
    would, so an escape sequence in a hand-edited verify.json cannot rewrite the screen."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
