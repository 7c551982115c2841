"""The graph readers explain uses (formats/tflite_graph.py, onnx_graph.py): no interpreter."""

from __future__ import annotations

import pytest

from lenet_edge import bundle
from lenet_edge.errors import ModelError
from lenet_edge.formats import onnx_graph, tflite_graph

pytestmark = pytest.mark.runtime


def _model(bundle_dir, variant: str) -> bytes:
    return bundle.read_verified(bundle_dir, bundle.read_manifest(bundle_dir)["artifacts"][variant])


def test_tflite_graph_lists_int16x8s_ops_with_their_quantisation(digits_bundle):
    graph = tflite_graph.read_graph(_model(digits_bundle, "int16x8"))
    ops = [op.op for op in graph.operators]
    # The converter quantises the float input and dequantises the output around LeNet's ops.
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE" and ops.count("CONV_2D") == 2
    conv = graph.tensors[graph.operators[1].outputs[0]]
    assert conv.dtype == "int16" and len(conv.scales) == 1 and conv.zero_points == (0,)
    assert conv.name.startswith("c1_1/")
    weights = [graph.tensors[i] for i in graph.operators[1].inputs if i in graph.constants()]
    assert {t.dtype for t in weights} == {"int8", "int64"}  # weights, and int16x8's bias


def test_onnx_graph_reads_the_qdq_parameters(digits_bundle):
    graph = onnx_graph.read_graph(_model(digits_bundle, "onnx-int8"))
    assert graph.inputs == ("image",) and graph.outputs == ("logits",)
    assert graph.scalars["logits_scale"] > 0
    assert graph.dtypes["logits_zero_point"] == "int8"
    assert -128 <= graph.scalars["logits_zero_point"] <= 127


def test_with_outputs_adds_graph_outputs_and_keeps_everything_else(digits_bundle):
    data = _model(digits_bundle, "onnx-fp32")
    tapped = onnx_graph.with_outputs(data, ["c1_1/Relu:0", "Reshape:0"])
    before, after = onnx_graph.read_graph(data), onnx_graph.read_graph(tapped)
    assert after.outputs == ("logits", "c1_1/Relu:0", "Reshape:0")
    assert after.nodes == before.nodes and after.scalars == before.scalars
    assert len(tapped) > len(data)


@pytest.mark.parametrize("data", [b"", b"TFL3", b"\x1c\x00\x00\x00TFL3" + b"\x00" * 8,
                                  b"<html>not a model</html>"])
def test_tflite_graph_refuses_what_is_not_a_model(data):
    with pytest.raises(ModelError, match="not a valid TFLite model"):
        tflite_graph.read_graph(data, "m.tflite")


@pytest.mark.parametrize("data", [b"\x08\x07\x3a\xff\xff", b"\x08\x07\x3a\x05\x0a\x03ab"])
def test_onnx_graph_refuses_a_truncated_model(data):
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        onnx_graph.read_graph(data, "m.onnx")
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        onnx_graph.with_outputs(data, ["x"], "m.onnx")
