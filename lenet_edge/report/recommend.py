"""Which variant to ship: pure functions over `verify` and `benchmark` results.

Both inputs are the reports `lenet-edge verify --json` and `benchmark --json` write, read
back (results/; the same files `deploy` brings back from a device), so a recommendation can
be made for this machine or for any device, with no interpreter and no TensorFlow.

Rules: a candidate is a variant x runtime that passed the accuracy gates. `prefer="size"`
takes the smallest file (ties: the lower median latency at batch 1); `prefer="latency"`
takes the lowest median latency at batch 1 (ties: the smaller file). Every other
variant x runtime is listed as rejected, with the figure that decided it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lenet_edge.errors import UsageError

if TYPE_CHECKING:  # results/pipeline.py imports PREFERENCES from here
    from lenet_edge.results.benchmark import BenchmarkReport, BenchmarkResult
    from lenet_edge.results.verify import VerifyReport

PREFERENCES = ("size", "latency")
# A latency lead smaller than this is called out as possibly noise: short benchmarks on a
# busy machine gave medians of one variant up to 1.5x apart between runs (measured).
CLOSE_LATENCY = 0.10

# Why a variant x runtime was not recommended.
GATE, INCOMPATIBLE, NOT_RUN, LARGER, SLOWER, UNMEASURED = (
    "failed gate", "incompatible", "not run", "larger", "slower", "not measured")


@dataclass(frozen=True)
class Outcome:
    """What one variant achieved on one runtime: verify and benchmark results joined."""

    variant: str
    runtime: str
    status: str  # verify's pass / fail / incompatible, or "skipped" (no runtime installed)
    bytes: int | None = None
    accuracy: float | None = None
    delta_points: float | None = None
    agreement: float | None = None
    p50_us: float | None = None  # median latency at batch 1
    throughput_ips: float | None = None  # images per second at the largest batch timed
    throughput_batch: int | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rejection:
    variant: str
    runtime: str
    why: str  # one of GATE, INCOMPATIBLE, NOT_RUN, LARGER, SLOWER, UNMEASURED
    detail: str  # the figures or the message that decided it


@dataclass(frozen=True)
class Recommendation:
    """The variant to ship (None when nothing passed), the reason, and every rejection."""

    prefer: str
    variant: str | None
    runtime: str | None
    reason: str
    chosen: Outcome | None = None
    rejected: list[Rejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefer": self.prefer, "variant": self.variant, "runtime": self.runtime,
            "reason": self.reason, "chosen": self.chosen.to_dict() if self.chosen else None,
            "rejected": [asdict(r) for r in self.rejected],
        }


def check_preference(prefer: str) -> str:
    if prefer not in PREFERENCES:
        raise UsageError(f"unknown preference {prefer!r}; choose from {', '.join(PREFERENCES)}")
    return prefer


def outcomes(verify: VerifyReport, benchmark: BenchmarkReport | None = None,
             sizes: Mapping[str, int] | None = None) -> list[Outcome]:
    """One Outcome per verify result (in its order), then one per variant verify skipped.

    Args:
        verify: a verify report (results/verify.py).
        benchmark: a benchmark report, for latency and throughput (and sizes).
        sizes: file size in bytes per variant (e.g. from the manifest); else the benchmark's.
    """
    rows = benchmark.results if benchmark else ()
    # With several thread counts timed, each variant x runtime is judged at the one
    # benchmark recommended for it.
    chosen = {(t.variant, t.runtime): t.threads
              for t in (benchmark.recommendations if benchmark else ())}
    timed: dict[tuple[str, str], list[BenchmarkResult]] = {}
    for row in rows:
        key = (row.variant, row.runtime)
        if row.timed and chosen.get(key, row.threads) == row.threads:
            timed.setdefault(key, []).append(row)
    sizes = dict(sizes or {})
    for row in rows:
        sizes.setdefault(row.variant, row.bytes)
    found = []
    for r in verify.results:
        measured = timed.get((r.variant, r.runtime), [])
        single = [row for row in measured if row.batch == 1]
        largest = max(measured, key=lambda row: row.batch, default=None)
        found.append(Outcome(
            r.variant, r.runtime, r.status, sizes.get(r.variant), r.accuracy, r.delta_points,
            r.agreement, single[0].p50_us if single else None,
            largest.throughput_ips if largest else None, largest.batch if largest else None,
            r.message,
        ))
    for s in verify.skipped:
        found.append(Outcome(s.variant, "-", "skipped", sizes.get(s.variant), message=s.reason))
    return found


def recommend(verify: VerifyReport, benchmark: BenchmarkReport | None = None,
              prefer: str = "size", sizes: Mapping[str, int] | None = None) -> Recommendation:
    """The smallest (`prefer="size"`) or fastest (`"latency"`) variant that passed the gates.

    Args:
        verify, benchmark, sizes: as for `outcomes`; latency needs `benchmark`.
        prefer: "size" or "latency".

    Raises:
        UsageError: unknown preference.
    """
    check_preference(prefer)
    rows = outcomes(verify, benchmark, sizes)
    rejected: list[Rejection] = []
    eligible = []
    for o in rows:
        if o.status == "fail":
            rejected.append(Rejection(o.variant, o.runtime, GATE, o.message))
        elif o.status == "incompatible":
            rejected.append(Rejection(o.variant, o.runtime, INCOMPATIBLE, o.message))
        elif o.status != "pass":
            rejected.append(Rejection(o.variant, o.runtime, NOT_RUN, o.message or o.status))
        elif _metric(o, prefer) is None:
            missing = "file size unknown" if prefer == "size" else "no benchmark at batch 1"
            rejected.append(Rejection(o.variant, o.runtime, UNMEASURED, missing))
        else:
            eligible.append(o)
    gates = _gates_text(verify)
    if not eligible:
        passed = sum(o.status == "pass" for o in rows)
        metric = "file size" if prefer == "size" else "latency at batch 1"
        reason = (f"{passed} variant(s) passed the accuracy gates but none has a measured "
                  f"{metric}" if passed else f"no variant passed the accuracy gates ({gates})")
        return Recommendation(prefer, None, None, reason, None, rejected)
    chosen = min(eligible, key=lambda o: _rank(o, prefer))
    for o in eligible:
        if o is not chosen:
            rejected.append(_beaten(o, chosen, prefer))
    order = {(o.variant, o.runtime): i for i, o in enumerate(rows)}
    rejected.sort(key=lambda r: order[(r.variant, r.runtime)])
    what = "smallest" if prefer == "size" else "fastest (median latency at batch 1)"
    reason = (f"{what} variant that passed the accuracy gates ({gates}): "
              f"{chosen.variant} on {chosen.runtime}, {describe(chosen, _fp32_bytes(rows))}")
    if prefer == "latency":
        reason += _close_call(chosen, eligible)
    return Recommendation(prefer, chosen.variant, chosen.runtime, reason, chosen, rejected)


def describe(o: Outcome, fp32_bytes: int | None = None) -> str:
    """`70.1 KiB (29% of fp32), accuracy 98.33% (+0.00 points), agreement 100.00%, p50 36 µs`."""
    parts = []
    if o.bytes is not None:
        share = f" ({o.bytes / fp32_bytes:.0%} of fp32)" if fp32_bytes else ""
        parts.append(f"{kib(o.bytes)}{share}")
    if o.accuracy is not None:
        parts.append(f"accuracy {o.accuracy:.2%} ({o.delta_points:+.2f} points vs float)")
        parts.append(f"agreement {o.agreement:.2%}")
    if o.p50_us is not None:
        parts.append(f"p50 {o.p50_us:.1f} µs at batch 1")
    return ", ".join(parts)


def kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def _close_call(chosen: Outcome, eligible: list[Outcome]) -> str:
    """A warning when the runner-up's median is within CLOSE_LATENCY of the winner's."""
    others = [o for o in eligible if o is not chosen]
    if not others:
        return ""
    runner_up = min(others, key=lambda o: _rank(o, "latency"))
    if runner_up.p50_us > chosen.p50_us * (1 + CLOSE_LATENCY):
        return ""
    return (f"; close call: {runner_up.variant} on {runner_up.runtime} is within "
            f"{CLOSE_LATENCY:.0%} (p50 {runner_up.p50_us:.1f} µs), which may be noise: "
            "confirm with 'lenet-edge benchmark' on the device")


def _metric(o: Outcome, prefer: str) -> float | None:
    return o.bytes if prefer == "size" else o.p50_us


def _rank(o: Outcome, prefer: str) -> tuple[float, float]:
    p50 = o.p50_us if o.p50_us is not None else math.inf
    size = o.bytes if o.bytes is not None else math.inf
    return (size, p50) if prefer == "size" else (p50, size)


def _beaten(o: Outcome, chosen: Outcome, prefer: str) -> Rejection:
    """Why a passing variant lost to `chosen`, with both figures (the tie-break says so)."""
    size = (f"{kib(o.bytes)} vs {kib(chosen.bytes)}"
            if o.bytes is not None and chosen.bytes is not None else "size unknown")
    latency = _latency_vs(o, chosen)
    if prefer == "size":
        if o.bytes != chosen.bytes:
            return Rejection(o.variant, o.runtime, LARGER, size)
        return Rejection(o.variant, o.runtime, SLOWER, f"same size, {latency}")
    if o.p50_us != chosen.p50_us:
        return Rejection(o.variant, o.runtime, SLOWER, latency)
    return Rejection(o.variant, o.runtime, LARGER, f"same p50, {size}")


def _latency_vs(o: Outcome, chosen: Outcome) -> str:
    if o.p50_us is None or chosen.p50_us is None:
        return "latency not measured"
    return f"p50 {o.p50_us:.1f} µs vs {chosen.p50_us:.1f} µs at batch 1"


def _gates_text(verify: VerifyReport) -> str:
    return (f"accuracy drop <= {verify.max_drop:g} points, "
            f"agreement >= {verify.min_agreement:g}")


def _fp32_bytes(rows: list[Outcome]) -> int | None:
    return next((o.bytes for o in rows if o.variant == "fp32" and o.bytes), None)
