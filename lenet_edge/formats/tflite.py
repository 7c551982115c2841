"""The TFLite format: detect, check and describe a .tflite file with no TensorFlow.

A .tflite file is a FlatBuffer laid out by TensorFlow Lite's `schema.fbs`. The device may have
only tflite-runtime, which ships neither the `flatbuffers` package nor the schema module, so
this module walks the few tables it needs with the bounds-checked reader in `flatbuffer.py`:
a file that is not a TFLite model raises ModelError, never IndexError or struct.error.

Tables read (field numbers from schema.fbs): Model version=0, operator_codes=1, subgraphs=2,
description=3, buffers=4, metadata=6; OperatorCode deprecated_builtin_code=0, custom_code=1,
version=2, builtin_code=3; SubGraph tensors=0, inputs=1, outputs=2; Tensor shape=0, type=1,
name=3, quantization=4 {scale=2, zero_point=3}, shape_signature=7; Buffer data=0, offset=1,
size=2; Metadata name=0, buffer=1.
"""

from __future__ import annotations

from lenet_edge.errors import ModelError
from lenet_edge.formats.description import ModelDescription, TensorInfo
from lenet_edge.formats.flatbuffer import FlatBuffer, Tables
from lenet_edge.formats.sniff import what_it_is

NAME = "tflite"
SUFFIX = ".tflite"
FILE_IDENTIFIER = b"TFL3"  # bytes 4..8 of every TFLite file
SCHEMA_VERSION = 3
MIN_RUNTIME_VERSION_KEY = "min_runtime_version"
_KIND = "TFLite model"

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


def detects(data: bytes) -> bool:
    """Whether `data` carries the TFLite file identifier (nothing else is read)."""
    return len(data) >= 8 and data[4:8] == FILE_IDENTIFIER


def check(data: bytes, source: str = "model") -> None:
    """Raise a one-line ModelError unless `data` is a well-formed TFLite flatbuffer.

    Walks every table `describe` reads (a few milliseconds for LeNet), so an interpreter is
    only ever handed something shaped like a model; its own verifier still runs on load.
    """
    if not detects(data):
        raise ModelError(f"{source}: {what_it_is(data)}; expected a TFLite "
                         "flatbuffer (identifier 'TFL3' at byte 4)")
    describe(data, source)


def describe(data: bytes, source: str = "model") -> ModelDescription:
    """Read the op list, minimum runtime version and I/O tensors of a .tflite model.

    Args:
        data: the whole file's bytes.
        source: how to name the model in error messages (usually its path).

    Raises:
        ModelError: `data` is not a well-formed TFLite flatbuffer.
    """
    fb = FlatBuffer(bytes(data), source, _KIND)
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
    main = subgraphs[0]  # the model's entry point; LeNet has no others
    tensors = fb.tables(main, 0)
    ops = _op_codes(fb, model)
    min_runtime = _metadata(fb, model, MIN_RUNTIME_VERSION_KEY)
    return ModelDescription(
        format=NAME,
        inputs=tuple(_tensor(fb, tensors, i) for i in fb.scalars(main, 1, "i")),
        outputs=tuple(_tensor(fb, tensors, i) for i in fb.scalars(main, 2, "i")),
        ops=ops,
        min_runtime_version=min_runtime,
        requirements={MIN_RUNTIME_VERSION_KEY: min_runtime, "ops": [list(op) for op in ops]},
        details={"description": fb.string(model, 3)},
    )


def _op_codes(fb: FlatBuffer, model: int) -> tuple[tuple[str, int], ...]:
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


def _metadata(fb: FlatBuffer, model: int, key: str) -> str | None:
    buffers = fb.tables(model, 4)
    for entry in fb.tables(model, 6):
        if fb.string(entry, 0) != key:
            continue
        index = fb.scalar(entry, 1, "I", 0)
        if index >= len(buffers):
            fb.fail(f"metadata {key!r} names buffer {index} of {len(buffers)}")
        # The converter pads the version string with NULs to a fixed width.
        return _blob(fb, buffers[index]).split(b"\0", 1)[0].decode("ascii", errors="replace")
    return None


def _blob(fb: FlatBuffer, buffer: int) -> bytes:
    """The bytes of a `Buffer` table: inline `data`, or `offset`/`size` past the flatbuffer."""
    start, length = fb.vector(buffer, 0, 1)
    if length:
        return fb.data[start : start + length]
    offset, size = fb.scalar(buffer, 1, "Q", 0), fb.scalar(buffer, 2, "Q", 0)
    if offset > 1 and size:  # offset 1 is the converter's "not yet placed" marker
        if offset + size > len(fb.data):
            fb.fail(f"a buffer of {size} bytes at byte {offset} runs past the end")
        return fb.data[offset : offset + size]
    return b""


def _tensor(fb: FlatBuffer, tensors: Tables, index: int) -> TensorInfo:
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
