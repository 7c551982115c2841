"""Benchmark a bundle's variants on the device's runtimes: load, first call, latency, memory.

Per variant x runtime: load time (bytes already sha256-checked -> interpreter ready), the
first inference on one image, then timed calls at batch 1 and at `batch` (see timing.py for
exactly what is timed), throughput, and peak RSS. Images are the bundle's own reference
images. A runtime that cannot load a variant yields one row with status "incompatible".

Several thread counts: one interpreter each, timed interleaved and with a recommended count
per variant x runtime (threads.py). Optionally a cold start per variant x runtime: a fresh
process timed to its first result (cold_start.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import bundle
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import UsageError
from lenet_edge.results.benchmark import (  # noqa: F401 - the types benchmark() returns
    INCOMPATIBLE,
    OK,
    BenchmarkReport,
    BenchmarkResult,
)
from lenet_edge.results.skipped import Skipped
from lenet_edge.runtime import machine, regression
from lenet_edge.runtime.cold_start import ColdStart, measure_cold_start
from lenet_edge.runtime.input_adapter import adapt_input
from lenet_edge.runtime.input_ranges import recorded_input_range
from lenet_edge.runtime.plan import Job, plan_jobs, read_artifacts
from lenet_edge.runtime.runner import (
    IncompatibleModelError,
    Runner,
    import_runtime,
    load_runner,
)
from lenet_edge.runtime.runtimes import AUTO
from lenet_edge.runtime.threads import (
    ThreadRecommendation,
    check_threads,
    interleaved_order,
    recommend_threads,
    rounds_for,
    schedule_info,
)
from lenet_edge.runtime.timing import (
    DEFAULT_TIMING,
    LatencyStats,
    TimingPolicy,
    time_calls,
    time_interleaved,
)

# The largest --batch. LeNet throughput levels off at a few hundred images per call (measured
# here: 256 and 4096 within run-to-run noise on litert and onnxruntime), while memory keeps
# growing: the tiled input plus activations peak at ~700 MB in onnxruntime at 4096 (measured),
# as much as a small device can spare. Unbounded, a typo like 100000000 is a MemoryError.
MAX_BATCH = 4096

Progress = Callable[[str, int, int], None]  # (what just finished, done, total)


def benchmark(bundle_dir: str | Path, variants: Sequence[str] | None = None,
              runtimes: Sequence[str] = (AUTO,), threads: int | str | Sequence[int] = 1,
              runs: int = DEFAULT_TIMING.runs, warmup: int = DEFAULT_TIMING.warmup,
              batch: int = 64, min_time: float = DEFAULT_TIMING.min_time,
              warmup_time: float = DEFAULT_TIMING.warmup_time, baseline: str | Path | None = None,
              max_slowdown: float = 10.0, progress: Progress | None = None,
              cold_start: bool = False) -> BenchmarkReport:
    """Time each requested variant x runtime; optionally gate on a baseline's latencies.

    Args:
        threads: one interpreter thread count, or several ("1,2,4" or a list) to compare:
            timed interleaved, with a recommended count per variant x runtime (threads.py).
        runs, min_time: timed calls at batch 1 continue until both are reached; at `batch`
            the run count is scaled to the same number of images (timing.TimingPolicy).
        warmup, warmup_time: the same for the untimed warm-up.
        batch: the larger batch size for throughput, 1 to MAX_BATCH (1 times batch 1 only).
        baseline: an earlier `benchmark --json` file; rows slower than it (median latency)
            by more than `max_slowdown` percent make `passed` False.
        cold_start: also time a fresh process per variant x runtime to its first result.

    Raises:
        UsageError, ModelError, MissingDependencyError.
    """
    policy, counts, batches = check_options(threads, runs, warmup, batch, min_time,
                                            warmup_time, max_slowdown)
    baseline_rows = regression.read_baseline(baseline) if baseline is not None else None
    manifest = bundle.read_manifest(bundle_dir)
    jobs, skipped = plan_jobs(manifest, variants, runtimes)
    reference = bundle.load_reference(bundle_dir, manifest)
    blobs = read_artifacts(bundle_dir, jobs)
    # Tile the reference set when it holds fewer images than the batch.
    reps = -(-max(batches) // len(reference.images))
    images = preprocess(np.concatenate([reference.images] * reps)[: max(batches)])
    info = machine.machine_info()
    notes = machine_notes(info, counts)
    results: list[BenchmarkResult] = []
    for done, job in enumerate(jobs, start=1):
        adapter = partial(adapt_input, input_range=recorded_input_range(manifest, job.entry),
                          source=job.entry["file"])
        results.extend(bench_job(job, blobs[job.variant], lambda r, a=adapter: a(r)(images),
                                 batches, policy, counts))
        if progress:
            progress(f"{job.variant} on {job.runtime.name}", done, len(jobs))
    rows = [r.to_dict() for r in results]
    recommendations = tuple(recommend_threads(rows))
    comparison = None
    if baseline_rows is not None:
        comparison = regression.compare(rows, baseline_rows, max_slowdown, str(baseline))
    return BenchmarkReport(
        str(bundle_dir), info, asdict(policy), tuple(results),
        tuple(Skipped(s.variant, s.reason) for s in skipped), comparison,
        tuple(notes), schedule_info(counts),
        recommendations,
        _cold_starts(bundle_dir, jobs, results, recommendations, counts[0], progress)
        if cold_start else None)


def check_options(threads: int | str | Sequence[int], runs: int, warmup: int, batch: int,
                  min_time: float, warmup_time: float,
                  max_slowdown: float) -> tuple[TimingPolicy, tuple[int, ...], list[int]]:
    """The timing policy, thread counts and batch sizes; UsageError for an option out of range
    (checked before anything loads)."""
    policy = TimingPolicy(runs, float(min_time), warmup, float(warmup_time))
    counts = check_threads(threads)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise UsageError(f"--batch must be an integer >= 1, got {batch!r}")
    if batch > MAX_BATCH:
        raise UsageError(f"--batch must be at most {MAX_BATCH} (throughput is flat well before "
                         f"that; memory is not), got {batch}")
    regression.check_max_slowdown(max_slowdown)
    return policy, counts, sorted({1, batch})


def machine_notes(info: dict[str, Any], counts: tuple[int, ...]) -> list[str]:
    """What the report must say about how far its figures can be trusted on this machine."""
    notes = []
    if info.get("emulated"):
        notes.append(f"emulated ({info['emulated']}): latency figures are functional only; "
                     "never compare them with a real device")
    if not machine.reset_peak_rss():
        notes.append("peak_rss_mb is the process peak since start (no per-run reset)")
    if len(counts) > 1:
        notes.append("peak_rss_mb covers the interpreters of every thread count at once "
                     "(they are timed interleaved)")
    return notes


def bench_job(job: Job, data: bytes, inputs: Callable[[Runner], np.ndarray],
              batches: list[int], policy: TimingPolicy,
              counts: tuple[int, ...]) -> list[BenchmarkResult]:
    """Rows for one variant x runtime: per batch, one per thread count (one interpreter each).

    `inputs(runner)` gives the first runner loaded its batch, in the model's own layout and
    units (input_adapter.py): at least the largest batch size of images.
    """
    machine.reset_peak_rss()  # so each row's peak covers its own load and runs
    size = len(data)
    runners, load_ms, first_ms, images = {}, {}, {}, None
    try:
        import_runtime(job.runtime.name, job.entry["format"])  # not part of the load time
        for threads in counts:
            start = time.perf_counter_ns()
            runners[threads] = load_runner(data, job.entry["format"], job.runtime.name,
                                           threads, source=job.entry["file"])
            load_ms[threads] = (time.perf_counter_ns() - start) / 1e6
            if images is None:
                images = inputs(runners[threads])
            start = time.perf_counter_ns()
            runners[threads].predict(images[:1])
            first_ms[threads] = (time.perf_counter_ns() - start) / 1e6
        stats = {b: _time_batch(job, runners, images[:b], policy.for_batch(b)) for b in batches}
    except IncompatibleModelError as exc:  # the runtime refuses the model at any thread count
        return [BenchmarkResult(job.variant, job.runtime.name, exc.runtime_version, counts[0],
                                batches[0], INCOMPATIBLE, size, message=str(exc))]
    peak = machine.peak_rss_mb()
    runner = runners[counts[0]]
    return [
        BenchmarkResult(
            job.variant, runner.runtime, runner.runtime_version, threads, s.batch, OK, size,
            load_ms=load_ms[threads], first_ms=first_ms[threads], runs=s.runs,
            mean_us=s.mean_us, std_us=s.std_us, min_us=s.min_us, p50_us=s.p50_us,
            p90_us=s.p90_us, p99_us=s.p99_us, max_us=s.max_us,
            throughput_ips=s.throughput_ips, peak_rss_mb=peak,
        )
        for b in batches for threads, s in stats[b].items()
    ]


def _time_batch(job: Job, runners: dict[int, Any], images: np.ndarray,
                policy: TimingPolicy) -> dict[int, LatencyStats]:
    """Latency per thread count at one batch size; several counts are timed interleaved."""
    batch = len(images)
    calls = {threads: runner.prepare(images).run for threads, runner in runners.items()}
    if len(calls) == 1:
        ((threads, call),) = calls.items()
        return {threads: time_calls(call, batch, policy)}
    counts = sorted(calls)
    order = interleaved_order(counts, rounds_for(counts, policy.runs),
                              f"{job.variant}/{job.runtime.name}/{batch}")
    stats = time_interleaved(calls, batch, policy, order)
    return {threads: stats[threads] for threads in counts}


def _cold_starts(bundle_dir: str | Path, jobs: Sequence[Job], results: Sequence[BenchmarkResult],
                 recommendations: Sequence[ThreadRecommendation], default_threads: int,
                 progress: Progress | None) -> tuple[ColdStart, ...]:
    """A cold start per variant x runtime that loaded, at its recommended thread count."""
    loaded = {(r.variant, r.runtime) for r in results if r.status == OK}
    picked = {(r.variant, r.runtime): r.threads for r in recommendations}
    todo = [j for j in jobs if (j.variant, j.runtime.name) in loaded]
    found = []
    for done, job in enumerate(todo, start=1):
        key = (job.variant, job.runtime.name)
        found.append(measure_cold_start(bundle_dir, job.variant, job.entry["format"],
                                        job.runtime.name, picked.get(key, default_threads)))
        if progress:
            progress(f"cold start of {job.variant} on {job.runtime.name}", done, len(todo))
    return tuple(found)
