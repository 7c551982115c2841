"""What a .tflite file declares (ops, minimum runtime, inputs, outputs), read with no TensorFlow.

A .tflite file is a FlatBuffer laid out by TensorFlow Lite's `schema.fbs`. The device may have
only tflite-runtime, which ships neither the `flatbuffers` package nor the schema module, so
this module walks the few tables it needs itself with `struct`. Every read is bounds-checked:
a file that is not a TFLite model (empty, truncated, random bytes, an HTML error page saved as
.tflite) raises ModelError, never IndexError or struct.error.

FlatBuffer layout in brief (little-endian): the file starts with a uint32 offset to the root
table, then the 4-byte identifier "TFL3". A table starts with an int32 pointing back to its
vtable: uint16 vtable size, uint16 table size, then one uint16 per field (0 = field absent,
else the field's offset inside the table). Strings, vectors and sub-tables are stored as a
uint32 offset relative to where that offset itself sits; a vector is a uint32 length followed
by its elements.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from lenet_edge.errors import ModelError

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
MIN_RUNTIME_VERSION_KEY = "min_runtime_version"

# BuiltinOperator enum of schema.fbs, indexed by code (0..161; codes are contiguous).
# Later codes (StableHLO ops) are reported as BUILTIN_<code>.
BUILTIN_OPS: tuple[str, ...] = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",
    "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX",
    "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT",
    "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
    "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT",
    "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT",
    "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL",
    "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE",
    "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND",
    "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE",
    "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
    "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO",
    "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND",
    "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE",
    "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM",
    "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
)
_CUSTOM = BUILTIN_OPS.index("CUSTOM")

# TensorType enum of schema.fbs, as numpy-style names.
TENSOR_TYPES: tuple[str, ...] = (
    "float32", "float16", "int32", "uint8", "int64", "string", "bool", "int16", "complex64",
    "int8", "float64", "complex128", "uint64", "resource", "variant", "uint32", "uint16",
    "int4", "bfloat16", "int2", "uint4", "float8_e4m3fn", "float8_e5m2",
)  # fmt: skip


@dataclass(frozen=True)
class TensorInfo:
    """A subgraph input or output: shape uses -1 for a dimension the model leaves open."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()

    @property
    def scale(self) -> float | None:
        """The per-tensor quantisation scale, or None (float tensor, or per-channel)."""
        return self.scales[0] if len(self.scales) == 1 else None

    @property
    def zero_point(self) -> int | None:
        return self.zero_points[0] if len(self.zero_points) == 1 else None

    def as_manifest(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class TFLiteModelInfo:
    """What the flatbuffer declares about itself (main subgraph only)."""

    ops: tuple[tuple[str, int], ...]  # (op name, op version), in the file's order
    min_runtime_version: str | None
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    description: str | None = None


class _FlatBuffer:
    """Bounds-checked reads of FlatBuffer tables, vectors and strings."""

    def __init__(self, data: bytes, source: str):
        self.data = data
        self.source = source

    def fail(self, why: str) -> NoReturn:
        raise ModelError(f"{self.source}: not a valid TFLite model ({why})")

    def unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            self.fail(f"an offset points outside the {len(self.data)}-byte file")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def deref(self, pos: int) -> int:
        """Follow the uint32 offset stored at `pos` (relative to `pos`)."""
        return pos + self.unpack("I", pos)

    def field(self, table: int, index: int) -> int | None:
        """Position of field `index` of the table at `table`, or None if absent."""
        vtable = table - self.unpack("i", table)
        vtable_size = self.unpack("H", vtable)
        if vtable_size < 4 or vtable_size % 2:
            self.fail(f"malformed vtable at byte {vtable}")
        slot = 4 + 2 * index
        if slot >= vtable_size:
            return None
        offset = self.unpack("H", vtable + slot)
        if offset == 0:
            return None
        if offset >= self.unpack("H", vtable + 2):
            self.fail(f"a field of the table at byte {table} lies outside it")
        return table + offset

    def scalar(self, table: int, index: int, fmt: str, default: Any) -> Any:
        pos = self.field(table, index)
        return default if pos is None else self.unpack(fmt, pos)

    def table(self, table: int, index: int) -> int | None:
        pos = self.field(table, index)
        return None if pos is None else self.deref(pos)

    def vector(self, table: int, index: int, item_size: int) -> tuple[int, int]:
        """(start of elements, length) of a vector field; an absent vector is empty."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        head = self.deref(pos)
        length = self.unpack("I", head)
        if length * item_size > len(self.data) - head - 4:
            self.fail(f"a vector of {length} items at byte {head} runs past the end of the file")
        return head + 4, length

    def scalars(self, table: int, index: int, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        start, length = self.vector(table, index, size)
        return struct.unpack_from(f"<{length}{fmt}", self.data, start) if length else ()

    def tables(self, table: int, index: int) -> _Tables:
        start, length = self.vector(table, index, 4)
        return _Tables(self, start, length)

    def string(self, table: int, index: int) -> str | None:
        pos = self.field(table, index)
        if pos is None:
            return None
        head = self.deref(pos)
        length = self.unpack("I", head)
        if length > len(self.data) - head - 4:
            self.fail(f"a string at byte {head} runs past the end of the file")
        return self.data[head + 4 : head + 4 + length].decode("utf-8", errors="replace")

    def blob(self, buffer: int) -> bytes:
        """The bytes of a `Buffer` table: inline `data`, or `offset`/`size` past the flatbuffer."""
        start, length = self.vector(buffer, 0, 1)
        if length:
            return self.data[start : start + length]
        offset, size = self.scalar(buffer, 1, "Q", 0), self.scalar(buffer, 2, "Q", 0)
        if offset > 1 and size:  # offset 1 is the converter's "not yet placed" marker
            if offset + size > len(self.data):
                self.fail(f"a buffer of {size} bytes at byte {offset} runs past the end")
            return self.data[offset : offset + size]
        return b""


class _Tables(Sequence[int]):
    """A vector of sub-tables, followed only when indexed: a model can hold thousands of
    tensors and buffers, and a hostile file can claim millions."""

    def __init__(self, fb: _FlatBuffer, start: int, length: int):
        self._fb, self._start, self._length = fb, start, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):  # Sequence protocol: ints only (no slices needed here)
        if not 0 <= i < self._length:
            raise IndexError(i)
        return self._fb.deref(self._start + 4 * i)


def _op_codes(fb: _FlatBuffer, model: int) -> tuple[tuple[str, int], ...]:
    ops: list[tuple[str, int]] = []
    for code_table in fb.tables(model, 1):
        # schema.fbs: the real code is max(builtin_code, deprecated_builtin_code); the int8
        # deprecated field cannot hold codes above 127 and new files keep it at 127.
        code = max(fb.scalar(code_table, 0, "b", 0), fb.scalar(code_table, 3, "i", 0))
        version = fb.scalar(code_table, 2, "i", 1)
        if code == _CUSTOM:
            name = fb.string(code_table, 1) or "CUSTOM"
        elif 0 <= code < len(BUILTIN_OPS):
            name = BUILTIN_OPS[code]
        else:
            name = f"BUILTIN_{code}"
        if (name, version) not in ops:
            ops.append((name, version))
    return tuple(ops)


def _metadata(fb: _FlatBuffer, model: int, key: str) -> str | None:
    buffers = fb.tables(model, 4)
    for entry in fb.tables(model, 6):
        if fb.string(entry, 0) != key:
            continue
        index = fb.scalar(entry, 1, "I", 0)
        if index >= len(buffers):
            fb.fail(f"metadata {key!r} names buffer {index} of {len(buffers)}")
        # The converter pads the version string with NULs to a fixed width.
        return fb.blob(buffers[index]).split(b"\0", 1)[0].decode("ascii", errors="replace")
    return None


def _tensor(fb: _FlatBuffer, tensors: list[int], index: int) -> TensorInfo:
    if not 0 <= index < len(tensors):
        fb.fail(f"subgraph names tensor {index} of {len(tensors)}")
    tensor = tensors[index]
    shape = fb.scalars(tensor, 7, "i") or fb.scalars(tensor, 0, "i")  # signature keeps -1
    type_code = fb.scalar(tensor, 1, "b", 0)
    dtype = TENSOR_TYPES[type_code] if 0 <= type_code < len(TENSOR_TYPES) else f"type_{type_code}"
    quant = fb.table(tensor, 4)
    scales = fb.scalars(quant, 2, "f") if quant is not None else ()
    zero_points = fb.scalars(quant, 3, "q") if quant is not None else ()
    return TensorInfo(
        name=fb.string(tensor, 3) or f"tensor_{index}",
        shape=tuple(shape),
        dtype=dtype,
        scales=tuple(float(s) for s in scales),
        zero_points=tuple(int(z) for z in zero_points),
    )


def describe(data: bytes, source: str = "model") -> TFLiteModelInfo:
    """Read the op list, minimum runtime version and I/O tensors of a .tflite model.

    Args:
        data: the whole file's bytes.
        source: how to name the model in error messages (usually its path).

    Raises:
        ModelError: `data` is not a well-formed TFLite flatbuffer.
    """
    fb = _FlatBuffer(bytes(data), source)
    if len(data) < 8:
        fb.fail(f"{len(data)} bytes; a model holds at least a header of 8")
    if data[4:8] != FILE_IDENTIFIER:
        fb.fail(f"identifier {bytes(data[4:8])!r} at byte 4, expected {FILE_IDENTIFIER!r}; "
                f"file starts {bytes(data[:16])!r}")
    model = fb.deref(0)
    version = fb.scalar(model, 0, "I", 0)
    if version != SCHEMA_VERSION:
        fb.fail(f"schema version {version}, expected {SCHEMA_VERSION}")
    subgraphs = fb.tables(model, 2)
    if not subgraphs:
        fb.fail("no subgraphs")
    main = subgraphs[0]
    tensors = fb.tables(main, 0)
    return TFLiteModelInfo(
        ops=_op_codes(fb, model),
        min_runtime_version=_metadata(fb, model, MIN_RUNTIME_VERSION_KEY),
        inputs=tuple(_tensor(fb, tensors, i) for i in fb.scalars(main, 1, "i")),
        outputs=tuple(_tensor(fb, tensors, i) for i in fb.scalars(main, 2, "i")),
        description=fb.string(model, 3),
    )
