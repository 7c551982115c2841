"""Inspect any model file: format, size, I/O with quantisation, ops, and who can run it.

The file need not come from a bundle, so nothing vouches for it. It is read once, described by
its format's pure-Python reader (`lenet_edge.formats`: a malformed file stops here with a
ModelError), and only then handed to each installed interpreter in a child process that gets
the same bytes on stdin, with its address space capped and a timeout. An interpreter that
crashes on the file kills only that child; the report says which signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lenet_edge import bundle, formats
from lenet_edge.files import input_files
from lenet_edge.runtime.child_python import PYTHON_ENV, run_python
from lenet_edge.runtime.runtimes import RuntimeSpec, runtimes_for

PROBE_TIMEOUT = 60.0  # seconds per runtime: loading LeNet takes milliseconds; this is a hang
# Address-space cap for a probe child. A healthy child (Python, numpy, one interpreter, LeNet)
# runs under 1 GiB of address space (measured); models scale it with their size.
PROBE_BASE_MEMORY_MB = 2048
PROBE_MEMORY_PER_MODEL_BYTE = 8


@dataclass
class RuntimeCheck:
    """Whether one runtime loads the model and runs one image."""

    runtime: str
    version: str | None
    status: str  # ok, incompatible, corrupt, out of memory, failed, crashed, timeout, not installed
    message: str = ""


@dataclass
class ModelInspection:
    path: str
    format: str
    bytes: int
    sha256: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    ops: list[list[Any]]  # [op, version]; for ONNX the version is its domain's opset
    min_runtime_version: str | None
    details: dict[str, Any] = field(default_factory=dict)
    runtimes: list[RuntimeCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_model(path: str | os.PathLike, probe: bool = True,
                  timeout: float = PROBE_TIMEOUT) -> ModelInspection:
    """Describe the model at `path`; with `probe`, try every installed runtime in a child.

    Raises:
        ModelError: unreadable, not a model, or malformed (checked before any interpreter).
    """
    path = Path(path)
    data = input_files.read_bytes(path, input_files.MODEL)
    model = formats.describe(data, source=str(path))
    report = ModelInspection(
        str(path), model.format, len(data), bundle.sha256_bytes(data),
        inputs=[t.as_manifest() for t in model.inputs],
        outputs=[t.as_manifest() for t in model.outputs],
        ops=[list(op) for op in model.ops], min_runtime_version=model.min_runtime_version,
        details=dict(model.details),
    )
    if probe:
        report.runtimes = [probe_runtime(data, model.format, spec, timeout)
                           for spec in runtimes_for(model.format)]
    return report


def probe_memory_mb(model_bytes: int) -> int:
    """The address-space cap, in MiB, for probing a model of `model_bytes`."""
    return PROBE_BASE_MEMORY_MB + PROBE_MEMORY_PER_MODEL_BYTE * model_bytes // (1024 * 1024)


def probe_runtime(data: bytes, fmt: str, spec: RuntimeSpec,
                  timeout: float = PROBE_TIMEOUT) -> RuntimeCheck:
    """Load `data` in `spec` inside a child process and report what happened."""
    if not spec.installed():
        return RuntimeCheck(spec.name, None, "not installed",
                            f"pip install 'lenet-edge[{spec.extra}]'")
    version = spec.version()
    try:
        child = run_python(
            ["-m", "lenet_edge.runtime.probe", fmt, spec.name, str(probe_memory_mb(len(data)))],
            input=data, capture_output=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return RuntimeCheck(spec.name, version, "timeout",
                            f"no answer within {timeout:g} s; the child was killed")
    except OSError as exc:
        return RuntimeCheck(spec.name, version, "crashed",
                            f"cannot start a Python for the probe: {exc.strerror} "
                            f"(set {PYTHON_ENV} to the command that starts one)")
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        return RuntimeCheck(spec.name, version, "crashed",
                            f"the interpreter crashed on this file ({name})")
    lines = child.stdout.decode(errors="replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = child.stderr.decode(errors="replace").strip().splitlines()
        return RuntimeCheck(spec.name, version, "crashed",
                            f"the child exited {child.returncode}: "
                            f"{tail[-1] if tail else 'no output'}")
    return RuntimeCheck(spec.name, answer.get("runtime_version") or version, answer["status"],
                        answer.get("message", ""))
