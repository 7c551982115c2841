"""JUnit XML for `lenet-edge verify`: one testcase per variant x runtime.

A gate failure and an incompatible runtime are both <failure> (the check did not pass; the
`type` attribute says which); a variant left out for want of an installed runtime is
<skipped>. CI systems (GitHub, GitLab, Jenkins) count these three the same way. With
`--baseline`, one more testcase per model compared with the baseline's (classname
`baseline.<runtime>`, `baseline.float` for the float model): a <failure> of type
"regression" lists each figure that lost more than allowed, the class named.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

from lenet_edge.results.regression import ACCURACY, FLOAT, RegressionReport, RegressionRow
from lenet_edge.results.verify import PASS, VerifyReport, VerifyResult

SUITE = "lenet-edge verify"


def verify_junit(report: VerifyReport) -> bytes:
    """The XML document (UTF-8 bytes) for a verify report."""
    results, skipped = report.results, report.skipped
    compared = _by_model(report.baseline) if report.baseline is not None else {}
    failures = sum(r.status != PASS for r in results) + sum(
        any(row.failed for row in rows) for rows in compared.values())
    counts = {"tests": str(len(results) + len(skipped) + len(compared)),
              "failures": str(failures),
              "errors": "0", "skipped": str(len(skipped)), "time": f"{report.seconds:.3f}"}
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"{SUITE} {report.bundle}",
                                              "hostname": socket.gethostname(), **counts})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("images", report.images), ("max_drop", report.max_drop),
                        ("min_agreement", report.min_agreement)):
        ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    for r in results:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"verify.{r.runtime}", "name": f"{r.variant} on {r.runtime}",
            "time": f"{r.seconds:.3f}"})
        if r.status != PASS:
            failure = ET.SubElement(case, "failure", {"type": r.status,
                                                      "message": r.message or r.status})
            failure.text = _summary(r)
        ET.SubElement(case, "system-out").text = _summary(r)
    for s in skipped:
        case = ET.SubElement(suite, "testcase", {"classname": "verify.skipped",
                                                 "name": f"{s.variant} (no runtime)"})
        ET.SubElement(case, "skipped", {"message": s.reason})
    if report.baseline is not None:
        _baseline_cases(suite, report.baseline, compared)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _by_model(report: RegressionReport) -> dict[tuple[str, str], list[RegressionRow]]:
    """The rows of each model compared (variant, runtime), in report order."""
    models: dict[tuple[str, str], list[RegressionRow]] = {}
    for row in report.rows:
        models.setdefault((row.variant, row.runtime), []).append(row)
    return models


def _baseline_cases(suite: ET.Element, report: RegressionReport,
                    compared: dict[tuple[str, str], list[RegressionRow]]) -> None:
    from lenet_edge.results.tables import regression_failure

    properties = suite.find("properties")
    for name, value in report.gates.items():
        ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    ET.SubElement(properties, "property", {"name": "baseline", "value": report.baseline})
    for (variant, runtime), rows in compared.items():
        float_model = variant == FLOAT
        case = ET.SubElement(suite, "testcase", {
            "classname": f"baseline.{FLOAT if float_model else runtime}",
            "name": f"{variant if float_model else f'{variant} on {runtime}'} vs baseline"})
        lines = [regression_failure(row) for row in rows if row.failed]
        if lines:
            failure = ET.SubElement(case, "failure", {"type": "regression",
                                                      "message": "; ".join(lines)})
            failure.text = "\n".join(lines)
        overall = next(row for row in rows if row.metric == ACCURACY)
        ET.SubElement(case, "system-out").text = (
            f"accuracy {overall.baseline:.4f} -> {overall.new:.4f} "
            f"({overall.change:+.2f} points vs the baseline {report.baseline})")
    if report.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(report.notes)


def _summary(r: VerifyResult) -> str:
    if not r.loaded:
        return f"{r.runtime} {r.runtime_version}: {r.message}"
    return (f"{r.runtime} {r.runtime_version}: accuracy {r.accuracy:.4f} "
            f"({r.delta_points:+.2f} points vs float), agreement {r.agreement:.4f}"
            + ("" if r.max_abs_logit_error is None
               else f", max |logit error| {r.max_abs_logit_error:.4g}"))
