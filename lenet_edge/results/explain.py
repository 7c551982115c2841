"""What `lenet-edge explain` finds: one LayerError per layer of a quantised variant.

An ExplainReport is one variant; Explanations, what `explain` saves in the bundle as
explain.json for the report, holds one per variant explained and the variants skipped.

Figures are versus the bundle's float model of the same format (fp32 for TFLite variants,
onnx-fp32 for ONNX ones) on the same reference images; runtime/layer_error.py defines them.
`snr_db` is null when it is undefined (the outputs are identical, or the float output is all
zeros); `rmse_over_scale`, `scale` and `zero_point` are null for a float output (dynamic-range
variants keep activations in float); `sensitivity` is what convert measured for the layer
when the bundle's manifest carries it (the variant's entry: "sensitivity": {Keras layer:
top-1 agreement gained, as a fraction, when that layer alone stays float;
toolchain/mixed_precision.py), else null.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from lenet_edge import schema
from lenet_edge.results.skipped import Skipped, skipped_from
from lenet_edge.results.tables import Table


@dataclass(frozen=True)
class LayerError:
    position: int  # in graph order, from 0
    op: str
    layer: str | None  # Keras layer; None when the tensor names carry none
    tensor: str
    dtype: str
    scale: float | None
    zero_point: int | None
    mse: float
    rmse_over_scale: float | None
    snr_db: float | None
    cosine: float | None
    max_abs_error: float
    sensitivity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str) -> LayerError:
        f = schema.field
        return cls(
            position=f(row, "position", int, where), op=f(row, "op", str, where),
            layer=f(row, "layer", str, where, nullable=True),
            tensor=f(row, "tensor", str, where), dtype=f(row, "dtype", str, where),
            scale=f(row, "scale", float, where, nullable=True),
            zero_point=f(row, "zero_point", int, where, nullable=True),
            mse=f(row, "mse", float, where),
            **{key: f(row, key, float, where, nullable=True)
               for key in ("rmse_over_scale", "snr_db", "cosine")},
            max_abs_error=f(row, "max_abs_error", float, where),
            sensitivity=f(row, "sensitivity", float, where, optional=True, nullable=True),
        )


@dataclass(frozen=True)
class ExplainReport:
    bundle: str
    variant: str
    reference_variant: str  # the float model compared with
    runtime: str
    runtime_version: str
    images: int
    layers: tuple[LayerError, ...]
    # Largest |difference| between the instrumented run's model output and a plain run of
    # the same variant on the same runtime (what verify measures); see runtime/layer_taps.py.
    output_deviation: float
    seconds: float = 0.0

    @property
    def worst(self) -> LayerError | None:
        """The layer with the lowest SNR (None when no layer has an SNR)."""
        scored = [layer for layer in self.layers if layer.snr_db is not None]
        return min(scored, key=lambda layer: layer.snr_db) if scored else None

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "bundle": self.bundle, "variant": self.variant,
            "reference_variant": self.reference_variant, "runtime": self.runtime,
            "runtime_version": self.runtime_version, "images": self.images,
            "output_deviation": self.output_deviation, "seconds": self.seconds,
            "worst": None if worst is None else worst.position,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExplainReport:
        f = schema.field
        return cls(
            **{key: f(data, key, str) for key in ("bundle", "variant", "reference_variant",
                                                   "runtime", "runtime_version")},
            images=f(data, "images", int),
            layers=tuple(LayerError.from_dict(row, f"layers[{i}]")
                         for i, row in enumerate(schema.rows(data, "layers"))),
            output_deviation=f(data, "output_deviation", float),
            seconds=f(data, "seconds", float, optional=True) or 0.0,
        )


@dataclass(frozen=True)
class Explanations:
    """Every variant one `explain` run looked into: the contents of explain.json."""

    bundle: str
    reports: tuple[ExplainReport, ...]
    skipped: tuple[Skipped, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "variants": [r.to_dict() for r in self.reports],
                "skipped": [s.to_dict() for s in self.skipped]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanations:
        reports = []
        for i, row in enumerate(schema.rows(data, "variants")):
            try:
                reports.append(ExplainReport.from_dict(row))
            except schema.Invalid as exc:
                raise schema.Invalid(f"variants[{i}]: {exc}") from None
        return cls(schema.field(data, "bundle", str), tuple(reports), skipped_from(data))


def explain_table(report: ExplainReport) -> Table:
    """One row per layer in graph order; the worst layer's mark is "worst".

    The sensitivity column is there only when the bundle carries sensitivities.
    """
    sensitive = any(layer.sensitivity is not None for layer in report.layers)
    header = ["#", "op", "layer", "dtype", "scale", "zp", "MSE", "rmse/scale", "SNR dB",
              "cosine", "max|err|", *(["sensitivity"] if sensitive else [])]
    table = Table(header, right={0, *range(4, len(header))})  # figures from "scale" on
    worst = report.worst
    for layer in report.layers:
        table.rows.append([
            str(layer.position), layer.op, layer.layer or "-", layer.dtype,
            _figure(layer.scale, "{:.3g}"), _figure(layer.zero_point, "{}"),
            f"{layer.mse:.2g}", _figure(layer.rmse_over_scale, "{:.2f}"),
            _snr(layer), _figure(layer.cosine, "{:.6f}"), f"{layer.max_abs_error:.3g}",
            *([_figure(None if layer.sensitivity is None else 100 * layer.sensitivity,
                       "{:+.2f}")] if sensitive else []),
        ])
        table.marks.append("worst" if layer is worst else "")
    table.caption = (f"{report.variant} vs {report.reference_variant}, {report.images} "
                     "reference images; rmse/scale 0.29 = rounding alone")
    if any(layer.dtype == "int16" for layer in report.layers):
        table.notes.append("int16 steps are 256x finer than int8's: rmse/scale there is "
                           "mostly the int8 weights' error, carried through the layers")
    if sensitive:
        table.notes.append("sensitivity: top-1 agreement gained (percentage points) when "
                           "convert kept only that layer in float")
    if worst is not None:
        table.notes.append(f"worst layer (lowest SNR): #{worst.position} {worst.op}"
                           + (f" ({worst.layer})" if worst.layer else ""))
    if report.output_deviation > 0:
        table.notes.append(f"output of this instrumented run vs a plain {report.runtime} run: "
                           f"up to {report.output_deviation:.3g} apart (see --help)")
    return table


def _figure(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _snr(layer: LayerError) -> str:
    if layer.snr_db is not None:
        return f"{layer.snr_db:.1f}"
    return "exact" if layer.mse == 0 else "-"
