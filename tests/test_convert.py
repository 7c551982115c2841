"""`lenet-edge convert`: every variant round-trips, the bundle is sound, bad input changes nothing.

Conversion runs through the CLI in a subprocess (this process must not import TensorFlow);
the converted models run here in ai-edge-litert and onnxruntime and are compared with the
Keras logits that convert stored in reference.npz.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lenet_edge import bundle
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import ModelError
from lenet_edge.formats.tflite import BUILTIN_OPS
from lenet_edge.variants import DEFAULT_VARIANTS, VARIANT_NAMES, VARIANTS, get_variant

pytestmark = pytest.mark.toolchain  # conversion: its bundle is the one converted in this run

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
ort = pytest.importorskip("onnxruntime")

# How close each variant must stay to the Keras float model, and why.
MAX_ABS = {
    # Same float32 arithmetic in another kernel order: rounding only (measured 1.1e-5).
    "fp32": 1e-4,
    "onnx-fp32": 1e-4,
    # fp16 weights keep 11 significant bits (relative error <= 2^-11 = 4.9e-4 each); summed
    # over a 400-120-84-10 head into logits of size ~10-20 that is ~1e-2 (measured 5.9e-3).
    "fp16": 1e-2,
}
# Quantised variants change logits by up to a few quantisation steps (the int8 output step
# alone is ~0.3 on digits), so they are judged on decisions: the float model's top-1 class.
# 99% is the bar; on the 359 digits test images it allows 3 disagreements
# (measured 0-1 per variant).
MIN_TOP1_AGREEMENT = {"dynamic": 0.99, "int8": 0.99, "int8-mixed": 0.99, "int16x8": 0.99,
                      "onnx-int8": 0.99, "onnx-int8-mixed": 0.99}
# What `convert` builds by default, and so what the digits bundle holds (int8-mixed is opt-in).
DEFAULT_NAMES = [v.name for v in DEFAULT_VARIANTS]


def run_tflite(model: bytes, images: np.ndarray, interpreter_class=Interpreter) -> np.ndarray:
    """Float logits, one image per call, quantising int8 I/O as the model declares."""
    interpreter = interpreter_class(model_content=model)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    logits = []
    for image in images:
        x = image[None]
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zero, info.min, info.max).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        logits.append(y[0])
    return np.array(logits, dtype=np.float32)


def run_onnx(model: bytes, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


RUNNERS = {"tflite": run_tflite, "onnx": run_onnx}


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: bundle.sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def manifest_of(folder: Path) -> dict:
    return bundle.read_manifest(folder)


# --- the recipes and the catalogue agree (TF-free imports) ---------------------------------


def test_every_variant_has_exactly_one_recipe_that_fits_its_row():
    from lenet_edge.toolchain.convert import RECIPES

    for fmt, table in RECIPES.items():
        assert set(table) == {v.name for v in VARIANTS if v.format == fmt}
    for variant in VARIANTS:
        recipe = RECIPES[variant.format][variant.name]
        # Calibration is what quantises activations; int8 I/O only where the row says so.
        assert recipe.calibrate == (variant.activations != "fp32"), variant.name
        assert getattr(recipe, "io_type", None) in (None, "float32", variant.io)
        assert "SELECT_TF_OPS" not in str(recipe.as_manifest())  # tflite-runtime lacks Flex


def test_cli_and_library_share_the_calibration_default():
    from lenet_edge.cli.convert import DEFAULT_CALIBRATION_SAMPLES as cli_default
    from lenet_edge.toolchain.convert import DEFAULT_CALIBRATION_SAMPLES

    assert cli_default == DEFAULT_CALIBRATION_SAMPLES


# --- round trip -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(digits_bundle) -> bundle.Reference:
    return bundle.load_reference(digits_bundle, manifest_of(digits_bundle))


def assert_faithful(variant: str, logits: np.ndarray, float_logits: np.ndarray) -> None:
    assert logits.shape == float_logits.shape
    if variant in MAX_ABS:
        assert np.max(np.abs(logits - float_logits)) <= MAX_ABS[variant]
    else:
        agreement = np.mean(logits.argmax(1) == float_logits.argmax(1))
        assert agreement >= MIN_TOP1_AGREEMENT[variant]


@pytest.mark.parametrize("variant", DEFAULT_NAMES)
def test_round_trip_matches_the_float_model(digits_bundle, reference, variant):
    entry = manifest_of(digits_bundle)["artifacts"][variant]
    model = bundle.read_verified(digits_bundle, entry)
    logits = RUNNERS[entry["format"]](model, preprocess(reference.images))
    assert_faithful(variant, logits, reference.logits)


@pytest.mark.parametrize("variant", [v.name for v in DEFAULT_VARIANTS if v.format == "tflite"])
def test_tflite_variants_also_run_on_tflite_runtime_2_14(digits_bundle, reference, variant):
    # The last tflite-runtime wheel, still what many Pis run: newer op versions fail there.
    tflite_runtime = pytest.importorskip("tflite_runtime.interpreter")
    entry = manifest_of(digits_bundle)["artifacts"][variant]
    model = bundle.read_verified(digits_bundle, entry)
    logits = run_tflite(model, preprocess(reference.images), tflite_runtime.Interpreter)
    assert_faithful(variant, logits, reference.logits)


def test_every_catalogue_variant_has_a_tolerance():
    assert set(MAX_ABS) | set(MIN_TOP1_AGREEMENT) == set(VARIANT_NAMES)


def test_sizes_shrink_as_the_variant_promises(digits_bundle):
    sizes = {name: e["bytes"] for name, e in manifest_of(digits_bundle)["artifacts"].items()}
    # Weights are ~99% of the file: int8 weights are a quarter of fp32, plus scales, biases
    # (int32) and graph: the bar is 30% (measured int8 28.7%, dynamic 27.5%).
    assert sizes["int8"] <= 0.30 * sizes["fp32"]
    assert sizes["dynamic"] <= 0.30 * sizes["fp32"]
    # fp16 halves the weights; the graph and int32 shapes stay (measured 51.1%).
    assert 0.45 * sizes["fp32"] <= sizes["fp16"] <= 0.55 * sizes["fp32"]
    # QDQ stores int8 weights plus per-channel scales and zero points (measured 30.4%).
    assert sizes["onnx-int8"] <= 0.35 * sizes["onnx-fp32"]


# --- the manifest -----------------------------------------------------------------------------


def test_manifest_describes_every_file_and_where_it_came_from(digits_bundle, digits_model):
    manifest = manifest_of(digits_bundle)
    train = json.loads((digits_model / bundle.TRAIN_JSON).read_text())
    assert list(manifest["artifacts"]) == DEFAULT_NAMES
    assert {"tensorflow", "tf2onnx", "onnx", "onnxruntime", "lenet-edge"} <= set(
        manifest["tool_versions"])
    assert manifest["dataset"]["fingerprint"] == train["dataset"]["fingerprint"]
    assert manifest["train_config"] == train["config"]
    assert manifest["weights"]["sha256"] == train["weights"]["sha256"]
    reference = bundle.load_reference(digits_bundle, manifest)
    assert reference.images.shape[0] == manifest["dataset"]["num_test"]
    assert manifest["float_test_accuracy"] == pytest.approx(reference.float_accuracy)
    # train and convert run the same weights on the same images: the same decisions, bar
    # an image whose top two logits tie within float32 rounding (one image's worth).
    one_image = 1 / manifest["dataset"]["num_test"]
    assert manifest["float_test_accuracy"] == pytest.approx(train["test_accuracy"], abs=one_image)
    for name, entry in manifest["artifacts"].items():
        variant = get_variant(name)
        path = digits_bundle / entry["file"]
        assert (entry["variant"], entry["format"], entry["file"]) == (name, variant.format,
                                                                      variant.file)
        assert (entry["sha256"], entry["bytes"]) == (bundle.sha256_file(path),
                                                     path.stat().st_size)
        assert entry["inputs"][0]["shape"] == [-1, 28, 28, 1]
        assert entry["inputs"][0]["dtype"] == entry["outputs"][0]["dtype"] == variant.io
        assert entry["outputs"][0]["shape"] == [-1, 10]
        if variant.format == "tflite":
            assert entry["min_runtime_version"].count(".") == 2
            assert all(isinstance(op, str) and isinstance(v, int) for op, v in entry["ops"])
            assert {op for op, _ in entry["ops"]} <= set(BUILTIN_OPS) - {"CUSTOM"}  # no Flex
        else:
            assert entry["opset"] == 17
        calibrated = entry["converter"]["calibration"]
        assert (calibrated is not None) == (variant.activations != "fp32")
        if calibrated:  # the defaults, all recorded (conversion_records.CalibrationRecord)
            assert calibrated["samples"] == 500
            assert calibrated["per_channel"] is True
            assert calibrated["method"] == "minmax"
            assert len(calibrated["images_sha256"]) == 64
        assert "sensitivity" not in entry  # measured only when int8-mixed is built


def test_a_flipped_byte_is_refused_naming_the_file(fresh_bundle):
    entry = manifest_of(fresh_bundle)["artifacts"]["int8"]
    path = fresh_bundle / entry["file"]
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match=f"{entry['file']}: sha256 does not match"):
        bundle.read_verified(fresh_bundle, entry)


# --- bad input: one line, the right exit code, nothing changed ---------------------------------


def assert_refused(proc, code: int, *phrases: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge: error:")]
    assert len(lines) == 1, proc.stderr
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.mark.parametrize(
    ("args", "code", "phrases"),
    [
        (["--variant", "int4"], 2, ["unknown variant 'int4'", *VARIANT_NAMES]),
        (["--calibration-samples", "0"], 2, ["--calibration-samples 0", "between 1 and"]),
        (["--calibration-samples", "-5"], 2, ["--calibration-samples -5"]),
        (["--opset", "12"], 2, ["unsupported opset 12", "13..18"]),
        (["--opset", "19"], 2, ["unsupported opset 19"]),
    ],
    ids=["unknown-variant", "zero-calibration", "negative-calibration", "opset-12", "opset-19"],
)
def test_bad_options_exit_2_and_change_nothing(fresh_bundle, run_cli, args, code, phrases):
    before = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, *args, check=False)
    assert_refused(proc, code, *phrases)
    assert file_hashes(fresh_bundle) == before


def test_more_calibration_images_than_training_images_exit_2(fresh_bundle, run_cli):
    num_train = manifest_of(fresh_bundle)["dataset"]["num_train"]
    before = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, "--calibration-samples", num_train + 1, check=False)
    assert_refused(proc, 2, f"--calibration-samples {num_train + 1}", f"and {num_train}")
    assert file_hashes(fresh_bundle) == before


def test_missing_weights_exit_4(fresh_bundle, run_cli):
    (fresh_bundle / bundle.WEIGHTS).unlink()
    before = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, check=False)
    assert_refused(proc, 4, bundle.WEIGHTS, "missing")
    assert file_hashes(fresh_bundle) == before


def test_modified_weights_exit_4(fresh_bundle, run_cli):
    weights = fresh_bundle / bundle.WEIGHTS
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    weights.write_bytes(bytes(blob))
    before = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, check=False)
    assert_refused(proc, 4, bundle.WEIGHTS, "sha256 does not match")
    assert file_hashes(fresh_bundle) == before


def test_unreadable_weights_exit_4(fresh_bundle, run_cli):
    # A corrupt file whose checksum train.json vouches for: Keras itself must fail to load it.
    weights = fresh_bundle / bundle.WEIGHTS
    weights.write_bytes(b"<html>not an HDF5 file</html>")
    record = json.loads((fresh_bundle / bundle.TRAIN_JSON).read_text())
    record["weights"] = bundle.file_entry(weights)
    (fresh_bundle / bundle.TRAIN_JSON).write_text(json.dumps(record))
    before = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, check=False)
    assert_refused(proc, 4, bundle.WEIGHTS, "cannot load weights")
    assert file_hashes(fresh_bundle) == before


def test_a_directory_without_a_trained_model_exit_4(tmp_path, run_cli):
    proc = run_cli("convert", tmp_path, check=False)
    assert_refused(proc, 4, bundle.TRAIN_JSON)
    assert not list(tmp_path.iterdir())


def test_unwritable_directory_exit_5_and_keeps_the_artifacts(fresh_bundle):
    before = file_hashes(fresh_bundle)
    cmd = [sys.executable, "-m", "lenet_edge", "convert", str(fresh_bundle), "--variant", "fp32"]
    if os.geteuid() == 0:
        # root writes through 0555 directories; drop the capability that lets it.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a directory unwritable")
        cmd = ["setpriv", "--bounding-set=-dac_override", *cmd]
    fresh_bundle.chmod(0o555)
    try:
        env = {**os.environ, "LENET_EDGE_OFFLINE": "1"}  # as run_cli, which cannot add setpriv
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    finally:
        fresh_bundle.chmod(0o755)
    assert_refused(proc, 5, str(fresh_bundle))
    assert file_hashes(fresh_bundle) == before


# --- re-running ---------------------------------------------------------------------------------


def test_reconverting_one_variant_replaces_it_and_keeps_the_others(fresh_bundle, run_cli):
    before = manifest_of(fresh_bundle)
    hashes = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, "--variant", "int8", "--calibration-samples", "100",
                   "--json")
    printed = json.loads(proc.stdout)
    after = manifest_of(fresh_bundle)
    assert printed == after["artifacts"]
    assert after["artifacts"]["int8"]["converter"]["calibration"]["samples"] == 100
    assert (after["artifacts"]["int8"]["converter"]["calibration"]["images_sha256"]
            != before["artifacts"]["int8"]["converter"]["calibration"]["images_sha256"])
    for variant in DEFAULT_VARIANTS:
        if variant.name != "int8":
            assert after["artifacts"][variant.name] == before["artifacts"][variant.name]
            assert bundle.sha256_file(fresh_bundle / variant.file) == hashes[variant.file]
    int8 = after["artifacts"]["int8"]
    assert bundle.read_verified(fresh_bundle, int8)  # the new file matches its new entry
    assert bundle.load_reference(fresh_bundle, after).images.shape[0] > 0


def test_artifacts_from_other_weights_are_dropped_not_kept(fresh_bundle, run_cli):
    # As after retraining into the same folder: the old entries describe other weights.
    manifest_path = fresh_bundle / bundle.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["weights"]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    run_cli("convert", fresh_bundle, "--variant", "fp32")
    assert list(manifest_of(fresh_bundle)["artifacts"]) == ["fp32"]
    assert not [p.name for p in fresh_bundle.iterdir() if p.name.endswith(".tmp")]


def test_data_changed_since_training_exit_3(fresh_bundle, run_cli):
    train_path = fresh_bundle / bundle.TRAIN_JSON
    record = json.loads(train_path.read_text())
    record["dataset"]["fingerprint"] = "f" * 64
    train_path.write_text(json.dumps(record))
    before = file_hashes(fresh_bundle)
    proc = run_cli("convert", fresh_bundle, check=False)
    assert_refused(proc, 3, "differs from the data", "retrain")
    assert file_hashes(fresh_bundle) == before


# --- Fashion-MNIST: the bars on a harder set -------------------------------------------

# Issue 12's demonstration: a gate plain int8 fails and the mixed variants pass. Measured on
# the default Fashion model (float 91.25%): held out (5,931 training images) int8 agrees
# 99.24%, with c1 in float 99.65% (onnx: 99.33%, 99.58%); on the 10,000 test images 99.43%
# and 99.71% (onnx: 99.48%, 99.64%). Every mix saturates near 99.65% held out, so the
# issue's 0.997 (set from test-set figures) passes no mix there.
STRICT_AGREEMENT = 0.995
WEIGHTED_LAYERS = 5  # c1, c3, f5, f6, logits
MIXED = {"int8-mixed": "int8", "onnx-int8-mixed": "onnx-int8"}  # and each one's plain int8


@pytest.fixture(scope="module")
def fashion_bundle(fashion_model, tmp_path_factory, run_cli) -> Path:
    """The suite's one Fashion-MNIST conversion: every variant, int8-mixed at the strict gate
    (the searches add ~7 s to this run: one quantisation and one evaluation per try)."""
    out = tmp_path_factory.mktemp("fashion-bundle") / "model"
    shutil.copytree(fashion_model, out)
    run_cli("convert", out, *(f"--variant={name}" for name in VARIANT_NAMES),
            "--min-agreement", STRICT_AGREEMENT)
    return out


@pytest.mark.fashion
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_fashion_round_trip(fashion_bundle, variant):
    manifest = manifest_of(fashion_bundle)
    reference = bundle.load_reference(fashion_bundle, manifest)
    entry = manifest["artifacts"][variant]
    logits = RUNNERS[entry["format"]](bundle.read_verified(fashion_bundle, entry),
                                      preprocess(reference.images))
    error = np.max(np.abs(logits - reference.logits))
    if variant in MAX_ABS:
        # fp16 holds the 1e-2 here because label smoothing keeps Fashion logits
        # small (|logit| <= 6.4, error 3.9e-3 measured); without it logits reached |40| and
        # rounding the weights to fp16 alone cost 1.24e-2.
        assert error <= MAX_ABS[variant]
    else:
        # 10,000 images: 99% allows 100 disagreements (measured 20-70).
        agreement = np.mean(logits.argmax(1) == reference.logits.argmax(1))
        assert agreement >= MIN_TOP1_AGREEMENT[variant]


@pytest.mark.fashion
@pytest.mark.parametrize(("mixed", "plain"), MIXED.items())
def test_fashion_strict_gate_int8_fails_held_out_and_few_float_layers_pass(
        fashion_bundle, mixed, plain):
    manifest = bundle.load_manifest(fashion_bundle)
    record = manifest.mixed_precision(mixed)
    assert record.gates["min_agreement"] == STRICT_AGREEMENT
    assert not record.int8.passed and record.int8.agreement < STRICT_AGREEMENT
    assert record.result.passed and record.result.agreement >= STRICT_AGREEMENT
    kept = [layer.layer for layer in record.float_layers]
    assert 1 <= len(kept) < WEIGHTED_LAYERS / 2  # the bar: under half in float
    # The kept layers are the top of the measured sensitivity ranking, and say why.
    sensitivity = manifest.artifacts[mixed]["sensitivity"]
    assert len(sensitivity) == WEIGHTED_LAYERS
    ranking = sorted(sensitivity, key=lambda name: -sensitivity[name])
    assert kept == ranking[:len(kept)]
    assert all(layer.agreement_gain == pytest.approx(sensitivity[layer.layer])
               for layer in record.float_layers)
    # int8 from the same run is the search's all-int8 start: it carries the same figures.
    assert manifest.artifacts[plain]["sensitivity"] == sensitivity
    # Judged on training images, never on the test set verify reports on.
    held_out = manifest.artifacts[mixed]["mixed_precision"]["held_out"]
    assert held_out["split"].startswith("train") and held_out["images"] > 5000
    # The cost in size is a few float weights: within a fifth of int8's size either way
    # (c1 in float measured +0.4 KiB in TFLite, -1.0 KiB in ONNX, which drops its QDQ pairs).
    sizes = {name: entry["bytes"] for name, entry in manifest.artifacts.items()}
    assert sizes[mixed] == pytest.approx(sizes[plain], rel=0.2)


@pytest.mark.fashion
def test_fashion_strict_gate_on_the_test_set_fails_int8_and_passes_int8_mixed(
        fashion_bundle, run_cli, tmp_path):
    # The same gate in verify, on the 10,000 test images the search never saw (measured
    # 99.43% and 99.71%: 7 and 21 images from the gate).
    out = tmp_path / "verify.json"
    chosen = [f"--variant={name}" for pair in MIXED.items() for name in pair]
    proc = run_cli("verify", fashion_bundle, *chosen, "--min-agreement", STRICT_AGREEMENT,
                   "--json", out, "--no-save", check=False)
    assert proc.returncode == 1, proc.stderr  # int8 fails
    status = {r["variant"]: r["status"] for r in json.loads(out.read_text())["results"]}
    assert status == {"int8": "fail", "int8-mixed": "pass",
                      "onnx-int8": "fail", "onnx-int8-mixed": "pass"}


@pytest.mark.fashion
def test_fashion_int8_mixed_runs_on_tflite_runtime_2_14(fashion_bundle):
    # Float layers between int8 ones need nothing newer than the Pi's last tflite-runtime
    # wheel: DEQUANTIZE/QUANTIZE around them, min_runtime_version 1.14 (measured).
    tflite_runtime = pytest.importorskip("tflite_runtime.interpreter")
    manifest = manifest_of(fashion_bundle)
    entry = manifest["artifacts"]["int8-mixed"]
    assert entry["mixed_precision"]["float_layers"]  # the case with float layers
    images = preprocess(bundle.load_reference(fashion_bundle, manifest).images[:500])
    model = bundle.read_verified(fashion_bundle, entry)
    np.testing.assert_array_equal(
        run_tflite(model, images, tflite_runtime.Interpreter).argmax(1),
        run_tflite(model, images).argmax(1))
