"""Model file formats: one module per format with the same surface, and the table of them.

Every format module (`tflite.py`, `onnx.py`) offers, TF-free and interpreter-free:

    NAME, SUFFIX                          "tflite", ".tflite"
    detects(data) -> bool                 the bytes carry the format's signature
    check(data, source)                   a cheap structural check: one-line ModelError
    describe(data, source)                a ModelDescription: inputs and outputs with shapes,
                                          dtypes and quantisation, ops with versions, min runtime

Convert records `describe(...).as_manifest()` in the bundle, inspect shows the description,
the runners and predict check bytes here before any interpreter sees them. A new format is
its module plus one row of FORMATS (then a runner row in `runtime/runtimes.py`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lenet_edge.errors import ModelError

if TYPE_CHECKING:  # the CLI imports this table at start-up: the types cost 1.5 ms there
    from lenet_edge.formats.description import ModelDescription, ModelFormat


@dataclass(frozen=True)
class FormatSpec:
    """One row of the table: the format's name (as manifests spell it) and where it lives."""

    name: str
    suffix: str  # of the files convert writes
    module: str  # imported on first use, so listing formats imports no reader

    def reader(self) -> ModelFormat:
        return importlib.import_module(self.module)  # type: ignore[return-value]


# Order matters: `detect_format` tries them in turn (a TFLite file's root offset could
# start with ONNX's first byte; its identifier cannot be mistaken).
FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec("tflite", ".tflite", "lenet_edge.formats.tflite"),
    FormatSpec("onnx", ".onnx", "lenet_edge.formats.onnx"),
)
FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in FORMATS)
SUFFIXES: tuple[str, ...] = tuple(f.suffix for f in FORMATS)
_BY_NAME = {f.name: f for f in FORMATS}


def either(items: Sequence[str]) -> str:
    """"a", "a or b", "a, b or c": the allowed values in a message."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def get_format(name: str, source: str = "model") -> FormatSpec:
    """The row for format `name`; ModelError naming `source` for a format nobody knows."""
    spec = _BY_NAME.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ModelError(f"{source}: unknown model format {name!r}; "
                         f"expected {either(FORMAT_NAMES)}")
    return spec


def detect_format(data: bytes, source: str = "model") -> str:
    """The format `data` is, from the bytes themselves; ModelError saying what else it is."""
    for spec in FORMATS:
        if spec.reader().detects(data):
            return spec.name
    from lenet_edge.formats.sniff import what_it_is

    raise ModelError(f"{source}: {what_it_is(data)}; expected a {either(SUFFIXES)} model")


def check_model_bytes(data: bytes, fmt: str, source: str = "model") -> None:
    """Raise a one-line ModelError unless `data` looks like a model of format `fmt`."""
    get_format(fmt, source).reader().check(data, source)


def describe(data: bytes, fmt: str | None = None, source: str = "model") -> ModelDescription:
    """What the model declares (format detected from the bytes when `fmt` is None)."""
    fmt = fmt or detect_format(data, source)
    return get_format(fmt, source).reader().describe(data, source)


__all__ = [
    "FORMATS", "FORMAT_NAMES", "SUFFIXES", "FormatSpec", "check_model_bytes", "describe",
    "detect_format", "either", "get_format",
]
