"""Markdown summaries, e.g. for `$GITHUB_STEP_SUMMARY`."""

from __future__ import annotations

from typing import Any

_MARK = {"pass": "✅ pass", "fail": "❌ fail", "incompatible": "⛔ incompatible"}


def verify_markdown(report: dict[str, Any]) -> str:
    """A heading with the verdict, the gates, one table row per result, then the findings."""
    verdict = "passed" if report["passed"] else "FAILED"
    gates = report["gates"]
    lines = [
        f"### lenet-edge verify: {verdict}",
        "",
        f"`{report['bundle']}` on {report['images']} reference images; gates: accuracy drop "
        f"<= {gates['max_drop']:g} points, top-1 agreement >= {gates['min_agreement']:g}.",
        "",
        "| variant | runtime | status | accuracy | vs float | agreement | max abs logit error |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        runtime = f"{r['runtime']} {r['runtime_version']}"
        if r["accuracy"] is None:
            lines.append(f"| {r['variant']} | {runtime} | {_MARK[r['status']]} | | | | |")
            continue
        lines.append(
            f"| {r['variant']} | {runtime} | {_MARK[r['status']]} | {r['accuracy'] * 100:.2f}% "
            f"| {r['delta_points']:+.2f} pts | {r['agreement'] * 100:.2f}% "
            f"| {r['max_abs_logit_error']:.3g} |"
        )
    findings = [f"- **{r['variant']} on {r['runtime']}**: {_escape(r['message'])}"
                for r in report["results"] if r["status"] != "pass"]
    findings += [f"- {s['variant']} skipped: {_escape(s['reason'])}"
                 for s in report.get("skipped", [])]
    if findings:
        lines += ["", *findings]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
