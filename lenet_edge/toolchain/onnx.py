"""Export LeNet-5 to ONNX (tf2onnx) and quantise it (onnxruntime static QDQ): recipes as data.

`tf2onnx.convert.from_keras` fails on Keras 3 models; `from_function` on the forward pass
of `toolchain.forward` works (0.2-0.7 s measured) and keeps the batch dimension free.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lenet_edge.toolchain.forward import INPUT_NAME

# 13 is the first opset whose QuantizeLinear takes a per-channel axis (onnx-int8 needs it);
# 18 is the newest tf2onnx 1.17 can emit. 17 runs on every onnxruntime >= 1.13.
SUPPORTED_OPSETS = range(13, 19)
DEFAULT_OPSET = 17


@dataclass(frozen=True)
class ONNXRecipe:
    """How to derive one ONNX variant from the float export."""

    quantize: bool = False  # onnxruntime.quantization.quantize_static on calibration images
    quant_format: str = "QDQ"  # a QuantFormat member: QuantizeLinear/DequantizeLinear pairs
    per_channel: bool = True  # one weight scale per output channel
    activation_type: str = "QInt8"  # QuantType members
    weight_type: str = "QInt8"
    calibrate_method: str = "MinMax"  # a CalibrationMethod member
    # onnx-int8-mixed: layers revert to float until the gates pass (toolchain/mixed_precision.py)
    accuracy_gated: bool = False

    @property
    def calibrate(self) -> bool:
        return self.quantize

    def as_manifest(self) -> dict:
        return asdict(self) if self.quantize else {"quantize": False}


RECIPES: dict[str, ONNXRecipe] = {
    "onnx-fp32": ONNXRecipe(),
    "onnx-int8": ONNXRecipe(quantize=True),
    "onnx-int8-mixed": ONNXRecipe(quantize=True, accuracy_gated=True),
}


def export_float_onnx(forward, opset: int = DEFAULT_OPSET) -> bytes:
    """The forward pass (`forward.forward_function`) as float32 ONNX, fully checked.

    `onnx.checker.check_model(full_check=True)` also runs ONNX shape inference.
    """
    import onnx
    import tf2onnx

    spec = forward.input_signature
    # tf2onnx logs each op it cannot convert as an ERROR line, then raises: the exception is
    # what convert reports (in one line, naming the layer), so the log lines stay quiet.
    tf2onnx_logger = logging.getLogger("tf2onnx")
    level = tf2onnx_logger.level
    tf2onnx_logger.setLevel(logging.CRITICAL)
    try:
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=opset)
    finally:
        tf2onnx_logger.setLevel(level)
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


class _CalibrationReader:
    """An onnxruntime CalibrationDataReader over preprocessed images, in batches.

    MinMax calibration keeps the running min and max of every tensor, so batching changes no
    range; it makes calibration ~7x faster than one image per session run (measured, 500
    Fashion-MNIST images: 0.24 s vs 1.8 s). The histogram methods (Entropy, Percentile)
    stack every batch's outputs into one array, so their batches must be of one size: the
    largest divisor of the image count up to BATCH.
    """

    BATCH = 64

    def __init__(self, images: np.ndarray, equal_batches: bool = False):
        self._images = images
        self._step = self.BATCH
        if equal_batches:
            self._step = max(d for d in range(1, self.BATCH + 1) if len(images) % d == 0)
        self._batches: Iterator[np.ndarray] = iter(())
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}

    def rewind(self) -> None:
        step = self._step
        self._batches = (self._images[i : i + step] for i in range(0, len(self._images), step))


def export_onnx(float_onnx: bytes, recipe: ONNXRecipe, calibration: np.ndarray | None) -> bytes:
    """Apply `recipe` to the float export: returned as is, or statically quantised.

    Args:
        float_onnx: bytes from `export_float_onnx`.
        recipe: a row of RECIPES (an accuracy-gated one: mixed_precision.search makes it).
        calibration: float32 (N, 28, 28, 1) training images through `data.preprocess`.
    """
    if not recipe.quantize:
        return float_onnx
    if recipe.accuracy_gated:
        raise ValueError("an accuracy-gated recipe is built by mixed_precision.search")
    return quantize(prepare(float_onnx), recipe, calibration)


def prepare(float_onnx: bytes) -> bytes:
    """onnxruntime's recommended pre-pass: ONNX shape inference plus graph fusions.

    MatMul+Add -> Gemm, so each dense layer gets one int32 bias. Symbolic shape inference
    needs sympy and adds nothing for a static CNN, so it is skipped. Its node names are what
    quantize_static's nodes_to_exclude names.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="lenet-edge-onnx-") as tmp:
        source, prepared = Path(tmp) / "f.onnx", Path(tmp) / "p.onnx"
        source.write_bytes(float_onnx)
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        return prepared.read_bytes()


def quantize(prepared: bytes, recipe: ONNXRecipe, calibration: np.ndarray | None,
             nodes_to_exclude: Sequence[str] = ()) -> bytes:
    """quantize_static on a `prepare`d model, `nodes_to_exclude` left in float; checked."""
    if calibration is None or not len(calibration):
        raise ValueError("this recipe calibrates: calibration images are required")
    import onnx
    from onnxruntime import quantization as q

    with tempfile.TemporaryDirectory(prefix="lenet-edge-onnx-") as tmp:
        source, quantized = Path(tmp) / "p.onnx", Path(tmp) / "q.onnx"
        source.write_bytes(prepared)
        histogram = recipe.calibrate_method != "MinMax"
        # The histogram calibrators print progress to stdout, where `convert --json` writes.
        with contextlib.redirect_stdout(io.StringIO()):
            q.quantize_static(
                str(source),
                str(quantized),
                _CalibrationReader(calibration, equal_batches=histogram),
                quant_format=getattr(q.QuantFormat, recipe.quant_format),
                per_channel=recipe.per_channel,
                activation_type=getattr(q.QuantType, recipe.activation_type),
                weight_type=getattr(q.QuantType, recipe.weight_type),
                calibrate_method=getattr(q.CalibrationMethod, recipe.calibrate_method),
                nodes_to_exclude=list(nodes_to_exclude),
            )
        data = quantized.read_bytes()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data
