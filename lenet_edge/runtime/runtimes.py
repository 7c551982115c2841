"""The catalogue of interpreters the runtime half can drive, as data, and how to pick one.

One row per runtime: its `--runtime` name, the model format it runs, where it comes from, and
the runner class that drives it (a dotted path, imported on first use). Nothing here imports an
interpreter or a backend: `installed()` asks the import system whether a package exists, so
listing runtimes costs microseconds. A new runtime is one row here, plus its runner class if no
existing one drives it.

ai_edge_litert and tflite_runtime were measured to load and run the same models side by side
in one process (tflite-runtime 2.14 and ai-edge-litert 2.3, x86_64), so both are imported
in-process; only TensorFlow must stay out.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lenet_edge.choices import unknown_choice
from lenet_edge.errors import MissingDependencyError, UsageError
from lenet_edge.formats import FORMAT_NAMES

if TYPE_CHECKING:
    from lenet_edge.runtime.runner_types import Backend

AUTO = "auto"


@dataclass(frozen=True)
class RuntimeSpec:
    """One interpreter: what it is called on the command line and where it comes from."""

    name: str  # the `--runtime` value
    format: str  # model format it runs: "tflite" or "onnx"
    package: str  # top-level import name
    distribution: str  # PyPI name, for its version
    extra: str  # lenet-edge extra that installs it
    runner: str  # "module:Class" of its runner, a runner_types.Backend

    def runner_class(self) -> Backend:
        """The runner class, imported now (its module imports the interpreter only on load)."""
        module, _, name = self.runner.partition(":")
        return getattr(importlib.import_module(module), name)

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    def version(self) -> str:
        # Once the package is imported its __version__ is free; the metadata lookup scans
        # sys.path and parses METADATA with the email package (~4 ms of a verify's start).
        found = getattr(sys.modules.get(self.package), "__version__", None)
        if isinstance(found, str) and found:
            return found
        import importlib.metadata  # here: ~15 ms at start-up, and the CLI imports this table

        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    def require(self):
        """Import the package, or raise MissingDependencyError naming the extra to install."""
        try:
            return importlib.import_module(self.package)
        except ImportError as exc:
            raise MissingDependencyError(
                f"runtime {self.name!r} needs the '{self.distribution}' package: "
                f"pip install 'lenet-edge[{self.extra}]' ({exc})"
            ) from None


# Order matters: `auto` takes the first installed runtime for a format. ai-edge-litert is the
# maintained successor of tflite-runtime, so it goes first.
# ai_edge_litert and tflite_runtime expose the same Interpreter API: one runner drives both.
_TFLITE_RUNNER = "lenet_edge.runtime.tflite:TFLiteRunner"
_ONNX_RUNNER = "lenet_edge.runtime.onnx:OnnxRunner"
RUNTIMES: tuple[RuntimeSpec, ...] = (
    RuntimeSpec("litert", "tflite", "ai_edge_litert", "ai-edge-litert", "runtime",
                _TFLITE_RUNNER),
    RuntimeSpec("tflite-runtime", "tflite", "tflite_runtime", "tflite-runtime", "tflite-runtime",
                _TFLITE_RUNNER),
    RuntimeSpec("onnxruntime", "onnx", "onnxruntime", "onnxruntime", "runtime", _ONNX_RUNNER),
)
RUNTIME_NAMES: tuple[str, ...] = tuple(r.name for r in RUNTIMES)
FORMATS: tuple[str, ...] = FORMAT_NAMES  # every format some runtime could run
_BY_NAME = {r.name: r for r in RUNTIMES}


def check_runtime_name(name: str) -> str:
    """Return `name` if it is `auto` or a known runtime; otherwise raise UsageError."""
    if name != AUTO and name not in _BY_NAME:
        raise unknown_choice("runtime", name, (AUTO, *RUNTIME_NAMES))
    return name


def get_runtime(name: str) -> RuntimeSpec:
    """The catalogue entry for a concrete runtime name (not `auto`)."""
    check_runtime_name(name)
    if name == AUTO:
        raise UsageError("'auto' names no single runtime; give a model format to resolve it")
    return _BY_NAME[name]


def runtimes_for(fmt: str) -> tuple[RuntimeSpec, ...]:
    """Every catalogued runtime that runs `fmt`, in `auto` preference order."""
    if fmt not in FORMATS:
        raise unknown_choice("model format", fmt, FORMATS)
    return tuple(r for r in RUNTIMES if r.format == fmt)


def auto_runtime(fmt: str) -> RuntimeSpec | None:
    """The first installed runtime for `fmt`, or None when none is installed."""
    return next((r for r in runtimes_for(fmt) if r.installed()), None)


def resolve_runtime(name: str, fmt: str) -> RuntimeSpec:
    """The runtime to use for a model of format `fmt` when the user asked for `name`.

    Raises:
        UsageError: unknown name, or a runtime that does not run this format.
        MissingDependencyError: nothing installed can run it; names the extra to install.
    """
    check_runtime_name(name)
    if name == AUTO:
        spec = auto_runtime(fmt)
        if spec is None:
            options = " or ".join(f"'lenet-edge[{r.extra}]'" for r in runtimes_for(fmt))
            raise MissingDependencyError(
                f"no {fmt} runtime is installed: pip install {options}"
            )
        return spec
    spec = _BY_NAME[name]
    if spec.format != fmt:
        raise UsageError(f"runtime {name!r} runs {spec.format} models, not {fmt}")
    if not spec.installed():
        spec.require()  # raises MissingDependencyError naming the extra
    return spec


def installed_runtimes() -> dict[str, str | None]:
    """Every catalogued runtime and its installed version (None when absent)."""
    return {r.name: (r.version() if r.installed() else None) for r in RUNTIMES}
