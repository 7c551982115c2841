"""One runner protocol over every interpreter: float images in, float logits out.

`load_runner` picks the backend by model format and runtime name; each backend hides its
model's quantisation (int8 input and output scale/zero-point are read from the model itself),
and batches by resizing its input. A runtime that refuses a model raises
IncompatibleModelError, which verify and benchmark report as a finding rather than a crash.

Models are loaded from bytes so TFLite's flatbuffer verifier runs (`model_path=` skips it).
Load only bytes you trust this far: a bundle artifact whose sha256 matched its manifest, or a
file `lenet-edge inspect` has already probed in a child process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lenet_edge.errors import ModelError, UsageError
from lenet_edge.files import input_files
from lenet_edge.runtime import model_file
from lenet_edge.runtime.runtimes import AUTO, RuntimeSpec, resolve_runtime

IMAGE_SHAPE = (28, 28, 1)
DEFAULT_BATCH = 256  # images per interpreter call in predict(): bounded memory on a Pi


class IncompatibleModelError(ModelError):
    """A runtime refused to load or run a model that is itself well-formed."""

    def __init__(self, message: str, runtime: str, runtime_version: str,
                 op: str | None = None, op_version: int | None = None):
        super().__init__(message)
        self.runtime = runtime
        self.runtime_version = runtime_version
        self.op = op
        self.op_version = op_version


@dataclass(frozen=True)
class PreparedCall:
    """A batch already in the model's input dtype, bound to one interpreter.

    `run()` is what a caller pays per batch: copy the input in, invoke, copy the output out.
    `invoke()` is the bare interpreter call on the input already in place (TFLite; for
    onnxruntime, whose `run` does all three, it is the same call).
    """

    batch: int
    run: Callable[[], np.ndarray]
    invoke: Callable[[], Any]


class Runner(Protocol):
    """What every backend offers; see TFLiteRunner and OnnxRunner."""

    format: str
    runtime: str
    runtime_version: str
    threads: int
    input_shape: tuple[int, ...]  # one image, without the batch dimension
    input_dtype: str
    output_dtype: str

    def predict(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Float logits (N, 10) for float32 images (N, 28, 28, 1) in [0, 1].

        `lenet_edge.data.preprocess` turns uint8 images into exactly this input.
        """

    def prepare(self, images: np.ndarray) -> PreparedCall:
        """Quantise `images` once and bind them for repeated timed calls."""

    def metadata(self) -> dict[str, Any]:
        """Runtime, version, threads and I/O description, for reports."""


def check_images(images: np.ndarray, shape: tuple[int, ...] = IMAGE_SHAPE) -> np.ndarray:
    """Return `images` as a C-contiguous float32 batch, or raise UsageError saying why not."""
    if not isinstance(images, np.ndarray) or images.ndim != len(shape) + 1 \
            or tuple(images.shape[1:]) != tuple(shape) or images.dtype.kind != "f":
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images)
        raise UsageError(f"images must be float (N, {', '.join(map(str, shape))}), got {got}")
    if images.shape[0] == 0:
        raise UsageError("images must hold at least one image, got 0")
    return np.ascontiguousarray(images, dtype=np.float32)


def source_prefix(source: str | None) -> str:
    """"FILE: " to start an error message with the file it is about, or "" when unknown."""
    return f"{source}: " if source else ""


def load_runner(model: bytes | str | os.PathLike, format: str | None = None,  # noqa: A002
                runtime: str = AUTO, threads: int = 1, source: str | None = None) -> Runner:
    """Load a model into the chosen runtime and return its Runner.

    Args:
        model: the model's bytes, or a path to read them from.
        format: "tflite" or "onnx"; None detects it from the bytes.
        runtime: "auto" (first installed interpreter for the format), "litert",
            "tflite-runtime" or "onnxruntime".
        threads: interpreter threads (>= 1).
        source: the file the bytes came from, named in errors (default: the path given, or
            none: a caller such as the inspect probe adds it to the message itself).

    Raises:
        UsageError: unknown runtime, a runtime for another format, threads < 1.
        MissingDependencyError: the runtime is not installed (names the extra).
        ModelError: the bytes are not a model of that format.
        IncompatibleModelError: the runtime refused a well-formed model.
    """
    if isinstance(model, (str, os.PathLike)):
        data = input_files.read_bytes(model, input_files.MODEL)
        source = source or str(model)
    else:
        data = bytes(model)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"threads must be an integer >= 1, got {threads!r}")
    fmt = format or model_file.detect_format(data, source or "model bytes")
    model_file.check_model_bytes(data, fmt, source or "model bytes")
    spec = resolve_runtime(runtime, fmt)
    return _backend(spec)(data, spec, threads, source)


def import_runtime(runtime: str, fmt: str) -> RuntimeSpec:
    """Import a runtime's interpreter now, so a later load timing does not include the import."""
    spec = resolve_runtime(runtime, fmt)
    _backend(spec).import_runtime(spec)
    return spec


def _backend(spec: RuntimeSpec) -> Callable[[bytes, RuntimeSpec, int, str | None], Runner]:
    if spec.format == "onnx":
        from lenet_edge.runtime.onnx import OnnxRunner

        return OnnxRunner
    from lenet_edge.runtime.tflite import TFLiteRunner

    return TFLiteRunner
