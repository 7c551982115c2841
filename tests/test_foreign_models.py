"""`convert MODEL --dataset NAME` on Keras models lenet-edge did not train, then every command.

The models are built here, as other people publish them: a Sequential LeNet with
Rescaling(1/255) (so it takes 0-255 pixels), max pooling, a third convolution, Dropout,
BatchNormalization and a softmax, trained for a few epochs on digits and saved both as a Keras
2-style `.h5` (Keras 3's `model.save("m.h5")` writes the legacy HDF5 format with its
`model_config`) and as `.keras`; a functional model taking (28, 28) with no channel axis and
giving logits; and the models lenet-edge cannot carry. The pytest process never imports
TensorFlow: the models are made by a script in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_input_values import error_line

pytestmark = pytest.mark.toolchain

BUILD = r'''
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import h5py, keras, numpy as np
from keras import layers
from lenet_edge.data.datasets import load_dataset

out = sys.argv[1]
keras.utils.set_random_seed(0)
digits = load_dataset("digits")
pixels = digits.x_train[..., None].astype("float32")  # 0-255: the model rescales itself
test_pixels = digits.x_test[..., None].astype("float32")

# As published: Rescaling, three convolutions, max pooling, Dropout, BatchNorm, softmax.
model = keras.Sequential([
    keras.Input((28, 28, 1)), layers.Rescaling(1 / 255),
    layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(),
    layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
    layers.Conv2D(16, 3, activation="relu"), layers.Dropout(0.2),
    layers.BatchNormalization(), layers.Flatten(), layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(pixels, digits.y_train, epochs=8, batch_size=32, verbose=0)
model.save(f"{out}/published.h5")
model.save(f"{out}/published.keras")
np.save(f"{out}/published_outputs.npy", model.predict(test_pixels, verbose=0))
with h5py.File(f"{out}/published.h5") as h5:
    legacy = "model_config" in h5.attrs and "model_weights" in h5
model.save_weights(f"{out}/weights_only.weights.h5")
model.export(f"{out}/published_savedmodel", verbose=False)

# Functional, (28, 28) per image (no channel axis), 0-1 input, logits out.
image = keras.Input((28, 28))
x = layers.Reshape((28, 28, 1))(image)
x = layers.Conv2D(8, 5, activation="relu")(x)
x = layers.AveragePooling2D(2)(x)
logits = layers.Dense(10)(layers.Flatten()(x))
flat = keras.Model(image, logits)
flat.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
flat.fit(digits.x_train / 255.0, digits.y_train, epochs=4, batch_size=32, verbose=0)
flat.save(f"{out}/flat_input.keras")
np.save(f"{out}/flat_outputs.npy", flat.predict(digits.x_test / 255.0, verbose=0))

# Trained on raw pixels with no Rescaling: nothing in its layers says it takes 0-255.
raw = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 5, activation="relu"),
                        layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10)])
raw.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
raw.fit(pixels, digits.y_train, epochs=3, batch_size=32, verbose=0)
raw.save(f"{out}/raw_pixels.keras")

# What lenet-edge cannot carry.
a, b = keras.Input((28, 28, 1)), keras.Input((28, 28, 1))
both = layers.Flatten()(layers.Concatenate()([a, b]))
keras.Model([a, b], layers.Dense(10)(both)).save(f"{out}/two_inputs.keras")
rgb = keras.Input((32, 32, 3))
keras.Model(rgb, layers.Dense(10)(layers.Flatten()(rgb))).save(f"{out}/rgb32.keras")
picture = keras.Input((28, 28, 1))
features = layers.Flatten()(layers.Conv2D(4, 3)(picture))
detector = keras.Model(picture, [layers.Dense(4, name="boxes")(features),
                                 layers.Dense(10, activation="softmax", name="classes")(features)])
detector.save(f"{out}/detector.keras")
json.dump({"legacy_h5": legacy}, open(f"{out}/facts.json", "w"))
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory, cli_env) -> Path:
    out = tmp_path_factory.mktemp("foreign")
    proc = subprocess.run([sys.executable, "-c", BUILD, str(out)], env=cli_env(),
                          timeout=600, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def digits_test(models, cli_env) -> tuple[np.ndarray, np.ndarray]:
    """The digits test split as the bundle's reference.npz holds it (images, labels)."""
    code = ("import sys, numpy as np; from lenet_edge.data.datasets import load_dataset; "
            "d = load_dataset('digits'); np.savez(sys.argv[1], x=d.x_test, y=d.y_test)")
    subprocess.run([sys.executable, "-c", code, str(models / "test.npz")], check=True,
                   env=cli_env(), timeout=120)
    with np.load(models / "test.npz") as npz:
        return npz["x"], npz["y"]


def test_keras3_h5_save_is_keras2_style(models):
    """What the h5 tests stand for: the legacy HDF5 layout (model_config + model_weights)
    that Keras 2's model.save("m.h5") wrote."""
    assert json.loads((models / "facts.json").read_text())["legacy_h5"]


@pytest.mark.parametrize("name", ["published.h5", "published.keras"])
def test_published_model_converts_verifies_benchmarks_and_predicts(models, digits_test, name,
                                                                   run_cli, tmp_path):
    images, labels = digits_test
    keras_outputs = np.load(models / "published_outputs.npy")
    keras_accuracy = float(np.mean(keras_outputs.argmax(axis=1) == labels))
    out = tmp_path / "bundle"
    proc = run_cli("convert", models / name, "--dataset", "digits", "--out", out)
    assert "input 0-255" in proc.stdout and "outputs probabilities" in proc.stdout

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_range"] == "0-255" and manifest["output_kind"] == "probabilities"
    assert "train_config" not in manifest and "weights" not in manifest
    source = manifest["source_model"]
    assert source["kind"] == ("h5" if name.endswith(".h5") else "keras")
    assert source["layers"][:2] == ["Rescaling", "Conv2D"]
    assert {"MaxPooling2D", "Dropout", "BatchNormalization"} <= set(source["layers"])
    assert set(manifest["artifacts"]) >= {"fp32", "int8", "onnx-fp32", "onnx-int8"}
    with np.load(out / "reference.npz") as reference:
        # The reference is the model's own outputs on 0-255 pixels: float32 rounding apart
        # (the same graph run by Keras here and by the builder), they are the same numbers.
        np.testing.assert_allclose(reference["logits"], keras_outputs, atol=1e-5)

    verify = json.loads(run_cli("verify", out, "--json", "-", "--no-save").stdout)
    results = {r["variant"]: r for r in verify["results"]}
    # fp32 computes what Keras computes up to float32 rounding (~1e-7): every argmax the same.
    assert results["fp32"]["accuracy"] == pytest.approx(keras_accuracy, abs=1e-9)
    assert results["fp32"]["agreement"] == 1.0
    # int8 is held to verify's default gates, what a user's CI holds it to: at most 0.5 points
    # below the float model (under two of the 359 images) and 99% top-1 agreement.
    assert results["int8"]["status"] == "pass", results["int8"]
    assert abs(results["int8"]["accuracy"] - keras_accuracy) * 100 <= 0.5

    bench = json.loads(run_cli("benchmark", out, "--variant", "fp32", "--variant", "int8",
                               "--runs", "20", "--warmup", "2", "--min-time", "0",
                               "--warmup-time", "0", "--no-cold-start", "--json", "-").stdout)
    assert {r["variant"] for r in bench["results"]} == {"fp32", "int8"}

    frames = tmp_path / "frames.npy"
    np.save(frames, images[:20])
    predicted = json.loads(run_cli("predict", out, frames, "--top-k", "10", "--json").stdout)
    for row, expected in zip(predicted, keras_outputs[:20], strict=True):
        got = np.zeros(10)
        for p in row["predictions"]:
            got[p["class"]] = p["probability"]
        # Its own softmax outputs, not softmaxed again; float32 rounding apart.
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_functional_model_with_no_channel_axis_giving_logits(models, digits_test, run_cli,
                                                              tmp_path):
    out = tmp_path / "bundle"
    run_cli("convert", models / "flat_input.keras", "-d", "digits", "--out", out,
            "--variant", "fp32", "--variant", "int8")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_range"] == "0-1" and manifest["output_kind"] == "logits"
    assert manifest["source_model"]["input_shape"] == [28, 28]
    with np.load(out / "reference.npz") as reference:
        np.testing.assert_allclose(reference["logits"], np.load(models / "flat_outputs.npy"),
                                   atol=1e-4)  # logits reach ~20: float32 rounding of those
    verify = json.loads(run_cli("verify", out, "--json", "-", "--no-save").stdout)
    assert verify["passed"], verify


def test_a_model_trained_on_raw_pixels_is_found_to_take_0_255(models, run_cli, tmp_path):
    out = tmp_path / "bundle"
    run_cli("convert", models / "raw_pixels.keras", "-d", "digits", "--out", out,
            "--variant", "fp32")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_range"] == "0-255"
    assert "accuracy on training images fed 0-1" in \
        manifest["source_model"]["input_range_reason"]
    assert manifest["float_test_accuracy"] > 0.8  # fed what it was trained on
    # The flat-input model has no Rescaling either, and was trained on x / 255.
    run_cli("convert", models / "flat_input.keras", "-d", "digits", "--out", tmp_path / "flat",
            "--variant", "fp32")
    assert json.loads((tmp_path / "flat" / "manifest.json").read_text())["input_range"] == "0-1"


def test_input_range_override_is_recorded_and_used(models, run_cli, tmp_path):
    out = tmp_path / "bundle"
    run_cli("convert", models / "published.keras", "-d", "digits", "--out", out,
            "--variant", "fp32", "--input-range", "0-1")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_range"] == "0-1"
    assert manifest["source_model"]["input_range_detected"] == "0-255"
    # Fed 0-1 floats, a model that divides by 255 itself sees black images: its reference
    # accuracy is near chance, which is what the user asked to record.
    assert manifest["float_test_accuracy"] < 0.5


def test_a_savedmodel_folder_converts(models, digits_test, run_cli, tmp_path):
    """A SavedModel has no Keras layers to read: its range is the one it classifies training
    images better on, its outputs are probabilities by their numbers (rows of non-negative
    values summing to 1)."""
    out = tmp_path / "bundle"
    run_cli("convert", models / "published_savedmodel", "-d", "digits", "--out", out,
            "--variant", "fp32")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_range"] == "0-255"
    assert manifest["source_model"]["kind"] == "saved_model"
    assert manifest["output_kind"] == "probabilities"
    with np.load(out / "reference.npz") as reference:
        np.testing.assert_allclose(reference["logits"], np.load(models / "published_outputs.npy"),
                                   atol=1e-5)  # the same weights: float32 rounding apart
    assert json.loads(run_cli("verify", out, "--json", "-", "--no-save").stdout)["passed"]


@pytest.mark.parametrize(("name", "expected"), [
    ("weights_only.weights.h5", "holds weights only"),
    ("two_inputs.keras", "has 2 inputs"),
    ("rgb32.keras", "input is (32, 32, 3) per image"),
    ("detector.keras", "has 2 output(s)"),
])
def test_models_lenet_edge_cannot_carry_get_one_line(models, name, expected, run_cli, tmp_path):
    proc = run_cli("convert", models / name, "--dataset", "digits", "--out", tmp_path / "b",
                   check=False)
    assert proc.returncode == 4, proc.stderr  # a model lenet-edge cannot carry (errors.py)
    assert expected in error_line(proc)
    assert not (tmp_path / "b" / "manifest.json").exists()


def test_a_keras_model_needs_its_dataset(models, run_cli):
    proc = run_cli("convert", models / "published.keras", check=False, timeout=60)
    assert proc.returncode == 2
    assert "--dataset" in error_line(proc)


def test_dataset_is_refused_for_a_trained_model_folder(run_cli, tmp_path):
    proc = run_cli("convert", tmp_path, "--dataset", "digits", check=False, timeout=60)
    assert proc.returncode == 2
    assert "train.json names its dataset" in error_line(proc)


def test_a_layer_the_exporter_cannot_handle_is_named(models, run_cli, tmp_path, cli_env):
    """GELU converts to TFLite but not through tf2onnx 1.17 (no ONNX Erfc at opset 17)."""
    code = ("import sys, keras; from keras import layers; keras.Sequential(["
            "keras.Input((28, 28, 1)), layers.Conv2D(4, 3), layers.Activation('gelu', "
            "name='smooth'), layers.Flatten(), layers.Dense(10)]).save(sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "gelu.keras")], check=True,
                   env=cli_env(), timeout=300, capture_output=True)
    proc = run_cli("convert", tmp_path / "gelu.keras", "-d", "digits", "--out",
                   tmp_path / "b", check=False)
    assert proc.returncode == 4
    assert "onnx-fp32: the exporter cannot handle layer 'smooth' (Activation)" in \
        error_line(proc)
    assert not (tmp_path / "b").exists()  # converted in memory first: nothing written


@pytest.mark.parametrize("venv", [".venv-runtime", ".venv-tflite"])  # conftest.RUNTIME_VENVS
def test_the_bundle_runs_where_there_is_no_tensorflow(models, venv, run_cli):
    """As on a Pi: the device venvs hold one interpreter each and no TensorFlow, and still
    feed the 0-255 model 0-255 pixels (the manifest's input_range) and pass its gates."""
    python = Path(__file__).resolve().parents[1] / venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no {python} (make test builds it)")
    out = models / "device-bundle"
    if not (out / "manifest.json").exists():  # converted once for both venvs
        run_cli("convert", models / "published.h5", "-d", "digits", "--out", out,
                "--variant", "fp32", "--variant", "int8")
    verify = json.loads(run_cli("verify", out, "--json", "-", "--no-save",
                                python=python).stdout)
    assert verify["passed"] and {r["variant"] for r in verify["results"]} == {"fp32", "int8"}


def test_manifest_input_range_and_output_kind_are_checked_and_default_for_old_bundles():
    from lenet_edge import schema
    from lenet_edge.bundle import Manifest

    old = Manifest.from_dict({"schema_version": 1, "artifacts": {}})
    assert (old.input_range, old.output_kind) == ("0-1", "logits")  # lenet-edge's own models
    new = Manifest.from_dict({"schema_version": 1, "artifacts": {}, "input_range": "0-255",
                              "output_kind": "probabilities"})
    assert new.to_dict()["input_range"] == "0-255"
    with pytest.raises(schema.Invalid, match="input_range '0-100' is not one of 0-1, 0-255"):
        Manifest.from_dict({"schema_version": 1, "artifacts": {}, "input_range": "0-100"})


def test_a_folder_holding_a_keras_file_names_the_command_for_it(models, run_cli, tmp_path):
    (tmp_path / "published.keras").write_bytes((models / "published.keras").read_bytes())
    proc = run_cli("convert", tmp_path, check=False, timeout=60)
    assert proc.returncode == 4
    assert f"lenet-edge convert {tmp_path / 'published.keras'} --dataset NAME" in \
        error_line(proc)
