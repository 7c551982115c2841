"""What convert runs per variant: the recipes, and one exporter per format sharing one Sources.

What each exported file declares is read back by the format's describer (lenet_edge.formats),
the same one inspect and the runtime use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lenet_edge.toolchain import forward as forward_graph
from lenet_edge.toolchain import mixed_precision
from lenet_edge.toolchain import onnx as onnx_export
from lenet_edge.toolchain import tflite as tflite_export

RECIPES: dict[str, dict[str, Any]] = {"tflite": tflite_export.RECIPES, "onnx": onnx_export.RECIPES}


@dataclass
class Sources:
    """What one run's exporters share; the frozen graph and float ONNX are built once."""

    forward: Any  # forward.forward_function(model)
    calibration: np.ndarray
    opset: int
    held_out: mixed_precision.HeldOut | None = None  # only when a gated variant is chosen
    _frozen: Any = field(default=None, repr=False)
    _float_onnx: bytes | None = field(default=None, repr=False)

    def frozen(self):
        if self._frozen is None:
            self._frozen = forward_graph.frozen(self.forward)
        return self._frozen

    def float_onnx(self) -> bytes:
        if self._float_onnx is None:
            self._float_onnx = onnx_export.export_float_onnx(self.forward, self.opset)
        return self._float_onnx


def _tflite_artifact(recipe, sources: Sources) -> bytes:
    return tflite_export.export_tflite(sources.frozen(), recipe, sources.calibration)


def _onnx_artifact(recipe, sources: Sources) -> bytes:
    return onnx_export.export_onnx(sources.float_onnx(), recipe, sources.calibration)


# The accuracy-gated variants' mechanics, per format (mixed_precision.py).
QUANTISERS: dict[str, Callable[[Any, Sources], mixed_precision.Quantiser]] = {
    "tflite": lambda recipe, sources: mixed_precision.TfliteQuantiser(
        sources.frozen(), recipe, sources.calibration),
    "onnx": lambda recipe, sources: mixed_precision.OnnxQuantiser(
        sources.float_onnx(), recipe, sources.calibration),
}
# One exporter per format.
EXPORTERS: dict[str, Callable[[Any, Sources], bytes]] = {
    "tflite": _tflite_artifact,
    "onnx": _onnx_artifact,
}
