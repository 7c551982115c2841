"""`inspect`: any file, from a bundle or not; interpreters only ever see it in a child process."""

from __future__ import annotations

import json
import struct

import pytest
from bundle_tampering import newer_op_bundle, with_signature_defs_length

from lenet_edge.errors import ModelError
from lenet_edge.runtime.inspect import inspect_model

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too


def _inspect_json(run_cli, path) -> dict:
    return json.loads(run_cli("inspect", path, "--json").stdout)


@pytest.mark.needs("litert", "tflite-runtime")
def test_tflite_int8_shows_quantised_io_ops_and_runtimes(digits_bundle, run_cli):
    manifest = json.loads((digits_bundle / "manifest.json").read_text())
    entry = manifest["artifacts"]["int8"]
    report = _inspect_json(run_cli, digits_bundle / entry["file"])
    assert report["format"] == "tflite" and report["bytes"] == entry["bytes"]
    assert report["sha256"] == entry["sha256"]
    assert report["inputs"][0]["dtype"] == "int8"
    assert report["inputs"][0]["scale"] == pytest.approx(entry["inputs"][0]["scale"])
    assert report["ops"] == entry["ops"] and report["min_runtime_version"]
    assert {c["runtime"]: c["status"] for c in report["runtimes"]} == {
        "litert": "ok", "tflite-runtime": "ok"}


@pytest.mark.needs("litert", "tflite-runtime")
def test_an_op_too_new_for_tflite_runtime_is_reported_incompatible(digits_bundle, run_cli):
    newer = newer_op_bundle(digits_bundle)
    report = _inspect_json(run_cli, newer / "lenet5_int8.tflite")
    assert ["FULLY_CONNECTED", 12] in report["ops"]
    checks = {c["runtime"]: c for c in report["runtimes"]}
    assert checks["litert"]["status"] == "ok"
    assert checks["tflite-runtime"]["status"] == "incompatible"
    assert "FULLY_CONNECTED version 12" in checks["tflite-runtime"]["message"]


@pytest.mark.needs("onnxruntime")
def test_onnx_lists_ops_with_their_opset(digits_bundle, run_cli):
    report = _inspect_json(run_cli, digits_bundle / "lenet5_onnx_int8.onnx")
    ops = dict(map(tuple, report["ops"]))
    assert report["format"] == "onnx" and "QuantizeLinear" in ops and "Conv" in ops
    assert set(ops.values()) == {report["details"]["opsets"][""]}
    assert report["inputs"][0]["dtype"] == "float32"
    assert [c["status"] for c in report["runtimes"]] == ["ok"]


def test_table_output_names_the_parts(digits_bundle, run_cli):
    # Wide enough for every cell whole ('tflite-run…' at 40 columns), whatever the terminal.
    out = run_cli("inspect", digits_bundle / "lenet5_int8.tflite", env={"COLUMNS": "120"}).stdout
    for word in ("tflite", "int8", "CONV_2D", "min runtime", "litert", "tflite-runtime"):
        assert word in out


@pytest.mark.parametrize("name,content,message", [
    ("empty.tflite", b"", "empty file"),
    ("page.tflite", b"<!doctype html>\n<html><title>Model zoo</title><body>moved</body></html>",
     "an HTML page"),
    ("random.tflite", bytes((i * 97 + 13) % 251 for i in range(4096)), "not a model file"),
])
def test_files_that_are_not_models_exit_4_with_one_line(tmp_path, run_cli, name, content,
                                                        message):
    path = tmp_path / name
    path.write_bytes(content)
    proc = run_cli("inspect", path, check=False)
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("file", ["lenet5_fp32.tflite", "lenet5_onnx_fp32.onnx"])
def test_truncated_models_are_refused_before_any_interpreter(digits_bundle, tmp_path, run_cli,
                                                              file):
    path = tmp_path / file
    path.write_bytes((digits_bundle / file).read_bytes()[:5000])
    proc = run_cli("inspect", path, check=False)
    assert proc.returncode == 4 and "not a valid" in proc.stderr


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="cannot read"):
        inspect_model(tmp_path / "absent.tflite")


@pytest.mark.needs("tflite-runtime")
def test_a_memory_bomb_is_contained_in_the_child(digits_bundle, tmp_path, run_cli):
    """A tampered input shape makes tflite-runtime 2.14 allocate gigabytes (measured: 5 GB in
    12 s, growing). The probe child's address-space cap turns that into a finding."""
    data = (digits_bundle / "lenet5_fp32.tflite").read_bytes()
    shape = struct.pack("<5i", 4, 1, 28, 28, 1)  # vector length 4, then the input's shape
    assert data.count(shape) == 1, "the fp32 model's input shape is not where expected"
    at = data.index(shape)
    bomb = data[:at] + struct.pack("<5i", 4, 1, 28, 28, 1 << 20) + data[at + len(shape):]
    path = tmp_path / "bomb.tflite"
    path.write_bytes(bomb)
    report = _inspect_json(run_cli, path)  # exits 0: the report is the finding
    checks = {c["runtime"]: c["status"] for c in report["runtimes"]}
    assert checks["tflite-runtime"] == "out of memory"
    assert checks["litert"] != "ok"


@pytest.mark.needs("litert", "tflite-runtime")
def test_a_model_that_segfaults_an_interpreter_does_not_take_the_cli_down(digits_bundle,
                                                                           tmp_path, run_cli):
    """Found by fuzzing: a signature_defs vector claiming 1000 entries makes tflite-runtime
    2.14 read past the file and die of SIGSEGV (ai-edge-litert's verifier refuses it)."""
    path = tmp_path / "crash.tflite"
    path.write_bytes(with_signature_defs_length(
        (digits_bundle / "lenet5_int8.tflite").read_bytes(), 1000))
    proc = run_cli("inspect", path, "--json", check=False)
    if proc.returncode == 4:
        # The pure-Python reader caught it before any interpreter: the stronger outcome.
        assert "not a valid TFLite model" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    checks = {c["runtime"]: c for c in json.loads(proc.stdout)["runtimes"]}
    # Reading past the buffer faults or not depending on what memory follows it: when it
    # does not, the interpreter refuses the garbage it read (seen once in a CI run). Either
    # way the CLI stays up and reports the runtime as not usable.
    tflite = checks["tflite-runtime"]
    assert tflite["status"] in ("crashed", "incompatible"), tflite
    if tflite["status"] == "crashed":
        assert "SIGSEGV" in tflite["message"]
    assert checks["litert"]["status"] == "corrupt"
