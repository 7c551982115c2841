"""Calibration a user chooses and the manifest records (issue 12 item 2).

`convert --calibration-samples/--calibration-method/--per-tensor` reach the variants they
concern, the manifest records method, count, weight scales and a hash of the images, and
an old manifest without these fields still reads. Conversion runs through the CLI.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from lenet_edge import bundle
from lenet_edge.conversion_records import CALIBRATION_METHODS, CalibrationRecord
from lenet_edge.errors import ModelError

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
onnx = pytest.importorskip("onnx")


def weight_scale_counts(path) -> set[int]:
    """How many scales each quantised tensor of a TFLite model has."""
    interpreter = Interpreter(model_path=str(path))
    return {len(t["quantization_parameters"]["scales"]) for t in interpreter.get_tensor_details()
            if len(t["quantization_parameters"]["scales"])}


def expected_sha256(num_train: int, samples: int, seed: int) -> str:
    """The hash of the images convert draws, recomputed from the dataset (TF-free)."""
    from lenet_edge.data.datasets import load_dataset
    from lenet_edge.toolchain.splits import calibration_indices, images_sha256

    dataset = load_dataset("digits")
    assert dataset.num_train == num_train
    return images_sha256(dataset.x_train[calibration_indices(num_train, samples, seed)])


@pytest.mark.toolchain  # converts: the fresh bundle is the one converted in this run
def test_choices_reach_the_models_and_the_manifest_records_them(fresh_bundle, run_cli):
    default = bundle.read_manifest(fresh_bundle)
    assert max(weight_scale_counts(fresh_bundle / default["artifacts"]["int8"]["file"])) > 1
    run_cli("convert", fresh_bundle, "--variant", "int8", "--variant", "onnx-int8",
            "--calibration-samples", "100", "--calibration-method", "entropy", "--per-tensor")
    manifest = bundle.load_manifest(fresh_bundle)
    num_train, seed = manifest.dataset.num_train, manifest.train_config["seed"]
    digest = expected_sha256(num_train, 100, seed)
    # TFLite calibrates by min/max whatever the option; onnx-int8 took entropy.
    assert manifest.calibration("int8") == CalibrationRecord(
        samples=100, seed=seed, split="train", method="minmax", per_channel=False,
        images_sha256=digest)
    assert manifest.calibration("onnx-int8") == CalibrationRecord(
        samples=100, seed=seed, split="train", method="entropy", per_channel=False,
        images_sha256=digest)
    assert manifest.calibration("fp32") is None  # not calibrated
    assert manifest.artifacts["onnx-int8"]["converter"]["recipe"]["calibrate_method"] == \
        "Entropy"
    # Per tensor, really: one weight scale per quantised tensor.
    assert weight_scale_counts(fresh_bundle / manifest.artifacts["int8"]["file"]) == {1}
    graph = onnx.load(str(fresh_bundle / manifest.artifacts["onnx-int8"]["file"])).graph
    scales = [t for t in graph.initializer if t.name.endswith("_scale")]
    assert scales and all(int(np.prod(t.dims)) == 1 for t in scales)
    # The 500-image default hashed other images than these 100.
    assert default["artifacts"]["onnx-int8"]["converter"]["calibration"]["images_sha256"] \
        == expected_sha256(num_train, 500, seed) != digest


@pytest.mark.toolchain
@pytest.mark.parametrize(("args", "phrases"), [
    (["--calibration-method", "entropy", "--variant", "int8"],
     ["--calibration-method entropy applies to onnx-int8", "min/max"]),
    (["--calibration-method", "entrpy"],
     ["unknown calibration method 'entrpy'", "did you mean 'entropy'",
      *CALIBRATION_METHODS]),
    (["--per-tensor", "--variant", "fp32"], ["--per-tensor applies to the calibrated"]),
    (["--min-agreement", "0.99", "--variant", "int8"],
     ["--min-agreement sets the gates the -mixed", "add --variant int8-mixed"]),
    (["--max-drop", "nan", "--variant", "int8-mixed"], ["--max-drop must be a finite"]),
], ids=["method-without-onnx", "unknown-method", "per-tensor-without-calibration",
        "gates-without-int8-mixed", "bad-gate"])
def test_a_choice_nothing_would_use_is_refused_exit_2(committed_bundle, run_cli, args,
                                                      phrases, tmp_path):
    # Refused while parsing the options, before TensorFlow or the model load: a bundle
    # without weights or Keras model is enough.
    proc = run_cli("convert", committed_bundle, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in lines[0]


# --- the manifest reads what it records, and refuses it malformed ------------------------------

CALIBRATED = {"samples": 500, "seed": 0, "split": "train", "method": "minmax",
              "per_channel": True, "images_sha256": "ab" * 32}


def manifest_with(calibration) -> dict:
    entry = {"variant": "int8", "format": "tflite", "file": "m.tflite", "sha256": "0" * 64,
             "bytes": 1, "inputs": [], "outputs": [], "converter": {"calibration": calibration}}
    return {"schema_version": bundle.SCHEMA_VERSION, "artifacts": {"int8": entry}}


def test_a_manifest_from_before_these_fields_still_reads():
    old = {"samples": 500, "seed": 0, "split": "train"}
    record = bundle.Manifest.from_dict(manifest_with(old)).calibration("int8")
    assert record == CalibrationRecord(samples=500, seed=0)
    assert record.method is record.per_channel is record.images_sha256 is None
    assert record.to_dict() == old  # nothing invented on the way back


@pytest.mark.parametrize(("change", "message"), [
    ({"method": "kl"}, "method 'kl' is not one of minmax, entropy, percentile"),
    ({"samples": 0}, "samples must be >= 1"),
    ({"per_channel": "yes"}, "per_channel must be true or false"),
    ({"images_sha256": "xyz"}, "images_sha256 must be 64 hex digits"),
])
def test_a_malformed_calibration_record_is_refused_naming_the_field(tmp_path, change, message):
    calibration = {**copy.deepcopy(CALIBRATED), **change}
    (tmp_path / bundle.MANIFEST).write_text(json.dumps(manifest_with(calibration)))
    with pytest.raises(ModelError, match=f"artifacts.int8.converter.calibration.*{message}"):
        bundle.read_manifest(tmp_path)
