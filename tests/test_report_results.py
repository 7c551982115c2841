"""What `report` has to go on: verify and benchmark keep their results in the bundle, and
`report` says what is missing (and refuses when nothing is there)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

QUICK_VERIFY = ("--variant", "fp32", "--limit", "40")
QUICK_BENCH = ("--variant", "int8", "--runs", "20", "--min-time", "0.01", "--warmup", "2",
               "--warmup-time", "0", "--batch", "4", "--no-cold-start")
RESULTS = ("verify.json", "benchmark.json", "report.html", "report.md")


@pytest.fixture
def bare(digits_bundle, tmp_path) -> Path:
    """A converted bundle with no results in it (other tests' runs may have saved some)."""
    bundle = Path(shutil.copytree(digits_bundle, tmp_path / "bundle"))
    for name in RESULTS:
        (bundle / name).unlink(missing_ok=True)
    for device in bundle.glob("device-*.json"):
        device.unlink()
    return bundle


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_verify_and_benchmark_save_their_results_for_report(bare, run_cli):
    proc = run_cli("verify", bare, *QUICK_VERIFY)
    assert f"results saved to {bare / 'verify.json'}" in one_line(proc.stderr)
    assert json.loads((bare / "verify.json").read_text())["images"] == 40
    proc = run_cli("benchmark", bare, *QUICK_BENCH)
    assert f"results saved to {bare / 'benchmark.json'}" in one_line(proc.stderr)
    proc = run_cli("report", bare)
    assert "note:" not in proc.stderr  # nothing missing
    html = (bare / "report.html").read_text()
    assert "no verify.json" not in html and "no benchmark.json" not in html


def test_json_to_stdout_also_saves(bare, run_cli):
    proc = run_cli("verify", bare, *QUICK_VERIFY, "--json", "-")
    assert json.loads(proc.stdout) == json.loads((bare / "verify.json").read_text())


@pytest.mark.parametrize("option", ["--no-save", "--json"])
def test_no_save_or_json_elsewhere_leave_the_bundle_alone(bare, tmp_path, run_cli, option):
    args = ["--no-save"] if option == "--no-save" else ["--json", tmp_path / "elsewhere.json"]
    proc = run_cli("verify", bare, *QUICK_VERIFY, *args)
    assert not (bare / "verify.json").exists()
    assert "results saved" not in proc.stderr


def test_save_with_json_elsewhere_keeps_both(bare, tmp_path, run_cli):
    run_cli("verify", bare, *QUICK_VERIFY, "--save", "--json", tmp_path / "elsewhere.json")
    assert (bare / "verify.json").read_bytes() == (tmp_path / "elsewhere.json").read_bytes()


def test_benchmark_never_replaces_its_compare_baseline(bare, run_cli):
    run_cli("benchmark", bare, *QUICK_BENCH)
    baseline = (bare / "benchmark.json").read_bytes()
    proc = run_cli("benchmark", bare, *QUICK_BENCH, "--compare", bare / "benchmark.json",
                   "--max-slowdown", "100000", check=False)
    assert proc.returncode in (0, 1), proc.stderr  # 1: a slowdown on a busy machine
    assert (bare / "benchmark.json").read_bytes() == baseline
    assert "it is the --compare baseline" in one_line(proc.stderr)
    proc = run_cli("benchmark", bare, *QUICK_BENCH, "--compare", bare / "benchmark.json",
                   "--save", check=False)
    assert proc.returncode == 2 and "--save would replace the --compare baseline" in one_line(
        proc.stderr)


def test_a_markdown_summary_cannot_take_the_saved_results_place(bare, run_cli):
    proc = run_cli("verify", bare, *QUICK_VERIFY, "--markdown", bare / "verify.json",
                   check=False)
    assert proc.returncode == 2, proc.stderr
    assert "both write" in proc.stderr


def test_report_says_on_stderr_what_is_missing_and_what_to_run(bare, run_cli):
    run_cli("verify", bare, *QUICK_VERIFY)
    proc = run_cli("report", bare)
    assert (f"lenet-edge: note: no benchmark.json in the bundle: run 'lenet-edge benchmark "
            f"{bare}'") in one_line(proc.stderr)
    assert "no verify.json" not in proc.stderr


def test_report_with_nothing_to_report_is_one_line_and_writes_nothing(bare, run_cli):
    (bare / "report.html").write_text("an earlier report")
    proc = run_cli("report", bare, check=False)
    assert proc.returncode == 4
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"nothing to report in {bare}: no verify.json, benchmark.json or device-*.json; " \
           f"run 'lenet-edge verify {bare}'" in proc.stderr
    assert (bare / "report.html").read_text() == "an earlier report"
    assert not (bare / "report.md").exists()


def test_device_results_alone_are_something_to_report(bare, run_cli):
    run_cli("verify", bare, *QUICK_VERIFY, "--json", bare / "device-pi-verify.json")
    proc = run_cli("report", bare)
    assert "no verify.json in the bundle" in proc.stderr
    assert "pi" in (bare / "report.md").read_text()
