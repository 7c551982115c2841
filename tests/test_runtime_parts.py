"""The runtime's small parts, without a bundle: readers, metrics, quantisation, timing, gates."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lenet_edge import formats
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.formats import onnx as onnx_format
from lenet_edge.runtime import regression
from lenet_edge.runtime.metrics import compare_logits
from lenet_edge.runtime.quantization import Quantization
from lenet_edge.runtime.timing import LatencyStats, TimingPolicy, run_for, time_calls

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

# --- file sniffing ---------------------------------------------------------------------------


@pytest.mark.parametrize("data,message", [
    (b"", "empty file"),
    (b"   <html><head><title>404</title></head></html>", "an HTML page"),
    (b"PK\x03\x04" + bytes(100), "a zip archive"),
    (b"just some notes about the model\n" * 4, "text, not a model"),
    (b"\x00\x01\x02", "only 3 bytes"),
])
def test_detect_format_explains_what_the_file_is(data, message):
    with pytest.raises(ModelError, match=message):
        formats.detect_format(data, "x.tflite")


def test_detect_format_reads_the_tflite_identifier_and_the_onnx_first_byte():
    assert formats.detect_format(b"\x1c\x00\x00\x00TFL3" + bytes(40)) == "tflite"
    assert formats.detect_format(b"\x08\x08\x12\x07tf2onnx") == "onnx"


def test_a_file_claiming_the_wrong_format_is_refused():
    with pytest.raises(ModelError, match="expected a TFLite flatbuffer"):
        formats.check_model_bytes(b"\x08\x08" + bytes(40), "tflite", "m.tflite")


# --- the ONNX reader -------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _tiny_onnx() -> bytes:
    """A hand-encoded ModelProto: one Relu from 'x' (N, 4) float to 'y'."""
    dims = _field(1, _field(2, b"N")) + _field(1, _field(1, 4))
    tensor_type = _field(1, _field(1, 1) + _field(2, dims))
    graph = (_field(1, _field(1, b"x") + _field(2, b"y") + _field(4, b"Relu"))
             + _field(5, _field(8, b"w"))  # an initializer named like an old-IR input
             + _field(11, _field(1, b"x") + _field(2, tensor_type))
             + _field(11, _field(1, b"w") + _field(2, tensor_type))
             + _field(12, _field(1, b"y") + _field(2, tensor_type)))
    return (_field(1, 8) + _field(2, b"hand") + _field(7, graph)
            + _field(8, _field(1, b"") + _field(2, 17)))


def test_onnx_reader_decodes_opsets_ops_and_io():
    info = onnx_format.describe(_tiny_onnx())
    assert info.details == {"ir_version": 8, "producer": "hand", "opsets": {"": 17}}
    assert info.ops == (("Relu", 17),)
    # The named dimension 'N' is open: -1, as TFLite's shape signature and the manifest say.
    assert [(t.name, t.shape, t.dtype) for t in info.inputs] == [("x", (-1, 4), "float32")]
    assert [t.name for t in info.outputs] == ["y"]  # 'w' is an initializer, not an input
    assert info.as_manifest()["opset"] == 17


def test_onnx_reader_refuses_every_truncation():
    data = _tiny_onnx()
    for end in range(1, len(data)):
        try:
            onnx_format.describe(data[:end])
        except ModelError:
            continue
        # A cut on a field boundary is a shorter but well-formed message: it must then
        # still be missing its graph or ir_version, or decode consistently.
        assert onnx_format.describe(data[:end]).details["ir_version"] == 8


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_onnx_reader_raises_only_model_error_on_arbitrary_bytes(data):
    try:
        onnx_format.describe(data, "fuzz.onnx")
    except ModelError as exc:
        assert str(exc).startswith("fuzz.onnx: not a valid ONNX model")


# --- quantisation ----------------------------------------------------------------------------


def test_int8_quantisation_round_trips_pixel_values_exactly():
    q = Quantization(scale=1 / 255, zero_point=-128)  # what the int8 converter writes
    pixels = np.arange(256, dtype=np.float32) / 255
    codes = q.quantize(pixels, np.int8)
    assert codes.dtype == np.int8 and codes.min() == -128 and codes.max() == 127
    # atol 1e-6: dequantised value = k/255 computed in float32 (one ulp near 1.0 is 6e-8).
    np.testing.assert_allclose(q.dequantize(codes), pixels, atol=1e-6)


def test_quantisation_clips_to_the_dtype_range_and_floats_pass_through():
    q = Quantization(scale=0.5, zero_point=0)
    assert q.quantize(np.array([1000.0, -1000.0]), np.int8).tolist() == [127, -128]
    assert Quantization().quantize(np.array([0.25]), np.float32).tolist() == [0.25]
    assert Quantization.from_tflite({"quantization": (0.0, 0), "dtype": np.float32}) == \
        Quantization()


# --- accuracy metrics ------------------------------------------------------------------------


def test_compare_logits_counts_drops_agreement_and_worst_disagreements():
    labels = np.array([0, 1, 2, 3])
    float_logits = np.eye(4, 10, dtype=np.float32) * 5  # all four right
    logits = float_logits.copy()
    logits[1] = np.eye(1, 10, 7, dtype=np.float32) * 9  # image 1 now says 7: wrong, far off
    logits[3, 3], logits[3, 5] = 1.0, 2.0  # image 3 now says 5: wrong, nearer
    m = compare_logits(logits, float_logits, labels)
    assert (m.correct, m.float_correct, m.agreeing) == (2, 4, 2)
    assert m.delta_points == -50.0 and m.agreement == 0.5
    assert m.worst == [1, 3]  # largest logit error first
    assert m.per_class_delta[:4] == [0.0, -100.0, 0.0, -100.0]
    assert m.per_class_delta[4] is None  # no image of class 4
    assert m.max_abs_logit_error == pytest.approx(9.0)


def test_a_drop_of_exactly_the_gate_is_exact():
    # 1 image of 200 is exactly 0.5 points: computed from counts, no float drift.
    labels = np.zeros(200, int)
    float_logits = np.tile(np.eye(1, 10, 0, dtype=np.float32), (200, 1))
    logits = float_logits.copy()
    logits[0] = np.eye(1, 10, 1, dtype=np.float32)
    assert compare_logits(logits, float_logits, labels).delta_points == -0.5


# --- timing ----------------------------------------------------------------------------------


def test_timing_policy_scales_runs_by_batch_and_checks_values():
    policy = TimingPolicy(runs=1000, min_time=2.0, warmup=50, warmup_time=0.5)
    assert policy.for_batch(64) == TimingPolicy(16, 2.0, 1, 0.5)
    assert policy.for_batch(1) == policy
    with pytest.raises(UsageError, match="--runs must be an integer >= 1, got 0"):
        TimingPolicy(runs=0)
    with pytest.raises(UsageError, match="--warmup-time must be a number of seconds >= 0"):
        TimingPolicy(warmup_time=-1)


def test_time_calls_meets_both_minimums_and_summarises():
    calls = []
    stats = time_calls(lambda: calls.append(1), batch=8,
                       policy=TimingPolicy(runs=25, min_time=0.0, warmup=5, warmup_time=0.0))
    assert stats.runs == 25 and len(calls) == 30  # 5 warm-up + 25 timed
    assert stats.min_us <= stats.p50_us <= stats.p90_us <= stats.p99_us <= stats.max_us
    assert stats.throughput_ips == pytest.approx(8e6 / stats.mean_us)
    assert run_for(lambda: None, runs=3, seconds=0.0) == 3


def test_latency_stats_from_known_samples():
    stats = LatencyStats.from_ns(1, [1000, 2000, 3000, 4000])
    assert (stats.mean_us, stats.min_us, stats.max_us, stats.p50_us) == (2.5, 1.0, 4.0, 2.5)


# --- the --compare gate ----------------------------------------------------------------------


def _row(variant="int8", p50=10.0, batch=1):
    return {"variant": variant, "runtime": "litert", "batch": batch, "threads": 1, "p50_us": p50}


def test_compare_flags_rows_slower_than_allowed():
    found = regression.compare([_row(p50=12.0), _row("fp32", 10.5)],
                               [_row(p50=10.0), _row("fp32", 10.0)], max_slowdown_pct=10)
    assert [(c.variant, round(c.change), c.failed) for c in found.rows] == [
        ("int8", 20, True), ("fp32", 5, False)]
    assert not found.passed


def test_compare_without_common_rows_is_a_usage_error():
    with pytest.raises(UsageError, match="shares no variant x runtime x batch x threads"):
        regression.compare([_row(batch=64)], [_row(batch=1)], 10)


@pytest.mark.parametrize("content,message", [
    ("not json", "not valid JSON"),
    (json.dumps({"machine": {}}), "no 'results' list"),
    (json.dumps({"results": [{"variant": "int8"}]}), r"results\[0\].runtime is missing"),
])
def test_a_bad_baseline_file_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        regression.read_baseline(path)


# Before: a variant of [1] was a TypeError (exit 70) in compare(); a p50_us of "x", 0 or -1
# dropped the row, so the gate passed on the rows left.
@pytest.mark.parametrize(("change", "message"), [
    ({"variant": [1]}, r"results\[1\].variant must be a string, got list"),
    ({"p50_us": "x"}, r"results\[1\].p50_us must be a number, got str 'x'"),
    ({"p50_us": 0}, r"results\[1\].p50_us must be a latency > 0, got 0"),
    ({"p50_us": -1}, r"results\[1\].p50_us must be a latency > 0, got -1"),
    ({"p50_us": None, "status": "ok"}, r"results\[1\].p50_us must be a number, got null"),
    ({"threads": 0}, r"results\[1\].threads must be at least 1, got 0"),
])
def test_a_baseline_row_with_a_wrong_field_refuses_the_baseline(tmp_path, change, message):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"results": [_row(), {**_row("fp32"), **change}]}))
    expected = rf"^--compare {re.escape(str(path))}: not a .*: {message}"
    with pytest.raises(UsageError, match=expected):
        regression.read_baseline(path)


def test_a_baseline_row_that_was_not_timed_is_skipped(tmp_path):
    path = tmp_path / "baseline.json"
    untimed = {**_row("fp16", None), "status": "incompatible"}
    path.write_text(json.dumps({"results": [{**_row(), "status": "ok"}, untimed]}))
    assert [r["variant"] for r in regression.read_baseline(path)] == ["int8"]


def test_max_slowdown_must_be_a_non_negative_percentage():
    with pytest.raises(UsageError, match="--max-slowdown must be a percentage >= 0, got -5"):
        regression.check_max_slowdown(-5)
