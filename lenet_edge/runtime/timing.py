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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from lenet_edge.errors import UsageError

# numpy is imported where the samples are summarised: the CLI imports TimingPolicy for its
# options' defaults and help, and `--help` must not pay for numpy.

K = TypeVar("K")  # what names one of several timed calls, e.g. its thread count

# Upper bounds, so a typo (`--runs 10**12`) is an error rather than a run that never ends.
# Each is far beyond what a LeNet-5 measurement needs; the reason is on each line.
MAX_RUNS = 1_000_000  # p99 then rests on 10,000 tail samples; ~5 min at 0.3 ms/call (a Pi 4)
MAX_WARMUP = 100_000  # caches, branch predictors and clocks settle within tens of calls
# Seconds per variant, runtime and batch. Every call is kept as a sample: a minute of 10 us
# calls is 6M samples, ~200 MB of Python ints; and drift is fought by interleaving, not length.
MAX_MIN_TIME = 60.0
MAX_WARMUP_TIME = 10.0  # seconds: a CPU governor ramps up within ~100 ms


def check_seconds(value: object, option: str, high: float) -> None:
    """Raise UsageError, naming `option`, unless `value` is a number of seconds in [0, high].

    TimingPolicy's own check, for a command that sets a policy's time under another option
    name (the pipeline's --bench-time).
    """
    if not (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0):
        raise UsageError(f"{option} must be a number of seconds >= 0, got {value!r}")
    if value > high:
        raise UsageError(f"{option} must be at most {high:g} seconds, got {value:g}")


@dataclass(frozen=True)
class TimingPolicy:
    """How long to warm up and to measure; each phase ends when both its minimums are met.

    The one place these defaults, their help and their range checks live: `benchmark`'s
    options take them from here.
    """

    runs: int = field(default=1000, metadata={"help": "Timed calls at batch 1, at least."})
    min_time: float = field(default=2.0, metadata={"help": "Seconds of timed calls, at least."})
    warmup: int = field(default=50, metadata={"help": "Warm-up calls, at least."})
    # 0.5 s lets caches, branch predictors and CPU clocks settle
    warmup_time: float = field(default=0.5, metadata={"help": "Seconds of warm-up, at least."})

    def __post_init__(self):
        for name, low, high in (("runs", 1, MAX_RUNS), ("warmup", 0, MAX_WARMUP)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"--{name} must be an integer >= {low}, got {value!r}")
            if value > high:
                raise UsageError(f"--{name} must be at most {high:,}, got {value:,}")
        check_seconds(self.min_time, "--min-time", MAX_MIN_TIME)
        check_seconds(self.warmup_time, "--warmup-time", MAX_WARMUP_TIME)

    def for_batch(self, batch: int) -> TimingPolicy:
        """The policy for batches of `batch` images: the same images' worth of runs, same time."""
        return TimingPolicy(max(1, math.ceil(self.runs / batch)), self.min_time,
                            math.ceil(self.warmup / batch), self.warmup_time)


DEFAULT_TIMING = TimingPolicy()


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
        import numpy as np

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
    samples: list[int] = []
    _timed(call, policy.runs, policy.min_time, samples)
    return LatencyStats.from_ns(batch, samples)


def time_interleaved(calls: Mapping[K, Callable[[], object]], batch: int, policy: TimingPolicy,
                     order: Sequence[Sequence[K]]) -> dict[K, LatencyStats]:
    """Time several calls in rounds so that drift on a noisy machine hits each of them alike.

    Each call is first warmed up under the full policy. Then, for each round of `order` (a list
    of the calls' keys per round), every call runs its share: 1/rounds of the runs (rounded up)
    and of the time, after a short re-warm of 1/rounds of the warm-up calls (switching
    interpreters leaves the caches and an idle thread pool cold). In total each call gets at
    least `policy.runs` timed runs and `policy.min_time` seconds, as with time_calls.
    """
    rounds = len(order)
    if rounds == 0 or any(sorted(keys) != sorted(calls) for keys in order):
        raise ValueError("every round must run every call exactly once")
    for key in order[0]:
        if policy.warmup or policy.warmup_time:
            run_for(calls[key], policy.warmup, policy.warmup_time)
    runs, seconds = math.ceil(policy.runs / rounds), policy.min_time / rounds
    rewarm = math.ceil(policy.warmup / rounds)
    samples: dict[K, list[int]] = {key: [] for key in calls}
    for keys in order:
        for key in keys:
            if rewarm:
                run_for(calls[key], rewarm, 0.0)
            _timed(calls[key], runs, seconds, samples[key])
    return {key: LatencyStats.from_ns(batch, samples[key]) for key in calls}


def _timed(call: Callable[[], object], runs: int, seconds: float, samples: list[int]) -> None:
    """Append the duration of each call to `samples` until `runs` calls and `seconds` passed."""
    clock = time.perf_counter_ns
    record = samples.append
    deadline = clock() + int(seconds * 1e9)
    done = 0
    while True:
        start = clock()
        call()
        end = clock()
        record(end - start)
        done += 1
        if end >= deadline and done >= runs:
            return
