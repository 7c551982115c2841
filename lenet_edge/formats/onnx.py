"""The ONNX format: detect, check and describe an .onnx file with neither `onnx` nor TF.

A device has onnxruntime at most, which cannot list a model's ops, and the `onnx` package is a
toolchain dependency. ONNX files are protobuf (`onnx.proto`); the few fields needed are decoded
with the bounds-checked wire-format reader in `protobuf.py`: bytes that are not a model raise
ModelError, never IndexError. This is the one ONNX describer: convert records what it says in
the manifest, inspect shows it.

Fields read (field numbers from onnx.proto): ModelProto ir_version=1, producer_name=2,
producer_version=3, graph=7, opset_import=8 {domain=1, version=2}; GraphProto node=1
{op_type=4, domain=7}, initializer=5 {name=8}, input=11, output=12; ValueInfoProto name=1,
type=2 {tensor_type=1 {elem_type=1, shape=2 {dim=1 {dim_value=1, dim_param=2}}}}.
"""

from __future__ import annotations

from lenet_edge.errors import ModelError
from lenet_edge.formats.description import OPEN, ModelDescription, TensorInfo
from lenet_edge.formats.protobuf import LENGTH, VARINT, Protobuf, Span
from lenet_edge.formats.sniff import what_it_is

NAME = "onnx"
SUFFIX = ".onnx"
# A ModelProto starts with field 1 (ir_version, varint): tag byte 0x08. Producers write
# ir_version first in practice (protobuf serialises fields in number order).
FIRST_BYTE = 0x08
_KIND = "ONNX model"
DEFAULT_DOMAINS = ("", "ai.onnx")  # two spellings of the standard operator set

# TensorProto.DataType, as numpy-style names.
ELEMENT_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16",
}


def detects(data: bytes) -> bool:
    """Whether `data` starts like a ModelProto (its ir_version tag; nothing else is read)."""
    return data[:1] == bytes([FIRST_BYTE])


def check(data: bytes, source: str = "model") -> None:
    """Raise a one-line ModelError unless `data` starts like an ONNX model.

    Only the header is checked: onnxruntime's protobuf parser refuses the rest cleanly
    ("rejected the file as corrupt"), and `describe` walks the whole message when asked.
    """
    if not detects(data) or len(data) < 16:
        raise ModelError(f"{source}: {what_it_is(data)}; expected an ONNX model "
                         "(a protobuf starting with its ir_version)")


def describe(data: bytes, source: str = "model") -> ModelDescription:
    """Read opsets, op types, inputs and outputs of an ONNX model; ModelError if malformed.

    Open dimensions (a `dim_param` such as tf2onnx's 'unk__6', or no value at all) are OPEN
    (-1), as in TFLite's shape signature. Graph I/O carries no quantisation: a QDQ model
    quantises inside the graph, so scale and zero point are None.
    """
    r = Protobuf(bytes(data), source, _KIND)
    ir_version, producer, graph, opsets = None, "", None, {}
    for number, wire, value in r.fields(0, len(r.data)):
        if number == 1 and wire == VARINT:
            ir_version = value
        elif number in (2, 3) and wire == LENGTH:
            producer = (producer + " " + r.text(value)).strip()
        elif number == 7 and wire == LENGTH:
            graph = value
        elif number == 8 and wire == LENGTH:
            domain, version = "", 0
            for n, w, v in r.fields(*value):
                if n == 1 and w == LENGTH:
                    domain = r.text(v)
                elif n == 2 and w == VARINT:
                    version = v
            opsets[domain] = version
    if ir_version is None or graph is None:
        r.fail("no ir_version or no graph")
    nodes, initializers, inputs, outputs = [], set(), [], []
    for number, wire, value in r.fields(*graph):
        if wire != LENGTH:
            continue
        if number == 1:
            nodes.append(_node(r, value))
        elif number == 5:
            initializers.update(r.text(v) for n, w, v in r.fields(*value) if n == 8 and w == 2)
        elif number in (11, 12):
            (inputs if number == 11 else outputs).append(_value_info(r, value))
    default_opset = next((opsets[d] for d in DEFAULT_DOMAINS if d in opsets), None)
    ops = {}
    for op_type, domain in nodes:
        standard = domain in DEFAULT_DOMAINS
        ops.setdefault(op_type if standard else f"{domain}.{op_type}",
                       (default_opset or 0) if standard else opsets.get(domain, 0))
    # IR < 4 lists weights among the graph inputs; they are not inputs a caller feeds.
    inputs = [t for t in inputs if t.name not in initializers]
    return ModelDescription(
        format=NAME, inputs=tuple(inputs), outputs=tuple(outputs), ops=tuple(ops.items()),
        requirements={"opset": default_opset},
        details={"ir_version": ir_version, "opsets": opsets, "producer": producer},
    )


def _node(r: Protobuf, span: Span) -> tuple[str, str]:
    op_type, domain = "", ""
    for number, wire, value in r.fields(*span):
        if number == 4 and wire == LENGTH:
            op_type = r.text(value)
        elif number == 7 and wire == LENGTH:
            domain = r.text(value)
    if not op_type:
        r.fail("a node without an op_type")
    return op_type, domain


def _value_info(r: Protobuf, span: Span) -> TensorInfo:
    name, dtype, shape = "", "unknown", []
    for number, wire, value in r.fields(*span):
        if number == 1 and wire == LENGTH:
            name = r.text(value)
        elif number == 2 and wire == LENGTH:
            for n, w, tensor in r.fields(*value):
                if n != 1 or w != LENGTH:
                    continue  # not a tensor type (sequence, map): leave dtype unknown
                for tn, tw, tv in r.fields(*tensor):
                    if tn == 1 and tw == VARINT:
                        dtype = ELEMENT_TYPES.get(tv, f"type_{tv}")
                    elif tn == 2 and tw == LENGTH:
                        shape = [_dim(r, dim) for dn, dw, dim in r.fields(*tv)
                                 if dn == 1 and dw == LENGTH]
    return TensorInfo(name, tuple(shape), dtype)


def _dim(r: Protobuf, span: Span) -> int:
    """A dimension's size, or OPEN when the model names it (dim_param) or leaves it blank."""
    for number, wire, value in r.fields(*span):
        if number == 1 and wire == VARINT:
            return value
    return OPEN
