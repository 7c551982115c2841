"""Markdown: `verify --markdown` summaries (e.g. `$GITHUB_STEP_SUMMARY`) and the one escaper.

Every value that reaches Markdown, here and in the bundle report's `report.md`, is put in
through `md()`, whose fields pass through `escape_markdown()`: markup comes only from the
format strings, never from a bundle's or a device's text.
"""

from __future__ import annotations

import re
import string
from typing import Any

_MARK = {"pass": "✅ pass", "fail": "❌ fail", "incompatible": "⛔ incompatible"}
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


def verify_markdown(report: dict[str, Any]) -> str:
    """A heading with the verdict, the gates, one table row per result, then the findings."""
    verdict = "passed" if report["passed"] else "FAILED"
    gates = report["gates"]
    lines = [
        f"### lenet-edge verify: {verdict}",
        "",
        # No code span for the path: inside one, backslash escapes do not apply.
        md("{} on {} reference images; gates: accuracy drop <= {:g} points, top-1 agreement "
           ">= {:g}.", report["bundle"], report["images"], gates["max_drop"],
           gates["min_agreement"]),
        "",
        "| variant | runtime | status | accuracy | vs float | agreement | max abs logit error |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        runtime = f"{r['runtime']} {r['runtime_version']}"
        if r["accuracy"] is None:
            lines.append(md("| {} | {} | {} | | | | |", r["variant"], runtime,
                            _MARK[r["status"]]))
            continue
        lines.append(md("| {} | {} | {} | {:.2f}% | {:+.2f} pts | {:.2f}% | {:.3g} |",
                        r["variant"], runtime, _MARK[r["status"]], r["accuracy"] * 100,
                        r["delta_points"], r["agreement"] * 100, r["max_abs_logit_error"]))
    findings = [md("- **{} on {}**: {}", r["variant"], r["runtime"], r["message"])
                for r in report["results"] if r["status"] != "pass"]
    findings += [md("- {} skipped: {}", s["variant"], s["reason"])
                 for s in report.get("skipped", [])]
    if findings:
        lines += ["", *findings]
    return "\n".join(lines) + "\n"
