"""Cheap checks that bytes are a model of the claimed format, before any interpreter sees them.

These catch the files people actually end up with (empty, truncated downloads, a web page
saved as `.tflite`, random bytes) with a one-line message, so the interpreter is only ever
handed something shaped like a model. A TFLite file is walked by the pure-Python reader
(`lenet_edge.tflite_model`); an ONNX file only has its first byte checked (onnxruntime's
protobuf parser rejects the rest cleanly). TFLite's own flatbuffer verifier still runs on
load, and `inspect` probes files not from a bundle in a child process.
"""

from __future__ import annotations

from lenet_edge.errors import ModelError

TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8
# An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08. Producers write
# ir_version first in practice (protobuf serialises fields in number order).
ONNX_FIRST_BYTE = 0x08
_TEXT_STARTS = (b"<", b"{", b"[", b"#")


def detect_format(data: bytes, source: str = "model") -> str:
    """"tflite" or "onnx" from the bytes themselves; ModelError if neither."""
    if len(data) >= 8 and data[4:8] == TFLITE_IDENTIFIER:
        return "tflite"
    if data[:1] == bytes([ONNX_FIRST_BYTE]):
        return "onnx"
    raise ModelError(f"{source}: {_describe_non_model(data)}; expected a .tflite or .onnx model")


def check_model_bytes(data: bytes, fmt: str, source: str = "model") -> None:
    """Raise ModelError unless `data` looks like a model of format `fmt`."""
    if fmt == "tflite":
        if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
            raise ModelError(f"{source}: {_describe_non_model(data)}; expected a TFLite "
                             "flatbuffer (identifier 'TFL3' at byte 4)")
        from lenet_edge import tflite_model

        tflite_model.describe(data, source)  # walks the tables, bounds-checked: ModelError
    elif fmt == "onnx":
        if data[:1] != bytes([ONNX_FIRST_BYTE]) or len(data) < 16:
            raise ModelError(f"{source}: {_describe_non_model(data)}; expected an ONNX model "
                             "(a protobuf starting with its ir_version)")
    else:
        raise ModelError(f"{source}: unknown model format {fmt!r}; expected tflite or onnx")


def _describe_non_model(data: bytes) -> str:
    if not data:
        return "empty file"
    head = data[:64].lstrip()
    if head[:1] == b"<" and b"html" in data[:512].lower():
        return "an HTML page, not a model (a download that saved the web page?)"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive, not a model"
    if head.startswith(_TEXT_STARTS) or _mostly_text(data[:512]):
        return "text, not a model"
    if len(data) < 16:
        return f"only {len(data)} bytes: truncated"
    return "not a model file (unrecognised bytes)"


def _mostly_text(sample: bytes) -> bool:
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    return bool(sample) and printable / len(sample) > 0.95
