"""Text from a bundle never becomes markup in the report, HTML or Markdown.

Every text field the report shows, in every file it reads (manifest.json, train.json,
verify.json, benchmark.json, a device's results, even a device file's name), gets a string
made of the usual attacks; the pages must show it as text and hold no markup of it.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

HOSTILE = ('<script>alert(1)</script>"><img src=x onerror=alert(2)><style>*{display:none}'
           '</style><a href="javascript:alert(3)">x</a>[c](javascript:alert(4)) a|b `tick` *em*')
DEVICE = '"><img src=x onerror=alert(5)>'  # a device file name can hold all but '/'
RESULTS = ("verify.json", "benchmark.json", "report.html", "report.md")


class _Markup(HTMLParser):
    """Every tag and attribute of a page, and its text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def markup(html: str) -> _Markup:
    page = _Markup()
    page.feed(html)
    page.close()
    return page


def assert_no_markup_from_the_bundle(html: str, inline_style: bool) -> _Markup:
    page = markup(html)
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags
    assert tags.count("style") == (1 if inline_style else 0)  # the page's own, in <head>
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/png;base64,"), attrs
        if tag == "a":
            href = attrs.get("href") or ""
            assert href.startswith(("#", "./")), attrs
    return page


def spoil(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _verify(data: dict) -> None:
    for row in data["results"]:
        row["message"] = HOSTILE
        row["runtime_version"] = HOSTILE
    data["skipped"] = [{"variant": "fp16", "reason": HOSTILE}]


def _benchmark(data: dict) -> None:
    data["machine"].update(cpu=HOSTILE, arch=HOSTILE, os=HOSTILE, python=HOSTILE,
                           emulated=HOSTILE)
    data["machine"]["runtimes"] = {"litert": HOSTILE}


def _manifest(data: dict) -> None:
    data["dataset"]["name"] = HOSTILE
    data["created"] = HOSTILE
    data["tool_versions"] = {name: HOSTILE for name in data["tool_versions"]}


def _train(data: dict) -> None:
    data["dataset"]["source"] = HOSTILE
    data["versions"] = {"tensorflow": HOSTILE}


@pytest.fixture(scope="module")
def hostile(digits_bundle, tmp_path_factory, run_cli) -> Path:
    """A bundle whose every shown text field is hostile, and its report."""
    bundle = Path(shutil.copytree(digits_bundle, tmp_path_factory.mktemp("hostile") / "b"))
    for name in RESULTS:
        (bundle / name).unlink(missing_ok=True)  # other tests' runs may have saved theirs
    run_cli("verify", bundle, "--variant", "fp32", "--variant", "int8", "--limit", "50",
            "--json", bundle / "verify.json")
    run_cli("benchmark", bundle, "--variant", "fp32", "--variant", "int8", "--runs", "20",
            "--min-time", "0.01", "--warmup", "2", "--warmup-time", "0", "--batch", "4",
            "--no-cold-start", "--json", bundle / "benchmark.json")
    spoil(bundle / "verify.json", _verify)
    spoil(bundle / "benchmark.json", _benchmark)
    for kind in ("verify", "benchmark"):
        shutil.copy(bundle / f"{kind}.json", bundle / f"device-{DEVICE}-{kind}.json")
    spoil(bundle / "manifest.json", _manifest)
    spoil(bundle / "train.json", _train)
    run_cli("report", bundle)
    return bundle


def test_hostile_text_is_escaped_in_the_html_page(hostile):
    html = (hostile / "report.html").read_text()
    page = assert_no_markup_from_the_bundle(html, inline_style=True)
    # Shown as text, in the header, versions, notes, device section and the device's name.
    assert page.text.count(HOSTILE) >= 8
    assert DEVICE in page.text
    for raw in ("<script", "<img src=x", "<style>*", 'href="javascript'):
        assert raw not in html


def test_hostile_text_is_escaped_in_the_markdown_report(hostile):
    from markdown_it import MarkdownIt

    md = (hostile / "report.md").read_text()
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    page = assert_no_markup_from_the_bundle(rendered, inline_style=False)
    assert page.text.count(HOSTILE) >= 3  # title, versions, device findings: as typed
    for line in md.splitlines():  # a pipe or a line break from the text never splits a row
        if line.startswith("| recorded |"):
            assert line.count(" | ") == 1


def test_hostile_benchmark_policy_is_refused_or_escaped(hostile, tmp_path, run_cli):
    # The old page inserted `runs` and `min_time` raw. A reader may refuse them as not
    # numbers (exit 4); if it takes them, they are text.
    bundle = Path(shutil.copytree(hostile, tmp_path / "b"))
    spoil(bundle / "benchmark.json",
          lambda d: d.update(policy={"runs": HOSTILE, "min_time": HOSTILE}))
    proc = run_cli("report", bundle, check=False)
    assert proc.returncode in (0, 4), proc.stderr
    if proc.returncode == 0:
        page = assert_no_markup_from_the_bundle((bundle / "report.html").read_text(), True)
        assert f"At least {HOSTILE} calls and {HOSTILE} s per row" in " ".join(
            page.text.split())


def test_an_out_file_name_is_a_relative_link_in_markdown(hostile, tmp_path, run_cli):
    out = tmp_path / "javascript:alert(6).html"
    run_cli("report", hostile, "--out", out)
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(out.with_suffix(".md").read_text())
    links = [attrs["href"] for tag, attrs in markup(rendered).tags if tag == "a"]
    assert links == ["./javascript%3Aalert%286%29.html"]


def test_verify_markdown_escapes_the_devices_text():
    from markdown_it import MarkdownIt

    from lenet_edge.report.verify_markdown import verify_markdown
    from lenet_edge.results.verify import VerifyReport

    row = {"variant": HOSTILE, "runtime": "litert", "runtime_version": HOSTILE,
           "status": "fail", "message": HOSTILE, "accuracy": 0.5, "delta_points": -1.0,
           "agreement": 0.9, "max_abs_logit_error": 0.1}
    report = {"passed": False, "bundle": HOSTILE, "images": 10, "results": [row],
              "gates": {"max_drop": 0.5, "min_agreement": 0.99},
              "skipped": [{"variant": "fp16", "reason": HOSTILE}]}
    rendered = MarkdownIt("commonmark").enable("table").render(
        verify_markdown(VerifyReport.from_dict(report)))
    page = assert_no_markup_from_the_bundle(rendered, inline_style=False)
    assert page.text.count(HOSTILE) >= 5


def test_the_page_is_rendered_at_one_escaping_point():
    # Markup lives in the templates; the Python side builds no HTML by hand.
    from lenet_edge.report import html

    source = Path(html.__file__).read_text()
    assert "autoescape=True" in source
    assert "escape(" not in source and "<p" not in source and "<td" not in source


def test_control_characters_reach_no_terminal_through_the_markdown():
    # `cat report.md` would run an ESC sequence from a device's text (its CPU name, say).
    from lenet_edge.report.verify_markdown import escape_markdown

    text = escape_markdown("Cortex\x1b[31m-A72\x07")
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b" in text and "\\x07" in text  # spelled out, still readable
