"""What an .onnx file declares (opsets, ops, inputs, outputs), read with neither onnx nor TF.

A device has onnxruntime at most, which cannot list a model's ops, and the `onnx` package is a
toolchain dependency. ONNX files are protobuf (`onnx.proto`); this module decodes the few
fields it needs from the wire format itself. Every read is bounds-checked: bytes that are not
a model raise ModelError, never IndexError.

Fields read (field numbers from onnx.proto): ModelProto ir_version=1, producer_name=2,
producer_version=3, graph=7, opset_import=8 {domain=1, version=2}; GraphProto node=1
{op_type=4, domain=7}, initializer=5 {name=8}, input=11, output=12; ValueInfoProto name=1,
type=2 {tensor_type=1 {elem_type=1, shape=2 {dim=1 {dim_value=1, dim_param=2}}}}.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lenet_edge.errors import ModelError

# TensorProto.DataType, as numpy-style names.
ELEMENT_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16",
}
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class OnnxTensor:
    name: str
    shape: tuple[int | str, ...]  # a symbolic dimension keeps its name (e.g. 'unk__6')
    dtype: str


@dataclass(frozen=True)
class OnnxModelInfo:
    ir_version: int
    producer: str
    opsets: dict[str, int]  # domain ('' is the default ai.onnx) -> version
    ops: tuple[tuple[str, int], ...]  # (op type, opset version of its domain), first-seen order
    inputs: tuple[OnnxTensor, ...]
    outputs: tuple[OnnxTensor, ...]


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data, self.source = data, source

    def fail(self, why: str):
        raise ModelError(f"{self.source}: not a valid ONNX model ({why})")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            if pos >= end or shift > 63:
                self.fail("a number runs past its message")
            byte = self.data[pos]
            value |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if byte < 0x80:
                return value, pos

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, int | tuple[int, int]]]:
        """(field number, wire type, varint value or (start, end) of the payload)."""
        pos = start
        while pos < end:
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            if wire == VARINT:
                value, pos = self.varint(pos, end)
                yield number, wire, value
            elif wire == LENGTH:
                length, pos = self.varint(pos, end)
                if pos + length > end:
                    self.fail(f"field {number} runs past the end ({end - pos} bytes left)")
                yield number, wire, (pos, pos + length)
                pos += length
            elif wire in (FIXED64, FIXED32):
                pos += 8 if wire == FIXED64 else 4
                if pos > end:
                    self.fail("a fixed-width field runs past the end")
            else:
                self.fail(f"wire type {wire} at byte {pos}")
            if number == 0:
                self.fail("field number 0")

    def text(self, span: tuple[int, int]) -> str:
        return self.data[span[0]:span[1]].decode("utf-8", errors="replace")


def describe(data: bytes, source: str = "model") -> OnnxModelInfo:
    """Read opsets, op types, inputs and outputs of an ONNX model; ModelError if malformed."""
    r = _Reader(bytes(data), source)
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
    ops = {}
    for op_type, domain in nodes:
        ops.setdefault(op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}",
                       opsets.get(domain, opsets.get("ai.onnx" if domain == "" else domain, 0)))
    # IR < 4 lists weights among the graph inputs; they are not inputs a caller feeds.
    inputs = [t for t in inputs if t.name not in initializers]
    return OnnxModelInfo(ir_version, producer, opsets, tuple(ops.items()), tuple(inputs),
                         tuple(outputs))


def _node(r: _Reader, span: tuple[int, int]) -> tuple[str, str]:
    op_type, domain = "", ""
    for number, wire, value in r.fields(*span):
        if number == 4 and wire == LENGTH:
            op_type = r.text(value)
        elif number == 7 and wire == LENGTH:
            domain = r.text(value)
    if not op_type:
        r.fail("a node without an op_type")
    return op_type, domain


def _value_info(r: _Reader, span: tuple[int, int]) -> OnnxTensor:
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
    return OnnxTensor(name, tuple(shape), dtype)


def _dim(r: _Reader, span: tuple[int, int]) -> int | str:
    for number, wire, value in r.fields(*span):
        if number == 1 and wire == VARINT:
            return value
        if number == 2 and wire == LENGTH:
            return r.text(value)
    return "?"
