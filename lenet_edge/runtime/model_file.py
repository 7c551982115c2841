"""A bare model file (no bundle vouches for it), read, checked and probed before it loads.

predict, `verify FILE` and `benchmark FILE` take any .tflite / .onnx. Nothing says its bytes
are sound, so they are checked by the format's pure-Python reader and then loaded once in a
child process (as `inspect` does) before this process loads them: a file that crashes the
interpreter takes down only the child, and the command says so in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lenet_edge import formats
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files
from lenet_edge.runtime.runner import IncompatibleModelError, Runner, load_runner
from lenet_edge.runtime.runtimes import AUTO, RuntimeSpec, resolve_runtime


@dataclass(frozen=True)
class ModelFile:
    """A model file's bytes, once they passed the reader and a child process loaded them."""

    path: Path
    data: bytes
    format: str
    runtime: RuntimeSpec

    def load(self, threads: int = 1) -> Runner:
        return load_runner(self.data, self.format, self.runtime.name, threads,
                           source=str(self.path))


def open_model_file(path: str | os.PathLike, runtime: str = AUTO) -> ModelFile:
    """Read, check and probe `path` on `runtime` ("auto": the first installed for its format).

    Raises:
        ModelError: unreadable, not a model, malformed, or the runtime crashed on it;
            IncompatibleModelError when the runtime refuses a well-formed model.
        UsageError: unknown runtime, or one for the other format.
        MissingDependencyError: no interpreter for the format.
    """
    from lenet_edge.runtime.inspect import probe_runtime

    path = Path(path)
    data = input_files.read_bytes(path, input_files.MODEL)
    fmt = formats.detect_format(data, str(path))
    formats.check_model_bytes(data, fmt, str(path))  # pure Python, bounds-checked
    spec = resolve_runtime(runtime, fmt)
    check = probe_runtime(data, fmt, spec)  # a crash here kills only the child
    if check.status == "incompatible":
        raise IncompatibleModelError(f"{path}: {check.message}", spec.name,
                                     check.version or spec.version())
    if check.status != "ok":
        raise ModelError(f"{path}: {spec.name} cannot load it ({check.status}: "
                         f"{check.message})")
    return ModelFile(path, data, fmt, spec)
