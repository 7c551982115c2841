"""Which tensor of the float model each layer of a quantised model is compared with.

Quantisation adds ops and renames tensors, so the two graphs are matched by what they compute:

- TFLite: the converters keep the float model's ops and order and only add QUANTIZE and
  DEQUANTIZE ops (int16x8 quantises the input and dequantises the output; fp16 dequantises
  its weights). The other ops ("real" ops: CONV_2D, AVERAGE_POOL_2D, RESHAPE,
  FULLY_CONNECTED, ...) are paired in order, and must have the same types in the same order.
- ONNX: onnxruntime's QDQ quantiser fuses ops before quantising (Conv+Relu, MatMul+Add into
  Gemm), so the op lists differ, but it keeps value names. Each activation it quantises
  (a QuantizeLinear whose input is computed, followed by a DequantizeLinear) is one layer: its
  dequantised value, what the next op reads, is paired with the float value of the same name
  (the quantiser renames the graph output: 'logits' becomes 'logits_QuantizeLinear_Input', so
  the DequantizeLinear's output name, 'logits', is tried too).

The Keras layer comes from tensor names: the TFLite converter and tf2onnx name tensors by the
Keras name scope, "c1_1/Relu;c1_1/BiasAdd" for layer c1 (Keras 3 traces each layer under its
name plus a "_1" suffix, removed here). An op whose tensors carry no scope (the flatten's
RESHAPE, named "Reshape") has no layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lenet_edge.errors import ModelError
from lenet_edge.formats.onnx_graph import OnnxGraph
from lenet_edge.formats.tflite_graph import TfliteGraph

# Ops the converters add around the float model's ops, never one of them.
TFLITE_CONVERSION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
_TRACE_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class LayerPair:
    """One layer's output: where to read it in each model, and how the candidate stores it."""

    op: str  # op type in the candidate model: CONV_2D, Gemm, ...
    layer: str | None  # Keras layer, from the tensor names
    tensor: str  # the candidate's tensor (TFLite) or value (ONNX) name
    dtype: str  # how the candidate stores it: int8, int16, float32
    scale: float | None  # its quantisation; None when stored as float
    zero_point: int | None
    candidate: int | str  # tensor index (TFLite) or value name (ONNX)
    reference: int | str


def keras_layer(*names: str) -> str | None:
    """The Keras layer named by the first tensor name that carries a name scope."""
    for name in names:
        for part in name.split(";"):
            if "/" in part:
                return _TRACE_SUFFIX.sub("", part.split("/", 1)[0]) or None
    return None


def tflite_pairs(reference: TfliteGraph, candidate: TfliteGraph,
                 source: str = "model") -> list[LayerPair]:
    """The real ops of two TFLite graphs, paired in order.

    Raises:
        ModelError: the graphs do not run the same real ops in the same order.
    """
    ref_ops = [op for op in reference.operators if op.op not in TFLITE_CONVERSION_OPS]
    cand_ops = [op for op in candidate.operators if op.op not in TFLITE_CONVERSION_OPS]
    if [op.op for op in ref_ops] != [op.op for op in cand_ops]:
        raise ModelError(
            f"{source}: its ops ({', '.join(op.op for op in cand_ops)}) are not the float "
            f"model's ({', '.join(op.op for op in ref_ops)}); was it converted from the "
            "same model?")
    constants = candidate.constants()
    pairs = []
    for ref_op, cand_op in zip(ref_ops, cand_ops, strict=True):
        out = candidate.tensors[cand_op.outputs[0]]
        weights = [candidate.tensors[i].name for i in cand_op.inputs if i in constants]
        quantised = not out.dtype.startswith("float") and len(out.scales) == 1
        pairs.append(LayerPair(
            op=cand_op.op, layer=keras_layer(out.name, *weights), tensor=out.name,
            dtype=out.dtype, scale=out.scales[0] if quantised else None,
            zero_point=out.zero_points[0] if quantised and out.zero_points else None,
            candidate=out.index, reference=ref_op.outputs[0]))
    return pairs


def onnx_pairs(reference: OnnxGraph, candidate: OnnxGraph) -> list[LayerPair]:
    """One pair per activation the candidate quantises and the float model computes."""
    producers = {out: node for node in candidate.nodes for out in node.outputs}
    dequantizers = {node.inputs[0]: node for node in candidate.nodes
                    if node.op_type == "DequantizeLinear" and node.inputs}
    known = reference.values()
    pairs, seen = [], set()
    for node in candidate.nodes:
        if node.op_type != "QuantizeLinear" or not node.inputs or not node.outputs:
            continue
        value = node.inputs[0]
        producer, dequantizer = producers.get(value), dequantizers.get(node.outputs[0])
        if producer is None or dequantizer is None or value in seen:
            continue  # a weight, the graph input, or a value quantised twice
        match = next((n for n in (value, dequantizer.outputs[0]) if n in known), None)
        if match is None:
            continue  # a value the float graph does not have (none in tf2onnx's LeNet)
        seen.add(value)
        scale_name, zero_name = (list(node.inputs[1:3]) + [""])[:2]
        zero_point = candidate.scalars.get(zero_name, 0 if not zero_name else None)
        pairs.append(LayerPair(
            op=producer.op_type, layer=keras_layer(producer.name, *producer.outputs),
            tensor=value, dtype=candidate.dtypes.get(zero_name, "uint8"),  # ONNX's default
            scale=_number(candidate.scalars.get(scale_name)),
            zero_point=None if zero_point is None else int(zero_point),
            candidate=dequantizer.outputs[0], reference=match))
    return pairs


def _number(value: float | int | None) -> float | None:
    return None if value is None else float(value)
