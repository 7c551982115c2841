"""JUnit XML for `lenet-edge verify`: one testcase per variant x runtime.

A gate failure and an incompatible runtime are both <failure> (the check did not pass; the
`type` attribute says which); a variant left out for want of an installed runtime is
<skipped>. CI systems (GitHub, GitLab, Jenkins) count these three the same way.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

from lenet_edge.results.verify import PASS, VerifyReport, VerifyResult

SUITE = "lenet-edge verify"


def verify_junit(report: VerifyReport) -> bytes:
    """The XML document (UTF-8 bytes) for a verify report."""
    results, skipped = report.results, report.skipped
    failures = sum(r.status != PASS for r in results)
    counts = {"tests": str(len(results) + len(skipped)), "failures": str(failures),
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
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _summary(r: VerifyResult) -> str:
    if not r.loaded:
        return f"{r.runtime} {r.runtime_version}: {r.message}"
    return (f"{r.runtime} {r.runtime_version}: accuracy {r.accuracy:.4f} "
            f"({r.delta_points:+.2f} points vs float), agreement {r.agreement:.4f}"
            + ("" if r.max_abs_logit_error is None
               else f", max |logit error| {r.max_abs_logit_error:.4g}"))
