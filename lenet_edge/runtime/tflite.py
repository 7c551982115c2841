"""TFLite backend shared by ai_edge_litert and tflite_runtime (they expose the same API)."""

from __future__ import annotations

import importlib
import re
from typing import Any

import numpy as np

from lenet_edge.errors import ModelError
from lenet_edge.formats import tflite as tflite_format
from lenet_edge.runtime.quantization import Quantization
from lenet_edge.runtime.runner_types import (
    DEFAULT_BATCH,
    IncompatibleModelError,
    PreparedCall,
    check_images,
    source_prefix,
)
from lenet_edge.runtime.runtimes import RuntimeSpec
from lenet_edge.stderr import native_stderr_silenced

# What interpreters print when their kernel registry lacks an op (or the op's version).
_MISSING_BUILTIN = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")
_MISSING_CUSTOM = re.compile(r"(?:custom op for name|unresolved custom op)[: ]+'?([\w.-]+)'?")
# What the flatbuffer verifier says about bytes that are not a sound model.
_CORRUPT = ("not a valid flatbuffer", "model identifier", "could not be loaded")


def interpreter_class(spec: RuntimeSpec):
    """The `Interpreter` class of a TFLite runtime; MissingDependencyError if absent."""
    spec.require()
    return importlib.import_module(f"{spec.package}.interpreter").Interpreter


def load_error(exc: Exception, spec: RuntimeSpec, version: str,
               min_runtime: str | None = None, source: str | None = None) -> ModelError:
    """Turn an interpreter's load error into a one-line ModelError naming the failing op.

    `min_runtime` is the model's own min_runtime_version metadata, quoted when known;
    `source` (the file) is named when the bytes are corrupt.
    """
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if any(marker in text.lower() for marker in _CORRUPT):
        return ModelError(f"{source_prefix(source)}{spec.name} {version} rejected the file "
                          f"as corrupt: {first}")
    needs = f": min_runtime_version {min_runtime}" if min_runtime else ""
    found = _MISSING_BUILTIN.search(text)
    if found:
        op, op_version = found.group(1), int(found.group(2))
        return IncompatibleModelError(
            f"{spec.name} {version} has no kernel for {op} version {op_version} "
            f"(the model needs a newer runtime{needs})",
            spec.name, version, op, op_version,
        )
    found = _MISSING_CUSTOM.search(text)
    if found:
        return IncompatibleModelError(
            f"{spec.name} {version} has no custom op {found.group(1)}",
            spec.name, version, found.group(1),
        )
    return IncompatibleModelError(f"{spec.name} {version} cannot run the model: {first}",
                                  spec.name, version)


def _min_runtime(data: bytes) -> str | None:
    try:
        return tflite_format.describe(data).min_runtime_version
    except ModelError:
        return None


class TFLiteRunner:
    """A TFLite interpreter behind the Runner protocol; resizes its input per batch size."""

    format = "tflite"
    import_runtime = staticmethod(interpreter_class)

    def __init__(self, data: bytes, spec: RuntimeSpec, threads: int = 1,
                 source: str | None = None):
        self.runtime = spec.name
        self.threads = threads
        interpreter = interpreter_class(spec)
        self.runtime_version = spec.version()  # after the import: its __version__ is free
        try:
            # The error text travels in the exception; the delegate's INFO line is noise.
            with native_stderr_silenced():
                self._it = interpreter(model_content=data, num_threads=threads)
                self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise load_error(exc, spec, self.runtime_version, _min_runtime(data),
                             source) from None
        inputs, outputs = self._it.get_input_details(), self._it.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"expected one input and one output tensor, "
                             f"got {len(inputs)} and {len(outputs)}")
        self._spec = spec
        self._in, self._out = inputs[0], outputs[0]
        self._in_index, self._out_index = self._in["index"], self._out["index"]
        self.input_shape = tuple(int(d) for d in self._in["shape"][1:])
        self.input_dtype = np.dtype(self._in["dtype"]).name
        self.output_dtype = np.dtype(self._out["dtype"]).name
        self._in_q = Quantization.from_tflite(self._in)
        self._out_q = Quantization.from_tflite(self._out)
        self._batch = int(self._in["shape"][0])

    def _resize(self, batch: int) -> None:
        """Resize the input to `batch` images; tensors are reallocated only when it changes."""
        if batch == self._batch:
            return
        try:
            self._it.resize_tensor_input(self._in_index, [batch, *self.input_shape])
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise IncompatibleModelError(
                f"{self.runtime} {self.runtime_version} cannot resize the input to batch "
                f"{batch}: {str(exc).strip().splitlines()[0]}", self.runtime, self.runtime_version
            ) from None
        self._batch = batch

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Set the input, invoke, read the output; interpreter errors become ModelErrors."""
        try:
            self._it.set_tensor(self._in_index, x)
            self._it.invoke()
            return self._it.get_tensor(self._out_index)
        except (ValueError, RuntimeError) as exc:
            raise load_error(exc, self._spec, self.runtime_version) from None

    def predict(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Float logits for float images; the last partial batch is zero-padded, not resized."""
        images = check_images(images, self.input_shape)
        n = len(images)
        chunk = max(1, min(batch_size, n))
        self._resize(chunk)
        logits = None
        for start in range(0, n, chunk):
            part = images[start:start + chunk]
            if len(part) < chunk:
                part = np.concatenate([part, np.zeros((chunk - len(part), *self.input_shape),
                                                      np.float32)])
            out = self._out_q.dequantize(self._run(self._in_q.quantize(part, self._in["dtype"])))
            if logits is None:
                logits = np.empty((n, *out.shape[1:]), np.float32)
            logits[start:start + chunk] = out[: n - start]
        return logits

    def prepare(self, images: np.ndarray) -> PreparedCall:
        images = check_images(images, self.input_shape)
        self._resize(len(images))
        x = self._in_q.quantize(images, self._in["dtype"])
        self._run(x)  # the first call after a resize sets up kernels: keep it out of timings
        it, i, o = self._it, self._in_index, self._out_index
        set_tensor, invoke, get_tensor = it.set_tensor, it.invoke, it.get_tensor

        def run() -> np.ndarray:
            set_tensor(i, x)
            invoke()
            return get_tensor(o)

        return PreparedCall(batch=len(images), run=run, invoke=invoke)

    def metadata(self) -> dict[str, Any]:
        return {
            "format": self.format, "runtime": self.runtime,
            "runtime_version": self.runtime_version, "threads": self.threads,
            "input": {"shape": list(self.input_shape), "dtype": self.input_dtype,
                      **self._in_q.to_dict()},
            "output": {"dtype": self.output_dtype, **self._out_q.to_dict()},
        }
