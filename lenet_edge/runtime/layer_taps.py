"""Run a model on a device runtime and read chosen intermediate tensors, as float arrays.

`explain` compares every layer of a quantised model with the float model's; both runtimes
can show what a normal run keeps to itself:

- TFLite (ai_edge_litert, tflite_runtime): `experimental_preserve_all_tensors=True` keeps
  every intermediate tensor readable after `invoke()` (both 2.3 and 2.14 take it). The default
  op resolver stays on: with all tensors preserved, XNNPACK delegates op by op, and the final
  output was measured bit-identical to a plain run on ai-edge-litert 2.3 (int8, int16x8 and
  fp32). tflite-runtime 2.14 runs its built-in kernels instead; its float outputs then differ
  from a plain run by about 1e-6, its int8 outputs not at all.
- onnxruntime: the model is copied with the wanted values added as graph outputs
  (formats/onnx_graph.with_outputs; no `onnx` package) and run with graph optimisations off.
  Optimised, onnxruntime fuses QuantizeLinear/DequantizeLinear pairs into integer kernels,
  and which pairs it fuses changes when an intermediate becomes an output (the logits moved
  by 2 output quantisation steps on the digits bundle); unoptimised, every node runs as the
  QDQ graph defines it, the same whatever is tapped. `explain` reports how far that run's
  output is from the plain runner's.

Quantised tensors are dequantised with their own scale and zero point, so callers get float32.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from lenet_edge.errors import ModelError
from lenet_edge.formats import onnx_graph, tflite_graph
from lenet_edge.runtime.quantization import Quantization
from lenet_edge.runtime.runner_types import IMAGE_SHAPE, IncompatibleModelError, check_images
from lenet_edge.runtime.runtimes import RuntimeSpec
from lenet_edge.runtime.tflite import interpreter_class, load_error
from lenet_edge.stderr import native_stderr_silenced

BATCH = 128  # images per interpreter call: every preserved tensor of a batch stays in memory


class TfliteTaps:
    """A TFLite interpreter that keeps every tensor; `run` returns the ones asked for."""

    def __init__(self, data: bytes, spec: RuntimeSpec, tensors: Sequence[int],
                 source: str | None = None):
        graph = tflite_graph.read_graph(data, source or "model")
        interpreter = interpreter_class(spec)
        self.runtime, self.runtime_version = spec.name, spec.version()
        try:
            with native_stderr_silenced(), warnings.catch_warnings():
                # litert warns that preserving tensors costs memory: that is the point here.
                warnings.simplefilter("ignore", UserWarning)
                self._it = interpreter(model_content=data, num_threads=1,
                                       experimental_preserve_all_tensors=True)
                self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise load_error(exc, spec, self.runtime_version, source=source) from None
        inputs, outputs = self._it.get_input_details(), self._it.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"expected one input and one output tensor, "
                             f"got {len(inputs)} and {len(outputs)}")
        self._spec, self._in = spec, inputs[0]
        self._in_q = Quantization.from_tflite(self._in)
        self._taps = [(i, _tensor_quantization(graph.tensors[i], source)) for i in tensors]
        self._out = (outputs[0]["index"], Quantization.from_tflite(outputs[0]))
        self._shape = tuple(int(d) for d in self._in["shape"][1:])
        self._batch = int(self._in["shape"][0])

    def run(self, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(float value of each tapped tensor, float model output) for a batch of images."""
        images = check_images(images, self._shape)
        try:
            if len(images) != self._batch:
                self._it.resize_tensor_input(self._in["index"], [len(images), *self._shape])
                self._it.allocate_tensors()
                self._batch = len(images)
            self._it.set_tensor(self._in["index"],
                                self._in_q.quantize(images, self._in["dtype"]))
            self._it.invoke()
            taps = [q.dequantize(self._it.get_tensor(i)) for i, q in self._taps]
            index, q = self._out
            return taps, q.dequantize(self._it.get_tensor(index))
        except (ValueError, RuntimeError) as exc:
            raise load_error(exc, self._spec, self.runtime_version) from None


def _tensor_quantization(tensor: tflite_graph.Tensor, source: str | None) -> Quantization:
    """How to read a tensor back as float: as it is, or with its one scale and zero point."""
    if tensor.dtype.startswith("float"):
        return Quantization()
    if len(tensor.scales) == 1 and len(tensor.zero_points) == 1:
        return Quantization(tensor.scales[0], tensor.zero_points[0])
    raise ModelError(f"{source or 'model'}: tensor {tensor.name!r} is {tensor.dtype} with "
                     f"{len(tensor.scales)} scales; explain reads per-tensor quantised "
                     "activations only")


class OnnxTaps:
    """An unoptimised onnxruntime session of a copy of the model that outputs `names` too."""

    def __init__(self, data: bytes, spec: RuntimeSpec, names: Sequence[str],
                 source: str | None = None):
        ort = spec.require()
        self.runtime, self.runtime_version = spec.name, spec.version()
        self._names = list(names)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        tapped = onnx_graph.with_outputs(data, self._names, source or "model")
        try:
            self._session = ort.InferenceSession(tapped, options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's pybind errors share no base class
            raise self._incompatible("cannot load the model with its layers as outputs",
                                     exc) from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(self._session.get_outputs()) != 1 + len(self._names):
            raise ModelError(f"{source or 'model'}: expected one input and one output")
        self._input = inputs[0].name

    def run(self, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(float value of each tapped value, float model output) for a batch of images."""
        images = check_images(images, IMAGE_SHAPE)
        try:
            final, *taps = self._session.run(None, {self._input: images})
        except Exception as exc:  # see __init__
            raise self._incompatible("failed to run the model", exc) from None
        return ([np.asarray(t, dtype=np.float32) for t in taps],
                np.asarray(final, dtype=np.float32))

    def _incompatible(self, what: str, exc: Exception) -> IncompatibleModelError:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return IncompatibleModelError(f"onnxruntime {self.runtime_version} {what}: {first}",
                                      self.runtime, self.runtime_version)
