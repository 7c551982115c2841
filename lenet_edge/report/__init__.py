"""The bundle report: one self-contained HTML page and a Markdown twin, from the bundle alone.

A step per module:

    contents.py   gather(): read the bundle's files, compute outcomes, Pareto front,
                  recommendation, confusion matrices and disagreements (from the
                  predictions verify.json keeps: no interpreter is loaded)
    pareto.py     pareto_front(): which points nothing else beats on every objective
    tables.py     the tables as rows of text (verify's and benchmark's: results/tables.py)
    figures.py    the plots as PNG bytes (matplotlib, Agg)
    labels.py     place_labels(): scatter labels that collide with nothing
    html.py       render_html(): the page through jinja2 (templates/, autoescaped: the one
                  escaping point), inline CSS, data: images, no script, strict CSP
    markdown.py   render_markdown(): the tables, for CI summaries (every value escaped by
                  verify_markdown.py md())
    verify_markdown.py  `verify --markdown`, and md(): the one Markdown escaper
    junit.py      `verify --junit`
    recommend.py  which variant to ship, and why not the others

TF-free: a report can be rendered on the device, or after `deploy` brought results back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# recommend.py imports no numpy: the CLI takes --prefer's choices from it at start-up.
from lenet_edge.report.recommend import Recommendation


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    markdown: Path
    recommendation: Recommendation | None
    missing: list[str] = field(default_factory=list)  # results absent, and what to run


def write_report(model_dir: str | Path, out: str | Path | None = None,
                 prefer: str | None = None) -> WrittenReport:
    """Render the report for a bundle and write it atomically, HTML and Markdown.

    Args:
        model_dir: a converted bundle (verify.json / benchmark.json fill most sections).
        out: the HTML file (default MODEL_DIR/report.html); the Markdown goes beside it
            with the suffix .md.
        prefer: "size" or "latency" for the recommendation; None: pipeline.json's, else size.

    Raises:
        ModelError: not a readable bundle, or one with nothing to report: no verify.json,
            benchmark.json or device results (an earlier report is left as it was).
        OutputError: the output cannot be written.
        UsageError: unknown preference or an output that is not an .html file.
    """
    from lenet_edge import bundle
    from lenet_edge.bundle import BENCHMARK_JSON, REPORT_HTML, VERIFY_JSON
    from lenet_edge.errors import ModelError, OutputError, UsageError, require
    from lenet_edge.report.contents import gather
    from lenet_edge.report.html import render_html
    from lenet_edge.report.markdown import render_markdown
    from lenet_edge.report.recommend import check_preference

    if prefer is not None:
        check_preference(prefer)
    bundle.read_manifest(model_dir)  # not a bundle is the first thing to say, before --out
    html_path = Path(out) if out is not None else Path(model_dir) / REPORT_HTML
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {html_path}: must end in .html (the Markdown goes beside it)")
    if not html_path.parent.is_dir():
        raise OutputError(f"cannot write {html_path}: folder {html_path.parent} does not exist")
    require("matplotlib", "report", "drawing the report's figures")
    require("jinja2", "report", "rendering the report")
    contents = gather(model_dir, prefer)
    if contents.verify is None and contents.benchmark is None and not contents.devices:
        # A page of "no data" would look like a report; the training curves are in the
        # bundle already (training_curves.png).
        raise ModelError(f"nothing to report in {model_dir}: no {VERIFY_JSON}, "
                         f"{BENCHMARK_JSON} or device-*.json; run 'lenet-edge verify "
                         f"{model_dir}' and 'lenet-edge benchmark {model_dir}' first (each "
                         "saves its results in the bundle)")
    markdown_path = html_path.with_suffix(".md")
    bundle.write_bytes(html_path, render_html(contents).encode())
    bundle.write_bytes(markdown_path, render_markdown(contents, html_path.name).encode())
    missing = [contents.notes[k] for k in ("verify", "benchmark", "training")
               if k in contents.notes]
    return WrittenReport(html_path, markdown_path, contents.recommendation, missing)
