"""The report as Markdown: the same tables as the HTML page, for a CI step summary or a PR.

Markdown viewers do not show data: URIs, so the figures stay in the HTML page and this file
points to it.
"""

from __future__ import annotations

from lenet_edge.report import tables
from lenet_edge.report.contents import ReportContents, emulation_note
from lenet_edge.report.tables import Table


def table_markdown(t: Table) -> list[str]:
    align = ["---:" if i in t.right else "---" for i in range(len(t.header))]
    lines = [_row(t.header), _row(align)]
    for r, row in enumerate(t.rows):
        mark = t.marks[r] if r < len(t.marks) else ""
        cells = [f"**{cell}**" if mark == "recommended" and cell else cell for cell in row]
        lines.append(_row(cells))
    return lines + (["", f"_{t.caption}_"] if t.caption else [])


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def render_markdown(c: ReportContents, html_name: str) -> str:
    """Summary, recommendation, per-class changes, latency, devices and versions."""
    dataset = c.manifest.get("dataset", {}).get("name", "?")
    lines = [f"# LeNet-5 on {dataset}: edge report", "",
             f"Bundle `{c.bundle}`; float test accuracy "
             f"{c.manifest.get('float_test_accuracy', 0):.2%}. Figures (trade-offs, confusion "
             f"matrices, latency, training curves, disagreement images) are in "
             f"[{html_name}]({html_name}).", ""]
    if c.verify is None:
        lines += [f"_{c.notes['verify']}_", ""]
    else:
        gates = c.verify["gates"]
        verdict = "all gates passed" if c.verify.get("passed") else "a gate FAILED"
        rec = c.recommendation
        lines += ["## Summary", "", f"{verdict}; {c.verify['images']} reference images; gates: "
                  f"accuracy drop <= {gates['max_drop']:g} points, agreement >= "
                  f"{gates['min_agreement']:g}.", "",
                  *table_markdown(tables.summary(c.outcomes, c.on_front, rec)), "",
                  "## Recommendation", "",
                  (f"**{rec.variant} on {rec.runtime}**: " if rec.variant else "**none**: ")
                  + rec.reason, ""]
        if rec.rejected:
            lines += [*table_markdown(tables.rejected(rec)), ""]
        lines += ["## Per-class accuracy change (points vs float)", "",
                  *table_markdown(tables.per_class(c.verify, c.class_names)), ""]
    if c.benchmark is not None:
        note = emulation_note(c.benchmark)
        lines += ["## Latency", "", *([f"_{note}_", ""] if note else []),
                  *table_markdown(tables.latency(c.benchmark)), ""]
    if c.train is not None:
        lines += ["## Training", "", *table_markdown(tables.training(c.train))[2:], ""]
    lines += ["## Device results", ""]
    if not c.devices:
        lines += ["_none in the bundle (`lenet-edge deploy` brings them back)_", ""]
    for d in c.devices:
        lines += [f"### {d.name}", ""]
        if d.verify is not None:
            lines += [*table_markdown(tables.summary(d.outcomes, None, d.recommendation)), ""]
            lines += [f"- {o.variant} on {o.runtime}: {o.message}" for o in d.outcomes
                      if o.message]
            lines += ["", d.recommendation.reason, ""]
    lines += ["## Tool versions", "", *table_markdown(tables.versions(c.versions())), ""]
    return "\n".join(lines)
