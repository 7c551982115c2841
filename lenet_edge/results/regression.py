"""A run checked against a baseline: one shape for `verify --baseline` and `benchmark --compare`.

Each RegressionRow is one figure of one variant x runtime, before and after: accuracy,
accuracy on one class, or agreement between the two models' top-1 classes (`verify
--baseline`, in points), or a median latency (`benchmark --compare`, in µs, the change in
percent). `allowed` is the budget on the worse side (points lost; percent slower); a row
without one is shown, not gated. Both commands render through results/tables.py's
`regression_table`, and write the record as JSON (`baseline` in verify.json, `comparison`
in benchmark.json).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lenet_edge import schema

PASS, FAIL, INFO = "pass", "fail", "info"  # info: shown, not gated
STATUSES = (PASS, FAIL, INFO)
# Metrics, and the unit of their figures and of their change.
ACCURACY, CLASS_ACCURACY, AGREEMENT, P50 = "accuracy", "class_accuracy", "agreement", "p50_us"
METRICS = (ACCURACY, CLASS_ACCURACY, AGREEMENT, P50)
LATENCY_METRICS = (P50,)  # figures in µs, change in percent slower; the others are shares
FLOAT = "float"  # `variant` of the float model's rows: its logits are in reference.npz
# The reference images the two models were compared on (verify --baseline).
SHARED, NEW_ONLY = "shared", "new"


@dataclass(frozen=True)
class RegressionRow:
    """One figure of one variant x runtime against the baseline's."""

    variant: str
    runtime: str  # "" for the float model (its logits come with the bundle)
    metric: str  # one of METRICS
    baseline: float | None  # None for agreement: one figure about both models
    new: float
    change: float | None  # accuracy: points, new minus baseline; latency: percent slower
    allowed: float | None  # points that may be lost, or percent slower; None: not gated
    status: str  # pass, fail or info
    class_index: int | None = None  # class_accuracy rows
    class_name: str | None = None  # its name in the dataset (data/classes.py)
    batch: int | None = None  # latency rows
    threads: int | None = None

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items()
                if value is not None or key in ("baseline", "change", "allowed")}

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str) -> RegressionRow:
        f = schema.field
        metric, status = (f(row, key, str, where) for key in ("metric", "status"))
        for key, value, allowed in (("metric", metric, METRICS), ("status", status, STATUSES)):
            if value not in allowed:
                raise schema.Invalid(f"{where}.{key} is {value!r}; expected one of "
                                     f"{', '.join(allowed)}")
        return cls(
            variant=f(row, "variant", str, where), runtime=f(row, "runtime", str, where),
            metric=metric,
            **{key: f(row, key, float, where, nullable=key != "new")
               for key in ("baseline", "new", "change", "allowed")},
            status=status,
            **{key: f(row, key, int, where, optional=True, nullable=True)
               for key in ("class_index", "batch", "threads")},
            class_name=f(row, "class_name", str, where, optional=True, nullable=True),
        )


@dataclass(frozen=True)
class RegressionReport:
    """Every row of a run against its baseline, the budgets they were held to, and notes
    (what could not be compared, and why)."""

    baseline: str  # the baseline bundle (verify) or benchmark --json file (benchmark)
    gates: dict[str, float]  # RegressionGates.to_dict(), or {"max_slowdown_pct": ...}
    rows: tuple[RegressionRow, ...]
    reference: str | None = None  # verify: SHARED or NEW_ONLY images; None for latency
    images: int | None = None  # verify: how many reference images both models saw
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not any(row.failed for row in self.rows)

    def failures(self) -> list[RegressionRow]:
        return [row for row in self.rows if row.failed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "baseline": self.baseline, "gates": dict(self.gates),
                "reference": self.reference, "images": self.images,
                "rows": [row.to_dict() for row in self.rows], "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> RegressionReport:
        """A checked regression object (verify.json's `baseline`, benchmark.json's
        `comparison`).

        Raises:
            schema.Invalid: the first field a reader could not compute with.
        """
        if not isinstance(data, dict):
            raise schema.Invalid(f"{where or 'regression'} must be an object, got "
                                 f"{schema.describe(data)}")
        f = schema.field
        gates = f(data, "gates", dict, where)
        for key in gates:
            f(gates, key, float, f"{where}.gates" if where else "gates")
        reference = f(data, "reference", str, where, optional=True, nullable=True)
        if reference not in (None, SHARED, NEW_ONLY):
            raise schema.Invalid(f"{where}.reference is {reference!r}; expected {SHARED} or "
                                 f"{NEW_ONLY}")
        notes = f(data, "notes", list, where, optional=True) or []
        if not all(isinstance(note, str) for note in notes):
            raise schema.Invalid(f"{where}.notes must be a list of strings")
        rows_where = f"{where}.rows" if where else "rows"
        return cls(
            baseline=f(data, "baseline", str, where), gates=dict(gates),
            rows=tuple(RegressionRow.from_dict(row, f"{rows_where}[{i}]")
                       for i, row in enumerate(schema.rows(data, "rows", where=where))),
            reference=reference,
            images=f(data, "images", int, where, optional=True, nullable=True),
            notes=tuple(notes),
        )
