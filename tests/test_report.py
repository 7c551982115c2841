"""`lenet-edge report`: the HTML page in a real browser, its Markdown twin, and its refusals.

The bundle gets real results the way a user produces them: `verify` and `benchmark` with
`--json` into the bundle, plus a device-style result (`verify` on tflite-runtime, the
command `deploy` runs on a Pi) under the name `deploy` stores it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lenet_edge.cli import INTERNAL_ERROR, app
from lenet_edge.report import write_report
from lenet_edge.report.contents import gather
from lenet_edge.report.html import SECTIONS, render_html
from lenet_edge.report.markdown import render_markdown
from lenet_edge.report.recommend import recommend
from lenet_edge.report.verify_markdown import escape_markdown
from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.results.verify import VerifyReport

SECTION_IDS = [sid for sid, _ in SECTIONS]


@pytest.fixture(scope="module")
def reported(digits_bundle, tmp_path_factory, run_cli) -> Path:
    """A copy of the digits bundle with verify, benchmark and device results, and its report."""
    bundle = Path(shutil.copytree(digits_bundle, tmp_path_factory.mktemp("report") / "bundle"))
    for name in ("verify.json", "benchmark.json"):  # other tests' runs may have saved theirs
        (bundle / name).unlink(missing_ok=True)
    run_cli("verify", bundle, "--json", bundle / "verify.json")
    # Short timing: the report draws what was measured, it does not judge it.
    run_cli("benchmark", bundle, "--runs", "50", "--min-time", "0.05", "--warmup", "5",
            "--warmup-time", "0", "--batch", "16", "--no-cold-start",
            "--json", bundle / "benchmark.json")
    device = run_cli("verify", bundle, "--runtime", "tflite-runtime", "--json",
                     bundle / "device-pi-verify.json", check=False)
    assert device.returncode in (0, 1)  # 1: a finding (a gate, or a variant it cannot load)
    proc = run_cli("report", bundle)
    assert f"report: {bundle / 'report.html'}" in proc.stdout.replace("\n", "")
    return bundle


# --- the page in a browser -----------------------------------------------------------------


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def open_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after load and the page's console messages, from headless Chromium."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--dump-dom", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, re.findall(r":CONSOLE[^\]]*\][^\n]*", proc.stderr)


class _Page(HTMLParser):
    """Section ids, the text inside each, and every image source."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self._current: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._current = attrs.get("id")
            self.sections[self._current] = ""
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "section":
            self._current = None

    def handle_data(self, data):
        if self._current is not None:
            self.sections[self._current] += data


def parse(dom: str) -> _Page:
    page = _Page()
    page.feed(dom)
    return page


def decode_png(src: str):
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    image.load()  # decodes every pixel: a truncated PNG raises here
    return image


@pytest.mark.browser
def test_the_report_renders_every_section_with_no_console_message(reported, tmp_path):
    dom, console = open_in_chromium(reported / "report.html", tmp_path / "profile")
    assert console == []
    page = parse(dom)
    assert list(page.sections) == SECTION_IDS
    for sid, text in page.sections.items():
        assert len(text.strip()) > 20, f"section {sid} is empty"
    rec = json.loads(CliRunner().invoke(app, ["report", str(reported), "--json"]).output)
    chosen = f"{rec['recommendation']['variant']} on {rec['recommendation']['runtime']}"
    assert chosen in page.sections["recommendation"]
    device = json.loads((reported / "device-pi-verify.json").read_text())
    assert "pi" in page.sections["devices"] and "tflite-runtime" in page.sections["devices"]
    for r in device["results"]:  # the device's findings are shown
        assert r["message"] in page.sections["devices"]
    alts = [img.get("alt", "") for img in page.images]
    assert any(f"recommended: {chosen}" in alt for alt in alts)  # two confusion matrices
    for img in page.images:  # every figure is a whole PNG
        assert decode_png(img["src"]).size[0] > 0


@pytest.mark.browser
def test_the_console_check_sees_a_blocked_network_load(tmp_path):
    # Guards the test above: the page's policy blocks any fetch, and Chromium reports it.
    page = tmp_path / "fetches.html"
    html = render_html_stub().replace("</main>", '<img src="https://example.com/x.png"></main>')
    page.write_text(html)
    _, console = open_in_chromium(page, tmp_path / "profile")
    assert any("Content Security Policy" in line for line in console)


def render_html_stub() -> str:
    """A page with the report's head (its Content-Security-Policy) and an empty body."""
    from lenet_edge.report import html as report_html

    return (f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
            f'content="{report_html._CSP}"></head><body><main></main></body></html>')


# --- content --------------------------------------------------------------------------------


def test_the_page_is_self_contained(reported):
    html = (reported / "report.html").read_text()
    # Every src is inline data; no stylesheet, script or font is fetched.
    assert set(re.findall(r'src="([a-z]+):', html)) == {"data"}
    assert "<script" not in html and "<link" not in html and "@import" not in html


def test_the_markdown_twin_has_the_tables_and_the_recommendation(reported):
    md = (reported / "report.md").read_text()
    verify = VerifyReport.from_dict(json.loads((reported / "verify.json").read_text()))
    bench = BenchmarkReport.from_dict(json.loads((reported / "benchmark.json").read_text()))
    rec = recommend(verify, bench, "size")
    assert f"**{rec.variant} on {rec.runtime}**: {escape_markdown(rec.reason)}" in md
    assert "| variant | runtime | size | accuracy | vs float |" in md
    for heading in ("## Summary", "## Per-class accuracy change", "## Latency", "## Training",
                    "## Device results", "### pi", "## Tool versions"):
        assert heading in md
    assert "[report.html](./report.html)" in md


def test_report_json_gives_the_paths_and_the_recommendation(reported, tmp_path):
    out = tmp_path / "elsewhere.html"
    result = CliRunner().invoke(app, ["report", str(reported), "--out", str(out),
                                      "--prefer", "latency", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["html"] == str(out) and Path(data["markdown"]) == out.with_suffix(".md")
    assert out.is_file() and out.with_suffix(".md").is_file()
    assert data["recommendation"]["prefer"] == "latency"


def test_without_local_results_every_section_says_what_to_run(reported, tmp_path):
    bundle = Path(shutil.copytree(reported, tmp_path / "bundle"))
    for name in ("verify.json", "benchmark.json"):  # a device's results are still there
        (bundle / name).unlink()
    written = write_report(bundle)
    html = written.html.read_text()
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in html
    assert f"run 'lenet-edge verify {bundle}' (it saves verify.json there)" in unescape(html)
    assert written.recommendation is None
    assert [note.split(":")[0] for note in written.missing] == [
        "no verify.json in the bundle", "no benchmark.json in the bundle"]


def test_the_markdown_training_section_is_a_table(reported):
    from markdown_it import MarkdownIt

    md = (reported / "report.md").read_text()
    training = md.split("## Training\n", 1)[1].split("\n## ", 1)[0]
    html = MarkdownIt("commonmark").enable("table").render(training)
    assert html.lstrip().startswith("<table>")  # the old rows had no header: a paragraph
    assert "<td>float test accuracy</td>" in html and "<td>epochs</td>" in html


def test_text_from_the_bundle_is_escaped(reported):
    contents = gather(reported)
    contents.bundle = '<script>alert("x")</script>'
    html = render_html(contents)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_an_emulated_benchmark_is_flagged_in_both_reports(reported):
    contents = gather(reported)
    plain = render_html(contents) + render_markdown(contents, "report.html")
    assert "functional only" not in plain
    contents.benchmark.machine["emulated"] = "qemu-system-aarch64 (test)"
    note = ("emulated (qemu-system-aarch64 (test)): latency figures are functional only; never "
            "compare them with a real device")
    assert note in unescape(render_html(contents))
    assert f"_{note}_" in render_markdown(contents, "report.html")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--out", "report.txt"], 2, "must end in .html"),
    (["--out", "/nonexistent/dir/report.html"], 5, "folder /nonexistent/dir does not exist"),
    (["--prefer", "fastest"], 2, "unknown preference 'fastest'"),
])
def test_bad_options_fail_with_one_line(reported, args, code, message):
    result = CliRunner().invoke(app, ["report", str(reported), *args])
    # A bug also prints one line (no traceback): only the exit code tells it from bad input.
    assert result.exit_code != INTERNAL_ERROR, result.output
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output


def test_a_folder_that_is_no_bundle_is_a_model_error(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 4
    assert "no manifest" in result.output


def test_a_bundle_that_does_not_exist_is_a_model_error_not_an_output_error(tmp_path):
    # The default --out lies inside the bundle: its missing folder is not the problem.
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nonexistent")])
    assert result.exit_code == 4, result.output
    assert "cannot write" not in result.output


# --- results files that are there but not what verify / benchmark write ---------------------


def without_runtime(data: dict) -> dict:
    del data["results"][0]["runtime"]  # as a hand edit or an older lenet-edge might leave it
    return data


def status_unknown(data: dict) -> dict:
    data["results"][0]["status"] = "great"
    return data


def results_not_a_list(data: dict) -> dict:
    data["results"] = {"fp32": "pass"}
    return data


@pytest.mark.parametrize("name", ["verify.json", "benchmark.json", "device-pi-verify.json"])
@pytest.mark.parametrize(("spoil", "message"), [
    (lambda text: "{", "not valid JSON"),
    (lambda text: "[]", "expected a JSON object, got list"),
    (lambda text: json.dumps(without_runtime(json.loads(text))), "results[0].runtime is missing"),
    (lambda text: json.dumps(status_unknown(json.loads(text))),
     "results[0].status is 'great'; expected one of"),
    (lambda text: json.dumps(results_not_a_list(json.loads(text))),
     "results must be a list, got dict"),
])
def test_a_results_file_that_is_not_one_is_a_model_error_naming_it(reported, tmp_path, name,
                                                                  spoil, message):
    bundle = Path(shutil.copytree(reported, tmp_path / "bundle"))
    path = bundle / name
    path.write_text(spoil(path.read_text()))
    result = CliRunner().invoke(app, ["report", str(bundle)])
    assert result.exit_code != INTERNAL_ERROR, result.output  # was 70: a KeyError
    assert result.exit_code == 4, result.output
    output = " ".join(result.output.split())  # rich may fold the line
    assert str(path) in output and message in output
    assert "Traceback" not in result.output
    # Nothing misleading is written: the earlier report stays as it was.
    assert (bundle / "report.html").read_bytes() == (reported / "report.html").read_bytes()


def test_a_benchmark_row_without_its_timings_is_a_model_error(reported, tmp_path):
    bundle = Path(shutil.copytree(reported, tmp_path / "bundle"))
    data = json.loads((bundle / "benchmark.json").read_text())
    timed = next(i for i, r in enumerate(data["results"]) if r["status"] == "ok")
    data["results"][timed]["p50_us"] = "fast"
    (bundle / "benchmark.json").write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["report", str(bundle)])
    assert result.exit_code == 4, result.output
    assert f"results[{timed}].p50_us must be a number, got str 'fast'" in result.output


def test_an_absent_results_file_is_a_note_not_an_error(reported, tmp_path):
    bundle = Path(shutil.copytree(reported, tmp_path / "bundle"))
    (bundle / "benchmark.json").unlink()
    result = CliRunner().invoke(app, ["report", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "no benchmark.json in the bundle" in (bundle / "report.html").read_text()
