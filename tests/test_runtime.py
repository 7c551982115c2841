"""The Runner protocol on the converted digits bundle: every backend, float in, float out."""

from __future__ import annotations

import numpy as np
import pytest
from bundle_tampering import newer_op_bundle

from lenet_edge import bundle
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.runtime import IncompatibleModelError, load_runner
from lenet_edge.runtime.runtimes import RUNTIMES, auto_runtime, resolve_runtime

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

TFLITE_VARIANTS = ("fp32", "fp16", "dynamic", "int8", "int16x8")
ONNX_VARIANTS = ("onnx-fp32", "onnx-int8")


@pytest.fixture(scope="module")
def manifest(digits_bundle):
    return bundle.read_manifest(digits_bundle)


@pytest.fixture(scope="module")
def reference(digits_bundle, manifest):
    return bundle.load_reference(digits_bundle, manifest)


def _artifact(bundle_dir, manifest, variant) -> bytes:
    return bundle.read_verified(bundle_dir, manifest["artifacts"][variant])


@pytest.mark.parametrize(
    "variant,runtime",
    [(v, "litert") for v in TFLITE_VARIANTS]
    + [(v, "tflite-runtime") for v in TFLITE_VARIANTS]
    + [(v, "onnxruntime") for v in ONNX_VARIANTS],
)
def test_every_variant_gives_float_logits_close_to_the_float_model(
    digits_bundle, manifest, reference, variant, runtime
):
    runner = load_runner(_artifact(digits_bundle, manifest, variant), runtime=runtime)
    logits = runner.predict(preprocess(reference.images))
    assert logits.dtype == np.float32 and logits.shape == (len(reference.labels), 10)
    assert runner.runtime == runtime and runner.runtime_version not in ("", "unknown")
    agreement = np.mean(logits.argmax(1) == reference.logits.argmax(1))
    # >= 99%, the convert issue's bar (tests/test_convert.py holds the same): on the 359
    # digits reference images it allows 3 disagreements with the float model's top-1 class.
    assert agreement >= 0.99, agreement


@pytest.mark.needs("litert")
def test_int8_io_is_quantised_inside_the_runner(digits_bundle, manifest, reference):
    runner = load_runner(_artifact(digits_bundle, manifest, "int8"), runtime="litert")
    meta = runner.metadata()
    assert runner.input_dtype == "int8" and runner.output_dtype == "int8"
    declared = manifest["artifacts"]["int8"]["inputs"][0]
    assert meta["input"]["scale"] == pytest.approx(declared["scale"])
    assert meta["input"]["zero_point"] == declared["zero_point"]
    logits = runner.predict(preprocess(reference.images[:64]))
    # Dequantised logits sit on the float model's scale: within a few output steps of it,
    # not off by the int8 scale factor (a forgotten dequantise would be ~1/scale away).
    step = meta["output"]["scale"]
    assert np.median(np.abs(logits - reference.logits[:64])) < 4 * step


def test_fp32_matches_the_keras_logits_closely(digits_bundle, manifest, reference):
    logits = load_runner(_artifact(digits_bundle, manifest, "fp32")).predict(
        preprocess(reference.images)
    )
    # 1e-4: fp32 conversion only reorders float operations (the convert issue's tolerance).
    assert np.max(np.abs(logits - reference.logits)) < 1e-4


@pytest.mark.parametrize("runtime,variant", [("litert", "int8"), ("onnxruntime", "onnx-fp32")])
def test_batching_does_not_change_results(digits_bundle, manifest, reference, runtime, variant):
    runner = load_runner(_artifact(digits_bundle, manifest, variant), runtime=runtime)
    images = preprocess(reference.images[:50])
    whole = runner.predict(images)
    # 7 does not divide 50: the last batch is padded; then one image at a time.
    np.testing.assert_allclose(runner.predict(images, batch_size=7), whole, atol=1e-5)
    one_by_one = np.concatenate([runner.predict(images[i:i + 1]) for i in range(5)])
    # atol 1e-5: XNNPACK may pick different kernels per batch size (float reassociation).
    np.testing.assert_allclose(one_by_one, whole[:5], atol=1e-5)


@pytest.mark.needs("litert")
def test_prepared_call_returns_the_models_raw_output(digits_bundle, manifest, reference):
    runner = load_runner(_artifact(digits_bundle, manifest, "int8"), runtime="litert")
    call = runner.prepare(preprocess(reference.images[:4]))
    raw = call.run()
    assert call.batch == 4 and raw.shape == (4, 10) and raw.dtype == np.int8
    assert np.array_equal(call.run(), raw)  # same input in place: same output every time


@pytest.mark.needs("litert", "tflite-runtime")
def test_an_op_version_newer_than_the_runtime_is_named(digits_bundle):
    newer = newer_op_bundle(digits_bundle)
    manifest = bundle.read_manifest(newer)
    data = _artifact(newer, manifest, "int8")
    with pytest.raises(IncompatibleModelError) as info:
        load_runner(data, runtime="tflite-runtime")
    assert (info.value.op, info.value.op_version) == ("FULLY_CONNECTED", 12)
    assert "FULLY_CONNECTED version 12" in str(info.value)
    assert info.value.runtime == "tflite-runtime"
    assert load_runner(data, runtime="litert").runtime == "litert"  # the newer one runs it


def test_wrong_images_are_refused_with_the_shape_received(digits_bundle, manifest):
    runner = load_runner(_artifact(digits_bundle, manifest, "fp32"))
    with pytest.raises(UsageError, match=r"float \(N, 28, 28, 1\), got uint8"):
        runner.predict(np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(UsageError, match="got float32 \\(2, 32, 32, 1\\)"):
        runner.predict(np.zeros((2, 32, 32, 1), np.float32))


def test_runtime_names_are_checked():
    with pytest.raises(UsageError, match="unknown runtime 'tflite'; did you mean "
                                         "'tflite-runtime'\\? choose from auto, litert, "
                                         "tflite-runtime, onnxruntime"):
        resolve_runtime("tflite", "tflite")
    with pytest.raises(UsageError, match="runs onnx models, not tflite"):
        resolve_runtime("onnxruntime", "tflite")


@pytest.mark.needs("litert", "tflite-runtime")
def test_auto_prefers_litert_over_tflite_runtime():
    assert auto_runtime("tflite").name == "litert"  # both installed in the dev venv
    assert auto_runtime("onnx").name == "onnxruntime"
    assert [r.name for r in RUNTIMES] == ["litert", "tflite-runtime", "onnxruntime"]


@pytest.mark.parametrize("data,why", [
    (b"", "empty file"),
    (b"<!DOCTYPE html><html><body>Not Found</body></html>", "HTML page"),
    (bytes(range(256)) * 4, "not a model file"),
])
def test_bytes_that_are_not_a_model_never_reach_an_interpreter(data, why):
    with pytest.raises(ModelError, match=why):
        load_runner(data, "tflite")


def test_a_truncated_tflite_file_is_refused(digits_bundle, manifest):
    data = _artifact(digits_bundle, manifest, "fp32")
    with pytest.raises(ModelError, match="not a valid TFLite model"):
        load_runner(data[: len(data) // 3], "tflite", runtime="tflite-runtime")


@pytest.mark.needs("onnxruntime")
def test_a_truncated_onnx_file_is_named_in_the_error(digits_bundle, manifest, tmp_path):
    # Past the cheap header check, so it is onnxruntime's protobuf parser that refuses it.
    path = tmp_path / "cut.onnx"
    path.write_bytes(_artifact(digits_bundle, manifest, "onnx-fp32")[:3000])
    with pytest.raises(ModelError, match=r"cut\.onnx: onnxruntime rejected the file as corrupt"):
        load_runner(path)
    with pytest.raises(ModelError, match=r"^lenet5_x\.onnx: onnxruntime rejected"):
        load_runner(path.read_bytes(), "onnx", source="lenet5_x.onnx")


def test_threads_must_be_positive(digits_bundle, manifest):
    with pytest.raises(UsageError, match="threads must be an integer >= 1, got 0"):
        load_runner(_artifact(digits_bundle, manifest, "fp32"), threads=0)
