"""Several interpreter thread counts in one benchmark: the counts, their order, the pick.

Each thread count gets its own interpreter (threads are fixed at load). Their timed calls are
interleaved: the runs are split into rounds, and in each round every count runs its share in
a freshly shuffled order. On a shared, noisy machine drift (another job, a clock change)
then hits every thread count alike instead of whichever happened to run last. The shuffles
come from `random.Random` seeded with SEED and the group's name, so a run is reproducible.

The recommendation is the fewest threads whose batch-1 p90 latency is within TOLERANCE of
the best count's: LeNet-5 is too small to split well, so extra threads mostly keep cores busy
for a gain below the noise. The p90, not the median: a second thread can lower the median yet
stall more than one call in ten while its worker wakes or waits for a core. Measured on a
shared 2-core x86 with litert, fp16: median 12.1 -> 9.2 µs, but p90 12.2 -> 14.5 µs and mean
12.4 -> 18.3 µs. A p90 still ignores the rare scheduler hiccup that moves a mean.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lenet_edge.errors import UsageError

# The largest --threads: more than any board this targets has cores, and well past the point
# where a 0.4 M-MAC model gains anything; a typo like 400 is refused instead of spawning 400.
MAX_THREADS = 64
ROUNDS = 10  # rounds per variant x runtime x batch when several counts are compared
SEED = 0
TOLERANCE = 0.05  # "as fast as the best": within 5% of its batch-1 p90
RULE = (f"the fewest threads whose batch-1 p90 is within {TOLERANCE:.0%} of the best count's; "
        "more threads on a tiny model mostly burn cores")
ORDER_POLICY = (f"timed runs split into up to {ROUNDS} rounds per variant x runtime x batch; "
                "in each round every thread count runs its share, in an order shuffled by "
                "random.Random(f'{seed}/{variant}/{runtime}/{batch}')")


def check_threads(value: int | str | Sequence[int]) -> tuple[int, ...]:
    """Thread counts from an int, a list of ints, or text like "1,2,4"; ascending.

    Raises:
        UsageError: not integers, below 1, above MAX_THREADS, repeated, or none at all.
    """
    if isinstance(value, str):
        items: list[Any] = []
        for part in value.split(","):
            try:
                items.append(int(part.strip()))
            except ValueError:
                raise UsageError(f"--threads must be integers separated by commas (e.g. 1,2,4), "
                                 f"got {value!r}") from None
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise UsageError("--threads needs at least one thread count")
    for count in items:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UsageError(f"--threads must be an integer >= 1, got {count!r}")
        if count > MAX_THREADS:
            raise UsageError(f"--threads must be at most {MAX_THREADS}, got {count}")
    repeated = sorted({c for c in items if items.count(c) > 1})
    if repeated:
        raise UsageError(f"--threads lists {', '.join(map(str, repeated))} more than once, "
                         f"got {value!r}")
    return tuple(sorted(items))


def rounds_for(counts: Sequence[int], runs: int) -> int:
    """How many rounds to split `runs` timed calls into: one when there is nothing to compare."""
    return 1 if len(counts) < 2 else max(1, min(ROUNDS, runs))


def interleaved_order(counts: Sequence[int], rounds: int, group: str,
                      seed: int = SEED) -> list[list[int]]:
    """For each round, the thread counts in the order they run; a fresh shuffle per round."""
    rng = random.Random(f"{seed}/{group}")
    order = []
    for _ in range(rounds):
        current = list(counts)
        rng.shuffle(current)
        order.append(current)
    return order


def schedule_info(counts: Sequence[int]) -> dict[str, Any]:
    """What the JSON records about how thread counts were measured."""
    return {"threads": list(counts), "seed": SEED, "max_rounds": ROUNDS,
            "interleaved": len(counts) > 1, "order": ORDER_POLICY}


@dataclass(frozen=True)
class ThreadRecommendation:
    """The thread count to use for one variant x runtime, and the figures behind it."""

    variant: str
    runtime: str
    threads: int
    p90_us: float  # its batch-1 p90 latency, which decided
    p50_us: float  # its batch-1 median
    best_threads: int  # the count with the lowest p90
    best_p90_us: float
    rule: str = RULE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        text = (f"{self.variant} on {self.runtime}: {self.threads} thread"
                f"{'s' if self.threads > 1 else ''} (batch 1: p90 {self.p90_us:.1f} µs, "
                f"median {self.p50_us:.1f} µs")
        if self.best_threads != self.threads:
            text += f"; {self.best_threads} threads: p90 {self.best_p90_us:.1f} µs"
        return text + ")"


def recommend_threads(rows: Iterable[dict[str, Any]],
                      tolerance: float = TOLERANCE) -> list[ThreadRecommendation]:
    """One recommendation per variant x runtime timed at batch 1 (benchmark result dicts)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("status") == "ok" and row.get("batch") == 1 and row.get("p90_us"):
            groups.setdefault((row["variant"], row["runtime"]), []).append(row)
    found = []
    for (variant, runtime), timed in groups.items():
        best = min(timed, key=lambda r: r["p90_us"])
        pick = min((r for r in timed if r["p90_us"] <= best["p90_us"] * (1 + tolerance)),
                   key=lambda r: r["threads"])
        found.append(ThreadRecommendation(variant, runtime, pick["threads"], pick["p90_us"],
                                          pick["p50_us"], best["threads"], best["p90_us"]))
    return found
