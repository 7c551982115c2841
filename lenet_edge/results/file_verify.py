"""`verify FILE --dataset NAME [--reference OTHER]`: one model file's figures, typed.

A bare file has no float model beside it, so there is no accuracy drop to gate: its accuracy on
the dataset's test split is reported, and held to `--min-accuracy` when one is given. With
`--reference OTHER` both files run on the same images and are compared (agreement, the drop in
points, the error on the quantity both give: logits, or probabilities when either model gives
them), held to the same gates as a bundle's variants against its float model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lenet_edge.results.tables import Table

PASS, FAIL = "pass", "fail"


@dataclass(frozen=True)
class FileRun:
    """One model file on one runtime, on the dataset's test images."""

    path: str
    format: str
    runtime: str
    runtime_version: str
    input: str  # as fed: dtype, layout, input range and why (InputAdapter.describe)
    input_range: str  # 0-1 or 0-255
    outputs: str  # logits or probabilities
    accuracy: float
    per_class_accuracy: tuple[float | None, ...]  # None: no image of that class

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_class_accuracy": list(self.per_class_accuracy)}


@dataclass(frozen=True)
class FileComparison:
    """The model against the reference file on the same images; `quantity` is what the error
    figures are computed on (logits, or probabilities if either model gives them)."""

    quantity: str
    agreement: float  # share of images where both pick the same class
    delta_points: float  # model accuracy minus the reference's, in points
    max_abs_error: float
    mean_abs_error: float
    worst: tuple[int, ...]  # test-split indices of disagreements, largest error first
    max_drop: float  # the gates it was held to (gates.Gates)
    min_agreement: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worst": list(self.worst)}


@dataclass(frozen=True)
class FileVerifyReport:
    """What `verify FILE` found; `passed` is False when a gate given failed."""

    dataset: str
    images: int  # the first N images of the test split
    model: FileRun
    reference: FileRun | None = None
    comparison: FileComparison | None = None
    min_accuracy: float | None = None
    failures: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "dataset": self.dataset, "images": self.images,
            "model": self.model.to_dict(),
            "reference": None if self.reference is None else self.reference.to_dict(),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "min_accuracy": self.min_accuracy, "failures": list(self.failures),
            "seconds": round(self.seconds, 3),
        }


def file_verify_table(report: FileVerifyReport) -> Table:
    """One row per file (the model, then the reference); the comparison and failures as
    notes below. Marks: "model" or "reference"."""
    header = ["role", "file", "runtime", "version", "input", "outputs", "accuracy"]
    gate = ("" if report.min_accuracy is None
            else f"; gate: accuracy >= {report.min_accuracy * 100:g}%")
    table = Table(header, right={6},
                  caption=f"{report.images} {report.dataset} test images{gate}")
    runs = [("model", report.model)] + ([("reference", report.reference)]
                                        if report.reference else [])
    for role, run in runs:
        table.rows.append([role, run.path, run.runtime, run.runtime_version, run.input,
                           run.outputs, f"{run.accuracy * 100:.2f}%"])
        table.marks.append(role)
    c = report.comparison
    if c is not None:
        table.notes.append(
            f"versus the reference: agreement {c.agreement * 100:.2f}%, accuracy "
            f"{c.delta_points:+.2f} points, {c.quantity} max|err| {c.max_abs_error:.3g}, "
            f"mean|err| {c.mean_abs_error:.2g} (gates: drop <= {c.max_drop:g} points, "
            f"agreement >= {c.min_agreement:g})")
        if c.worst:
            table.notes.append(f"worst disagreements at test images "
                               f"{', '.join(map(str, c.worst))}")
    table.notes.extend(f"FAILED: {failure}" for failure in report.failures)
    return table
