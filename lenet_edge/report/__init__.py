"""The bundle report: one self-contained HTML page and a Markdown twin, from the bundle alone.

A step per module:

    contents.py   gather(): read the bundle's files, compute outcomes, Pareto front,
                  recommendation, confusion matrices' predictions, disagreements
    pareto.py     pareto_front(): which points nothing else beats on every objective
    tables.py     the tables as rows of text
    figures.py    the plots as PNG bytes (matplotlib, Agg)
    html.py       render_html(): the page (inline CSS, data: images, no script, strict CSP)
    markdown.py   render_markdown(): the tables, for CI summaries
    results_files.py  the results files' names, and a checked read of each

TF-free: a report can be rendered on the device, or after `deploy` brought results back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lenet_edge.recommend import Recommendation
from lenet_edge.report.results_files import REPORT_HTML


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    markdown: Path
    recommendation: Recommendation | None


def write_report(model_dir: str | Path, out: str | Path | None = None,
                 prefer: str | None = None) -> WrittenReport:
    """Render the report for a bundle and write it atomically, HTML and Markdown.

    Args:
        model_dir: a converted bundle (verify.json / benchmark.json fill most sections).
        out: the HTML file (default MODEL_DIR/report.html); the Markdown goes beside it
            with the suffix .md.
        prefer: "size" or "latency" for the recommendation; None: pipeline.json's, else size.

    Raises:
        ModelError: not a readable bundle. OutputError: the output cannot be written.
        UsageError: unknown preference or an output that is not an .html file.
    """
    from lenet_edge import bundle
    from lenet_edge.errors import OutputError, UsageError, require
    from lenet_edge.recommend import check_preference
    from lenet_edge.report.contents import gather
    from lenet_edge.report.html import render_html
    from lenet_edge.report.markdown import render_markdown

    if prefer is not None:
        check_preference(prefer)
    bundle.read_manifest(model_dir)  # not a bundle is the first thing to say, before --out
    html_path = Path(out) if out is not None else Path(model_dir) / REPORT_HTML
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {html_path}: must end in .html (the Markdown goes beside it)")
    if not html_path.parent.is_dir():
        raise OutputError(f"cannot write {html_path}: folder {html_path.parent} does not exist")
    require("matplotlib", "report", "drawing the report's figures")
    contents = gather(model_dir, prefer)
    markdown_path = html_path.with_suffix(".md")
    bundle.write_bytes(html_path, render_html(contents).encode())
    bundle.write_bytes(markdown_path, render_markdown(contents, html_path.name).encode())
    return WrittenReport(html_path, markdown_path, contents.recommendation)
