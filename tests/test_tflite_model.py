"""The TF-free .tflite reader: real converted models, hand-built flatbuffers, and garbage.

The oracle for well-formed files is the `flatbuffers` package with the schema module that
ai-edge-litert ships (the device may have neither, which is why the reader exists).
"""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lenet_edge import bundle
from lenet_edge.errors import ModelError
from lenet_edge.formats.tflite import BUILTIN_OPS, TENSOR_TYPES, describe

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

flatbuffers = pytest.importorskip("flatbuffers")
schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter

TFLITE_VARIANTS = ("fp32", "fp16", "dynamic", "int8", "int16x8")


def _enum(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_")}


def build(model) -> bytes:
    """Serialise a schema `ModelT` the way the converter does (identifier TFL3)."""
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tiny_model(op_codes=(), metadata=None, quant=None, shape_signature=None):
    """A one-tensor model: enough tables to exercise every field the reader follows."""
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes = list(op_codes)
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.type = "x", [1, 4], schema.TensorType.INT8
    tensor.shapeSignature = shape_signature
    if quant:
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = quant
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.inputs, subgraph.outputs, subgraph.operators = [tensor], [0], [0], []
    model.subgraphs = [subgraph]
    model.buffers = [schema.BufferT()]
    if metadata is not None:
        buffer = schema.BufferT()
        buffer.data = list(metadata)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = "min_runtime_version", 1
        model.metadata = [entry]
    return model


def op_code(builtin: int, deprecated: int, version: int = 1, custom: str | None = None):
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, deprecated, version
    code.customCode = custom
    return code


# --- the name tables match the schema ------------------------------------------------------


def test_builtin_op_names_match_the_schema_enum():
    names = _enum(schema.BuiltinOperator)
    assert {code: names[code] for code in range(len(BUILTIN_OPS))} == dict(enumerate(BUILTIN_OPS))


def test_tensor_type_names_match_the_schema_enum():
    names = _enum(schema.TensorType)
    assert [names[i].lower() for i in range(len(TENSOR_TYPES))] == list(TENSOR_TYPES)


# --- hand-built models: each field the reader interprets -----------------------------------


def test_op_code_is_the_larger_of_builtin_and_deprecated_code():
    # New converters store codes > 127 in builtin_code and 127 (the placeholder) in the
    # deprecated int8 field; old ones store the code only in the deprecated field.
    codes = [op_code(9, 9, 4), op_code(0, 114, 2), op_code(150, 127, 1), op_code(300, 127)]
    info = describe(build(tiny_model(codes)))
    assert info.ops == (("FULLY_CONNECTED", 4), ("QUANTIZE", 2), (BUILTIN_OPS[150], 1),
                        ("BUILTIN_300", 1))


def test_custom_op_is_named_by_its_custom_code():
    info = describe(build(tiny_model([op_code(32, 32, 1, custom="MyOp")])))
    assert info.ops == (("MyOp", 1),)


def test_min_runtime_version_strips_the_nul_padding():
    info = describe(build(tiny_model(metadata=b"1.14.0".ljust(16, b"\0"))))
    assert info.min_runtime_version == "1.14.0"
    assert describe(build(tiny_model())).min_runtime_version is None


def test_tensor_quantisation_and_shape_signature():
    info = describe(build(tiny_model(quant=([0.5], [3]), shape_signature=[-1, 4])))
    (tensor,) = info.inputs
    assert (tensor.name, tensor.shape, tensor.dtype) == ("x", (-1, 4), "int8")
    assert (tensor.scale, tensor.zero_point) == (0.5, 3)
    assert tensor.as_manifest() == {"name": "x", "shape": [-1, 4], "dtype": "int8",
                                    "scale": 0.5, "zero_point": 3}
    per_channel = describe(build(tiny_model(quant=([0.5, 0.25], [0, 0])))).inputs[0]
    assert per_channel.scale is None and per_channel.scales == (0.5, 0.25)


# --- real converted models ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tflite_files(digits_bundle) -> dict[str, bytes]:
    manifest = bundle.read_manifest(digits_bundle)
    return {name: bundle.read_verified(digits_bundle, manifest["artifacts"][name])
            for name in TFLITE_VARIANTS}


@pytest.mark.parametrize("variant", TFLITE_VARIANTS)
def test_reader_agrees_with_the_schema_module_and_the_interpreter(tflite_files, variant):
    data = tflite_files[variant]
    info = describe(data, variant)

    model = schema.Model.GetRootAs(data, 0)
    names = _enum(schema.BuiltinOperator)
    expected_ops = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        op = (names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())], code.Version())
        if op not in expected_ops:
            expected_ops.append(op)
    assert list(info.ops) == expected_ops
    metadata = {model.Metadata(i).Name().decode(): model.Metadata(i).Buffer()
                for i in range(model.MetadataLength())}
    version_bytes = model.Buffers(metadata["min_runtime_version"]).DataAsNumpy().tobytes()
    assert info.min_runtime_version == version_bytes.rstrip(b"\0").decode()

    interpreter = Interpreter(model_content=data)
    for ours, theirs in ((info.inputs, interpreter.get_input_details()),
                         (info.outputs, interpreter.get_output_details())):
        assert len(ours) == len(theirs) == 1
        assert ours[0].name == theirs[0]["name"]
        assert list(ours[0].shape) == theirs[0]["shape_signature"].tolist()
        assert ours[0].dtype == theirs[0]["dtype"].__name__
        scale, zero_point = theirs[0]["quantization"]
        assert (ours[0].scale or 0.0, ours[0].zero_point or 0) == (scale, zero_point)


def test_int8_model_takes_and_gives_int8_with_the_preprocessing_scale(tflite_files):
    info = describe(tflite_files["int8"])
    image, logits = info.inputs[0], info.outputs[0]
    assert (image.dtype, logits.dtype) == ("int8", "int8")
    # data.preprocess maps 0..255 to [0, 1]: calibration sees exactly that range, so the
    # input scale is one grey level (1/255) and 0.0 sits at -128. float32 rounding: 1e-6.
    assert image.scale == pytest.approx(1 / 255, rel=1e-6)
    assert image.zero_point == -128
    assert image.shape == (-1, 28, 28, 1)


def test_int16x8_model_quantises_inside_and_keeps_float_io(tflite_files):
    info = describe(tflite_files["int16x8"])
    assert {"QUANTIZE", "DEQUANTIZE"} <= {name for name, _ in info.ops}
    assert (info.inputs[0].dtype, info.outputs[0].dtype) == ("float32", "float32")


def test_manifest_records_what_the_reader_reads(digits_bundle, tflite_files):
    manifest = json.loads((digits_bundle / bundle.MANIFEST).read_text())
    for name, data in tflite_files.items():
        info, entry = describe(data), manifest["artifacts"][name]
        assert entry["ops"] == [list(op) for op in info.ops]
        assert entry["min_runtime_version"] == info.min_runtime_version
        assert entry["inputs"] == [t.as_manifest() for t in info.inputs]


# --- garbage: ModelError with a clear message, never another exception ---------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "0 bytes"),
        (b"\x18\x00\x00\x00TFL", "7 bytes"),
        (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "expected b'TFL3'"),
        (b"\x08\x00\x00\x00ONNX" + bytes(64), "expected b'TFL3'"),
        (b"\xff\xff\xff\x7fTFL3" + bytes(8), "outside"),
    ],
    ids=["empty", "header-only", "html", "other-identifier", "root-out-of-range"],
)
def test_garbage_raises_model_error_naming_the_source(data, says):
    with pytest.raises(ModelError, match="not a valid TFLite model") as excinfo:
        describe(data, "lenet5.tflite")
    assert str(excinfo.value).startswith("lenet5.tflite: ")
    assert says in str(excinfo.value)


def _describe_or_model_error(data: bytes) -> None:
    with contextlib.suppress(ModelError):  # a ModelError is the allowed outcome
        describe(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_model_error(data):
    _describe_or_model_error(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_behind_a_valid_header_raise_only_model_error(tail):
    # The identifier check passes, so every table/vector walk meets random offsets.
    _describe_or_model_error(b"\x0c\x00\x00\x00TFL3" + tail)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_truncated_or_bit_flipped_real_models_raise_only_model_error(tflite_files, data):
    model = tflite_files[data.draw(st.sampled_from(TFLITE_VARIANTS))]
    cut = data.draw(st.integers(0, len(model) - 1))
    _describe_or_model_error(model[:cut])
    if cut < 8:
        with pytest.raises(ModelError):
            describe(model[:cut])
    flipped = bytearray(model)
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1)))
    for _ in range(data.draw(st.integers(1, 8))):
        # Flip bits where the tables live: the converter puts them in the first and last
        # few KiB, the weights in between (where a flip changes numbers, not structure).
        near = rng.randrange(4096)
        flipped[rng.choice([near, len(model) - 1 - near])] ^= 1 << rng.randrange(8)
    _describe_or_model_error(bytes(flipped))
