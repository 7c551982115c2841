"""Several thread counts in one benchmark: parsing, the interleaved schedule, the pick."""

from __future__ import annotations

import pytest

from lenet_edge.errors import UsageError
from lenet_edge.runtime.threads import (
    MAX_THREADS,
    check_threads,
    interleaved_order,
    recommend_threads,
    rounds_for,
)
from lenet_edge.runtime.timing import TimingPolicy, time_interleaved

# --- which thread counts ---------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    (1, (1,)), ("4", (4,)), ("4, 1,2", (1, 2, 4)), ([2, 1], (1, 2)), ("64", (64,)),
])
def test_thread_counts_parse_and_sort(value, expected):
    assert check_threads(value) == expected


@pytest.mark.parametrize("value,message", [
    ("0", "must be an integer >= 1, got 0"),
    ("1,-2", "must be an integer >= 1, got -2"),
    (f"{MAX_THREADS + 1}", f"at most {MAX_THREADS}, got {MAX_THREADS + 1}"),
    ("1,2,1", "lists 1 more than once"),
    ("two", "integers separated by commas"),
    ("1,,2", "integers separated by commas"),
    ("", "integers separated by commas"),
    ([], "at least one thread count"),
    (True, "must be an integer >= 1, got True"),
])
def test_bad_thread_counts_are_usage_errors(value, message):
    with pytest.raises(UsageError, match=message):
        check_threads(value)


# --- the interleaved schedule ----------------------------------------------------------------


def test_each_round_runs_every_count_in_a_reproducible_shuffle():
    order = interleaved_order((1, 2, 4), rounds=10, group="fp32/litert/1")
    assert all(sorted(r) == [1, 2, 4] for r in order)
    assert len({tuple(r) for r in order}) > 1  # shuffled afresh, not one fixed order
    assert order == interleaved_order((1, 2, 4), rounds=10, group="fp32/litert/1")
    assert order != interleaved_order((1, 2, 4), rounds=10, group="int8/litert/1")


def test_rounds_split_the_runs_only_when_there_is_something_to_compare():
    assert rounds_for((1,), 1000) == 1
    assert rounds_for((1, 2), 1000) == 10
    assert rounds_for((1, 2), 3) == 3  # every round times at least one call


def test_timed_calls_interleave_in_the_scheduled_order():
    log: list[int] = []
    calls = {k: (lambda k=k: log.append(k)) for k in (1, 2, 4)}
    order = interleaved_order((1, 2, 4), rounds=5, group="g")
    policy = TimingPolicy(runs=10, min_time=0.0, warmup=5, warmup_time=0.0)
    stats = time_interleaved(calls, 1, policy, order)
    # Warm-up: 5 calls each in the first round's order; then per round 1 re-warm + 2 timed.
    expected = [k for k in order[0] for _ in range(5)]
    expected += [k for keys in order for k in keys for _ in range(3)]
    assert log == expected
    assert all(s.runs == 10 for s in stats.values())
    # Not all of one count's runs first: every count is timed in the first and last rounds.
    timed = log[15:]
    assert set(timed[:9]) == set(timed[-9:]) == {1, 2, 4}


def test_an_order_that_skips_a_call_is_refused():
    with pytest.raises(ValueError, match="every round must run every call"):
        time_interleaved({1: lambda: None, 2: lambda: None}, 1, TimingPolicy(), [[1]])


# --- the recommendation ----------------------------------------------------------------------


def _row(threads, p90, batch=1, variant="fp32", status="ok", p50=None):
    return {"variant": variant, "runtime": "litert", "threads": threads, "batch": batch,
            "p50_us": p50 or p90, "p90_us": p90, "status": status}


def test_the_fewest_threads_within_five_percent_of_the_best_p90_win():
    rows = [_row(1, 10.4), _row(2, 10.0), _row(4, 9.8), _row(1, 900, batch=64),
            _row(2, 300, batch=64), _row(1, 50, variant="int8"), _row(2, 20, variant="int8"),
            _row(4, 22, variant="int8"), _row(1, None, variant="int16x8", status="incompatible")]
    fp32, int8 = recommend_threads(rows)
    # fp32: 1 thread is 6% behind 4 threads, 2 threads 2%: 2 wins; batch 64 does not count.
    assert (fp32.variant, fp32.threads, fp32.best_threads) == ("fp32", 2, 4)
    assert (int8.variant, int8.threads, int8.best_threads) == ("int8", 2, 2)
    assert "p90 is within 5%" in fp32.rule
    assert fp32.describe() == ("fp32 on litert: 2 threads (batch 1: p90 10.0 µs, median 10.0 µs; "
                               "4 threads: p90 9.8 µs)")


def test_a_lower_median_bought_with_stalls_is_not_recommended():
    # As measured for fp16 on litert: the second thread lowers the median, stalls the p90.
    (rec,) = recommend_threads([_row(1, 12.2, variant="fp16", p50=12.1),
                                _row(2, 14.5, variant="fp16", p50=9.2)])
    assert (rec.threads, rec.p90_us, rec.p50_us) == (1, 12.2, 12.1)
    assert rec.describe() == "fp16 on litert: 1 thread (batch 1: p90 12.2 µs, median 12.1 µs)"
