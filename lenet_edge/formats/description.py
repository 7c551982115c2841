"""What every format's `describe` returns: one shape for TFLite and ONNX alike.

Convert records `as_manifest()` in each artifact's manifest entry; inspect shows all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

OPEN = -1  # a dimension the model leaves open (TFLite's shape_signature, ONNX's dim_param)


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output; `shape` uses OPEN (-1) for a dimension left open."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...] = ()  # quantisation, one per channel (or one per tensor)
    zero_points: tuple[int, ...] = ()

    @property
    def scale(self) -> float | None:
        """The per-tensor quantisation scale, or None (float tensor, or per-channel)."""
        return self.scales[0] if len(self.scales) == 1 else None

    @property
    def zero_point(self) -> int | None:
        return self.zero_points[0] if len(self.zero_points) == 1 else None

    def as_manifest(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class ModelDescription:
    """What a model file declares about itself, read without any interpreter.

    `requirements` is what a runtime must support to load the file, as convert records it
    in the manifest (TFLite: `min_runtime_version` and `ops`; ONNX: the default-domain
    `opset`). `details` is what only this format has, shown by inspect.
    """

    format: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ops: tuple[tuple[str, int], ...]  # (op, version), first-seen order; ONNX: its opset
    min_runtime_version: str | None = None
    requirements: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def as_manifest(self) -> dict[str, Any]:
        """The fields convert writes into the variant's manifest entry."""
        return {"inputs": [t.as_manifest() for t in self.inputs],
                "outputs": [t.as_manifest() for t in self.outputs], **self.requirements}


class ModelFormat(Protocol):
    """The surface every format module has (`tflite.py`, `onnx.py` satisfy it as modules)."""

    NAME: str
    SUFFIX: str

    def detects(self, data: bytes) -> bool:
        """Whether the bytes carry this format's signature (nothing else is read)."""

    def check(self, data: bytes, source: str = "model") -> None:
        """A cheap structural check: a one-line ModelError naming `source` if it fails."""

    def describe(self, data: bytes, source: str = "model") -> ModelDescription:
        """What the file declares: I/O, quantisation, ops, min runtime; ModelError if malformed."""
