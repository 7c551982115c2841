"""An .onnx model's nodes, and a copy of it that also returns chosen intermediate values.

onnxruntime returns only a graph's declared outputs, and a device has no `onnx` package to
add more. Protobuf makes it a splice: a repeated field may be appended anywhere in its
message, so the copy is the original bytes with one `output` (a ValueInfoProto holding only
a name) per value added to the graph, and the graph's length prefix rewritten. onnxruntime
accepts an output with no type and infers it (checked with onnxruntime 1.32).

Fields read (onnx.proto): ModelProto graph=7; GraphProto node=1 {input=1, output=2, name=3,
op_type=4, domain=7}, initializer=5 {data_type=2, float_data=4, int32_data=5, name=8,
raw_data=9}, input=11, output=12 {name=1}.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lenet_edge.formats.onnx import ELEMENT_TYPES
from lenet_edge.formats.protobuf import FIXED32, FIXED64, LENGTH, VARINT, Protobuf, Span

_KIND = "ONNX model"
_GRAPH, _NODE, _INITIALIZER, _INPUT, _OUTPUT = 7, 1, 5, 11, 12
# TensorProto.DataType of a quantisation parameter: (struct format, bytes) in raw_data.
_RAW_SCALARS = {1: ("f", 4), 2: ("B", 1), 3: ("b", 1), 4: ("H", 2), 5: ("h", 2), 6: ("i", 4)}


@dataclass(frozen=True)
class Node:
    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    domain: str = ""


@dataclass(frozen=True)
class OnnxGraph:
    """The nodes (topologically sorted, as ONNX requires) and the scalar initializers."""

    nodes: tuple[Node, ...]
    scalars: dict[str, float | int]  # one-element initializers: quantisation scales, zero points
    dtypes: dict[str, str]  # element type of each initializer, e.g. int8 for a zero point
    initializers: frozenset[str]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def values(self) -> set[str]:
        """Every value a node computes."""
        return {name for node in self.nodes for name in node.outputs if name}


def read_graph(data: bytes, source: str = "model") -> OnnxGraph:
    """The nodes and scalar initializers of an ONNX model; ModelError if malformed."""
    r = Protobuf(bytes(data), source, _KIND)
    graph = next((v for n, w, v in r.fields(0, len(r.data)) if n == _GRAPH and w == LENGTH),
                 None)
    if graph is None:
        r.fail("no graph")
    nodes, scalars, dtypes, inputs, outputs = [], {}, {}, [], []
    for number, wire, value in r.fields(*graph):
        if wire != LENGTH:
            continue
        if number == _NODE:
            nodes.append(_node(r, value))
        elif number == _INITIALIZER:
            name, dtype, scalar = _initializer(r, value)
            dtypes[name] = dtype
            if scalar is not None:
                scalars[name] = scalar
        elif number in (_INPUT, _OUTPUT):
            name = next((r.text(v) for n, w, v in r.fields(*value) if n == 1 and w == LENGTH),
                        "")
            (inputs if number == _INPUT else outputs).append(name)
    return OnnxGraph(tuple(nodes), scalars, dtypes, frozenset(dtypes),
                     tuple(i for i in inputs if i not in dtypes), tuple(outputs))


def with_outputs(data: bytes, names: list[str] | tuple[str, ...],
                 source: str = "model") -> bytes:
    """A copy of the model that also returns the values `names`, after its own outputs."""
    r = Protobuf(bytes(data), source, _KIND)
    out, pos, end = bytearray(), 0, len(r.data)
    while pos < end:
        key, start = r.varint(pos, end)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            _, after = r.varint(start, end)
        elif wire == LENGTH:
            length, payload = r.varint(start, end)
            after = payload + length
            if after > end:
                r.fail(f"field {number} runs past the end")
            if number == _GRAPH:
                extra = b"".join(_length_field(_OUTPUT, _length_field(1, name.encode()))
                                 for name in names)
                out += _length_field(_GRAPH, r.data[payload:after] + extra)
                pos = after
                continue
        elif wire in (FIXED32, FIXED64):
            after = start + (4 if wire == FIXED32 else 8)
        else:
            r.fail(f"wire type {wire} at byte {pos}")
        out += r.data[pos:after]
        pos = after
    return bytes(out)


def _node(r: Protobuf, span: Span) -> Node:
    inputs, outputs, name, op_type, domain = [], [], "", "", ""
    for number, wire, value in r.fields(*span):
        if wire != LENGTH:
            continue
        if number == 1:
            inputs.append(r.text(value))
        elif number == 2:
            outputs.append(r.text(value))
        elif number == 3:
            name = r.text(value)
        elif number == 4:
            op_type = r.text(value)
        elif number == 7:
            domain = r.text(value)
    if not op_type:
        r.fail("a node without an op_type")
    return Node(op_type, name, tuple(inputs), tuple(outputs), domain)


def _initializer(r: Protobuf, span: Span) -> tuple[str, str, float | int | None]:
    """(name, element type, value) of an initializer; the value only when it holds exactly
    one number."""
    name, data_type, found = "", 0, []
    for number, wire, value in r.fields(*span):
        if number == 8 and wire == LENGTH:
            name = r.text(value)
        elif number == 2 and wire == VARINT:
            data_type = value
        elif number == 9 and wire == LENGTH:  # raw_data, little-endian
            fmt, size = _RAW_SCALARS.get(data_type, ("", 0))
            if size and value[1] - value[0] == size:
                found.append(struct.unpack_from("<" + fmt, r.data, value[0])[0])
            else:
                found.extend([None, None])  # not one number (or a type read later)
        elif number == 4 and wire == LENGTH and value[1] - value[0] == 4:  # packed float_data
            found.append(struct.unpack_from("<f", r.data, value[0])[0])
        elif number == 5 and wire == VARINT:  # int32_data, unpacked
            found.append(_signed32(value))
        elif number == 5 and wire == LENGTH:  # int32_data, packed
            pos, values = value[0], []
            while pos < value[1]:
                v, pos = r.varint(pos, value[1])
                values.append(_signed32(v))
            found.extend(values)
    dtype = ELEMENT_TYPES.get(data_type, f"type_{data_type}")
    if len(found) == 1 and found[0] is not None:
        return name, dtype, found[0]
    return name, dtype, None


def _signed32(value: int) -> int:
    """A varint-encoded int32: negative numbers arrive as 64-bit two's complement."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _length_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | LENGTH) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)
