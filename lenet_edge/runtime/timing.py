"""Time one prepared call many times: warm-up, then timed runs bounded by count AND time.

What is timed: each call to `PreparedCall.run` on its own, between two `perf_counter_ns`
reads: copying the pre-quantised input into the interpreter, `invoke()`, copying the output
out. That is what a caller pays per batch. Quantising float images and dequantising logits
are numpy work done once in `prepare` and left out. The harness's own cost per call is two
clock reads and a list append (scripts/bench_runtime.py measures it against a bare loop).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lenet_edge.errors import UsageError


@dataclass(frozen=True)
class TimingPolicy:
    """How long to warm up and to measure; each phase ends when both its minimums are met."""

    runs: int = 1000
    min_time: float = 2.0  # seconds
    warmup: int = 50
    warmup_time: float = 0.5  # seconds: lets caches, branch predictors and CPU clocks settle

    def __post_init__(self):
        for name in ("runs", "warmup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (name == "runs"):
                low = 1 if name == "runs" else 0
                raise UsageError(f"--{name} must be an integer >= {low}, got {value!r}")
        for name in ("min_time", "warmup_time"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                option = name.replace("_", "-")
                raise UsageError(f"--{option} must be a number of seconds >= 0, got {value!r}")

    def for_batch(self, batch: int) -> TimingPolicy:
        """The policy for batches of `batch` images: the same images' worth of runs, same time."""
        return TimingPolicy(max(1, math.ceil(self.runs / batch)), self.min_time,
                            math.ceil(self.warmup / batch), self.warmup_time)


@dataclass(frozen=True)
class LatencyStats:
    """Per-call latency in microseconds over `runs` timed calls of `batch` images."""

    batch: int
    runs: int
    mean_us: float
    std_us: float
    min_us: float
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float

    @property
    def throughput_ips(self) -> float:
        return self.batch * 1e6 / self.mean_us if self.mean_us > 0 else math.inf

    @classmethod
    def from_ns(cls, batch: int, samples_ns) -> LatencyStats:
        us = np.asarray(samples_ns, dtype=np.float64) / 1e3
        p50, p90, p99 = np.percentile(us, [50, 90, 99])
        return cls(batch, len(us), float(us.mean()), float(us.std()), float(us.min()),
                   float(p50), float(p90), float(p99), float(us.max()))


def run_for(call: Callable[[], object], runs: int, seconds: float) -> int:
    """Call `call` until it has run at least `runs` times and `seconds` have passed."""
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)
    done = 0
    while done < runs or clock() < deadline:
        call()
        done += 1
    return done


def time_calls(call: Callable[[], object], batch: int, policy: TimingPolicy) -> LatencyStats:
    """Warm up, then time each call separately; returns the latency distribution."""
    if policy.warmup or policy.warmup_time:
        run_for(call, policy.warmup, policy.warmup_time)
    clock = time.perf_counter_ns
    samples: list[int] = []
    record = samples.append
    runs = policy.runs
    deadline = clock() + int(policy.min_time * 1e9)
    while True:
        start = clock()
        call()
        end = clock()
        record(end - start)
        if end >= deadline and len(samples) >= runs:
            return LatencyStats.from_ns(batch, samples)
