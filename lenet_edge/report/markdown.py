"""The report as Markdown: the same tables as the HTML page, for a CI step summary or a PR.

Markdown viewers do not show data: URIs, so the figures stay in the HTML page and this file
points to it. Every value goes in through `md()` (verify_markdown.py), which escapes
it: a variant name, a device's message or a bundle path is text, never markup.
"""

from __future__ import annotations

from urllib.parse import quote

from lenet_edge.report import tables
from lenet_edge.report.contents import ReportContents, emulation_note
from lenet_edge.report.verify_markdown import md
from lenet_edge.results.tables import Table


def table_markdown(t: Table) -> list[str]:
    """A GitHub-flavoured table: header, alignment row, rows; the caption below in italics."""
    align = ["---:" if i in t.right else "---" for i in range(len(t.header))]
    lines = [_row(t.header), "| " + " | ".join(align) + " |"]
    for r, row in enumerate(t.rows):
        bold = (t.marks[r] if r < len(t.marks) else "") == "recommended"
        lines.append(_row(row, bold))
    return lines + (["", md("_{}_", t.caption)] if t.caption else [])


def _row(cells: list[str], bold: bool = False) -> str:
    cell = "**{}**" if bold else "{}"
    return "| " + " | ".join(md(cell, c) if c else "" for c in cells) + " |"


def render_markdown(c: ReportContents, html_name: str) -> str:
    """Summary, recommendation, per-class changes, latency, training, devices and versions."""
    dataset = c.manifest.dataset_name
    # Percent-encoded: a file name is a relative link, never a scheme such as javascript:
    lines = [md("# LeNet-5 on {}: edge report", dataset), "",
             md("Bundle {}; float test accuracy {:.2%}. Figures (trade-offs, confusion "
                "matrices, latency, training curves, disagreement images) are in ",
                c.bundle, c.manifest.float_test_accuracy or 0)
             + md("[{}]", html_name) + f"(./{quote(html_name)}).", ""]
    if c.verify is None:
        lines += [md("_{}_", c.notes["verify"]), ""]
    else:
        verdict = "all gates passed" if c.verify.passed else "a gate FAILED"
        rec = c.recommendation
        lines += ["## Summary", "", md("{}; {} reference images; gates: accuracy drop <= {:g} "
                                       "points, agreement >= {:g}.", verdict,
                                       c.verify.images, c.verify.max_drop,
                                       c.verify.min_agreement), "",
                  *table_markdown(tables.summary(c.outcomes, c.on_front, rec)), "",
                  "## Recommendation", "",
                  (md("**{} on {}**: {}", rec.variant, rec.runtime, rec.reason) if rec.variant
                   else md("**none**: {}", rec.reason)), ""]
        if rec.rejected:
            lines += [*table_markdown(tables.rejected(rec)), ""]
        lines += ["## Per-class accuracy change (points vs float)", "",
                  *table_markdown(tables.per_class(c.verify, c.class_names)), ""]
    lines += _layers(c)
    if c.benchmark is not None:
        note = emulation_note(c.benchmark)
        lines += ["## Latency", "", *([md("_{}_", note), ""] if note else []),
                  *table_markdown(tables.latency(c.benchmark)), ""]
    if c.train is not None:
        lines += ["## Training", "", *table_markdown(tables.training(c.train)), ""]
    lines += ["## Device results", ""]
    if not c.devices:
        lines += ["_none in the bundle (`lenet-edge deploy` brings them back)_", ""]
    for d in c.devices:
        lines += [md("### {}", d.name), ""]
        if d.verify is not None:
            lines += [*table_markdown(tables.summary(d.outcomes, None, d.recommendation)), ""]
            lines += [md("- {} on {}: {}", o.variant, o.runtime, o.message) for o in d.outcomes
                      if o.message]
            lines += ["", md("{}", d.recommendation.reason), ""]
    lines += ["## Tool versions", "", *table_markdown(tables.versions(c.versions())), ""]
    return "\n".join(lines)


def _layers(c: ReportContents) -> list[str]:
    """explain.json: each explained variant's per-layer table (the bars are in the page)."""
    from lenet_edge.results.explain import explain_table

    lines = ["## Per-layer quantisation error", ""]
    if c.explain is None:
        return lines + [md("_{}_", c.notes["layers"]), ""]
    for s in c.explain.skipped:
        lines += [md("_{} skipped: {}_", s.variant, s.reason), ""]
    for r in c.explain.reports:
        t = explain_table(r)
        lines += [md("### {} vs {} on {} {}", r.variant, r.reference_variant, r.runtime,
                     r.runtime_version), "", *table_markdown(t), "",
                  *[md("- {}", line) for line in t.notes], ""]
    return lines
