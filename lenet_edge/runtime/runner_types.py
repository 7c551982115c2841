"""What every runner backend shares: the Runner protocol, its errors and input checks.

This module imports no backend and no interpreter. Backends (`tflite.py`, `onnx.py`) import
it; `runner.py` picks a backend from the runtime table by a dotted path, so neither side
imports the other and there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from lenet_edge.errors import ModelError, UsageError

if TYPE_CHECKING:
    from lenet_edge.runtime.runtimes import RuntimeSpec

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
        """Float outputs (N, 10) for float32 images (N, *input_shape), in the model's units.

        For lenet-edge's own models that is (N, 28, 28, 1) in [0, 1], exactly what
        `lenet_edge.data.preprocess` makes of uint8 images; `input_adapter.py` turns that
        batch into any other model's layout and range. The outputs are logits, or
        probabilities for a model that ends in a softmax (`output_kind.py`).
        """

    def prepare(self, images: np.ndarray) -> PreparedCall:
        """Quantise `images` once and bind them for repeated timed calls."""

    def metadata(self) -> dict[str, Any]:
        """Runtime, version, threads and I/O description, for reports."""


class Backend(Protocol):
    """A runner class, as the runtime table names it: built from checked bytes and a spec."""

    format: str

    def __call__(self, data: bytes, spec: RuntimeSpec, threads: int = 1,
                 source: str | None = None) -> Runner: ...

    def import_runtime(self, spec: RuntimeSpec) -> Any:
        """Import the interpreter now (MissingDependencyError naming the extra if absent)."""


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
