"""The report's per-layer section: explain.json drawn as SNR bars and tables, no interpreter."""

from __future__ import annotations

import pytest

from lenet_edge import bundle

# Not in the runtime tier: `report` needs matplotlib (the report extra), which the device
# venvs do not have; the report itself loads no interpreter (explain.json is read back).
pytestmark = [pytest.mark.needs("litert", "onnxruntime")]


def test_the_report_draws_every_explained_variant(fresh_bundle, run_cli):
    run_cli("verify", fresh_bundle)
    run_cli("explain", fresh_bundle, "--limit", "50")  # saves explain.json
    run_cli("report", fresh_bundle)
    page = (fresh_bundle / bundle.REPORT_HTML).read_text()
    section = page[page.index('id="layers"'):]
    section = section[:section.index("</section>")]
    assert 'alt="per-layer SNR of each quantised variant versus the float model"' in section
    assert 'src="data:image/png;base64,' in section
    for variant, reference in (("int8", "fp32"), ("int16x8", "fp32"),
                               ("onnx-int8", "onnx-fp32")):
        assert f"<h3>{variant} vs {reference} on " in section
    assert section.count('<tr class="worst">') == section.count("<h3>")  # one per variant
    markdown = (fresh_bundle / "report.md").read_text()
    assert "## Per-layer quantisation error" in markdown
    assert "### int8 vs fp32 on litert" in markdown and "rmse/scale" in markdown


def test_without_explain_json_the_section_says_what_to_run(fresh_bundle, run_cli):
    run_cli("verify", fresh_bundle)
    run_cli("report", fresh_bundle)
    page = (fresh_bundle / bundle.REPORT_HTML).read_text()
    assert f"no explain.json in the bundle: run &#39;lenet-edge explain {fresh_bundle}&#39;" \
        in page
