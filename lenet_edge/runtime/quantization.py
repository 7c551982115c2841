"""Affine quantisation of a model's input and output, read from the model's own tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Quantization:
    """real = scale * (q - zero_point); scale None means the tensor is float."""

    scale: float | None = None
    zero_point: int | None = None

    @classmethod
    def from_tflite(cls, details: dict[str, Any]) -> Quantization:
        """From a TFLite tensor-details dict; a scale of 0 is TFLite's "not quantised"."""
        scale, zero_point = details.get("quantization", (0.0, 0))
        if not scale or np.dtype(details["dtype"]).kind == "f":
            return cls()
        return cls(float(scale), int(zero_point))

    @property
    def quantized(self) -> bool:
        return self.scale is not None

    def quantize(self, x: np.ndarray, dtype) -> np.ndarray:
        """Float `x` in the tensor's dtype: rounded to nearest and clipped to its range."""
        dtype = np.dtype(dtype)
        if not self.quantized:
            return np.ascontiguousarray(x, dtype=dtype)
        info = np.iinfo(dtype)
        q = np.round(x / np.float32(self.scale)) + self.zero_point
        return np.clip(q, info.min, info.max).astype(dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Float32 values of a tensor read back from the interpreter."""
        if not self.quantized:
            return q.astype(np.float32, copy=False)
        return (q.astype(np.float32) - np.float32(self.zero_point)) * np.float32(self.scale)

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}
