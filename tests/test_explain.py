"""`explain`: per-layer error of a quantised variant versus the float model, TF-free."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_tf_free import modules_after_cli

from lenet_edge import bundle
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.results.explain import ExplainReport
from lenet_edge.results.files import read_explanations
from lenet_edge.runtime.explain import QUANTISED_VARIANTS, compare_layers, explain
from lenet_edge.runtime.runtimes import get_runtime
from lenet_edge.schema import strict_json

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

# LeNet-5 as every TFLite converter recipe writes it: the Keras layers in order, the flatten
# a RESHAPE whose tensors carry no layer name.
TFLITE_OPS = ["CONV_2D", "AVERAGE_POOL_2D", "CONV_2D", "AVERAGE_POOL_2D", "RESHAPE",
              "FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED"]
TFLITE_LAYERS = ["c1", "s2", "c3", "s4", None, "f5", "f6", "logits"]
KERAS_LAYERS = {"c1", "s2", "c3", "s4", "f5", "f6", "logits"}


@pytest.fixture(scope="module")
def explained(digits_bundle):
    """explain() of each variant on the digits bundle, run once per module."""
    done: dict[str, ExplainReport] = {}

    def get(variant: str) -> ExplainReport:
        if variant not in done:
            done[variant] = explain(digits_bundle, variant)
        return done[variant]

    return get


@pytest.mark.needs("litert")
@pytest.mark.parametrize("variant", ["int8", "int16x8", "dynamic"])
def test_every_real_tflite_op_has_a_row_in_graph_order(explained, variant):
    report = explained(variant)
    assert [layer.op for layer in report.layers] == TFLITE_OPS
    assert [layer.layer for layer in report.layers] == TFLITE_LAYERS
    assert [layer.position for layer in report.layers] == list(range(len(TFLITE_OPS)))
    assert report.reference_variant == "fp32"
    assert report.images == 359  # the whole reference set
    # The instrumented run computes exactly what a plain litert run (verify) computes.
    assert report.output_deviation == 0.0


@pytest.mark.needs("litert")
def test_int8_rows_carry_the_models_own_quantisation(explained, digits_bundle):
    report = explained("int8")
    outputs = bundle.read_manifest(digits_bundle)["artifacts"]["int8"]["outputs"]
    for layer in report.layers:
        assert layer.dtype == "int8"
        assert layer.scale > 0 and -128 <= layer.zero_point <= 127
    # The last layer's output is the model's output: the manifest recorded its quantisation.
    assert report.layers[-1].scale == pytest.approx(outputs[0]["scale"])
    assert report.layers[-1].zero_point == outputs[0]["zero_point"]


@pytest.mark.needs("litert")
def test_int8_errors_are_a_few_quantisation_steps(explained):
    for layer in explained("int8").layers:
        # Rounding alone gives 1/sqrt(12) = 0.29 steps; ReLU zeros and clipped values are
        # exact, so a well-quantised layer can sit a little below (0.25 measured on c3). Above
        # one step something besides rounding (a range set too narrow, clipping) would
        # dominate, which a model passing verify's gates (as this one does) does not show:
        # 0.25-0.58 measured, the dense layers highest as their int8 weights add error.
        assert 0.15 < layer.rmse_over_scale < 1.0, layer
        assert np.isfinite(layer.snr_db) and layer.snr_db > 25, layer  # 36-45 dB measured
        assert 0.999 < layer.cosine <= 1.0, layer


@pytest.mark.needs("litert")
def test_int16_activations_beat_int8_on_every_layer(explained):
    int8, int16 = explained("int8").layers, explained("int16x8").layers
    for a, b in zip(int8, int16, strict=True):
        # 8 more activation bits remove the activations' rounding error; both keep the same
        # int8 weights, whose error remains, so the gain is 3.6-9 dB here, not 48.
        assert b.snr_db > a.snr_db + 1.0, (a, b)
        assert b.dtype == "int16"


@pytest.mark.needs("litert")
def test_dynamic_range_keeps_activations_float(explained):
    layers = explained("dynamic").layers
    assert {layer.dtype for layer in layers} == {"float32"}
    assert all(layer.scale is None and layer.rmse_over_scale is None for layer in layers)
    # The converter leaves the first convolution's 150 weights in float (too small to be
    # worth quantising): its output is the float model's, exactly.
    assert layers[0].mse == 0.0 and layers[0].snr_db is None and layers[0].cosine == 1.0
    assert layers[2].mse > 0  # c3's weights are int8


@pytest.mark.needs("onnxruntime")
def test_onnx_int8_has_a_row_per_quantised_activation(explained):
    report = explained("onnx-int8")
    assert report.reference_variant == "onnx-fp32" and report.runtime == "onnxruntime"
    ops = [layer.op for layer in report.layers]
    # The QDQ quantiser fuses Conv+Relu and MatMul+Add(+Relu) into Gemm before quantising.
    assert [op for op in ops if op in ("Conv", "AveragePool", "Gemm")] == \
        ["Conv", "AveragePool", "Conv", "AveragePool", "Gemm", "Gemm", "Gemm"]
    assert {layer.layer for layer in report.layers} >= KERAS_LAYERS
    assert report.layers[-1].layer == "logits"
    for layer in report.layers:
        assert layer.dtype == "int8" and layer.scale > 0, layer
        assert np.isfinite(layer.snr_db) and layer.snr_db > 25, layer
    # Unoptimised QDQ versus onnxruntime's fused integer kernels: a few output steps at most
    # (2 steps of the logits' scale measured).
    assert report.output_deviation <= 3 * report.layers[-1].scale


@pytest.mark.parametrize("runtime", ["litert", "tflite-runtime"])
def test_the_float_model_against_itself_has_no_error(digits_bundle, runtime):
    pytest.importorskip({"litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}[runtime])
    manifest = bundle.read_manifest(digits_bundle)
    fp32 = bundle.read_verified(digits_bundle, manifest["artifacts"]["fp32"])
    images = preprocess(bundle.load_reference(digits_bundle, manifest).images[:64])
    layers, _ = compare_layers(fp32, fp32, "tflite", get_runtime(runtime), images)
    assert [layer.op for layer in layers] == TFLITE_OPS
    for layer in layers:  # the same model on the same runtime: bit for bit
        assert layer.mse == 0.0 and layer.max_abs_error == 0.0
        assert layer.cosine == 1.0 and layer.snr_db is None


@pytest.mark.needs("litert", "onnxruntime")
@pytest.mark.parametrize("variant", ["int8", "onnx-int8"])
def test_the_report_round_trips_through_json(explained, variant):
    report = explained(variant)
    data = json.loads(strict_json(report.to_dict(), "test"))
    assert ExplainReport.from_dict(data) == report
    assert data["worst"] == report.worst.position
    assert report.worst.snr_db == min(layer.snr_db for layer in report.layers)


@pytest.mark.needs("litert")
def test_limit_uses_the_first_images(digits_bundle):
    assert explain(digits_bundle, "int8", limit=10).images == 10


def test_float_and_unknown_variants_are_usage_errors(digits_bundle):
    with pytest.raises(UsageError, match="'fp16' is not quantised.*choose from dynamic, int8"):
        explain(digits_bundle, "fp16")
    with pytest.raises(UsageError, match="did you mean 'int16x8'"):
        explain(digits_bundle, "int16")


@pytest.mark.needs("litert")
def test_sensitivity_recorded_in_the_manifest_is_shown_per_layer(fresh_bundle, run_cli):
    path = fresh_bundle / bundle.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["artifacts"]["int8"]["sensitivity"] = {"c1": 0.0028, "logits": 0.0012}
    path.write_text(json.dumps(manifest))
    report = explain(fresh_bundle, "int8")
    assert {layer.layer: layer.sensitivity for layer in report.layers
            if layer.sensitivity is not None} == {"c1": 0.0028, "logits": 0.0012}
    shown = run_cli("explain", fresh_bundle, "-v", "int8", env={"COLUMNS": "160"}).stdout
    assert "sensitivity" in shown and "+0.28" in shown and "+0.12" in shown  # points
    manifest["artifacts"]["int8"]["sensitivity"] = ["c1"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="sensitivity must map layer names to numbers"):
        explain(fresh_bundle, "int8")


@pytest.mark.needs("litert")
def test_cli_table_fits_80_columns_and_names_the_worst_layer(digits_bundle, run_cli):
    out = run_cli("explain", digits_bundle, "--no-save", env={"COLUMNS": "80"}).stdout
    assert max(map(len, out.splitlines())) <= 80 and "…" not in out, out
    assert "worst layer (lowest SNR): #7 FULLY_CONNECTED (logits)" in out
    assert "left out at 80 columns" in out  # whole columns go, never cut digits
    for column in ("op", "layer", "rmse/scale", "SNR dB"):
        assert column in out


@pytest.mark.needs("litert")
def test_cli_json_to_a_file_and_to_stdout(fresh_bundle, run_cli, tmp_path):
    out = tmp_path / "explain.json"
    run_cli("explain", fresh_bundle, "--variant", "int8", "--json", out)
    assert not (fresh_bundle / bundle.EXPLAIN_JSON).exists()  # --json FILE replaces the copy
    saved = json.loads(out.read_text())
    printed = json.loads(run_cli("explain", fresh_bundle, "-v", "int8", "--json", "-").stdout)
    for data in (saved, printed):
        [report] = data["variants"]
        assert report["variant"] == "int8" and len(report["layers"]) == len(TFLITE_OPS)
        assert {"mse", "rmse_over_scale", "snr_db", "cosine", "scale", "zero_point", "op",
                "layer", "sensitivity"} <= set(report["layers"][0])


@pytest.mark.needs("litert", "onnxruntime")
def test_cli_explains_every_quantised_variant_and_keeps_it_for_the_report(fresh_bundle,
                                                                          run_cli):
    artifacts = bundle.read_manifest(fresh_bundle)["artifacts"]
    quantised = [v for v in QUANTISED_VARIANTS if v in artifacts]
    assert {"dynamic", "int8", "int16x8", "onnx-int8"} <= set(quantised)
    proc = run_cli("explain", fresh_bundle, "--limit", "50", env={"COLUMNS": "100"})
    for variant in quantised:
        assert f"explain {fresh_bundle}: {variant} on" in proc.stdout
    assert f"results saved to {fresh_bundle / bundle.EXPLAIN_JSON}" in proc.stderr
    found = read_explanations(fresh_bundle / bundle.EXPLAIN_JSON)
    assert [r.variant for r in found.reports] == quantised  # catalogue order
    assert {r.images for r in found.reports} == {50} and not found.skipped
    run_cli("explain", fresh_bundle, "-v", "int8", "--no-save")
    assert read_explanations(fresh_bundle / bundle.EXPLAIN_JSON) == found  # left alone


def test_a_malformed_explain_json_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "explain.json"
    path.write_text(json.dumps({"bundle": "b", "variants": [{"variant": 3}]}))
    with pytest.raises(ModelError, match=r"explain.json: not a 'lenet-edge explain --json' "
                                         r"file: variants\[0\]: bundle is missing"):
        read_explanations(path)


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--variant", "int16"], 2, "unknown variant 'int16'; did you mean 'int16x8'?"),
    (["--variant", "fp32"], 2, "variant 'fp32' is not quantised"),
    (["--variant", "onnx-fp32"], 2, "variant 'onnx-fp32' is not quantised"),
    (["--limit", "0"], 2, "--limit must be at least 1 image"),
    (["--variant", "int8", "--runtime", "onnxruntime"], 2,
     "runtime 'onnxruntime' runs onnx models, not tflite"),
])
def test_cli_bad_input_is_one_line_with_its_exit_code(digits_bundle, run_cli, args, code,
                                                      message):
    proc = run_cli("explain", digits_bundle, *args, check=False)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith("lenet-edge: error: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and not proc.stdout


@pytest.mark.needs("litert")
def test_cli_bundle_without_reference_images_exits_4(fresh_bundle, run_cli):
    (fresh_bundle / bundle.REFERENCE).unlink()
    proc = run_cli("explain", fresh_bundle, check=False)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1, proc.stderr
    assert "reference.npz" in proc.stderr


def test_cli_bundle_without_the_float_model_exits_4(fresh_bundle, run_cli):
    path = fresh_bundle / bundle.MANIFEST
    manifest = json.loads(path.read_text())
    del manifest["artifacts"]["fp32"]
    path.write_text(json.dumps(manifest))
    proc = run_cli("explain", fresh_bundle, "-v", "int8", check=False)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1, proc.stderr
    assert "fp32, the float model int8 is compared with, is not in the bundle" in proc.stderr


@pytest.mark.needs("litert", "onnxruntime")
def test_explain_imports_neither_tensorflow_nor_onnx(digits_bundle, cli_env):
    for variant in ("int8", "onnx-int8"):
        loaded = modules_after_cli(["explain", str(digits_bundle), "-v", variant, "--json",
                                    "-", "--no-save"], cli_env())
        assert "lenet_edge.runtime.explain" in loaded  # the probe saw the command run
        assert not {"tensorflow", "keras", "tf2onnx", "onnx"} & loaded, variant


@pytest.mark.parametrize("arch", ["x86_64", pytest.param("aarch64", marks=pytest.mark.arm64)])
@pytest.mark.parametrize(("extra", "variant"), [("tflite-runtime", "int8"),
                                                ("runtime", "onnx-int8")])
def test_explain_runs_in_a_device_venv(committed_bundle, runtime_python, run_cli, extra,
                                       variant, arch):
    # 50 images: under qemu every interpreter call is ~10x slower (12-18 s measured here).
    proc = run_cli("explain", committed_bundle, "-v", variant, "--json", "-", "--no-save",
                   "--limit", "50", python=runtime_python(extra, arch))
    [report] = json.loads(proc.stdout)["variants"]
    assert report["runtime"] == {"tflite-runtime": "tflite-runtime",
                                 "runtime": "onnxruntime"}[extra]
    assert {layer["layer"] for layer in report["layers"]} >= KERAS_LAYERS


def test_a_device_without_onnxruntime_skips_the_onnx_variant(committed_bundle, runtime_python,
                                                             run_cli):
    proc = run_cli("explain", committed_bundle, "--no-save", "--limit", "20",
                   python=runtime_python("tflite-runtime"), env={"COLUMNS": "120"})
    assert "skipped onnx-int8: no onnx runtime installed (pip install " in proc.stdout
    assert f"explain {committed_bundle}: int8 on tflite-runtime" in proc.stdout


@pytest.mark.needs("litert", "onnxruntime")
def test_the_report_figure_draws_every_explained_variant(explained, digits_bundle):
    pytest.importorskip("matplotlib")  # the report extra; not in the device venvs
    from lenet_edge.report.layer_figure import layer_snr
    from lenet_edge.results.explain import Explanations

    found = Explanations(str(digits_bundle), tuple(explained(v) for v in
                                                   ("dynamic", "int8", "onnx-int8")))
    png = layer_snr(found)
    assert png.startswith(b"\x89PNG")
    assert layer_snr(None) is None and layer_snr(Explanations("b", ())) is None


def test_pure_rounding_is_0_29_steps():
    from lenet_edge.runtime.layer_error import ROUNDING_FLOOR, ErrorSums

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 200_000)
    scale = 0.05
    sums = ErrorSums()
    for part in np.array_split(x, 3):  # summed batch by batch, as explain does
        sums.add(part, np.round(part / scale) * scale)
    # Rounding errors are uniform on [-s/2, s/2]: RMSE s/sqrt(12). 200,000 samples put the
    # estimate within 0.3% of it.
    assert sums.rmse_over_scale(scale) == pytest.approx(ROUNDING_FLOOR, rel=0.003)
    assert sums.snr_db == pytest.approx(10 * np.log10(np.mean(x ** 2) / sums.mse), rel=1e-9)
    assert sums.max_abs <= scale / 2 + 1e-12
    same = ErrorSums()
    same.add(x, x)
    assert same.mse == 0.0 and same.snr_db is None and same.cosine == 1.0
    assert same.rmse_over_scale(None) is None  # a float output has no steps
