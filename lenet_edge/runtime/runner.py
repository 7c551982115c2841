"""Load a model into one runtime: float images in, float logits out, whatever the backend.

`load_runner` checks the bytes with the format's pure-Python reader (`lenet_edge.formats`),
resolves the runtime and builds the runner class the runtime table names for it
(`runtimes.RuntimeSpec.runner`). Each backend hides its model's quantisation (int8 input and
output scale/zero-point are read from the model itself), and batches by resizing its input. A
runtime that refuses a model raises IncompatibleModelError, which verify and benchmark report
as a finding rather than a crash. The protocol and shared types live in `runner_types.py`,
which the backends import; this module imports no backend.

Models are loaded from bytes so TFLite's flatbuffer verifier runs (`model_path=` skips it).
Load only bytes you trust this far: a bundle artifact whose sha256 matched its manifest, or a
file `lenet-edge inspect` has already probed in a child process.
"""

from __future__ import annotations

import os

from lenet_edge import formats
from lenet_edge.errors import UsageError
from lenet_edge.files import input_files
from lenet_edge.runtime.runner_types import (
    DEFAULT_BATCH,
    IMAGE_SHAPE,
    IncompatibleModelError,
    PreparedCall,
    Runner,
    check_images,
    source_prefix,
)
from lenet_edge.runtime.runtimes import AUTO, RuntimeSpec, resolve_runtime

# Re-exported: callers import the protocol and its error from here, next to load_runner.
__all__ = [
    "DEFAULT_BATCH", "IMAGE_SHAPE", "IncompatibleModelError", "PreparedCall", "Runner",
    "check_images", "import_runtime", "load_runner", "source_prefix",
]


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
    fmt = format or formats.detect_format(data, source or "model bytes")
    formats.check_model_bytes(data, fmt, source or "model bytes")
    spec = resolve_runtime(runtime, fmt)
    return spec.runner_class()(data, spec, threads, source)


def import_runtime(runtime: str, fmt: str) -> RuntimeSpec:
    """Import a runtime's interpreter now, so a later load timing does not include the import."""
    spec = resolve_runtime(runtime, fmt)
    spec.runner_class().import_runtime(spec)
    return spec

