"""The results files a bundle collects, by name, and a checked read of each.

`verify --json`, `benchmark --json`, the pipeline and `deploy` write them; the report and
the pipeline read them back. They may be hand-edited or from an older lenet-edge, so every
read checks the fields the report uses: an absent file is None (the report says what to
run), a file that is there but unreadable or malformed is a ModelError naming the file and
the first thing wrong, never a KeyError deep inside the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lenet_edge.bundle import (  # noqa: F401 - re-exported for the report and pipeline
    BENCHMARK_JSON,
    PIPELINE_JSON,
    REPORT_HTML,
    VERIFY_JSON,
)
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files
from lenet_edge.report.recommend import PREFERENCES
from lenet_edge.schema import Invalid as _Invalid
from lenet_edge.schema import field as _field
from lenet_edge.schema import is_number as _is_number
from lenet_edge.schema import rows as _rows

VERIFY_STATUSES = ("pass", "fail", "incompatible")
BENCHMARK_STATUSES = ("ok", "incompatible")
# The figures a row of each status must carry: the tables, figures and recommendation use them.
_VERIFY_MEASURED = ("accuracy", "delta_points", "agreement")
_BENCHMARK_TIMED = ("runs", "min_us", "p50_us", "p90_us", "p99_us", "max_us", "throughput_ips",
                    "load_ms")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`; None if the file does not exist.

    Raises:
        ModelError: the file exists but cannot be read, is not JSON or not a JSON object.
    """
    data = input_files.read_json(path, input_files.RESULTS, missing_ok=True)
    if data is not None and not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_verify(path: Path) -> dict[str, Any] | None:
    """A `lenet-edge verify --json` file, checked; None if absent.

    Raises:
        ModelError: unreadable, or a field the report needs is missing or of the wrong type.
    """
    return _checked(path, _check_verify, "lenet-edge verify --json")


def read_benchmark(path: Path) -> dict[str, Any] | None:
    """A `lenet-edge benchmark --json` file, checked; None if absent.

    Raises:
        ModelError: unreadable, or a field the report needs is missing or of the wrong type.
    """
    return _checked(path, _check_benchmark, "lenet-edge benchmark --json")


def read_pipeline(path: Path) -> dict[str, Any] | None:
    """The pipeline's record (config and stage timings), checked; None if absent."""
    return _checked(path, _check_pipeline, "lenet-edge pipeline")


def check_results(data: Any, kind: str) -> dict[str, Any]:
    """`data` if it is a checked `verify` or `benchmark` --json object (as a device sent it).

    Raises:
        schema.Invalid: what is wrong, for the caller to name the source.
    """
    if not isinstance(data, dict):
        raise _Invalid(f"expected a JSON object, got {type(data).__name__}")
    {"verify": _check_verify, "benchmark": _check_benchmark}[kind](data)
    return data


def _checked(path: Path, check, written_by: str) -> dict[str, Any] | None:
    data = read_json(path)
    if data is None:
        return None
    try:
        check(data)
    except _Invalid as exc:
        raise ModelError(f"{path}: not a '{written_by}' file: {exc}") from None
    return data


def _check_verify(data: dict[str, Any]) -> None:
    images = _field(data, "images", int)
    if images < 1:
        raise _Invalid(f"'images' must be at least 1, got {images}")
    gates = _field(data, "gates", dict)
    for key in ("max_drop", "min_agreement"):
        _field(gates, key, float, where="gates")
    for i, row in enumerate(_rows(data, "results")):
        where = f"results[{i}]"
        for key in ("variant", "runtime", "runtime_version"):
            _field(row, key, str, where)
        status = _status(row, VERIFY_STATUSES, where)
        for key in _VERIFY_MEASURED:  # only a loaded model has figures
            _field(row, key, float, where, nullable=status == "incompatible")
        _field(row, "message", str, where, optional=True, nullable=True)
        for index in _field(row, "worst", list, where, optional=True) or []:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise _Invalid(f"{where}.worst holds {index!r}; expected image indices >= 0")
        for delta in _field(row, "per_class_delta", list, where, optional=True,
                            nullable=True) or []:
            if delta is not None and not _is_number(delta):
                raise _Invalid(f"{where}.per_class_delta holds {delta!r}; expected numbers")
    _check_skipped(data)


def _check_benchmark(data: dict[str, Any]) -> None:
    _field(data, "machine", dict, optional=True)
    _check_policy(data)
    for i, row in enumerate(_rows(data, "results")):
        where = f"results[{i}]"
        for key in ("variant", "runtime"):
            _field(row, key, str, where)
        status = _status(row, BENCHMARK_STATUSES, where)
        batch = _field(row, "batch", int, where)
        if batch < 1:
            raise _Invalid(f"{where}.batch must be at least 1, got {batch}")
        _field(row, "bytes", int, where, optional=True, nullable=True)
        for key in _BENCHMARK_TIMED:  # only a loaded model was timed
            _field(row, key, float, where, nullable=status != "ok")
        _field(row, "peak_rss_mb", float, where, optional=True, nullable=True)
    _check_skipped(data)
    _check_threads(data)


def _check_policy(data: dict[str, Any]) -> None:
    """`policy`: the report prints "at least RUNS calls and MIN_TIME s per row"."""
    policy = _field(data, "policy", dict, optional=True) or {}
    for key, kind, low in (("runs", int, 1), ("warmup", int, 0), ("min_time", float, 0),
                           ("warmup_time", float, 0)):
        value = _field(policy, key, kind, "policy", optional=True)
        if value is not None and value < low:
            raise _Invalid(f"policy.{key} must be at least {low}, got {value!r}")


def _check_threads(data: dict[str, Any]) -> None:
    """`schedule` (the thread counts timed) and `recommendations` (one count per variant)."""
    schedule = _field(data, "schedule", dict, optional=True) or {}
    for count in _field(schedule, "threads", list, "schedule", optional=True) or []:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _Invalid(f"schedule.threads holds {count!r:.40}; expected thread counts >= 1")
    for i, row in enumerate(_rows(data, "recommendations", optional=True)):
        where = f"recommendations[{i}]"
        for key in ("variant", "runtime"):
            _field(row, key, str, where)
        if _field(row, "threads", int, where) < 1:
            raise _Invalid(f"{where}.threads must be at least 1, got {row['threads']}")


def _check_pipeline(data: dict[str, Any]) -> None:
    config = _field(data, "config", dict, optional=True) or {}
    prefer = _field(config, "prefer", str, "config", optional=True, nullable=True)
    if prefer is not None and prefer not in PREFERENCES:
        raise _Invalid(f"config.prefer is {prefer!r}; expected one of {', '.join(PREFERENCES)}")
    for i, row in enumerate(_rows(data, "stages", optional=True)):
        where = f"stages[{i}]"
        for key in ("stage", "process"):
            _field(row, key, str, where)
        for key in ("seconds", "cpu_seconds"):
            _field(row, key, float, where)


def _check_skipped(data: dict[str, Any]) -> None:
    """`skipped` rows (variants no installed runtime could run); an absent list is empty."""
    for i, row in enumerate(_rows(data, "skipped", optional=True)):
        for key in ("variant", "reason"):
            _field(row, key, str, f"skipped[{i}]")
    data.setdefault("skipped", [])


def _status(row: dict[str, Any], allowed: tuple[str, ...], where: str) -> str:
    status = _field(row, "status", str, where)
    if status not in allowed:
        raise _Invalid(f"{where}.status is {status!r}; expected one of {', '.join(allowed)}")
    return status
