"""Compare benchmark latencies with a baseline run: the `--compare` / `--max-slowdown` gate.

The result is a RegressionReport (results/regression.py), the shape `verify --baseline`
gives too. Rows are matched on variant, runtime, batch and threads. The median (p50) is
compared, not the mean: one scheduler hiccup moves a mean of a thousand 10 µs calls, it does
not move the median.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lenet_edge.errors import UsageError
from lenet_edge.files import input_files
from lenet_edge.results.regression import FAIL, P50, PASS, RegressionReport, RegressionRow
from lenet_edge.schema import Invalid, describe, field

KEY_FIELDS = ("variant", "runtime", "batch", "threads")


def check_max_slowdown(max_slowdown_pct: float) -> None:
    if not (math.isfinite(max_slowdown_pct) and max_slowdown_pct >= 0):
        raise UsageError(f"--max-slowdown must be a percentage >= 0, got {max_slowdown_pct}")


def read_baseline(path: str | Path) -> list[dict[str, Any]]:
    """The timed rows of an earlier `benchmark --json` file; UsageError if it is not one."""
    path = Path(path)
    data = input_files.read_json(path, input_files.RESULTS, name=f"--compare {path}",
                                 error=UsageError)
    rows = data.get("results") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise UsageError(f"--compare {path}: not a 'lenet-edge benchmark --json' file "
                         "(no 'results' list)")
    timed = []
    for i, row in enumerate(rows):
        try:
            if _timed(row, f"results[{i}]"):
                timed.append(row)
        except Invalid as exc:
            raise UsageError(f"--compare {path}: not a 'lenet-edge benchmark --json' file: "
                             f"{exc}") from None
    return timed


def _timed(row: Any, where: str) -> bool:
    """True if a baseline row holds a median to compare with; Invalid if a field is wrong.

    A row that was not timed (status other than ok, p50_us null) is skipped; a p50_us that
    is there but not a positive number is refused, not skipped: dropping the row would let
    the gate pass on the others.
    """
    if not isinstance(row, dict):
        raise Invalid(f"{where} must be an object, got {describe(row)}")
    for key in ("variant", "runtime"):
        field(row, key, str, where)
    for key in ("batch", "threads"):
        if field(row, key, int, where) < 1:
            raise Invalid(f"{where}.{key} must be at least 1, got {row[key]}")
    status = field(row, "status", str, where, optional=True)
    p50 = field(row, "p50_us", float, where, optional=status not in (None, "ok"),
                nullable=status not in (None, "ok"))
    if p50 is None:
        return False
    if p50 <= 0:
        raise Invalid(f"{where}.p50_us must be a latency > 0, got {p50!r}")
    return True


def compare(rows: Iterable[dict[str, Any]], baseline: list[dict[str, Any]],
            max_slowdown_pct: float, source: str = "baseline") -> RegressionReport:
    """A p50 row per timed row (BenchmarkResult.to_dict()) that the baseline also timed; its
    change is the percent slower than the baseline (negative: faster).

    Raises:
        UsageError: the baseline shares no variant x runtime x batch x threads with `rows`.
    """
    by_key = {tuple(r[k] for k in KEY_FIELDS): r for r in baseline}
    found = []
    for row in rows:
        base = by_key.get(tuple(row[k] for k in KEY_FIELDS))
        if base is None or row.get("p50_us") is None:
            continue
        slowdown = (row["p50_us"] / base["p50_us"] - 1.0) * 100.0
        found.append(RegressionRow(
            row["variant"], row["runtime"], P50, base["p50_us"], row["p50_us"], slowdown,
            max_slowdown_pct, FAIL if slowdown > max_slowdown_pct else PASS,
            batch=row["batch"], threads=row["threads"]))
    if not found:
        raise UsageError(f"--compare {source}: shares no variant x runtime x batch x threads "
                         "with this run; nothing to compare")
    return RegressionReport(source, {"max_slowdown_pct": max_slowdown_pct}, tuple(found))
