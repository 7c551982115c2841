"""Markdown: `verify --markdown` summaries (e.g. `$GITHUB_STEP_SUMMARY`) and the one escaper.

Every value that reaches Markdown, here and in the bundle report's `report.md`, is put in
through `md()`, whose fields pass through `escape_markdown()`: markup comes only from the
format strings, never from a bundle's or a device's text.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lenet_edge.results.regression import RegressionReport
    from lenet_edge.results.verify import VerifyReport

_MARK = {"pass": "✅ pass", "fail": "❌ fail", "incompatible": "⛔ incompatible",
         "skipped": "⏭ skipped"}
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# markup: emphasis, code, links and images, raw HTML and autolinks, table cells, headings.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]+")
# Other control characters (ESC, BEL, ...) would act on a terminal that shows the file: as \xNN.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_markdown(value: Any) -> str:
    """`value` as literal Markdown text: markup characters escaped, line breaks as spaces,
    other control characters spelled out (`\\x1b`).

    A line break would end a table row or start a block (a heading, raw HTML), so none is kept.
    """
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _LINE_BREAK.sub(" ", str(value)))
    return _SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")


class _EscapingFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return escape_markdown(format(value, format_spec))


_FORMATTER = _EscapingFormatter()


def md(template: str, *args: Any, **kwargs: Any) -> str:
    """`template.format(...)` with every field escaped: the template holds the markup."""
    return _FORMATTER.format(template, *args, **kwargs)


def verify_markdown(report: VerifyReport) -> str:
    """A heading with the verdict, the gates, the results table (results/tables.py), then the
    findings: messages, worst images, skipped variants; with --baseline, a section for the
    check against the baseline model."""
    from lenet_edge.report.markdown import table_markdown
    from lenet_edge.results.tables import verify_table

    table = verify_table(report)
    shown = table.select(("variant", "runtime", "version", "status", "accuracy", "vs float",
                          "agree", "max|err|"))
    status = shown.header.index("status")
    for row, mark in zip(shown.rows, shown.marks, strict=True):
        row[status] = _MARK.get(mark, mark)
    lines = [
        f"### lenet-edge verify: {'passed' if report.passed else 'FAILED'}",
        "",
        # No code span for the path: inside one, backslash escapes do not apply.
        md("{} on {}.", report.bundle, table.caption),
        "",
        *table_markdown(replace(shown, caption="")),
    ]
    if table.notes:
        lines += ["", *(md("- {}", note) for note in table.notes)]
    if report.baseline is not None:
        lines += ["", *regression_markdown(report.baseline)]
    return "\n".join(lines) + "\n"


def regression_markdown(report: RegressionReport) -> list[str]:
    """The check against a baseline (results/tables.py `regression_table`): a heading with
    its verdict, the budgets, the table, then one line per failure and what was not compared."""
    from lenet_edge.report.markdown import table_markdown
    from lenet_edge.results.tables import regression_table

    table = regression_table(report)
    status = table.header.index("status")
    for row, mark in zip(table.rows, table.marks, strict=True):
        row[status] = _MARK.get(mark, mark)
    lines = [f"#### against baseline: {'passed' if report.passed else 'FAILED'}", "",
             md("{}: {}.", report.baseline, table.caption), "",
             *table_markdown(replace(table, caption="", notes=[]))]
    if table.notes:
        lines += ["", *(md("- {}", note) for note in table.notes)]
    return lines
