"""`verify`: accuracy gates on the bundle's reference set, the library and the command."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from bundle_tampering import newer_op_bundle
from table_width import assert_fits, header_lines

from lenet_edge import bundle
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.gates import Gates
from lenet_edge.runtime.verify import verify

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

RESULT_FIELDS = {"variant", "runtime", "runtime_version", "status", "accuracy",
                 "float_accuracy", "delta_points", "agreement", "max_abs_logit_error",
                 "mean_abs_logit_error", "per_class_delta", "worst", "message"}


@pytest.fixture(scope="module")
def default_report(digits_bundle):
    return verify(digits_bundle)


@pytest.mark.needs("litert", "onnxruntime")
def test_a_good_bundle_passes_every_variant(default_report, digits_bundle):
    manifest = bundle.read_manifest(digits_bundle)
    assert default_report.passed
    assert [r.variant for r in default_report.results] == list(manifest["artifacts"])
    assert {r.runtime for r in default_report.results} == {"litert", "onnxruntime"}  # auto
    for r in default_report.results:
        assert r.status == "pass", r
        assert r.float_accuracy == pytest.approx(manifest["float_test_accuracy"])
        assert r.accuracy == pytest.approx(r.float_accuracy + r.delta_points / 100)
        assert len(r.per_class_delta) == 10


def test_report_dict_has_the_documented_fields(default_report):
    data = json.loads(json.dumps(default_report.to_dict()))  # JSON-serialisable as is
    assert data["passed"] is True and data["gates"] == {"max_drop": 0.5, "min_agreement": 0.99}
    assert all(set(r) >= RESULT_FIELDS for r in data["results"])


def test_negative_max_drop_demands_a_gain_and_fails(digits_bundle):
    report = verify(digits_bundle, variants=["int8"], gates=Gates(max_drop=-1))
    assert not report.passed and report.results[0].status == "fail"
    assert "accuracy dropped" in report.results[0].message


@pytest.mark.needs("tflite-runtime")
def test_an_op_the_runtime_lacks_is_incompatible_with_the_op_named(digits_bundle):
    newer = newer_op_bundle(digits_bundle)
    report = verify(newer, variants=["int8", "fp32"], runtimes=["tflite-runtime"])
    by_variant = {r.variant: r for r in report.results}
    assert by_variant["fp32"].status == "pass"
    int8 = by_variant["int8"]
    assert int8.status == "incompatible" and int8.accuracy is None
    assert "FULLY_CONNECTED version 12" in int8.message
    assert not report.passed  # a requested variant that cannot load fails the run


def test_limit_uses_the_first_images_only(digits_bundle):
    report = verify(digits_bundle, variants=["fp32"], limit=10)
    assert report.images == 10


@pytest.mark.parametrize("kwargs,message", [
    ({"limit": 0}, "--limit must be at least 1 image"),
    ({"variants": ["int4"]}, "unknown variant 'int4'; choose from fp32"),
    ({"runtimes": ["tensorrt"]}, "unknown runtime 'tensorrt'; choose from auto, litert"),
    ({"variants": ["onnx-fp32"], "runtimes": ["litert"]}, "is a onnx model; none of the runtimes"),
])
def test_bad_arguments_are_usage_errors(digits_bundle, kwargs, message):
    with pytest.raises(UsageError, match=message):
        verify(digits_bundle, **kwargs)


def test_a_tampered_artifact_is_refused_before_anything_loads(fresh_bundle):
    path = fresh_bundle / bundle.read_manifest(fresh_bundle)["artifacts"]["int8"]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="lenet5_int8.tflite: sha256 does not match"):
        verify(fresh_bundle)


def _replace_reference(bundle_dir, **arrays):
    """Write a reference.npz with these arrays and vouch for it in the manifest."""
    path = bundle_dir / bundle.REFERENCE
    np.savez(path, **arrays)
    manifest = bundle.read_manifest(bundle_dir)
    manifest["reference"] = {**bundle.file_entry(path), "count": len(arrays["labels"])}
    bundle.write_json(bundle_dir / bundle.MANIFEST, manifest)


@pytest.mark.parametrize("change,message", [
    ({"images": np.zeros((5, 32, 32), np.uint8)}, "images must be uint8 \\(N, 28, 28\\)"),
    ({"images": np.zeros((5, 28, 28), np.float32)}, "images must be uint8"),
    ({"labels": np.zeros(4, np.int64)}, "labels must be 5 integers"),
    ({"logits": np.zeros((5, 10), np.float64)}, "logits must be float32 \\(5, 10\\)"),
    ({"logits": np.zeros((5, 9), np.float32)}, "logits must be float32"),
])
def test_a_reference_set_with_wrong_shapes_or_dtypes_is_refused(fresh_bundle, change, message):
    arrays = {"images": np.zeros((5, 28, 28), np.uint8), "labels": np.zeros(5, np.int64),
              "logits": np.zeros((5, 10), np.float32), **change}
    _replace_reference(fresh_bundle, **arrays)
    with pytest.raises(ModelError, match=message):
        verify(fresh_bundle)


# --- the command -----------------------------------------------------------------------------


@pytest.mark.needs("onnxruntime")
def test_cli_writes_json_junit_and_markdown_and_exits_0(digits_bundle, tmp_path, run_cli):
    out = {k: tmp_path / f"verify.{k}" for k in ("json", "xml", "md")}
    proc = run_cli("verify", digits_bundle, "--json", out["json"], "--junit", out["xml"],
                   "--markdown", out["md"], env={"COLUMNS": "120"})  # whole names in the table
    assert "passed" in proc.stdout and "onnx-int8" in proc.stdout
    data = json.loads(out["json"].read_text())
    assert data["passed"] is True and len(data["results"]) == 7
    suite = ET.parse(out["xml"]).getroot()
    assert suite.tag == "testsuites"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("7", "0", "0")
    assert len(suite.findall("./testsuite/testcase")) == 7
    assert out["md"].read_text().startswith("### lenet-edge verify: passed")


@pytest.mark.needs("litert", "tflite-runtime")
def test_cli_incompatible_variant_exits_1_and_junit_counts_it(digits_bundle, tmp_path,
                                                              run_cli):
    newer = newer_op_bundle(digits_bundle)
    junit = tmp_path / "verify.xml"
    proc = run_cli("verify", newer, "--runtime", "tflite-runtime", "--runtime",
                   "litert", "--variant", "int8", "--variant", "fp32", "--junit", junit,
                   check=False, env={"COLUMNS": "200"})  # the op's message on one line
    assert proc.returncode == 1
    assert "FULLY_CONNECTED version 12" in proc.stdout
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("4", "1")
    failure = suite.find(".//testcase[@name='int8 on tflite-runtime']/failure")
    assert failure.get("type") == "incompatible"


@pytest.mark.parametrize("args,code,message", [
    (["--max-drop", "-1"], 1, None),
    (["--min-agreement", "1.5"], 2, "--min-agreement must be within [0, 1], got 1.5"),
    (["--runtime", "tensorrt"], 2, "unknown runtime 'tensorrt'"),
    (["--variant", "int4"], 2, "unknown variant 'int4'"),
    (["--json", "/nonexistent-dir/verify.json"], 5, "folder /nonexistent-dir does not exist"),
])
def test_cli_exit_codes(digits_bundle, run_cli, args, code, message):
    proc = run_cli("verify", digits_bundle, "--variant", "fp32", *args, check=False)
    assert proc.returncode == code, proc.stderr
    if message:  # one line saying what was wrong, no traceback
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("lenet-edge: error: ") and message in last
        assert "Traceback" not in proc.stderr


VERIFY_COLUMNS = ("variant", "runtime", "status", "accuracy", "vs float", "agree", "max|err|",
                  "mean|err|")


@pytest.mark.needs("onnxruntime")
@pytest.mark.parametrize("columns,left_out", [(120, ()), (80, ("mean|err|",))])
def test_cli_table_fits_the_terminal(digits_bundle, run_cli, columns, left_out):
    proc = run_cli("verify", digits_bundle, "--no-save", env={"COLUMNS": str(columns)})
    [header] = header_lines(proc.stdout)
    assert_fits(proc.stdout, columns, header, VERIFY_COLUMNS, left_out)
    assert re.search(r"onnx-int8 +onnxruntime +pass +\d+\.\d\d% ", proc.stdout)  # whole cells
    assert ("left out" in proc.stdout) == bool(left_out)


def test_cli_json_to_stdout_replaces_the_table(digits_bundle, run_cli):
    proc = run_cli("verify", digits_bundle, "--variant", "int8", "--json", "-")
    data = json.loads(proc.stdout)
    assert [r["variant"] for r in data["results"]] == ["int8"]


def test_cli_refuses_a_tampered_bundle_with_exit_4(fresh_bundle, run_cli):
    path = fresh_bundle / "lenet5_fp32.tflite"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    proc = run_cli("verify", fresh_bundle, check=False)
    assert proc.returncode == 4
    assert "sha256 does not match the manifest" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_on_a_folder_without_a_bundle_exits_4(tmp_path, run_cli):
    proc = run_cli("verify", tmp_path, check=False)
    assert proc.returncode == 4 and "no manifest" in proc.stderr


@pytest.mark.parametrize("option,name", [
    ("--json", "manifest.json"),
    ("--json", "reference.npz"),
    ("--junit", "lenet5_int8.tflite"),
    ("--markdown", "lenet5_onnx_fp32.onnx"),
    ("--json", "train.json"),
    ("--markdown", "lenet5.weights.h5"),
])
def test_cli_refuses_to_overwrite_the_bundles_own_files(fresh_bundle, run_cli, option, name):
    target = fresh_bundle / name
    before = target.read_bytes()
    proc = run_cli("verify", fresh_bundle, "--variant", "fp32", "--limit", "10", option, target,
                   check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert f"bundle's own {name}" in proc.stderr
    assert target.read_bytes() == before


def test_cli_refuses_a_bundle_file_reached_by_another_spelling(fresh_bundle, tmp_path, run_cli):
    link = tmp_path / "looks-harmless.json"
    link.symlink_to(fresh_bundle / "manifest.json")
    before = (fresh_bundle / "manifest.json").read_bytes()
    for path in (link, fresh_bundle / ".." / fresh_bundle.name / "manifest.json"):
        proc = run_cli("verify", fresh_bundle, "--variant", "fp32", "--json", path, check=False)
        assert proc.returncode == 2 and "bundle's own manifest.json" in proc.stderr
    assert (fresh_bundle / "manifest.json").read_bytes() == before


def test_cli_writes_its_report_into_the_bundle(fresh_bundle, run_cli):
    # The pipeline, report and deploy read MODEL/verify.json: it is a report, not a bundle file.
    run_cli("verify", fresh_bundle, "--variant", "fp32", "--limit", "10",
            "--json", fresh_bundle / "verify.json")
    assert json.loads((fresh_bundle / "verify.json").read_text())["passed"] is True
    run_cli("verify", fresh_bundle, "--variant", "fp32", "--limit", "10")  # still intact


@pytest.mark.parametrize("bad", ["/nonexistent-dir/verify.xml", "."])
def test_cli_checks_every_output_before_running(digits_bundle, tmp_path, run_cli, bad):
    first = tmp_path / "verify.json"
    proc = run_cli("verify", digits_bundle, "--variant", "fp32", "--json", first,
                   "--junit", bad, check=False)
    assert proc.returncode == 5, proc.stderr
    assert "verified" not in proc.stderr  # no variant ran
    assert not first.exists()  # nothing half-done: the first output is not written either


def test_cli_refuses_two_outputs_to_one_file(digits_bundle, tmp_path, run_cli):
    out = tmp_path / "report"
    proc = run_cli("verify", digits_bundle, "--variant", "fp32", "--json", out, "--markdown",
                   out, check=False)
    assert proc.returncode == 2 and "--json and --markdown both write" in proc.stderr
