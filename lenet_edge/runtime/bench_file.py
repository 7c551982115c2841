"""Benchmark a single model file: any .tflite / .onnx, as benchmark_model times any model.

The same measurements as a bundle's benchmark (bench.py: load, first call, batch 1 and
`batch`, thread counts, --compare), on inputs generated to the model's own shape, dtype and
input range with a fixed seed (input_adapter.benchmark_inputs): a bare file brings no images.
The row's "variant" is the file's name. No cold start: that child process loads a bundle.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.runtime import machine, regression
from lenet_edge.runtime.bench import Progress, bench_job, check_options, machine_notes
from lenet_edge.runtime.input_adapter import benchmark_inputs
from lenet_edge.runtime.input_ranges import AUTO, check_input_range
from lenet_edge.runtime.model_file import open_model_file
from lenet_edge.runtime.plan import Job
from lenet_edge.runtime.threads import recommend_threads, schedule_info
from lenet_edge.runtime.timing import DEFAULT_TIMING

NO_COLD_START = "cold start: not measured for a single file (it times a bundle's variant)"


def benchmark_file(path: str | os.PathLike, runtime: str = AUTO,
                   threads: int | str | Sequence[int] = 1, runs: int = DEFAULT_TIMING.runs,
                   warmup: int = DEFAULT_TIMING.warmup, batch: int = 64,
                   min_time: float = DEFAULT_TIMING.min_time,
                   warmup_time: float = DEFAULT_TIMING.warmup_time,
                   baseline: str | os.PathLike | None = None, max_slowdown: float = 10.0,
                   progress: Progress | None = None,
                   input_range: str = AUTO) -> BenchmarkReport:
    """Time the model file `path` on one runtime ("auto": the first installed for its format).

    Arguments as `bench.benchmark`'s; `input_range` (auto, 0-1, 0-255) sets the range of the
    generated inputs.

    Raises:
        UsageError, ModelError (not a model, or the runtime crashed on it; a runtime that
        refuses it gives an "incompatible" row), MissingDependencyError.
    """
    policy, counts, batches = check_options(threads, runs, warmup, batch, min_time,
                                            warmup_time, max_slowdown)
    check_input_range(input_range)
    baseline_rows = regression.read_baseline(baseline) if baseline is not None else None
    model = open_model_file(path, runtime)
    name = Path(path).name
    job = Job(name, {"format": model.format, "file": str(path)}, model.runtime)
    info = machine.machine_info()
    notes = [*machine_notes(info, counts), NO_COLD_START]
    results = bench_job(job, model.data, lambda runner: benchmark_inputs(
        runner, max(batches), input_range, str(path)), batches, policy, counts)
    if progress:
        progress(f"{name} on {model.runtime.name}", 1, 1)
    rows = [r.to_dict() for r in results]
    comparison = None
    if baseline_rows is not None:
        comparison = regression.compare(rows, baseline_rows, max_slowdown, str(baseline))
    return BenchmarkReport(str(path), info, asdict(policy), tuple(results), (), comparison,
                           tuple(notes), schedule_info(counts),
                           tuple(recommend_threads(rows)), None)
