"""What `report` has to go on: verify and benchmark keep their results in the bundle, and
`report` says what is missing (and refuses when nothing is there)."""

from __future__ import annotations

import json
import shutil
from html import unescape
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


# --- verify.json keeps predicted classes: the report needs no interpreter -------------------


def test_verify_json_round_trips_the_predicted_classes(bare, run_cli):
    import numpy as np

    from lenet_edge import bundle as bundle_files
    from lenet_edge.results.verify import VerifyReport

    run_cli("verify", bare, *QUICK_VERIFY)
    data = json.loads((bare / "verify.json").read_text())
    report = VerifyReport.from_dict(data)
    assert report.to_dict() == data  # nothing lost or reshaped on the way back
    [row] = report.results
    assert isinstance(data["results"][0]["predictions"], str)  # compact: one digit per image
    classes = row.predicted_classes()
    assert classes.shape == (40,)
    # They are the classes verify measured: its accuracy follows from them and the labels.
    labels = bundle_files.load_reference(bare, bundle_files.read_manifest(bare)).labels[:40]
    assert np.mean(classes == labels) == row.accuracy


NO_INTERPRETER = """
import sys
# As if no interpreter were installed: importing any of them raises ImportError.
for name in ("ai_edge_litert", "tflite_runtime", "onnxruntime", "tensorflow"):
    sys.modules[name] = None
from lenet_edge.report import write_report
write_report(sys.argv[1])
"""


def test_report_draws_the_confusion_matrix_without_loading_an_interpreter(bare, run_cli):
    import subprocess
    import sys

    run_cli("verify", bare, *QUICK_VERIFY)
    proc = subprocess.run([sys.executable, "-c", NO_INTERPRETER, str(bare)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    html = (bare / "report.html").read_text()
    assert 'alt="confusion matrices: float model (Keras, reference.npz); recommended: fp32 on ' \
           'litert"' in html
    assert "predates the predicted classes" not in html


def test_a_verify_json_without_predictions_says_to_rerun_verify(bare, run_cli):
    run_cli("verify", bare, *QUICK_VERIFY)
    path = bare / "verify.json"
    data = json.loads(path.read_text())
    for row in data["results"]:
        del row["predictions"]  # as lenet-edge 0.1 wrote it
    path.write_text(json.dumps(data))
    run_cli("report", bare)
    html = " ".join(unescape((bare / "report.html").read_text()).split())
    assert (f"fp32 on litert: verify.json predates the predicted classes it now keeps: re-run "
            f"'lenet-edge verify {bare}' to draw this") in html
    assert 'alt="confusion matrices: float model (Keras, reference.npz)"' in html  # float only


@pytest.mark.parametrize(("predictions", "message"), [
    ("12x", "results[0].predictions must be 40 digits 0-9 (one class per image), got str '12x'"),
    (7, "results[0].predictions must be a string, got int 7"),
])
def test_malformed_predictions_are_a_model_error_naming_the_file(bare, run_cli, predictions,
                                                                 message):
    from lenet_edge.errors import ModelError
    from lenet_edge.results.files import read_verify

    run_cli("verify", bare, *QUICK_VERIFY)
    path = bare / "verify.json"
    data = json.loads(path.read_text())
    data["results"][0]["predictions"] = predictions
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError) as raised:
        read_verify(path)
    assert str(raised.value) == f"{path}: not a 'lenet-edge verify --json' file: {message}"
    proc = run_cli("report", bare, check=False)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1
    assert message in one_line(proc.stderr) and str(path) in one_line(proc.stderr)


@pytest.mark.parametrize(("record", "message"), [
    ({"config": {"prefer": "fastest"}},
     "config.prefer is 'fastest'; expected one of size, latency"),
    ({"stages": [{"stage": "train", "seconds": "long", "cpu_seconds": 1.0, "process": "x"}]},
     "stages[0].seconds must be a number, got str 'long'"),
])
def test_a_malformed_pipeline_json_is_a_model_error_naming_it(bare, run_cli, record, message):
    run_cli("verify", bare, *QUICK_VERIFY)
    path = bare / "pipeline.json"
    path.write_text(json.dumps(record))
    proc = run_cli("report", bare, check=False)
    assert proc.returncode == 4, proc.stderr
    assert f"{path}: not a 'lenet-edge pipeline' file: {message}" in one_line(proc.stderr)


def test_the_pipeline_record_round_trips():
    from lenet_edge.results.pipeline import PipelineRecord

    data = {"config": {"prefer": "latency", "out": "model"},
            "stages": [{"stage": "verify", "seconds": 1.5, "cpu_seconds": 1.2,
                        "process": "runtime child", "summary": {"passed": True}}],
            "runtime_child_toolchain_modules": [], "pipeline_toolchain_modules": []}
    record = PipelineRecord.from_dict(data)
    assert record.prefer == "latency" and record.stages[0].process == "runtime child"
    assert record.to_dict() == data
