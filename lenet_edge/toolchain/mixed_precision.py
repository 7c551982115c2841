"""Accuracy-gated mixed precision: int8, with the fewest layers kept in float that pass the gates.

The search, after NNCF's quantize_with_accuracy_control, with each converter's own mechanics
to keep a layer in float: TFLite's QuantizationDebugOptions.denylisted_nodes (the debugger
calibrates once, then only re-quantises) and onnxruntime's quantize_static nodes_to_exclude.

1. quantise everything and judge it on the held-out slice (splits.py) with the gates;
2. measure each weighted layer's sensitivity: the top-1 agreement gained when that layer
   alone stays float (error statistics do not find it: on Fashion-MNIST the first
   convolution has the smallest rmse/scale of the five and the largest gain, issue 12);
3. keep the most sensitive layer in float, then the two most sensitive, ... until a mix
   passes; stop there. At most all layers but one: a model with every layer in float is
   the float model. Each try is one quantisation and one evaluation on the held-out slice.

Measured (TF 2.21, 2 loaded cores): int8-mixed's search takes 0.7 s on digits (100 held-out
images, six tries) and 5 s on Fashion-MNIST (5,931 images, eight tries).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from lenet_edge.conversion_records import FloatLayer, Trial
from lenet_edge.gates import Gates
from lenet_edge.runtime.layer_match import keras_layer
from lenet_edge.toolchain import onnx as onnx_export
from lenet_edge.toolchain import tflite as tflite_export
from lenet_edge.toolchain.splits import images_sha256

# Ops with weights: the layers a mixed variant may keep in float.
WEIGHTED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})


@dataclass(frozen=True)
class HeldOut:
    """The images the candidates are judged on, with the float model's answers."""

    images: np.ndarray  # float32 (N, 28, 28, 1), through data.preprocess
    labels: np.ndarray  # int (N,)
    float_logits: np.ndarray  # float32 (N, 10), the Keras model's

    def judge(self, logits: np.ndarray, float_layers: Sequence[str], gates: Gates) -> Trial:
        """A candidate's agreement and accuracy change versus float, and the gates' verdict."""
        predicted = logits.argmax(1)
        agreement = float(np.mean(predicted == self.float_logits.argmax(1)))
        delta = 100 * float(np.mean(predicted == self.labels)
                            - np.mean(self.float_logits.argmax(1) == self.labels))
        return Trial(tuple(float_layers), agreement, delta, not gates.failures(delta, agreement))


def held_out_slice(dataset, indices: np.ndarray, split: str, to_input: Callable,
                   float_outputs: Callable) -> tuple[HeldOut, dict]:
    """The training images at `indices` as a HeldOut, and the manifest's record of them.

    `to_input` turns uint8 images into the model's input; `float_outputs` runs the float model.
    """
    raw = np.asarray(dataset.x_train)[indices]
    images = to_input(raw)
    held = HeldOut(images=images, labels=np.asarray(dataset.y_train)[indices],
                   float_logits=np.asarray(float_outputs(images)))
    return held, {"images": len(raw), "split": split, "images_sha256": images_sha256(raw)}


@dataclass(frozen=True)
class Layer:
    """A weighted layer of the calibrated model: its Keras name and its output tensor."""

    name: str
    node: str  # what QuantizationDebugOptions.denylisted_nodes names


@dataclass(frozen=True)
class MixedResult:
    """What the search found: `model` passed the gates if `passed`, else it is the best try."""

    model: bytes
    passed: bool
    float_layers: tuple[FloatLayer, ...]
    sensitivity: dict[str, float]  # Keras layer -> agreement gained alone in float
    int8: Trial
    result: Trial
    trials: tuple[Trial, ...]

    def record(self, gates: Gates, held_out: dict) -> dict:
        """The manifest's `mixed_precision` field (conversion_records.MixedPrecisionRecord)."""
        return {
            "gates": gates.to_dict(), "held_out": held_out,
            "float_layers": [{"layer": f.layer, "node": f.node,
                              "agreement_gain": round(f.agreement_gain, 6)}
                             for f in self.float_layers],
            "int8": self.int8.to_dict(), "result": self.result.to_dict(),
            "trials": [trial.to_dict() for trial in self.trials],
        }


class Quantiser(Protocol):
    """One format's mechanics: its weighted layers, a model with some in float, its logits."""

    layers: list[Layer]

    def build(self, float_layers: Sequence[Layer]) -> bytes: ...

    def run(self, model: bytes, images: np.ndarray) -> np.ndarray: ...


def search(quantiser: Quantiser, held_out: HeldOut, gates: Gates) -> MixedResult:
    """Find the fewest float layers (most sensitive first) with which int8 passes `gates`.

    Args:
        quantiser: tflite_quantiser(...) or onnx_quantiser(...).
        held_out: where candidates are judged; not the test set.
        gates: the same gates verify applies.
    """
    def attempt(float_layers: Sequence[Layer]) -> tuple[bytes, Trial]:
        model = quantiser.build(float_layers)
        trial = held_out.judge(quantiser.run(model, held_out.images),
                               [layer.name for layer in float_layers], gates)
        return model, trial

    layers = quantiser.layers
    tried = [attempt([])]
    alone = {layer.name: attempt([layer]) for layer in layers}
    int8 = tried[0][1]
    sensitivity = {name: trial.agreement - int8.agreement for name, (_, trial) in alone.items()}
    # Most sensitive first; a tie keeps graph order (the earlier layer feeds more of the net).
    ranked = sorted(layers, key=lambda layer: -sensitivity[layer.name])
    if not int8.passed:
        for count in range(1, len(layers)):
            tried.append(alone[ranked[0].name] if count == 1 else attempt(ranked[:count]))
            if tried[-1][1].passed:
                break
    model, result = tried[-1]
    if not result.passed:  # nothing passed: keep the try closest to the float model
        model, result = max([*tried, *alone.values()], key=lambda t: (
            t[1].agreement, t[1].delta_points, -len(t[1].float_layers)))
    kept = [layer for layer in ranked if layer.name in result.float_layers]
    return MixedResult(
        model=model, passed=result.passed,
        float_layers=tuple(FloatLayer(layer.name, layer.node, sensitivity[layer.name])
                           for layer in kept),
        sensitivity={name: round(gain, 6) for name, gain in sensitivity.items()},
        int8=int8, result=result,
        trials=(int8, *(trial for _, trial in alone.values()),
                *(trial for _, trial in tried[2:])),
    )


class TfliteQuantiser:
    """TFLite: QuantizationDebugger calibrates once; each build only re-quantises (~10 ms)."""

    def __init__(self, frozen, recipe: tflite_export.TFLiteRecipe, calibration: np.ndarray):
        import tensorflow as tf

        self._debug = tf.lite.experimental
        with tflite_export.quiet_converter():
            converter = tflite_export.converter_for(
                frozen, replace(recipe, accuracy_gated=False), calibration)
            # fully_quantize=False: float input and output (QUANTIZE/DEQUANTIZE inside), see
            # the int8-mixed recipe. int8's decisions are the same: dequantising is monotonic.
            self._debugger = self._debug.QuantizationDebugger(
                converter=converter,
                debug_dataset=tflite_export.representative_dataset(calibration),
                debug_options=self._debug.QuantizationDebugOptions(fully_quantize=False))
            self.layers = weighted_layers(self._debugger.calibrated_model)

    def build(self, float_layers: Sequence[Layer]) -> bytes:
        with tflite_export.quiet_converter():
            self._debugger.options = self._debug.QuantizationDebugOptions(
                fully_quantize=False, denylisted_nodes=[layer.node for layer in float_layers])
            return self._debugger.get_nondebug_quantized_model()

    def run(self, model: bytes, images: np.ndarray) -> np.ndarray:
        return run_tflite(model, images)


class OnnxQuantiser:
    """ONNX: quantize_static with nodes_to_exclude; each build calibrates again (~0.3 s)."""

    WEIGHTED = frozenset({"Conv", "Gemm", "MatMul"})

    def __init__(self, float_onnx: bytes, recipe: onnx_export.ONNXRecipe,
                 calibration: np.ndarray):
        import onnx

        self._recipe = replace(recipe, accuracy_gated=False)
        self._calibration = calibration
        self._prepared = onnx_export.prepare(float_onnx)
        self.layers = []
        for node in onnx.load_from_string(self._prepared).graph.node:
            if node.op_type in self.WEIGHTED:
                name = keras_layer(node.name, *node.output) or node.name
                self.layers.append(Layer(name if name not in {x.name for x in self.layers}
                                         else node.name, node.name))

    def build(self, float_layers: Sequence[Layer]) -> bytes:
        return onnx_export.quantize(self._prepared, self._recipe, self._calibration,
                                    [layer.node for layer in float_layers])

    def run(self, model: bytes, images: np.ndarray) -> np.ndarray:
        import onnxruntime

        session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: images})[0]


def weighted_layers(calibrated: bytes) -> list[Layer]:
    """The weighted ops of a calibrated (still float) model, in graph order, named by layer.

    The Keras layer comes from the tensor names, as explain reads it (layer_match.keras_layer):
    the last dense layer's output is named "Identity", so its weights' names are asked too.
    Names must differ: they key the sensitivity record.
    """
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=calibrated)
    tensors = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    layers = []
    for op in interpreter._get_ops_details():  # as QuantizationDebugger does
        if op["op_name"] not in WEIGHTED_OPS:
            continue
        node = tensors[op["outputs"][0]]
        # inputs[0] is the activation coming in (the previous layer's name); then weights.
        name = keras_layer(node, *(tensors[i] for i in op["inputs"][1:] if i >= 0)) or node
        layers.append(Layer(name if name not in {x.name for x in layers} else node, node))
    return layers


def run_tflite(model: bytes, images: np.ndarray) -> np.ndarray:
    """Float logits of a TFLite model on float images, in one batch, int8 I/O applied."""
    import tensorflow as tf

    with warnings.catch_warnings():  # TF's interpreter moving to LiteRT: not ours to act on
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter = tf.lite.Interpreter(model_content=model)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], images.shape)
    interpreter.allocate_tensors()
    x = images
    if inp["dtype"] != np.float32:
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(images / scale) + zero, info.min, info.max).astype(inp["dtype"])
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    out = interpreter.get_output_details()[0]
    y = interpreter.get_tensor(out["index"])
    if out["dtype"] != np.float32:
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * scale
    return y
