"""A .tflite model's operators and tensors, in execution order, with no TensorFlow.

`tflite.describe` lists which ops a model needs; `explain` needs the graph itself: each
operator's type and the tensors it reads and writes, and each tensor's name, type and
quantisation, so it can tap the output of every layer. Read with the same bounds-checked
FlatBuffer walker (`flatbuffer.py`): a malformed file is a ModelError, never an IndexError.

Fields (schema.fbs): SubGraph tensors=0, inputs=1, outputs=2, operators=3; Operator
opcode_index=0, inputs=1, outputs=2; OperatorCode as in tflite.py; Tensor as in tflite.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from lenet_edge.formats.flatbuffer import FlatBuffer
from lenet_edge.formats.tflite import BUILTIN_OPS, FILE_IDENTIFIER, TENSOR_TYPES

_CUSTOM = BUILTIN_OPS.index("CUSTOM")
_OPTIONAL = -1  # an operator input left out (e.g. a convolution without bias)


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    dtype: str  # numpy-style: float32, int8, int16, int32, ...
    scales: tuple[float, ...]  # one per tensor, one per channel, or none (float)
    zero_points: tuple[int, ...]


@dataclass(frozen=True)
class Operator:
    op: str  # BuiltinOperator name, e.g. CONV_2D, or a custom op's name
    inputs: tuple[int, ...]  # tensor indices; _OPTIONAL inputs are left out
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TfliteGraph:
    """The main subgraph: operators in the order the interpreter runs them."""

    operators: tuple[Operator, ...]
    tensors: tuple[Tensor, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def constants(self) -> set[int]:
        """Tensors no operator writes and the caller does not feed: weights, biases, shapes."""
        written = {i for op in self.operators for i in op.outputs}
        return {t.index for t in self.tensors} - written - set(self.inputs)


def read_graph(data: bytes, source: str = "model") -> TfliteGraph:
    """The operators and tensors of a .tflite model's first subgraph.

    Raises:
        ModelError: `data` is not a well-formed TFLite flatbuffer, or an operator names a
            tensor or an operator code that does not exist.
    """
    fb = FlatBuffer(bytes(data), source, "TFLite model")
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        fb.fail(f"no identifier {FILE_IDENTIFIER!r} at byte 4")
    model = fb.deref(0)
    codes = [_op_name(fb, table) for table in fb.tables(model, 1)]
    subgraphs = fb.tables(model, 2)
    if not subgraphs:
        fb.fail("no subgraphs")
    main = subgraphs[0]
    tensors = tuple(_tensor(fb, index, table) for index, table in enumerate(fb.tables(main, 0)))
    operators = []
    for table in fb.tables(main, 3):
        code = fb.scalar(table, 0, "I", 0)
        if code >= len(codes):
            fb.fail(f"an operator names op code {code} of {len(codes)}")
        inputs = tuple(i for i in fb.scalars(table, 1, "i") if i != _OPTIONAL)
        outputs = tuple(fb.scalars(table, 2, "i"))
        for i in (*inputs, *outputs):
            if not 0 <= i < len(tensors):
                fb.fail(f"an operator names tensor {i} of {len(tensors)}")
        operators.append(Operator(codes[code], inputs, outputs))
    return TfliteGraph(tuple(operators), tensors, tuple(fb.scalars(main, 1, "i")),
                       tuple(fb.scalars(main, 2, "i")))


def _op_name(fb: FlatBuffer, table: int) -> str:
    # As tflite._op_codes: the real code is the larger of the deprecated int8 field and the
    # int32 one (files from new converters keep the deprecated one at 127).
    code = max(fb.scalar(table, 0, "b", 0), fb.scalar(table, 3, "i", 0))
    if code == _CUSTOM:
        return fb.string(table, 1) or "CUSTOM"
    return BUILTIN_OPS[code] if 0 <= code < len(BUILTIN_OPS) else f"BUILTIN_{code}"


def _tensor(fb: FlatBuffer, index: int, table: int) -> Tensor:
    type_code = fb.scalar(table, 1, "b", 0)
    quant = fb.table(table, 4)
    return Tensor(
        index=index,
        name=fb.string(table, 3) or f"tensor_{index}",
        dtype=TENSOR_TYPES[type_code] if 0 <= type_code < len(TENSOR_TYPES)
        else f"type_{type_code}",
        scales=tuple(float(s) for s in fb.scalars(quant, 2, "f")) if quant is not None else (),
        zero_points=tuple(int(z) for z in fb.scalars(quant, 3, "q")) if quant is not None
        else (),
    )
