"""benchmark.json: one BenchmarkResult per variant x runtime x threads x batch, and context.

Context: the machine, the timing policy, how thread counts were scheduled, the recommended
count per variant x runtime, cold starts, and the check against a baseline (`comparison`: a
RegressionReport, the shape `verify --baseline` writes too). Field names are
the JSON's; `from_dict` checks what the tables, figures and recommendation compute with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lenet_edge import schema
from lenet_edge.results.regression import FAIL, P50, PASS, RegressionReport, RegressionRow
from lenet_edge.results.skipped import Skipped, skipped_from
from lenet_edge.runtime.cold_start import ColdStart
from lenet_edge.runtime.threads import ThreadRecommendation

OK, INCOMPATIBLE = "ok", "incompatible"
STATUSES = (OK, INCOMPATIBLE)
# Figures every timed row carries (null when the runtime could not load the variant).
_TIMED_FLOATS = ("min_us", "p50_us", "p90_us", "p99_us", "max_us", "throughput_ips", "load_ms")
_OPTIONAL_FLOATS = ("first_ms", "mean_us", "std_us", "peak_rss_mb")
# policy: what the report prints as "at least RUNS calls and MIN_TIME s per row".
_POLICY = (("runs", int, 1), ("warmup", int, 0), ("min_time", float, 0), ("warmup_time", float, 0))


@dataclass(frozen=True)
class BenchmarkResult:
    """One variant x runtime at one batch size; timings None when it could not load."""

    variant: str
    runtime: str
    runtime_version: str
    threads: int
    batch: int
    status: str  # ok or incompatible
    bytes: int | None
    load_ms: float | None = None
    first_ms: float | None = None
    runs: int | None = None
    mean_us: float | None = None
    std_us: float | None = None
    min_us: float | None = None
    p50_us: float | None = None
    p90_us: float | None = None
    p99_us: float | None = None
    max_us: float | None = None
    throughput_ips: float | None = None
    peak_rss_mb: float | None = None
    message: str = ""

    @property
    def timed(self) -> bool:
        return self.status == OK and self.p50_us is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str) -> BenchmarkResult:
        f = schema.field
        status = f(row, "status", str, where)
        if status not in STATUSES:
            raise schema.Invalid(f"{where}.status is {status!r}; expected one of "
                                 f"{', '.join(STATUSES)}")
        counts = {key: _at_least(row, key, where, 1, optional=key == "threads")
                  for key in ("batch", "threads")}
        timed = status == OK
        return cls(
            variant=f(row, "variant", str, where), runtime=f(row, "runtime", str, where),
            runtime_version=f(row, "runtime_version", str, where, optional=True) or "",
            threads=counts["threads"] or 1, batch=counts["batch"], status=status,
            bytes=f(row, "bytes", int, where, optional=True, nullable=True),
            runs=f(row, "runs", int, where, nullable=not timed),
            **{key: f(row, key, float, where, nullable=not timed) for key in _TIMED_FLOATS},
            **{key: f(row, key, float, where, optional=True, nullable=True)
               for key in _OPTIONAL_FLOATS},
            message=f(row, "message", str, where, optional=True, nullable=True) or "",
        )


@dataclass(frozen=True)
class BenchmarkReport:
    """Machine description, one row per variant x runtime x threads x batch, and checks."""

    bundle: str
    machine: dict[str, Any]  # machine.machine_info(): free-form, shown as text
    policy: dict[str, int | float]  # runs, min_time, warmup, warmup_time (TimingPolicy)
    results: tuple[BenchmarkResult, ...]
    skipped: tuple[Skipped, ...] = ()
    comparison: RegressionReport | None = None  # None: no --compare baseline
    notes: tuple[str, ...] = ()
    schedule: dict[str, Any] = field(default_factory=dict)  # how thread counts were timed
    recommendations: tuple[ThreadRecommendation, ...] = ()
    cold_start: tuple[ColdStart, ...] | None = None  # None: not measured

    @property
    def passed(self) -> bool:
        """False only when a baseline was given and some row is slower than allowed."""
        return self.comparison is None or self.comparison.passed

    @property
    def thread_counts(self) -> list[int]:
        return list(self.schedule.get("threads") or sorted({r.threads for r in self.results}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "bundle": self.bundle, "machine": self.machine,
            "policy": dict(self.policy), "results": [r.to_dict() for r in self.results],
            "skipped": [s.to_dict() for s in self.skipped],
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "notes": list(self.notes), "schedule": self.schedule,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "cold_start": None if self.cold_start is None else [
                c.to_dict() for c in self.cold_start],
        }

    @classmethod
    def from_dict(cls, data: Any) -> BenchmarkReport:
        """A checked `benchmark --json` object.

        Raises:
            schema.Invalid: the first field a reader could not compute with.
        """
        if not isinstance(data, dict):
            raise schema.Invalid(f"expected a JSON object, got {type(data).__name__}")
        f = schema.field
        results = tuple(BenchmarkResult.from_dict(row, f"results[{i}]")
                        for i, row in enumerate(schema.rows(data, "results")))
        comparison = f(data, "comparison", dict, optional=True, nullable=True)
        notes = f(data, "notes", list, optional=True) or []
        if not all(isinstance(note, str) for note in notes):
            raise schema.Invalid("notes must be a list of strings")
        return cls(
            bundle=f(data, "bundle", str, optional=True) or "",
            machine=f(data, "machine", dict, optional=True) or {}, policy=_policy(data),
            results=results, skipped=skipped_from(data),
            comparison=None if comparison is None else _comparison(comparison),
            notes=tuple(notes), schedule=_schedule(data),
            recommendations=tuple(_recommendation(row, f"recommendations[{i}]") for i, row
                                  in enumerate(schema.rows(data, "recommendations",
                                                           optional=True))),
            cold_start=_cold_starts(data),
        )


def _comparison(data: dict[str, Any]) -> RegressionReport:
    """`comparison`: a RegressionReport, or the shape lenet-edge 0.1 wrote (max_slowdown_pct
    beside rows of baseline_p50_us, p50_us, slowdown_pct, regressed), read into one."""
    if "gates" in data:
        return RegressionReport.from_dict(data, "comparison")
    f = schema.field
    allowed = f(data, "max_slowdown_pct", float, "comparison", nullable=True)
    rows = []
    for i, row in enumerate(schema.rows(data, "rows", where="comparison")):
        where = f"comparison.rows[{i}]"
        rows.append(RegressionRow(
            f(row, "variant", str, where), f(row, "runtime", str, where), P50,
            *(f(row, key, float, where) for key in ("baseline_p50_us", "p50_us",
                                                     "slowdown_pct")),
            allowed, FAIL if f(row, "regressed", bool, where) else PASS,
            batch=f(row, "batch", int, where), threads=f(row, "threads", int, where)))
    return RegressionReport("", {} if allowed is None else {"max_slowdown_pct": allowed},
                            tuple(rows))


def _at_least(row: dict[str, Any], key: str, where: str, low: int,
              optional: bool = False) -> int | None:
    value = schema.field(row, key, int, where, optional=optional)
    if value is not None and value < low:
        raise schema.Invalid(f"{where}.{key} must be at least {low}, got {value}")
    return value


def _policy(data: dict[str, Any]) -> dict[str, int | float]:
    policy = schema.field(data, "policy", dict, optional=True) or {}
    checked = {}
    for key, kind, low in _POLICY:
        value = schema.field(policy, key, kind, "policy", optional=True)
        if value is not None and value < low:
            raise schema.Invalid(f"policy.{key} must be at least {low}, got {value!r}")
        if value is not None:
            checked[key] = value
    return checked


def _schedule(data: dict[str, Any]) -> dict[str, Any]:
    """`schedule`: the thread counts timed (and how); kept whole, its counts checked."""
    schedule = schema.field(data, "schedule", dict, optional=True) or {}
    for count in schema.field(schedule, "threads", list, "schedule", optional=True) or []:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise schema.Invalid(f"schedule.threads holds {count!r:.40}; expected thread "
                                 "counts >= 1")
    return schedule


def _recommendation(row: dict[str, Any], where: str) -> ThreadRecommendation:
    f = schema.field
    names = {key: f(row, key, str, where) for key in ("variant", "runtime")}
    counts = {key: _at_least(row, key, where, 1) for key in ("threads", "best_threads")}
    figures = {key: f(row, key, float, where) for key in ("p90_us", "p50_us", "best_p90_us")}
    rule = f(row, "rule", str, where, optional=True)
    return ThreadRecommendation(**names, **counts, **figures,
                                **({"rule": rule} if rule is not None else {}))


def _cold_starts(data: dict[str, Any]) -> tuple[ColdStart, ...] | None:
    if schema.field(data, "cold_start", list, optional=True, nullable=True) is None:
        return None
    found = []
    for i, row in enumerate(schema.rows(data, "cold_start")):
        where = f"cold_start[{i}]"
        f = schema.field
        found.append(ColdStart(
            variant=f(row, "variant", str, where), runtime=f(row, "runtime", str, where),
            threads=_at_least(row, "threads", where, 1), status=f(row, "status", str, where),
            **{key: f(row, key, float, where, optional=True, nullable=True)
               for key in ("wall_ms", "first_result_ms", "python_start_ms", "import_ms",
                           "load_ms", "first_ms", "peak_rss_mb")},
            runtime_version=f(row, "runtime_version", str, where, optional=True) or "",
            tensorflow_loaded=f(row, "tensorflow_loaded", bool, where, optional=True,
                                nullable=True),
            message=f(row, "message", str, where, optional=True, nullable=True) or ""))
    return tuple(found)
