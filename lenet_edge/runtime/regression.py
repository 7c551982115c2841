"""Compare benchmark latencies with a baseline run: the `--compare` / `--max-slowdown` gate.

Rows are matched on variant, runtime, batch and threads. The median (p50) is compared, not
the mean: one scheduler hiccup moves a mean of a thousand 10 µs calls, it does not move the
median.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lenet_edge import input_files
from lenet_edge.errors import UsageError

KEY_FIELDS = ("variant", "runtime", "batch", "threads")


@dataclass(frozen=True)
class Comparison:
    """One row's latency against the baseline's."""

    variant: str
    runtime: str
    batch: int
    threads: int
    baseline_p50_us: float
    p50_us: float
    slowdown_pct: float  # positive: slower than the baseline
    regressed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    for row in rows:
        if not isinstance(row, dict) or any(k not in row for k in KEY_FIELDS):
            raise UsageError(f"--compare {path}: a result lacks one of {', '.join(KEY_FIELDS)}")
        p50 = row.get("p50_us")
        if isinstance(p50, (int, float)) and p50 > 0:
            timed.append(row)
    return timed


def compare(rows: Iterable[dict[str, Any]], baseline: list[dict[str, Any]],
            max_slowdown_pct: float, source: str = "baseline") -> list[Comparison]:
    """A Comparison per timed row that the baseline also timed.

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
        found.append(Comparison(row["variant"], row["runtime"], row["batch"], row["threads"],
                                base["p50_us"], row["p50_us"], slowdown,
                                slowdown > max_slowdown_pct))
    if not found:
        raise UsageError(f"--compare {source}: shares no variant x runtime x batch x threads "
                         "with this run; nothing to compare")
    return found
