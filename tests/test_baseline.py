"""`verify --baseline`: the new model against the one shipped before, overall and per class.

The worse model is the digits bundle with class 3 damaged: its float logits and its fp32,
dynamic and int8 models score class 3 lower by the same amount (the logits layer's bias,
bundle_tampering.with_class_penalty). Its variants still agree with its own float model, so
its own verify gates pass; only the comparison with the baseline can see it got worse.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from bundle_tampering import replace_artifact, replace_reference, with_class_penalty

from lenet_edge import bundle
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.gates import RegressionGates
from lenet_edge.results import regression
from lenet_edge.results.files import read_verify
from lenet_edge.results.verify import VerifyReport
from lenet_edge.runtime.verify import verify

# No TensorFlow: runs in the device venvs too, on whichever TFLite interpreter is installed
# (runtime "auto": litert, else tflite-runtime; `make test` has a venv with each).
pytestmark = pytest.mark.runtime

DAMAGED_CLASS = 3
# 3 logits lower: class 3 falls from 100% to 78% of its images (measured on the committed
# bundle) while int8's output stays inside its quantised range, so int8 keeps agreeing with
# the damaged float model (a larger penalty saturates it and moves a few images).
PENALTY = 3.0
VARIANTS = ("fp32", "dynamic", "int8")


@pytest.fixture(scope="module")
def damaged(digits_bundle, tmp_path_factory):
    """A copy of the digits bundle with class 3 damaged in the float model and in VARIANTS;
    the other variants are left out of it (read-only)."""
    out = shutil.copytree(digits_bundle, tmp_path_factory.mktemp("damaged") / "model")
    manifest = bundle.read_manifest(out)
    for variant in VARIANTS:
        data = (out / manifest["artifacts"][variant]["file"]).read_bytes()
        replace_artifact(out, variant, with_class_penalty(data, DAMAGED_CLASS, PENALTY))
    logits = bundle.load_reference(out, manifest).logits.copy()
    logits[:, DAMAGED_CLASS] -= PENALTY  # the float model, as a Keras model would score it
    replace_reference(out, logits=logits)
    manifest = bundle.read_manifest(out)
    manifest["artifacts"] = {v: manifest["artifacts"][v] for v in VARIANTS}
    bundle.write_json(out / bundle.MANIFEST, manifest)
    return out


def _gated(report):
    return [row for row in report.rows if row.allowed is not None]


def test_a_damaged_class_passes_its_own_gates_and_fails_against_the_baseline(
        damaged, digits_bundle, tmp_path, run_cli):
    own = run_cli("verify", damaged, "--no-save", check=False)
    assert own.returncode == 0, own.stdout + own.stderr

    files = {"--json": tmp_path / "v.json", "--junit": tmp_path / "v.xml",
             "--markdown": tmp_path / "v.md"}
    # A loose overall budget: the per-class one alone must catch the class that collapsed.
    proc = run_cli("verify", damaged, "--baseline", digits_bundle, "--max-regression", "5",
                   *[str(x) for pair in files.items() for x in pair], check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for model in ("float model", *(f"{v} on (litert|tflite-runtime)" for v in VARIANTS)):
        # One line per model names it and the class, e.g. "100.00% -> 78.38%".
        assert re.search(rf"^{model}: class 3 accuracy [\d.]+% -> [\d.]+% \(-[\d.]+ points; "
                         r"at most 5 may be lost\)$", proc.stdout, re.MULTILINE), proc.stdout
    assert "Traceback" not in proc.stderr

    data = json.loads(files["--json"].read_text())
    runtime = data["results"][0]["runtime"]  # auto's choice here: litert or tflite-runtime
    assert data["passed"] is False
    assert all(r["status"] == "pass" for r in data["results"])  # its own gates: passed
    failed = [row for row in data["baseline"]["rows"] if row["status"] == "fail"]
    assert {(row["variant"], row["class_index"]) for row in failed} == {
        (v, DAMAGED_CLASS) for v in ("float", *VARIANTS)}  # overall -2.23 points is within 5
    cases = {case.get("name"): case for case in ET.parse(files["--junit"]).iter("testcase")}
    failure = cases[f"int8 on {runtime} vs baseline"].find("failure")
    assert failure is not None and "class 3 accuracy" in failure.get("message")
    assert cases[f"int8 on {runtime}"].find("failure") is None  # verify's own case still passes
    markdown = files["--markdown"].read_text()
    assert markdown.startswith("### lenet-edge verify: FAILED")
    assert "#### against baseline: FAILED" in markdown
    row = (rf"^\| int8 \| {runtime} \| class 3 \| [\d.]+% \| [\d.]+% \| -[\d.]+ points \| "
           r"-5 points \| ❌ fail \|$")
    assert re.search(row, markdown, re.MULTILINE), markdown


def test_the_default_budgets_fail_the_damaged_model_overall_too(damaged, digits_bundle):
    report = verify(damaged, baseline=digits_bundle)
    accuracy = [row for row in report.baseline.rows if row.metric == regression.ACCURACY]
    assert [row.variant for row in accuracy] == ["float", *VARIANTS]
    # Each model lost its class 3 images (2.23 points overall, measured): more than 0.3.
    assert all(row.change < -0.3 and row.status == "fail" for row in accuracy)
    assert not report.passed and all(r.status == "pass" for r in report.results)


@pytest.mark.needs("litert", "onnxruntime")
def test_identical_bundles_pass_with_zero_change(digits_bundle, tmp_path):
    copy = shutil.copytree(digits_bundle, tmp_path / "same")
    report = verify(digits_bundle, variants=["fp32", "int8", "onnx-int8"], baseline=copy)
    compared = report.baseline
    assert report.passed and compared.passed and compared.reference == regression.SHARED
    assert {(row.variant, row.runtime) for row in compared.rows} == {
        ("float", ""), ("fp32", "litert"), ("int8", "litert"), ("onnx-int8", "onnxruntime")}
    assert all(row.change == 0 and row.baseline == row.new for row in _gated(compared))
    assert all(row.new == 1.0 for row in compared.rows if row.metric == regression.AGREEMENT)
    # Ten classes per model, each with its name from the dataset (digits: the digit).
    classes = [row for row in compared.rows if row.metric == regression.CLASS_ACCURACY
               and row.variant == "int8"]
    assert [(row.class_index, row.class_name) for row in classes] == [
        (c, str(c)) for c in range(10)]


def test_a_baseline_with_other_images_runs_both_models_on_the_new_ones(damaged, digits_bundle,
                                                                       tmp_path):
    # The new bundle keeps the first 200 reference images; the damaged baseline has all 359.
    new = shutil.copytree(digits_bundle, tmp_path / "new")
    reference = bundle.load_reference(new, bundle.read_manifest(new))
    replace_reference(new, images=reference.images[:200], labels=reference.labels[:200],
                      logits=reference.logits[:200])
    report = verify(new, variants=list(VARIANTS), baseline=damaged)
    compared = report.baseline
    assert compared.reference == regression.NEW_ONLY and compared.images == 200
    assert "float" not in {row.variant for row in compared.rows}
    assert any(note.startswith("float model not compared") for note in compared.notes)
    # The baseline's models ran on these 200 images: its class 3 is the damaged one's there,
    # the new model's is intact; the new model is better, so the check passes.
    labels = reference.labels[:200]
    threes = int((labels == DAMAGED_CLASS).sum())
    for variant in VARIANTS:
        row = next(row for row in compared.rows if row.variant == variant
                   and row.class_index == DAMAGED_CLASS)
        assert row.new == 1.0 and row.baseline < 1.0 and row.change > 0
        assert round(row.baseline * threes) == row.baseline * threes  # a share of those images
    assert compared.passed and report.passed


def test_json_round_trips_through_the_typed_record(damaged, digits_bundle, tmp_path):
    report = verify(damaged, variants=["int8"], baseline=digits_bundle)
    path = tmp_path / "verify.json"
    path.write_text(json.dumps(report.to_dict()))
    again = read_verify(path)
    assert again.baseline == report.baseline and again.passed is False
    data = report.to_dict()
    assert VerifyReport.from_dict(data).to_dict() == data  # seconds are rounded on the way
    data["baseline"]["rows"][0]["status"] = "maybe"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"baseline.rows\[0\].status is 'maybe'"):
        read_verify(path)


@pytest.mark.parametrize("make,message", [
    (lambda tmp: tmp / "nowhere", "--baseline {}: not a directory"),
    (lambda tmp: tmp, "--baseline {}/manifest.json: no manifest"),
])
def test_a_bad_baseline_path_is_one_line_exit_4(digits_bundle, tmp_path, run_cli, make,
                                                message):
    path = make(tmp_path)
    proc = run_cli("verify", digits_bundle, "--no-save", "--baseline", path, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 4 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"lenet-edge: error: {message.format(path)}")


def test_a_tampered_baseline_model_is_refused_before_anything_runs(digits_bundle, tmp_path):
    baseline = shutil.copytree(digits_bundle, tmp_path / "old")
    model = baseline / bundle.read_manifest(baseline)["artifacts"]["int8"]["file"]
    model.write_bytes(model.read_bytes()[:-1] + b"x")
    with pytest.raises(ModelError, match=r"^--baseline .*int8.tflite: sha256 does not match"):
        verify(digits_bundle, variants=["int8"], baseline=baseline)


def test_a_baseline_of_another_dataset_is_a_usage_error(digits_bundle, tmp_path):
    baseline = shutil.copytree(digits_bundle, tmp_path / "old")
    manifest = bundle.read_manifest(baseline)
    manifest["dataset"]["name"] = "fashion-mnist"
    bundle.write_json(baseline / bundle.MANIFEST, manifest)
    with pytest.raises(UsageError, match="was trained on fashion-mnist, this bundle on digits"):
        verify(digits_bundle, variants=["int8"], baseline=baseline)


@pytest.mark.parametrize("args,message", [
    (["--max-regression", "1"], "--max-regression needs --baseline OLD_BUNDLE"),
    (["--baseline", ".", "--max-class-regression", "-1"],
     "--max-class-regression must be a finite number of points >= 0, got -1"),
])
def test_budget_options_are_checked_before_any_work(digits_bundle, run_cli, args, message):
    proc = run_cli("verify", digits_bundle, "--no-save", *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert "verified" not in proc.stderr  # nothing ran


@pytest.mark.needs("onnxruntime")
def test_a_new_variant_the_baseline_lacks_is_noted_not_failed(damaged, digits_bundle):
    report = verify(digits_bundle, variants=["int8", "onnx-fp32"], baseline=damaged)
    assert "onnx-fp32 on onnxruntime: not compared (the baseline has no onnx-fp32)" in (
        report.baseline.notes)
    assert report.passed  # the new model is the intact one: better, not worse


def test_budgets_at_the_edge():
    gates = RegressionGates(max_regression=0.3, max_class_regression=5)
    # One of 359 images is 0.279 points: within 0.3. Two are not.
    assert not gates.regressed(-100 / 359) and gates.regressed(-200 / 359)
    assert not gates.regressed(-5.0, per_class=True) and gates.regressed(-5.01, per_class=True)
    assert np.isclose(RegressionGates().max_class_regression, 5.0)


def test_the_budget_options_take_help_and_default_from_regression_gates(run_cli):
    text = " ".join(run_cli("verify", "--help", env={"COLUMNS": "300"}).stdout
                    .replace("│", " ").split())
    for field in dataclasses.fields(RegressionGates):
        assert f"{field.metadata['help']} (default: {field.default:g})" in text


def test_a_failure_line_names_the_class_by_its_dataset_name():
    from lenet_edge.results.tables import regression_failure

    row = regression.RegressionRow("int8", "litert", regression.CLASS_ACCURACY, 0.9, 0.5,
                                   -40.0, 5.0, regression.FAIL, 6, "Shirt")
    assert regression_failure(row) == ("int8 on litert: class 6 (Shirt) accuracy 90.00% -> "
                                       "50.00% (-40.00 points; at most 5 may be lost)")


def test_a_report_file_may_not_overwrite_the_baselines_own_files(digits_bundle, tmp_path,
                                                                 run_cli):
    baseline = shutil.copytree(digits_bundle, tmp_path / "old")
    manifest = (baseline / bundle.MANIFEST).read_bytes()
    proc = run_cli("verify", digits_bundle, "--baseline", baseline, "--json",
                   baseline / bundle.MANIFEST, check=False)
    assert proc.returncode == 2 and "the bundle's own manifest.json" in proc.stderr
    assert (baseline / bundle.MANIFEST).read_bytes() == manifest


@pytest.mark.toolchain
def test_a_model_trained_for_fewer_epochs_fails_against_the_one_shipped(committed_bundle,
                                                                        tmp_path, run_cli):
    # The case: a retrained model, 3 epochs instead of the shipped one's 30 (18 s
    # for the whole test here, TensorFlow's imports included). fp32 only: it agrees with its
    # own float model by construction, so its own gates pass whatever the training gave;
    # int8's agreement after 3 epochs sits near the 0.99 gate (99.44% measured), and would
    # make this test about quantisation.
    new = tmp_path / "retrained"
    run_cli("train", "--dataset", "digits", "--epochs", "3", "--seed", "0", "--out", new)
    run_cli("convert", new, "--variant", "fp32")
    assert run_cli("verify", new, "--no-save", check=False).returncode == 0
    proc = run_cli("verify", new, "--no-save", "--baseline", committed_bundle, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^float model: accuracy [\d.]+% -> [\d.]+% \(-", proc.stdout, re.MULTILINE)
    assert re.search(r"^fp32 on \S+: class \d accuracy [\d.]+% -> [\d.]+% \(-[\d.]+ points",
                     proc.stdout, re.MULTILINE), proc.stdout
