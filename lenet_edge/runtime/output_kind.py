"""Whether a model's outputs are logits or already probabilities, and comparing two models.

lenet-edge's own models end in a Dense layer: logits, which predict turns into probabilities
with a softmax. Many published models end in a softmax themselves; a second softmax squashes
their probabilities towards uniform (a confident 0.99 becomes 0.23 over ten classes). So:

1. the graph says so: the output is written by a SOFTMAX (TFLite) / Softmax (ONNX), perhaps
   through ops that only move or (de)quantise it (QUANTIZE, Reshape, Identity, ...);
2. otherwise the numbers say so: every row of the first batch is non-negative and sums to 1
   within PROBABILITY_TOLERANCE (plus a quantised output's rounding).

Two models are compared on one quantity: logits with logits; when either gives
probabilities, both as probabilities (a softmax of the logits side). Top-1 agreement is the
same either way (softmax keeps the order); the error figures are on the quantity named.
"""

from __future__ import annotations

import numpy as np

from lenet_edge import formats
from lenet_edge.errors import ModelError

LOGITS, PROBABILITIES = "logits", "probabilities"
OUTPUT_KINDS = (LOGITS, PROBABILITIES)
# Float rounding of a softmax in float32 over ten classes is ~1e-7; 1e-3 also lets through
# models that renormalise in float16. A quantised output adds up to half a step per class.
PROBABILITY_TOLERANCE = 1e-3
_SOFTMAX = {"SOFTMAX", "Softmax"}
# Ops between a softmax and the graph output that leave the numbers probabilities.
_PASS_THROUGH = {"QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE", "CAST", "Identity",
                 "QuantizeLinear", "DequantizeLinear", "Reshape", "Squeeze", "Flatten", "Cast"}


def declared_kind(data: bytes, fmt: str, source: str = "model") -> str | None:
    """PROBABILITIES when the graph's output comes from a softmax; None when it does not say."""
    writers: dict[str, tuple[str, str | int | None]] = {}  # output -> (op, its first input)
    if fmt == "tflite":
        from lenet_edge.formats.tflite_graph import read_graph

        graph = read_graph(data, source)
        for op in graph.operators:
            for out in op.outputs:
                writers[str(out)] = (op.op, str(op.inputs[0]) if op.inputs else None)
        output = str(graph.outputs[0]) if graph.outputs else None
    elif fmt == "onnx":
        from lenet_edge.formats.onnx_graph import read_graph

        graph = read_graph(data, source)
        for node in graph.nodes:
            for out in node.outputs:
                writers[out] = (node.op_type, node.inputs[0] if node.inputs else None)
        output = graph.outputs[0] if graph.outputs else None
    else:
        formats.get_format(fmt, source)  # raises the unknown-format error
        return None
    seen = set()
    while output is not None and output in writers and output not in seen:
        seen.add(output)
        op, first_input = writers[output]
        if op in _SOFTMAX:
            return PROBABILITIES
        if op not in _PASS_THROUGH:
            return None
        output = first_input
    return None


def looks_like_probabilities(outputs: np.ndarray, step: float | None = None) -> bool:
    """Every row non-negative and summing to 1, within tolerance; `step` is the output's
    quantisation scale (each class may be off by half a step)."""
    if outputs.ndim != 2 or outputs.size == 0:
        return False
    tolerance = PROBABILITY_TOLERANCE + (outputs.shape[1] * step / 2 if step else 0.0)
    rows = outputs.astype(np.float64)
    return bool(rows.min() >= -tolerance
                and np.all(np.abs(rows.sum(axis=1) - 1.0) <= tolerance))


def output_kind(declared: str | None, first_outputs: np.ndarray,
                step: float | None = None) -> str:
    """The graph's word when it has one, else what the first batch's numbers look like."""
    if declared is not None:
        return declared
    return PROBABILITIES if looks_like_probabilities(first_outputs, step) else LOGITS


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (shifted by the row maximum, so no overflow)."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def as_probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    """Probabilities (float64) from a model's outputs of `kind`: never softmaxed twice."""
    if kind == PROBABILITIES:
        return np.asarray(outputs, dtype=np.float64)
    if kind == LOGITS:
        return softmax(outputs)
    raise ModelError(f"unknown output kind {kind!r}; expected {' or '.join(OUTPUT_KINDS)}")


def comparable(outputs: np.ndarray, kind: str, other: np.ndarray,
               other_kind: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Both models' outputs as one quantity, and its name: logits if both are, else
    probabilities."""
    if kind == other_kind == LOGITS:
        return outputs, other, LOGITS
    return as_probabilities(outputs, kind), as_probabilities(other, other_kind), PROBABILITIES
