"""Edits to real converted models and bundles, for tests of what the runtime does with them.

A model "from a newer converter" is made by raising an operator's version in the
flatbuffer's operator_codes table: exactly what differs in a file a newer TensorFlow writes,
and what an older interpreter refuses by name ("Didn't find op for builtin opcode ...").
"""

from __future__ import annotations

import functools
import shutil
import struct
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.formats import tflite

FULLY_CONNECTED = tflite.BUILTIN_OPS.index("FULLY_CONNECTED")
# tflite-runtime 2.14 registers FULLY_CONNECTED up to version 11; ai-edge-litert 2.3 has 12
# (measured: a per-channel dynamic-range model needs 12 and loads only on the latter).
NEWER_FC_VERSION = 12


def _u32(data, pos):
    return struct.unpack_from("<I", data, pos)[0]


def _field(data: bytes, table: int, index: int) -> int | None:
    """Position of field `index` of the flatbuffer table at `table`, or None if absent."""
    vtable = table - struct.unpack_from("<i", data, table)[0]
    slot = 4 + 2 * index
    if slot >= struct.unpack_from("<H", data, vtable)[0]:
        return None
    offset = struct.unpack_from("<H", data, vtable + slot)[0]
    return table + offset if offset else None


def _model_vector(data: bytes, index: int) -> int:
    """Position of the length word of the Model table's vector field `index`."""
    root = _u32(data, 0)
    pos = _field(data, root, index)
    assert pos is not None, f"the model has no field {index}"
    return pos + _u32(data, pos)


def with_op_version(data: bytes, builtin_code: int, version: int) -> bytes:
    """`data` with every stored version of operator `builtin_code` set to `version`."""
    patched = bytearray(data)
    codes = _model_vector(data, 1)  # Model.operator_codes
    changed = 0
    for i in range(_u32(data, codes)):
        entry = codes + 4 + 4 * i
        table = entry + _u32(data, entry)
        code_pos, version_pos = _field(data, table, 3), _field(data, table, 2)
        code = struct.unpack_from("<i", data, code_pos)[0] if code_pos else None
        if code is None:  # old files keep the code in the int8 deprecated field 0
            code = struct.unpack_from("<b", data, _field(data, table, 0))[0]
        if code == builtin_code and version_pos is not None:
            struct.pack_into("<i", patched, version_pos, version)
            changed += 1
    assert changed, "no stored version of that operator to change (version 1 is implicit)"
    return bytes(patched)


def with_signature_defs_length(data: bytes, length: int) -> bytes:
    """`data` with the length of the Model's signature_defs vector (field 7) replaced."""
    patched = bytearray(data)
    struct.pack_into("<I", patched, _model_vector(data, 7), length)
    return bytes(patched)


def replace_artifact(bundle_dir: Path, variant: str, data: bytes) -> None:
    """Write `data` as the variant's file and vouch for it in the manifest, as convert would."""
    manifest = bundle.read_manifest(bundle_dir)
    entry = manifest["artifacts"][variant]
    path = bundle_dir / entry["file"]
    bundle.write_bytes(path, data)
    entry.update(bundle.file_entry(path))
    if entry["format"] == "tflite":
        entry["ops"] = [list(op) for op in tflite.describe(data).ops]
    bundle.write_json(bundle_dir / bundle.MANIFEST, manifest)


@functools.cache
def newer_op_bundle(digits_bundle: Path) -> Path:
    """A copy of `digits_bundle` (made once, beside it) with int8's FULLY_CONNECTED at
    version 12, as a newer converter writes it: ai-edge-litert 2.3 runs it, tflite-runtime
    2.14 cannot. Read-only, like `digits_bundle`."""
    out = Path(digits_bundle).parent / "newer-op-bundle"
    shutil.copytree(digits_bundle, out)
    data = (out / bundle.read_manifest(out)["artifacts"]["int8"]["file"]).read_bytes()
    replace_artifact(out, "int8", with_op_version(data, FULLY_CONNECTED, NEWER_FC_VERSION))
    return out


def replace_reference(bundle_dir: Path, **arrays) -> None:
    """Rewrite reference.npz with some arrays replaced (images, labels, logits) and vouch
    for it in the manifest, as convert would: what is left to refuse it is the type check."""
    import io

    import numpy as np

    manifest = bundle.read_manifest(bundle_dir)
    path = bundle_dir / manifest["reference"]["file"]
    with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as npz:
        content = {key: npz[key] for key in npz.files}
    content.update(arrays)
    buf = io.BytesIO()
    np.savez_compressed(buf, **content)
    bundle.write_bytes(path, buf.getvalue())
    manifest["reference"].update(bundle.file_entry(path))
    bundle.write_json(bundle_dir / bundle.MANIFEST, manifest)


def with_class_penalty(data: bytes, label: int, logits: float) -> bytes:
    """A .tflite model whose class `label` scores `logits` lower on every image: the bias of
    its last FULLY_CONNECTED (the logits layer) lowered in place, in the bias's own type (an
    int32/int64 bias by `logits` over its per-channel scale), as a model that learned that
    class badly would score it. Nothing else in the file changes."""
    import numpy as np

    from lenet_edge.formats.flatbuffer import FlatBuffer
    from lenet_edge.formats.tflite_graph import read_graph

    graph = read_graph(data)
    logits_layer = [op for op in graph.operators if op.op == "FULLY_CONNECTED"][-1]
    bias = graph.tensors[logits_layer.inputs[2]]
    fb = FlatBuffer(data, "model", "TFLite model")
    model = fb.deref(0)
    tensor = fb.tables(fb.tables(model, 2)[0], 0)[bias.index]  # subgraph 0's tensors
    buffer = fb.tables(model, 4)[fb.scalar(tensor, 2, "I", 0)]  # Model.buffers[Tensor.buffer]
    start, size = fb.vector(buffer, 0, 1)
    if not size:  # stored past the flatbuffer (offset, size)
        start, size = fb.scalar(buffer, 1, "Q", 0), fb.scalar(buffer, 2, "Q", 0)
    values = np.frombuffer(data[start:start + size], dtype=bias.dtype).copy()
    if bias.dtype.startswith("float"):
        values[label] -= logits
    else:
        values[label] -= round(logits / bias.scales[label])
    patched = bytearray(data)
    patched[start:start + size] = values.tobytes()
    return bytes(patched)
