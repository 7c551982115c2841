"""The calibration a user chooses (`convert --calibration-samples/--calibration-method/
--per-tensor`), applied to the recipes it concerns and recorded in their manifest entries.

TFLite's converter calibrates by min/max only, so `--calibration-method` reaches onnx-int8
and onnx-int8-mixed; per-tensor weight scales reach every calibrated variant (int8, int16x8,
onnx-int8 and the -mixed ones). `dynamic` keeps its recipe: it has no calibration, and its
per-tensor dense scales are what keeps it loadable on tflite-runtime 2.14 (tflite.py).

The methods are onnxruntime's, as quantize_static runs them. Its Entropy keeps 128 histogram
bins for 128 quantised bins, so the KL search has one candidate, the full range: the same
scales as MinMax (measured, onnxruntime 1.32: byte-identical models). quantize_static takes
no bin count; scripts/bench_calibration.py shows it beside the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lenet_edge.conversion_records import (
    CALIBRATION_METHODS,
    DEFAULT_CALIBRATION_METHOD,
    CalibrationRecord,
)
from lenet_edge.errors import UsageError
from lenet_edge.toolchain.onnx import ONNXRecipe
from lenet_edge.variants import Variant

DEFAULT_CALIBRATION_SAMPLES = 500
# onnxruntime.quantization.CalibrationMethod members, by the names convert takes.
ONNX_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


@dataclass(frozen=True)
class CalibrationChoice:
    samples: int = DEFAULT_CALIBRATION_SAMPLES
    method: str = DEFAULT_CALIBRATION_METHOD  # one of CALIBRATION_METHODS
    per_channel: bool = True

    def check(self, variants: Sequence[Variant], recipes: dict[str, dict[str, Any]]) -> None:
        """Refuse a choice no chosen variant would use (never silently ignored).

        Raises:
            UsageError: an unknown method; a method other than min/max with no ONNX variant
                that calibrates; per-tensor scales with no variant that calibrates.
        """
        if self.method not in CALIBRATION_METHODS:
            raise UsageError(f"unknown calibration method {self.method!r}; choose from "
                             f"{', '.join(CALIBRATION_METHODS)}")
        calibrated = [v for v in variants if recipes[v.format][v.name].calibrate]
        if self.method != DEFAULT_CALIBRATION_METHOD and not any(
                isinstance(recipes[v.format][v.name], ONNXRecipe) for v in calibrated):
            raise UsageError(f"--calibration-method {self.method} applies to onnx-int8 (the "
                             "TFLite converter calibrates by min/max only); add "
                             "--variant onnx-int8")
        if not self.per_channel and not calibrated:
            raise UsageError("--per-tensor applies to the calibrated variants (int8, "
                             "int16x8, onnx-int8 and the -mixed ones); none is chosen")

    def apply(self, recipe):
        """`recipe` with this choice's weight scales and, for ONNX, method; else as is."""
        if not recipe.calibrate:
            return recipe
        if isinstance(recipe, ONNXRecipe):
            return replace(recipe, per_channel=self.per_channel,
                           calibrate_method=ONNX_METHODS[self.method])
        return replace(recipe, per_channel=self.per_channel)

    def record(self, recipe, seed: int, images_sha256: str) -> dict[str, Any]:
        """The `converter.calibration` entry of a variant made with `recipe` (applied)."""
        method = self.method if isinstance(recipe, ONNXRecipe) else DEFAULT_CALIBRATION_METHOD
        return CalibrationRecord(samples=self.samples, seed=seed, split="train", method=method,
                                 per_channel=self.per_channel,
                                 images_sha256=images_sha256).to_dict()
