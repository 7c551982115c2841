"""verify.json: one VerifyResult per variant x runtime, the gates, and each row's predictions.

Predictions are kept so the report can draw confusion matrices and the worst cases without
loading an interpreter again. On disk they are compact: `"predictions": "7210414959..."`, one
decimal digit per evaluated reference image (the predicted class, 0-9), in reference.npz
order; null when the runtime could not load the variant. 10,000 images are 10 KB a row.
A verify.json written before predictions were kept has none: it still reads (None), and the
report says to re-run verify for the figures that need them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lenet_edge import schema
from lenet_edge.results.regression import RegressionReport
from lenet_edge.results.skipped import Skipped, skipped_from

PASS, FAIL, INCOMPATIBLE = "pass", "fail", "incompatible"
STATUSES = (PASS, FAIL, INCOMPATIBLE)
# Figures every loaded row carries (null only when incompatible): the tables, the figures
# and the recommendation compute with them.
_MEASURED = ("accuracy", "delta_points", "agreement")
_OPTIONAL_FIGURES = ("float_accuracy", "max_abs_logit_error", "mean_abs_logit_error")


def encode_predictions(classes: np.ndarray) -> str:
    """Predicted classes (0-9) as one digit each: "7210..."."""
    digits = np.asarray(classes, dtype=np.int64)
    if digits.size and (digits.min() < 0 or digits.max() > 9):
        raise ValueError("predicted classes must be 0..9")
    return (digits.astype(np.uint8) + ord("0")).tobytes().decode("ascii")


def decode_predictions(text: str) -> np.ndarray:
    """The int64 classes of an encoded string (checked by VerifyResult.from_dict)."""
    return (np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")).astype(np.int64)


@dataclass(frozen=True)
class VerifyResult:
    """One variant on one runtime. Figures are None when the runtime could not load it."""

    variant: str
    runtime: str
    runtime_version: str
    status: str  # pass, fail or incompatible
    accuracy: float | None = None
    float_accuracy: float | None = None
    delta_points: float | None = None  # accuracy minus float accuracy, in percentage points
    agreement: float | None = None  # share of images with the float model's top-1 class
    max_abs_logit_error: float | None = None
    mean_abs_logit_error: float | None = None
    per_class_delta: tuple[float | None, ...] | None = None
    worst: tuple[int, ...] = ()  # reference.npz indices, largest logit error first
    message: str = ""
    seconds: float = 0.0
    predictions: str | None = None  # see the module docstring

    @property
    def loaded(self) -> bool:
        return self.accuracy is not None

    def predicted_classes(self) -> np.ndarray | None:
        return None if self.predictions is None else decode_predictions(self.predictions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant, "runtime": self.runtime,
            "runtime_version": self.runtime_version, "status": self.status,
            "accuracy": self.accuracy, "float_accuracy": self.float_accuracy,
            "delta_points": self.delta_points, "agreement": self.agreement,
            "max_abs_logit_error": self.max_abs_logit_error,
            "mean_abs_logit_error": self.mean_abs_logit_error,
            "per_class_delta": (None if self.per_class_delta is None
                                else list(self.per_class_delta)),
            "worst": list(self.worst), "message": self.message, "seconds": self.seconds,
            "predictions": self.predictions,
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str, images: int) -> VerifyResult:
        """A checked row; `images` is how many reference images its predictions cover."""
        f = schema.field
        names = {key: f(row, key, str, where) for key in ("variant", "runtime", "runtime_version")}
        status = f(row, "status", str, where)
        if status not in STATUSES:
            raise schema.Invalid(f"{where}.status is {status!r}; expected one of "
                                 f"{', '.join(STATUSES)}")
        figures = {key: f(row, key, float, where, nullable=status == INCOMPATIBLE)
                   for key in _MEASURED}
        figures |= {key: f(row, key, float, where, optional=True, nullable=True)
                    for key in _OPTIONAL_FIGURES}
        worst = f(row, "worst", list, where, optional=True) or []
        for index in worst:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < images:
                raise schema.Invalid(f"{where}.worst holds {index!r:.40}; expected image "
                                     f"indices 0..{images - 1}")
        deltas = f(row, "per_class_delta", list, where, optional=True, nullable=True)
        for delta in deltas or []:
            if delta is not None and not schema.is_number(delta):
                raise schema.Invalid(f"{where}.per_class_delta holds {delta!r:.40}; "
                                     "expected numbers")
        return cls(
            **names, status=status, **figures,
            per_class_delta=None if deltas is None else tuple(deltas), worst=tuple(worst),
            message=f(row, "message", str, where, optional=True, nullable=True) or "",
            seconds=f(row, "seconds", float, where, optional=True) or 0.0,
            predictions=_predictions(row, where, images),
        )


def _predictions(row: dict[str, Any], where: str, images: int) -> str | None:
    text = schema.field(row, "predictions", str, where, optional=True, nullable=True)
    if text is None:
        return None
    if len(text) != images or not (text.isascii() and text.isdigit()):
        raise schema.Invalid(f"{where}.predictions must be {images} digits 0-9 (one class "
                             f"per image), got {schema.describe(text)}")
    return text


@dataclass(frozen=True)
class VerifyReport:
    """All results, the gates they were held to, and whether every one passed; with
    `--baseline`, also the check against the baseline model (results/regression.py)."""

    bundle: str
    images: int  # reference images used: the first N of reference.npz
    max_drop: float
    min_agreement: float
    results: tuple[VerifyResult, ...]
    skipped: tuple[Skipped, ...] = ()
    seconds: float = 0.0
    baseline: RegressionReport | None = None  # None: no --baseline

    @property
    def passed(self) -> bool:
        return (bool(self.results) and all(r.status == PASS for r in self.results)
                and (self.baseline is None or self.baseline.passed))

    def runtime_versions(self) -> dict[str, str]:
        return {r.runtime: r.runtime_version for r in self.results}

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "bundle": self.bundle, "images": self.images,
            "gates": {"max_drop": self.max_drop, "min_agreement": self.min_agreement},
            "results": [r.to_dict() for r in self.results],
            "skipped": [s.to_dict() for s in self.skipped],
            "seconds": round(self.seconds, 3),
            # Only with --baseline: a plain run's verify.json keeps the shape it always had.
            **({} if self.baseline is None else {"baseline": self.baseline.to_dict()}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> VerifyReport:
        """A checked `verify --json` object.

        Raises:
            schema.Invalid: the first field a reader could not compute with.
        """
        if not isinstance(data, dict):
            raise schema.Invalid(f"expected a JSON object, got {type(data).__name__}")
        images = schema.field(data, "images", int)
        if images < 1:
            raise schema.Invalid(f"'images' must be at least 1, got {images}")
        gates = schema.field(data, "gates", dict)
        max_drop, min_agreement = (schema.field(gates, key, float, where="gates")
                                   for key in ("max_drop", "min_agreement"))
        results = tuple(VerifyResult.from_dict(row, f"results[{i}]", images)
                        for i, row in enumerate(schema.rows(data, "results")))
        return cls(
            bundle=schema.field(data, "bundle", str, optional=True) or "", images=images,
            max_drop=max_drop, min_agreement=min_agreement, results=results,
            skipped=skipped_from(data),
            seconds=schema.field(data, "seconds", float, optional=True) or 0.0,
            baseline=None if data.get("baseline") is None
            else RegressionReport.from_dict(data["baseline"], "baseline"),
        )


def by_key(results: Sequence[VerifyResult]) -> dict[tuple[str, str], VerifyResult]:
    """Rows by (variant, runtime), to set one run beside another (deploy: device vs local)."""
    return {(r.variant, r.runtime): r for r in results}
