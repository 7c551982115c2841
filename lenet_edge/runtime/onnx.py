"""onnxruntime backend: float I/O (QDQ models quantise inside the graph)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_edge.errors import ModelError
from lenet_edge.runtime.runner_types import (
    DEFAULT_BATCH,
    IncompatibleModelError,
    PreparedCall,
    check_images,
    source_prefix,
)
from lenet_edge.runtime.runtimes import RuntimeSpec

_ONNX_DTYPES = {"float": "float32", "double": "float64", "float16": "float16"}
# Inputs this runner feeds: floats, or uint8 pixels (a graph that takes bytes and scales them
# itself; ONNX graph inputs carry no quantisation, so the values are the pixels 0-255, which
# input_adapter.py rounds before they are cast here).
_INPUT_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8"}
_CORRUPT = ("protobuf parsing failed", "invalid_protobuf", "invalid protobuf")


class OnnxRunner:
    """An onnxruntime CPU session behind the Runner protocol."""

    format = "onnx"

    @staticmethod
    def import_runtime(spec: RuntimeSpec) -> None:
        spec.require()

    def __init__(self, data: bytes, spec: RuntimeSpec, threads: int = 1,
                 source: str | None = None):
        ort = spec.require()
        self.runtime = spec.name
        self.runtime_version = spec.version()
        self.threads = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one small graph: nothing to run in parallel
        options.log_severity_level = 3  # errors only: warnings would interleave with tables
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises pybind classes outside any common base
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            if any(marker in text.lower() for marker in _CORRUPT):
                raise ModelError(f"{source_prefix(source)}onnxruntime rejected the file as "
                                 f"corrupt: {first}") from None
            raise IncompatibleModelError(
                f"onnxruntime {self.runtime_version} cannot load the model: {first}",
                self.runtime, self.runtime_version,
            ) from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"expected one input and one output, "
                             f"got {len(inputs)} and {len(outputs)}")
        if inputs[0].type not in _INPUT_DTYPES:
            raise ModelError(f"ONNX input is {inputs[0].type}; lenet-edge feeds "
                             f"{' or '.join(_INPUT_DTYPES)}")
        self._input = inputs[0].name
        shape = inputs[0].shape
        self.input_shape = tuple(int(d) for d in shape[1:])
        # A symbolic first dimension (tf2onnx writes e.g. 'unk__6') accepts any batch size.
        self._fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.input_dtype = _INPUT_DTYPES[inputs[0].type]
        element = outputs[0].type.removeprefix("tensor(").removesuffix(")")
        self.output_dtype = _ONNX_DTYPES.get(element, element)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return self._session.run(None, {self._input: x.astype(self.input_dtype,
                                                                  copy=False)})[0]
        except Exception as exc:  # see __init__: no common base class to catch
            raise IncompatibleModelError(
                f"onnxruntime {self.runtime_version} failed to run the model: "
                f"{str(exc).strip().splitlines()[0]}", self.runtime, self.runtime_version,
            ) from None

    def predict(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        images = check_images(images, self.input_shape)
        chunk = self._fixed_batch or max(1, batch_size)
        parts = []
        for start in range(0, len(images), chunk):
            part = images[start:start + chunk]
            n = len(part)
            if self._fixed_batch and n < chunk:
                part = np.concatenate([part, np.zeros((chunk - n, *self.input_shape), np.float32)])
            parts.append(self._run(part)[:n])
        return np.concatenate(parts).astype(np.float32, copy=False)

    def prepare(self, images: np.ndarray) -> PreparedCall:
        images = check_images(images, self.input_shape)
        if self._fixed_batch and len(images) != self._fixed_batch:
            raise IncompatibleModelError(
                f"the model's batch size is fixed at {self._fixed_batch}, cannot run "
                f"{len(images)}", self.runtime, self.runtime_version)
        feed = {self._input: images.astype(self.input_dtype, copy=False)}
        run_session = self._session.run
        self._run(images)  # first run allocates buffers for this shape: keep it out of timings

        def run() -> np.ndarray:
            return run_session(None, feed)[0]

        return PreparedCall(batch=len(images), run=run, invoke=run)

    def metadata(self) -> dict[str, Any]:
        return {
            "format": self.format, "runtime": self.runtime,
            "runtime_version": self.runtime_version, "threads": self.threads,
            "input": {"shape": list(self.input_shape), "dtype": self.input_dtype,
                      "scale": None, "zero_point": None},
            "output": {"dtype": self.output_dtype, "scale": None, "zero_point": None},
        }
